"""How many full design evaluations (mapping + serving on 10 minutes of the Azure code trace) per minute.

    python benchmarks/bench_explore.py [--evals 1000] [--limit-s 600] [--workers 2] [--exact]

Goal (issue 10): 1,000 full evaluations in at most 300 s on 2 workers. A shorter run (``--evals 200``)
extrapolates linearly and says so; the exit status is 1 when the goal is missed. Each evaluation's CPU
time is measured too: on a shared machine the wall time inflates with the load, the CPU time much less,
so the script also prints what 1,000 evaluations would take on two otherwise idle cores.

Designs are drawn at random from the bundled ``coding-asic`` space; those a cheap check rejects (die over
the reticle, TDP, fleet size: no mapping, no serving) are drawn again and not counted, so every counted
evaluation derives the chip, builds its oracle (the mapper prices the model's operators) and replays
the 1,482 requests of ``azure-code`` through the serving simulator. Reports evaluations, wall time and
where the time goes (from each evaluation's own timers).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import sys
import time

import numpy as np

from jalapeno.explore import load_space, resolve_workload
from jalapeno.explore.design import build_arch, deployment_of
from jalapeno.explore.evaluate import chip_checks
from jalapeno.explore.runner import PoolExecutor, evaluate_task
from jalapeno.explore.space import space_to_dict
from jalapeno.hardware.arch import derive_chip, model


def full_designs(space, rng):
    """Random designs that pass the cheap checks (they will be mapped and served)."""
    lim = space.constraints
    while True:
        d = space.sample(rng)
        arch = build_arch(space, d)
        if model.area(arch)["total"].value > lim.get("die_area_mm2", 1e9):
            continue
        if chip_checks(derive_chip(arch), lim) or deployment_of(space, d).chips > lim.get("chips", 1e9):
            continue
        dep = deployment_of(space, d)
        if dep.disagg and dep.replicas < 2:
            continue
        yield d


GOAL_EVALS, GOAL_S, GOAL_WORKERS = 1000, 300.0, 2


def timed_task(*args):
    """``evaluate_task`` plus the worker's CPU seconds for it."""
    c0 = time.process_time()
    res, eval_s = evaluate_task(*args)
    return res, eval_s, time.process_time() - c0


def verdict(full: int, wall: float, cpu_s: float, workers: int, load: float) -> bool:
    """Print whether 1,000 full evaluations fit in 300 s on 2 workers (extrapolated when fewer ran)."""
    if not full:
        print("goal: no full evaluation finished; cannot tell")
        return False
    at = wall / full * GOAL_EVALS
    how = "measured" if full >= GOAL_EVALS else f"extrapolated from {full}"
    ok = at <= GOAL_S and workers <= GOAL_WORKERS
    print(f"goal: {GOAL_EVALS:,} full evaluations in <= {GOAL_S:.0f} s on {GOAL_WORKERS} workers: "
          f"{at:.0f} s ({how}, wall clock, {workers} workers): {'met' if ok else 'MISSED'}")
    idle = cpu_s / full * GOAL_EVALS / workers
    print(f"  CPU time of all evaluations (rejected ones included) {cpu_s:.1f} s: {cpu_s / full:.3f} s a full "
          f"evaluation, {idle:.0f} s for {GOAL_EVALS:,} on {workers} otherwise idle cores "
          f"(load average at the start {load:.1f} on {os.cpu_count()} CPUs)")
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--evals", type=int, default=1000)
    ap.add_argument("--limit-s", type=float, default=600.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--exact", action="store_true", help="exact CostOracle instead of FastOracle")
    a = ap.parse_args()
    space, work = load_space("coding-asic"), resolve_workload("azure-code")
    work.requests()
    doc, wdoc = {"space": space_to_dict(space), "origin": space.source_file}, work.to_dict()
    gen = full_designs(space, np.random.default_rng(a.seed))
    ex = PoolExecutor(a.workers)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    done, full, parts, cpu_s = 0, 0, {"eval_s": [], "oracle_s": [], "simulate_s": []}, 0.0
    inflight = {ex.submit(timed_task, doc, wdoc, next(gen), not a.exact) for _ in range(2 * a.workers)}
    try:
        while inflight:
            finished, inflight = cf.wait(inflight, return_when=cf.FIRST_COMPLETED)
            for f in finished:
                res, eval_s, cpu = f.result()
                done += 1
                cpu_s += cpu
                m = res["metrics"]
                if "simulate_s" in m:
                    full += 1
                    parts["eval_s"].append(eval_s)
                    parts["oracle_s"].append(m["oracle_s"])
                    parts["simulate_s"].append(m["simulate_s"])
                elapsed = time.perf_counter() - t0
                if full + len(inflight) < a.evals and elapsed < a.limit_s:
                    inflight.add(ex.submit(timed_task, doc, wdoc, next(gen), not a.exact))
            if done % 50 == 0:
                print(f"  {full} full evaluations in {time.perf_counter() - t0:.0f} s", flush=True)
    finally:
        ex.close()
    wall = time.perf_counter() - t0
    e = np.array(parts["eval_s"])
    print(f"{full} full evaluations ({done - full} rejected after building the oracle) in {wall:.1f} s on "
          f"{a.workers} workers: {full / wall * 60:.0f} per minute, {full / wall * 600:.0f} per 10 minutes")
    if full:
        print(f"per evaluation: mean {e.mean():.2f} s, p50 {np.median(e):.2f} s, p90 {np.percentile(e, 90):.2f} s; "
              f"simulate (serving + the oracle's mapping on demand) {np.mean(parts['simulate_s']):.2f} s, "
              f"oracle construction {np.mean(parts['oracle_s']):.3f} s, the rest (derive, checks, KV sizing) "
              f"{e.mean() - np.mean(parts['simulate_s']) - np.mean(parts['oracle_s']):.3f} s")
    sys.exit(0 if verdict(full, wall, cpu_s, a.workers, load) else 1)


if __name__ == "__main__":
    main()
