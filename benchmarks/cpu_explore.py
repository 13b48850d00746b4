"""CPU seconds of full design evaluations, in one process, on a fixed set of designs (robust to a busy machine).

    python benchmarks/cpu_explore.py [--designs 24] [--profile 30] [--json out.json]

The first ``--designs`` designs that ``bench_explore.full_designs`` draws with seed 0 (the same ones every
run), each evaluated as ``bench_explore`` does (fast oracle, ``azure-code``). Prints CPU time (the
process's, not wall: other work on the machine inflates it much less) per drawn design and per served
design, and with ``--profile N`` the N costliest functions (cProfile, cumulative). ``--json`` writes every
evaluation's objectives and numeric metrics, to compare two versions of the code bit for bit.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import time

import numpy as np
from bench_explore import full_designs

from jalapeno.explore import load_space, resolve_workload
from jalapeno.explore.evaluate import evaluate_design


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--designs", type=int, default=24)
    ap.add_argument("--profile", type=int, default=0, help="print the N costliest functions")
    ap.add_argument("--json", help="write objectives and metrics here")
    a = ap.parse_args()
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
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1, default=str)
    if prof:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(a.profile)


if __name__ == "__main__":
    main()
