"""Speed goal (issue 11): one ``bench`` scenario, rate bisection included, for one chip and one model in
under 30 s on one core (the simulator is single-threaded).

Run: python benchmarks/bench_bench.py   (Llama-2-70B fp8 on one H200, MLPerf OpenOrca lengths, every
scenario once; prints wall time and simulations per scenario; exits 1 if any scenario misses the goal)
"""

from __future__ import annotations

import sys
import time

from jalapeno.explore.bench import run_bench
from jalapeno.graph.precision import Precision
from jalapeno.hardware import resolve_chip
from jalapeno.models import resolve_model

GOAL_S = 30.0


def main() -> int:
    model, chip, prec = resolve_model("llama-2-70b"), resolve_chip("h200"), Precision.of("fp8")
    worst = 0.0
    for scenario, extra in (("offline", {}), ("server", {}), ("interactive", {}),
                            ("fixed", {"isl": 1024, "osl": 1024, "concurrency": 64})):
        t0 = time.perf_counter()
        rep = run_bench(model, chip, scenario, tp=1, replicas=1, precision=prec, **extra)  # type: ignore[arg-type]
        wall = time.perf_counter() - t0
        worst = max(worst, wall)
        r = rep.result
        print(f"{scenario:12s} {wall:6.2f} s  {r.evaluations:2d} simulations  {r.requests:6,d} requests  "
              f"{r.output_tokens_per_s:9,.0f} output tok/s  rate {r.rate_per_s:.3g} req/s")
    print(f"slowest scenario {worst:.2f} s; goal < {GOAL_S:.0f} s")
    return 0 if worst < GOAL_S else 1


if __name__ == "__main__":
    sys.exit(main())
