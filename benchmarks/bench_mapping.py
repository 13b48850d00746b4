"""Speed goal: mapping a whole 80-layer model onto a new chip takes under 200 ms cold and 5 ms warm.

"Cold": a fresh architecture (a new Mapper: no memo), the decode step (batch 64 x 4096) and a 4096-token
prefill of llama-3.1-70b mapped op by op through ``Estimator(..., timer=mapper.timer)``, as
``estimate`` does. "Warm": the same two steps again on the same mapper (every shape memoized).

Run: python benchmarks/bench_mapping.py   (medians over repeats; exits 1 if a goal is missed)
"""

from __future__ import annotations

import statistics
import sys
import time

from jalapeno.cost.step import Estimator
from jalapeno.graph.batch import Batch
from jalapeno.graph.builder import build_graph
from jalapeno.graph.precision import Precision
from jalapeno.hardware.arch import derive_chip, resolve_arch
from jalapeno.mapping import Mapper, cost_params_for
from jalapeno.models import resolve_model

COLD_GOAL_S, WARM_GOAL_S = 0.200, 0.005
ARCHS = ("h100-sxm-arch", "tpu-v5e-arch", "trainium2-arch", "groq-lpu-arch")


def run(est: Estimator, graphs: tuple) -> None:
    for g, graph_mode in graphs:
        est.step(g, cuda_graph=graph_mode)


def main() -> int:
    cfg = resolve_model("llama-3.1-70b")
    assert cfg.num_layers == 80
    prec = Precision.of("bf16")
    graphs = ((build_graph(cfg, Batch.decode(64, 4096), prec), True), (build_graph(cfg, Batch.prefill(4096), prec), False))
    ok = True
    for name in ARCHS:
        arch = resolve_arch(name)
        cold, warm = [], []
        for _ in range(5):
            t0 = time.perf_counter()
            chip = derive_chip(arch)  # a new chip: datasheet derived, nothing memoized
            prm = cost_params_for(chip)
            mp = Mapper(arch)
            est = Estimator(chip, prm, 1, mp.timer)
            run(est, graphs)
            cold.append(time.perf_counter() - t0)
            for _ in range(20):
                t1 = time.perf_counter()
                run(est, graphs)
                warm.append(time.perf_counter() - t1)
        c, w = statistics.median(cold), statistics.median(warm)
        ops = sum(len(g.ops) for g, _ in graphs)
        print(f"{name:16s} llama-3.1-70b decode + prefill ({ops} op nodes, 80 layers): cold {c * 1e3:6.1f} ms, "
              f"warm {w * 1e3:5.2f} ms (goals < {COLD_GOAL_S * 1e3:.0f} / {WARM_GOAL_S * 1e3:.0f} ms)")
        ok &= c < COLD_GOAL_S and w < WARM_GOAL_S
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
