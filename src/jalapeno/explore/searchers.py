"""Searchers speak ask/tell: ``ask() -> design``, ``tell(design, evaluation)``.

* ``OptunaSearcher``: every registered searcher (``samplers.REGISTRY``: ``tpe``, ``nsga2``, ``gp``,
  ``random``, ``grid``) through optuna's ask/tell interface, maximizing goodput per watt and minimizing
  $/Mtoken and p99 TTFT. Infeasible trials are told with a positive constraint violation
  (``Trial.set_constraint``) and, where nothing was measured, the worst objective values, so the sampler
  learns where the boundary is; they never enter a Pareto set.
* ``Screened``: wraps any searcher with the learned surrogate (``surrogate.Surrogate``): each ask takes the
  wrapped searcher's proposal plus ``pool - 1`` more candidates (mutations of Pareto-set designs and
  uniform samples), predicts each one's feasibility and objectives, evaluates the most promising
  (highest predicted feasibility x a random-weight Chebyshev score of the predicted objectives,
  ParEGO-style) and discards the rest unevaluated; the wrapped searcher is told what was evaluated.

``tell`` also accepts designs the searcher never asked for (trials re-told on resume).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from jalapeno.errors import JalapenoError
from jalapeno.explore.evaluate import OBJECTIVES, SENSES, Evaluation
from jalapeno.explore.samplers import REGISTRY, kind
from jalapeno.explore.space import DesignSpace
from jalapeno.explore.store import canonical
from jalapeno.explore.surrogate import Surrogate

SEARCHERS = tuple(REGISTRY)  # the --searcher choices, from the registry
WORST = {"goodput_per_watt": 0.0, "usd_per_mtok": 1e3, "ttft_p99_s": 1e4}


class Searcher(Protocol):
    name: str

    def ask(self) -> dict[str, Any]: ...

    def tell(self, design: Mapping[str, Any], evaluation: Evaluation) -> None: ...


def violation(ev: Evaluation, attainment: float = 0.9) -> float:
    """0 for a feasible evaluation; how far from feasible otherwise (SLO misses by the attainment gap)."""
    if ev.feasible:
        return 0.0
    if all(r.startswith("slo:") for r in ev.reasons):
        return max(1e-6, attainment - float(ev.metrics.get("slo_attainment", 0.0)))
    return 1.0 + len(ev.reasons)


def objective_values(ev: Evaluation) -> list[float]:
    out = []
    for n in OBJECTIVES:
        v = ev.objectives.get(n)
        ok = isinstance(v, (int, float)) and math.isfinite(v)
        out.append(float(v) if ok else WORST[n])  # type: ignore[arg-type]
    return out


class OptunaSearcher:
    """Any registered searcher (``samplers.REGISTRY``) through optuna's ask/tell interface, on an in-memory
    study: the trial store re-tells it on resume, so the sampler's study never needs the file."""

    def __init__(
        self, space: DesignSpace, sampler: str = "tpe", seed: int = 0, attainment: float = 0.9
    ) -> None:
        import optuna

        spec = kind(sampler)
        spec.check()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna, self.space, self.name, self.attainment = optuna, space, sampler, attainment
        self.dists = distributions(space)
        self.limit = space.grid_size() if sampler == "grid" else None  # the grid's points, each asked once
        self.study = optuna.create_study(
            directions=[_direction(n) for n in OBJECTIVES], sampler=spec.sampler(space, seed)
        )
        self.pending: dict[str, list[Any]] = {}

    def ask(self) -> dict[str, Any]:
        if self.limit is not None and len(self.study.trials) >= self.limit:
            raise JalapenoError(f"the grid of {self.space.name} has only {self.limit} points", field="trials")
        trial = self.study.ask(self.dists)
        design = {p.name: trial.params[p.name] for p in self.space.params}
        self.pending.setdefault(canonical(design), []).append(trial)
        return design

    def discard(self, design: Mapping[str, Any]) -> None:
        """Give back an asked design that will not be evaluated (screened out)."""
        trial = self.pending[canonical(design)].pop()
        self.study.tell(trial, state=self.optuna.trial.TrialState.FAIL)

    def tell(self, design: Mapping[str, Any], evaluation: Evaluation) -> None:
        v, values = violation(evaluation, self.attainment), objective_values(evaluation)
        queue = self.pending.get(canonical(design))
        if queue:
            trial = queue.pop(0)
            trial.set_constraint("violation", v)
            self.study.tell(trial, values)
            return
        ft = self.optuna.trial.create_trial(
            params={k: design[k] for k in self.dists},
            distributions=self.dists,
            values=values,
            constraints={"violation": v},
        )
        self.study.add_trial(ft)


def distributions(space: DesignSpace) -> dict[str, Any]:
    """optuna's distribution of each parameter of the space, in parameter order."""
    import optuna

    return {p.name: _distribution(optuna, p) for p in space.params}


