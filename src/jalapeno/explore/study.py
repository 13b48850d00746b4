"""The study behind ``jalapeno report``: a small search, then Jalapeño-1 against H100, H200 and B200.

One run produces everything the report shows, from the same inputs: the search on the coding workload
(and a random-search baseline at the same budget), every chip's best deployment from the same sweep on
each workload (``compare``), the simulations of those deployments (latency CDFs, fleet power), step
breakdowns and roofline points from the cost model, and one-at-a-time sensitivity around Jalapeño-1.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jalapeno.explore.compare import ChipRun, Sweep, sweep_chips
from jalapeno.explore.design import Deployment
from jalapeno.explore.evaluate import build_oracle, chip_metrics, evaluate_chip, serve
from jalapeno.explore.runner import SearchResult, evaluate_task, make_executor, run_search
from jalapeno.explore.space import DesignSpace, load_space, space_to_dict
from jalapeno.explore.workload import Workload, resolve_workload

CHIPS = ("jalapeno-1", "h100-sxm", "h200-sxm", "b200")
WORKLOADS = ("azure-code", "mooncake-conversation", "agentic-coding")
REFERENCE = "h200-sxm"
DESIGN_FILE = Path(__file__).parent / "spaces" / "jalapeno-1.json"


def jalapeno1_design() -> dict[str, Any]:
    """Jalapeño-1's point in its design space and how it was found (``spaces/jalapeno-1.json``)."""
    return json.loads(DESIGN_FILE.read_text(encoding="utf-8"))


@dataclass
class Study:
    main: str  # the workload the search ran on (the headline)
    quick: bool
    space: DesignSpace
    workloads: dict[str, Workload]
    search: SearchResult
    baseline: SearchResult | None
    runs: dict[str, dict[str, ChipRun]]
    sims: dict[tuple[str, str], Any]  # (workload, chip) -> SimResult of the best deployment
    steps: dict[
        str, dict[str, Any]
    ]  # chip -> {"decode": StepCost, "prefill": StepCost, "params": CostParams}
    chips: dict[str, Any]  # name -> ChipSpec
    sensitivity: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    command: str = "jalapeno report"
    # the headline's ranges: chip -> p10/p50/p90 of its goodput/W and $/Mtok ratios to the H200 under seeded
    # Monte Carlo draws of every estimated constant (``range_samples`` draws, seed 0; docs/compare.md)
    ranges: dict[str, dict[str, Any]] = field(default_factory=dict)
    range_samples: int = 0


def run_study(
    *,
    quick: bool = False,
    trials: int | None = None,
    workers: int | None = None,
    db: str | None = None,
    log: Callable[[str], Any] = lambda s: None,
    command: str = "jalapeno report",
    workloads: tuple[str, ...] = WORKLOADS,
    chips: tuple[str, ...] = CHIPS,
    sweep: Sweep | None = None,
    space: str = "coding-asic",
    sensitivity_design: dict[str, Any] | None = None,
    progress: Callable[[int, int, Any], Any] | None = None,
) -> Study:
    """Everything the report shows. ``workloads[0]`` is searched on and headlines the report; the other
    arguments exist so tests can run a small study."""
    from jalapeno.hardware import resolve_chip

    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    sp = load_space(space)
    wls = {w.name: w for w in (resolve_workload(n) for n in workloads)}
    main = next(iter(wls.values()))
    n = trials or (16 if quick else 48)
    log(f"search: {n} trials of nsga2+surrogate on {main.name}")
    search = run_search(
        sp, main, trials=n, searcher="nsga2", screen=True, workers=workers, db=db, seed=0, progress=progress
    )
    timings["search_s"] = time.perf_counter() - t0
    baseline = None
    if not quick:
        log(f"baseline: {n} trials of random search")
        t = time.perf_counter()
        baseline = run_search(
            sp, main, trials=n, searcher="random", screen=False, workers=workers, seed=0, progress=progress
        )
        timings["baseline_s"] = time.perf_counter() - t
    sweep = sweep or (Sweep.quick() if quick else Sweep())
    runs, sims = {}, {}
    for name, w in wls.items():
        log(f"sweep: {', '.join(chips)} on {name}")
        t = time.perf_counter()
        runs[name] = sweep_chips(chips, w, sweep, workers=workers)
        timings[f"sweep_{name}_s"] = time.perf_counter() - t
        for chip, run in runs[name].items():
            if run.best is not None:
                ev = evaluate_chip(resolve_chip(chip), run.best, w, keep_result=True)
                sims[(name, chip)] = ev.metrics.get("result")
    specs = {c: resolve_chip(c) for c in chips}
    samples = RANGE_SAMPLES_QUICK if quick else RANGE_SAMPLES
    log(f"ranges: {samples} Monte Carlo draws of the estimated constants on {main.name}")
    t = time.perf_counter()
    ranges = headline_ranges(runs[main.name], specs, main, samples=samples, workers=workers)
    timings["ranges_s"] = time.perf_counter() - t
    steps = {c: step_breakdown(specs[c], main) for c in chips}
    sens: list[dict[str, Any]] = []
    if not quick:
        log("sensitivity: one parameter at a time around Jalapeño-1")
        t = time.perf_counter()
        sens = sensitivity(sp, sensitivity_design or jalapeno1_design()["design"], main, workers=workers)
        timings["sensitivity_s"] = time.perf_counter() - t
    timings["total_s"] = time.perf_counter() - t0
    return Study(
        main.name,
        quick,
        sp,
        wls,
        search,
        baseline,
        runs,
        sims,
        steps,
        specs,
        sens,
        timings,
        command,
        ranges,
        samples,
    )


