"""``jalapeno compare`` on one workload in under 60 s (issue 10, item 9): the report's sweep for every chip,
then the seeded Monte Carlo (32 samples by default) over the estimated constants.

    python benchmarks/bench_compare.py [--workload azure-code] [--chips h200,jalapeno-1] [--samples 32]
                                       [--workers 2] [--limit-s 60]
    pytest benchmarks/bench_compare.py --benchmark-enable      # one round through pytest-benchmark

Runs the command's own function (``explore.headtohead.compare``) in-process, times the sweep and the Monte
Carlo apart, prints the ratios' p10/p50/p90 against the first chip and exits 1 when the goal is missed.
Timings depend on what else runs on the machine: report them with the load average printed alongside.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from typing import Any

from jalapeno.explore.headtohead import compare
from jalapeno.explore.workload import resolve_workload

GOAL_S = 60.0


def run(workload: str, chips: list[str], samples: int, workers: int | None) -> tuple[dict[str, Any], dict[str, float]]:
    marks: dict[str, float] = {}
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        marks[msg.split(":")[0]] = time.perf_counter() - t0

    cpu0 = _cpu_s()
    doc = compare(resolve_workload(workload), chips, samples=samples, workers=workers, log=log)
    total = time.perf_counter() - t0
    mc_start = marks.get("monte carlo", total)
    return doc, {"sweep_s": mc_start - marks.get("sweep", 0.0), "monte_carlo_s": total - mc_start, "total_s": total,
                 "cpu_s": _cpu_s() - cpu0}


def _cpu_s() -> float:
    """User + system CPU seconds of this process and its finished workers."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def test_compare_azure_code(benchmark: Any) -> None:
    doc, t = benchmark.pedantic(run, args=("azure-code", ["h200", "jalapeno-1"], 32, None), rounds=1, iterations=1)
    q = doc["rows"][1]["ratio_goodput_per_watt"]
    assert q["p10"] <= q["p50"] <= q["p90"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", default="azure-code")
    ap.add_argument("--chips", default="h200,jalapeno-1")
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--limit-s", type=float, default=GOAL_S)
    a = ap.parse_args()
    load = os.getloadavg()[0]
    doc, t = run(a.workload, [c.strip() for c in a.chips.split(",")], a.samples, a.workers)
    print(f"jalapeno compare --workload {a.workload} --chips {a.chips} --samples {a.samples}: {t['total_s']:.1f} s "
          f"(sweep {t['sweep_s']:.1f} s, Monte Carlo {t['monte_carlo_s']:.1f} s) on {os.cpu_count()} CPUs, "
          f"{t['cpu_s']:.0f} CPU-seconds in all; load average {load:.1f} at the start, "
          f"{os.getloadavg()[0]:.1f} at the end")
    for r in doc["rows"]:
        g, u = r["ratio_goodput_per_watt"], r["ratio_usd_per_mtok"]
        if g is None or u is None:
            print(f"  {r['chip']:12s} no fleet")
            continue
        print(f"  {r['chip']:12s} {r['fleet']['label']:26s} goodput/W x{g['p50']:.2f} (p10 {g['p10']:.2f}, "
              f"p90 {g['p90']:.2f}; point {r['ratio_goodput_per_watt_point']:.2f}), $/Mtok x{u['p50']:.3f} "
              f"(p10 {u['p10']:.3f}, p90 {u['p90']:.3f}), {r['samples_feasible']}/{a.samples} samples meet the SLO")
    ok = t["total_s"] <= a.limit_s
    print(f"goal: under {a.limit_s:g} s: {'met' if ok else 'MISSED'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
