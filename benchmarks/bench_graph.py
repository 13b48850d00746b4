"""Speed goal (issue 2): building the decode graph of a 126-layer model takes under 5 ms.

Run: python benchmarks/bench_graph.py   (prints the median of 200 builds; exits 1 if the goal is missed)
"""

from __future__ import annotations

import statistics
import sys
import time

from jalapeno.graph.batch import Batch
from jalapeno.graph.builder import build_graph
from jalapeno.models import resolve_model

GOAL_S = 5e-3


def main() -> int:
    cfg = resolve_model("llama-3.1-405b")  # 126 layers
    assert cfg.num_layers == 126
    batch = Batch.decode(256, 8192)
    times = []
    for _ in range(200):
        t0 = time.perf_counter()
        build_graph(cfg, batch)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(f"decode graph, llama-3.1-405b (126 layers), batch 256: median {med * 1e3:.3f} ms "
          f"(p90 {sorted(times)[180] * 1e3:.3f} ms); goal < {GOAL_S * 1e3:.0f} ms")
    return 0 if med < GOAL_S else 1


if __name__ == "__main__":
    sys.exit(main())
