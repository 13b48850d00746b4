"""Head-to-head: each chip at its best deployment from the same small sweep, on the same workload.

Fairness: every chip (Jalapeño-1 and the GPUs alike) gets the same sweep of tensor parallelism,
schedulers (continuous batching, chunked prefill at two budgets, prefill/decode disaggregation at two
pool ratios) and replica counts (ascending; a (tp, scheduler) stops two counts after its first feasible
one, since more replicas only add idle power), within the same fleet limit; the same model, number
formats, trace, SLO, energy and TCO definitions. The best deployment is the feasible one with the
highest goodput per watt (if none is feasible: the highest attainment, reported as infeasible).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jalapeno.explore.design import Deployment
from jalapeno.explore.evaluate import Evaluation, evaluate_chip
from jalapeno.explore.runner import make_executor
from jalapeno.explore.workload import Workload, workload_from_dict

REPLICAS = (1, 2, 3, 4, 6, 8, 12, 16)
SCHEDULES: tuple[tuple[str, int | None, float], ...] = (
    ("vllm", None, 0.5),
    ("sarathi", 512, 0.5),
    ("sarathi", 2048, 0.5),
    ("disagg", None, 0.5),
    ("disagg", None, 0.75),
)
QUICK_SCHEDULES = (("sarathi", 512, 0.5), ("disagg", None, 0.5), ("disagg", None, 0.75))
MOE_SCHEDULES = (("sarathi", 512, 0.5), ("disagg", None, 0.5))


Combo = tuple[int, int, str, int | None, float]  # tp, ep, scheduler, token budget, prefill share


@dataclass(frozen=True)
class Sweep:
    tps: tuple[int, ...] = (1, 2, 4)
    schedules: tuple[tuple[str, int | None, float], ...] = SCHEDULES
    replicas: tuple[int, ...] = REPLICAS
    max_chips: int = 16
    after_feasible: int = 2  # replica counts tried after the first feasible one
    eps: tuple[tuple[int, int], ...] = ()  # expert-parallel plans (tp, ep) besides the tensor-parallel ones

    @classmethod
    def quick(cls) -> Sweep:
        return cls(tps=(1, 2), schedules=QUICK_SCHEDULES, replicas=(1, 2, 3, 4, 6, 8), after_feasible=1)

    @classmethod
    def moe(cls) -> Sweep:
        """The MoE comparison's sweep (docs/jalapeno-moe.md), the same for every chip: tensor parallelism
        1-8 and expert parallelism over 8 and 16 chips (tp 1, data-parallel attention), chunked prefill at
        512 tokens or 1:1 disaggregation, up to 4 replicas and 32 chips."""
        return cls(
            tps=(1, 2, 4, 8),
            schedules=MOE_SCHEDULES,
            replicas=(1, 2, 3, 4),
            max_chips=32,
            after_feasible=1,
            eps=((1, 8), (1, 16)),
        )

    def combos(self) -> list[Combo]:
        plans = [(tp, 1) for tp in self.tps] + list(self.eps)
        return [(tp, ep, s, tok, share) for tp, ep in plans for s, tok, share in self.schedules]

    def deployment(self, combo: Combo, replicas: int) -> Deployment:
        tp, ep, s, tok, share = combo
        return Deployment(
            tp=tp, replicas=replicas, scheduler=s, max_num_batched_tokens=tok, prefill_share=share, ep=ep
        )


@dataclass
class ChipRun:
    chip: str
    workload: str
    best: Deployment | None
    evaluation: Evaluation | None
    tried: list[tuple[Deployment, Evaluation]]

    @property
    def feasible(self) -> bool:
        return self.evaluation is not None and self.evaluation.feasible


def chip_task(chip_name: str, dep: Mapping[str, Any], workload_doc: Mapping[str, Any]) -> dict[str, Any]:
    """What a worker runs: one chip, one deployment, one workload (the chip resolved by name)."""
    from jalapeno.hardware import resolve_chip

    d = {k: v for k, v in dep.items() if k != "chips"}
    return evaluate_chip(resolve_chip(chip_name), Deployment(**d), workload_from_dict(workload_doc)).to_json()


def sweep_chips(
    chips: Sequence[str],
    workload: Workload,
    sweep: Sweep,
    *,
    workers: int | None = None,
    progress: Any = None,
) -> dict[str, ChipRun]:
    """Every chip through the sweep (in parallel waves of replica counts); the best deployment of each."""
    doc = workload.to_dict()
    tried: dict[str, list[tuple[Deployment, Evaluation]]] = {c: [] for c in chips}
    active = {(c, combo): 0 for c in chips for combo in sweep.combos()}  # -> index into replicas
    since: dict[tuple[str, Any], int] = {}
    ex = make_executor(workers)
    try:
        while active:
            jobs = {}
            for key, i in list(active.items()):
                dep = sweep.deployment(key[1], sweep.replicas[i]) if i < len(sweep.replicas) else None
                if dep is None or dep.chips > sweep.max_chips:
                    del active[key]
                    continue
                jobs[ex.submit(chip_task, key[0], dep.to_json(), doc)] = (key, dep)
            pending = list(jobs)
            while pending:
                for fut in ex.wait_one(pending):
                    pending.remove(fut)
                    key, dep = jobs[fut]
                    ev = Evaluation.from_json(fut.result())
                    tried[key[0]].append((dep, ev))
                    _advance(active, since, key, ev, sweep)
                    if progress is not None:
                        progress()
    finally:
        ex.close()
    return {c: _best(c, workload.name, tried[c]) for c in chips}


def _advance(active: dict[Any, int], since: dict[Any, int], key: Any, ev: Evaluation, sweep: Sweep) -> None:
    """Next replica count for this (chip, tp, scheduler), or stop it (memory never fits; enough after
    feasible)."""
    if key not in active:
        return
    if any(
        (r.startswith("memory: ") and "weights" in r) or r.startswith("deployment: plan:") for r in ev.reasons
    ):
        del active[key]  # more replicas do not make the weights fit (nor the plan valid)
        return
    if ev.feasible or key in since:
        since[key] = since.get(key, -1) + 1
        if since[key] >= sweep.after_feasible:
            del active[key]
            return
    active[key] += 1


def _best(chip: str, workload: str, tried: list[tuple[Deployment, Evaluation]]) -> ChipRun:
    ok = [(d, e) for d, e in tried if e.feasible]
    if ok:
        d, e = max(ok, key=lambda t: (t[1].objectives["goodput_per_watt"], -t[0].chips))
        return ChipRun(chip, workload, d, e, tried)
    measured = [(d, e) for d, e in tried if "slo_attainment" in e.metrics]
    if measured:
        d, e = max(
            measured,
            key=lambda t: (t[1].metrics["slo_attainment"], t[1].objectives.get("goodput_per_watt", 0.0)),
        )
        return ChipRun(chip, workload, d, e, tried)
    return ChipRun(chip, workload, None, None, tried)
