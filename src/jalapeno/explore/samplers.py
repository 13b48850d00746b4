"""The searcher registry: each ``--searcher`` name and the optuna sampler behind it.

A searcher is one ``SearcherKind`` in ``REGISTRY``: how to build its sampler for a space and a seed, and
what it needs beyond the core install (modules, and the pyproject extra that provides them). The CLI's
choices, ``make_searcher`` and the docs read this dict, so a new searcher is one entry here plus its test.
Every searcher runs through the same ask/tell adapter (``searchers.OptunaSearcher``).

* ``random``: ``RandomSampler`` (uniform; log-uniform on log ranges).
* ``grid``: ``GridSampler`` over every choice and ``levels`` values of every range. optuna lists and
  shuffles the whole grid up front (seeded), so trial k is the k-th point of one seeded permutation and a
  truncated budget still spreads over the space; a grid over ``GRID_MAX`` points is refused.
* ``tpe``, ``nsga2``: multi-objective TPE (multivariate, 16 random start-up trials) and NSGA-II
  (population 16).
* ``gp``: ``GPSampler`` (16 random start-up trials); optuna's Gaussian process needs torch and scipy, the
  ``explore-gp`` extra, checked before the first trial.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any, Protocol

from jalapeno.errors import JalapenoError
from jalapeno.explore.space import DesignSpace

GRID_MAX = 1_000_000  # optuna lists the grid in memory: 746,496 points of 16 parameters: 0.25 s, 138 MB
STARTUP = 16  # random trials before a model-based sampler starts modelling


class SamplerFactory(Protocol):
    def __call__(self, space: DesignSpace, seed: int) -> Any: ...  # -> optuna.samplers.BaseSampler


@dataclass(frozen=True)
class SearcherKind:
    name: str
    summary: str
    sampler: SamplerFactory  # (space, seed) -> the optuna sampler
    modules: tuple[str, ...] = ()  # needed beyond the core install
    extra: str | None = None  # the pyproject extra that installs them

    def check(self) -> None:
        """Fail now, naming the extra, if a module the sampler needs is missing (not at its first fit)."""
        missing = [m for m in self.modules if importlib.util.find_spec(m) is None]
        if missing:
            raise JalapenoError(
                f"{self.name} needs {' and '.join(missing)}: pip install "
                f"'jalapeno[{self.extra}]' (or use another searcher: {', '.join(core())})",
                field="searcher",
            )


def _random(space: DesignSpace, seed: int) -> Any:
    import optuna

    return optuna.samplers.RandomSampler(seed=seed)


def _grid(space: DesignSpace, seed: int) -> Any:
    import optuna

    size = space.grid_size()
    if size > GRID_MAX:
        raise JalapenoError(
            f"the grid of {space.name} has {size:,} points, more than the {GRID_MAX:,} "
            "optuna's GridSampler lists up front; lower the ranges' levels or use "
            "--searcher random",
            field="searcher",
        )
    return optuna.samplers.GridSampler({p.name: p.grid() for p in space.params}, seed=seed)


def _tpe(space: DesignSpace, seed: int) -> Any:
    import optuna

    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=STARTUP, multivariate=True)


def _nsga2(space: DesignSpace, seed: int) -> Any:
    import optuna

    return optuna.samplers.NSGAIISampler(seed=seed, population_size=STARTUP)


def _gp(space: DesignSpace, seed: int) -> Any:
    import optuna

    return optuna.samplers.GPSampler(seed=seed, n_startup_trials=STARTUP, warn_independent_sampling=False)


REGISTRY: dict[str, SearcherKind] = {
    k.name: k
    for k in (
        SearcherKind("tpe", "multivariate multi-objective TPE", _tpe),
        SearcherKind("nsga2", "NSGA-II, population 16", _nsga2),
        SearcherKind("gp", "Gaussian-process Bayesian optimization", _gp, ("torch", "scipy"), "explore-gp"),
        SearcherKind("random", "uniform random (log-uniform on log ranges)", _random),
        SearcherKind("grid", "the full-factorial grid in a seeded order", _grid),
    )
}


def core() -> list[str]:
    """The searchers the core install runs."""
    return [k.name for k in REGISTRY.values() if not k.modules]


def kind(name: str) -> SearcherKind:
    if name not in REGISTRY:
        raise JalapenoError(f"unknown searcher {name!r}; valid: {', '.join(REGISTRY)}", field="searcher")
    return REGISTRY[name]
