"""Speed goal (cost-model issue): one ``estimate`` (a decode step and a prefill of an 80-layer model)
in under 20 ms in-process.

Run: python benchmarks/bench_estimate.py   (median of 100 estimates; exits 1 if the goal is missed)
"""

from __future__ import annotations

import statistics
import sys
import time

from jalapeno.cost.estimate import estimate
from jalapeno.hardware import resolve_chip
from jalapeno.models import resolve_model

GOAL_S = 20e-3


def main() -> int:
    model, chip = resolve_model("llama-3.1-70b"), resolve_chip("h200")  # 80 layers; calibrated preset
    assert model.num_layers == 80
    estimate(model, chip, batch=32, context=8192, prompt=4096, tp=2)  # first call loads the calibration
    times = []
    for _ in range(100):
        t0 = time.perf_counter()
        estimate(model, chip, batch=32, context=8192, prompt=4096, tp=2)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(f"estimate llama-3.1-70b on 2 x h200 (decode b32 ctx 8192 + prefill 4096): median {med * 1e3:.2f} ms, "
          f"p90 {sorted(times)[89] * 1e3:.2f} ms; goal < {GOAL_S * 1e3:.0f} ms")
    return 0 if med < GOAL_S else 1


if __name__ == "__main__":
    sys.exit(main())