RANGE_SAMPLES, RANGE_SAMPLES_QUICK = 32, 8
RANGE_REFERENCE = "h200-sxm"


def headline_ranges(
    runs: dict[str, ChipRun],
    specs: dict[str, Any],
    w: Workload,
    *,
    samples: int,
    workers: int | None = None,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """Every chip's ratios to the H200 at their best fleets, as ``jalapeno compare`` computes them: the same
    seeded draws of every estimated constant for all chips, p10/p50/p90 over the draws (docs/compare.md)."""
    from jalapeno.explore import montecarlo as mc
    from jalapeno.explore.headtohead import ratio_rows

    refs = [c for c in runs if runs[c].best is not None and c in specs]
    if RANGE_REFERENCE not in refs:
        return {}
    refs = [RANGE_REFERENCE] + [c for c in refs if c != RANGE_REFERENCE]  # ratios against the first
    ordered = {c: specs[c] for c in refs}
    consts = mc.constants_for(list(ordered.values()))
    rows = ratio_rows(
        {c: runs[c].best for c in refs}, ordered, w, consts, samples=samples, seed=seed, workers=workers
    )
    return dict(zip(refs, rows, strict=True))


def step_breakdown(
    chip: Any, w: Workload, *, batch: int = 16, context: int = 2048, prompt: int = 2048
) -> dict[str, Any]:
    """A decode step (``batch`` x ``context``) and one ``prompt``-token prefill of the workload's model on one
    chip."""
    from jalapeno.cost.estimate import estimate
    from jalapeno.cost.params import setup_for

    params, _ = setup_for(chip, "fused")  # the engine the serving comparison uses
    e = estimate(
        w.model_config(),
        chip,
        batch=batch,
        context=context,
        prompt=prompt,
        precision=w.precision(),
        tp=1,
        params=params,
    )
    return {
        "decode": e.decode,
        "prefill": e.prefill,
        "params": e.params,
        "batch": batch,
        "context": context,
        "prompt": prompt,
    }


def sensitivity(
    space: DesignSpace, design: dict[str, Any], w: Workload, *, workers: int | None = None
) -> list[dict[str, Any]]:
    """Each parameter moved alone over its grid values (others at ``design``): objectives and status."""
    jobs = []
    for p in space.params:
        for v in p.grid():
            if v == design[p.name]:
                continue
            jobs.append((p.name, v, {**design, p.name: v}))
    jobs.append(("(jalapeno-1)", "", dict(design)))
    doc = {"space": space_to_dict(space), "origin": space.source_file}
    ex = make_executor(workers)
    try:
        futs = {ex.submit(evaluate_task, doc, w.to_dict(), d, True): (name, v) for name, v, d in jobs}
        out = []
        pending = list(futs)
        while pending:
            for f in ex.wait_one(pending):
                pending.remove(f)
                name, v = futs[f]
                res, _ = f.result()
                out.append({"param": name, "value": v, **res})
    finally:
        ex.close()
    order = {p.name: i for i, p in enumerate(space.params)}
    return sorted(out, key=lambda r: (order.get(r["param"], -1), str(r["value"])))


def serve_best(chip: Any, dep: Deployment, w: Workload) -> Any:
    return serve(build_oracle(chip, dep.tp, w), dep, w)


__all__ = [
    "CHIPS",
    "REFERENCE",
    "WORKLOADS",
    "Study",
    "chip_metrics",
    "jalapeno1_design",
    "run_study",
    "sensitivity",
    "serve_best",
    "step_breakdown",
]