def _direction(name: str) -> Any:
    return "maximize" if SENSES[name] == "max" else "minimize"


def _distribution(optuna: Any, p: Any) -> Any:
    d = optuna.distributions
    if p.kind == "choice":
        return d.CategoricalDistribution(list(p.choices))
    if p.kind == "int":
        return d.IntDistribution(int(p.low), int(p.high), log=p.log)
    return d.FloatDistribution(p.low, p.high, log=p.log)


class Screened:
    """A searcher whose candidates are screened by the learned surrogate (see the module docstring)."""

    def __init__(
        self, base: Any, space: DesignSpace, *, pool: int = 8, seed: int = 0, attainment: float = 0.9
    ) -> None:
        self.base, self.space, self.pool = base, space, pool
        self.name = f"{base.name}+surrogate"
        self.rng = np.random.default_rng(seed + 7919)
        self.surrogate = Surrogate(seed=seed)
        self.attainment = attainment
        self.designs: list[dict[str, Any]] = []
        self.seen: set[str] = set()
        self.x: list[np.ndarray] = []
        self.feasible: list[bool] = []
        self.objs: list[dict[str, float]] = []
        self.screened = 0  # candidates discarded without a full evaluation
        self._fitted_at = 0

    def ask(self) -> dict[str, Any]:
        first = self.base.ask()
        if not self.surrogate.ready:
            return first
        cands = [first] + [c for c in self._candidates(self.pool - 1) if canonical(c) not in self.seen]
        pred = self.surrogate.predict(np.array([self.space.vector(c) for c in cands]))
        score = self._score(pred)
        if canonical(first) in self.seen and len(cands) > 1:
            score[0] = -np.inf  # never spend an evaluation on a design already evaluated
        best = int(np.argmax(score))
        self.screened += len(cands) - 1
        if best != 0 and hasattr(self.base, "discard"):
            self.base.discard(first)
        return cands[best]

    def _candidates(self, n: int) -> list[dict[str, Any]]:
        """Half mutations of Pareto-set designs (one to three parameters moved), half uniform samples."""
        elite = self._elite()
        out = []
        for k in range(n):
            if elite and k < (n + 1) // 2:
                out.append(self._mutate(elite[int(self.rng.integers(len(elite)))]))
            else:
                out.append(self.space.sample(self.rng))
        return out

    def _elite(self) -> list[dict[str, Any]]:
        from jalapeno.explore.pareto import nondominated

        ok = [i for i, f in enumerate(self.feasible) if f]
        return [self.designs[ok[j]] for j in nondominated([self.objs[i] for i in ok])]

    def _mutate(self, design: dict[str, Any]) -> dict[str, Any]:
        out = dict(design)
        for i in self.rng.choice(len(self.space.params), size=int(self.rng.integers(1, 4)), replace=False):
            p = self.space.params[int(i)]
            if p.kind == "choice" and len(p.choices) > 1:
                others = [c for c in p.choices if c != out[p.name]]
                out[p.name] = others[int(self.rng.integers(len(others)))]
            else:
                out[p.name] = p.decode(p.encode(out[p.name]) + float(self.rng.normal(0.0, 0.15)))
        return out

    def _score(self, pred: dict[str, np.ndarray]) -> np.ndarray:
        w = self.rng.dirichlet(np.ones(len(OBJECTIVES)))
        cheb = np.zeros(len(pred["p_feasible"]))
        for wk, name in zip(w, OBJECTIVES, strict=True):
            if name not in pred:
                continue
            v = np.log(np.maximum(pred[name], 1e-12))
            v = -v if SENSES[name] == "max" else v
            span = np.ptp(v) or 1.0
            cheb = np.maximum(cheb, wk * (v - v.min()) / span)
        return pred["p_feasible"] * (1.0 - cheb)

    def tell(self, design: Mapping[str, Any], evaluation: Evaluation) -> None:
        self.base.tell(design, evaluation)
        self.designs.append(dict(design))
        self.seen.add(canonical(design))
        self.x.append(self.space.vector(design))
        self.feasible.append(evaluation.feasible)
        self.objs.append(dict(evaluation.objectives))
        n = len(self.x)
        due = not self.surrogate.ready or n - self._fitted_at >= max(
            8, n // 8
        )  # refits grow rarer as data grows
        if due and self.surrogate.fit(np.array(self.x), np.array(self.feasible), self.objs):
            self._fitted_at = n


def make_searcher(
    name: str,
    space: DesignSpace,
    *,
    seed: int = 0,
    screen: bool = False,
    pool: int = 8,
    attainment: float = 0.9,
) -> Any:
    base = OptunaSearcher(space, name, seed, attainment)
    return Screened(base, space, pool=pool, seed=seed, attainment=attainment) if screen else base
