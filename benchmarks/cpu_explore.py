"""CPU seconds of full design evaluations, in one process, on a fixed set of designs (robust to a busy machine).

    python benchmarks/cpu_explore.py [--designs 24] [--profile 30] [--split] [--json out.json]

The first ``--designs`` designs that ``bench_explore.full_designs`` draws with seed 0 (the same ones every
run), each evaluated as ``bench_explore`` does (fast oracle, ``azure-code``). Prints CPU time (the
process's, not wall: other work on the machine inflates it much less) per drawn design and per served
design, and with ``--profile N`` the N costliest functions (cProfile, cumulative). ``--split`` times the main
parts (the mapper's FlashAttention and GEMM searches, attention and token-part pricing, graph building) with
plain timers instead (cProfile inflates Python-level code much more than numpy calls). ``--json`` writes every
evaluation's objectives and numeric metrics, to compare two versions of the code bit for bit.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import json
import pstats
import time
from typing import Any

import numpy as np
from bench_explore import full_designs

from jalapeno.explore import load_space, resolve_workload
from jalapeno.explore.evaluate import evaluate_design


def split_timers() -> dict[str, float]:
    """CPU seconds spent in the evaluation's main parts (outermost calls only), filled as it runs."""
    import jalapeno.cost.oracle as co
    import jalapeno.mapping.mapper as mm

    spent: dict[str, float] = {}

    def wrap(owner: Any, name: str, label: str) -> None:
        f, depth = getattr(owner, name), [0]
        spent[label] = 0.0

        @functools.wraps(f)
        def timed(*a: Any, **k: Any) -> Any:
            if depth[0]:
                return f(*a, **k)
            depth[0] += 1
            c = time.process_time()
            try:
                return f(*a, **k)
            finally:
                depth[0] -= 1
                spent[label] += time.process_time() - c

        setattr(owner, name, timed)

    wrap(co.CostOracle, "_attention_via_timer", "attention pricing (mapped)")
    wrap(mm, "map_attention", "  of which FlashAttention tile search")
    wrap(co.CostOracle, "_token_part_uncached", "token-part pricing (mapped)")
    wrap(mm, "map_gemm", "  of which GEMM tile search")
    wrap(co, "build_graph", "  of which building graphs")
    return spent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--designs", type=int, default=24)
    ap.add_argument("--profile", type=int, default=0, help="print the N costliest functions")
    ap.add_argument("--split", action="store_true", help="CPU seconds in the main parts (plain timers)")
    ap.add_argument("--json", help="write objectives and metrics here")
    a = ap.parse_args()
    spent = split_timers() if a.split else {}
    space, work = load_space("coding-asic"), resolve_workload("azure-code")
    work.requests()
    gen = full_designs(space, np.random.default_rng(0))
    designs = [next(gen) for _ in range(a.designs)]
    prof = cProfile.Profile() if a.profile else None
    out, served = [], 0
    c0 = time.process_time()
    if prof:
        prof.enable()
    for d in designs:
        ev = evaluate_design(space, d, work, fast=True)
        served += "simulate_s" in ev.metrics
        out.append({"design": d, "status": ev.status, "objectives": dict(ev.objectives),
                    "metrics": {k: v for k, v in ev.metrics.items()
                                if isinstance(v, (int, float)) and not k.endswith("_s")}})
    if prof:
        prof.disable()
    cpu = time.process_time() - c0
    print(f"{a.designs} designs ({served} served): CPU {cpu:.2f} s, {cpu / a.designs:.3f} s a design, "
          f"{cpu / max(served, 1):.3f} s a served design{' (under cProfile)' if prof else ''}")
    for label, sec in spent.items():
        print(f"  {label:38s} {sec:6.2f} s  {100 * sec / cpu:4.1f}%")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1, default=str)
    if prof:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(a.profile)


if __name__ == "__main__":
    main()
