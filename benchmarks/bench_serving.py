"""Serving-simulator speed: the two goals of the "Serving simulator" issue.

1. The Azure code trace (8,819 requests; bundled, or an Azure-like synthetic stand-in when
   ``jalapeno.workload`` is missing) on one replica: under 1 s.
2. One million synthetic Azure-like requests on 16 replicas: under 3 minutes.

The oracle is a cheap analytic roofline (a Llama-3-8B-like model on an H100-like replica), memoized
like the real one (a dict lookup keyed by the immutable ``StepShape``, about 1-2 us a call).

    python benchmarks/bench_serving.py            # both goals
    python benchmarks/bench_serving.py --requests 100000   # a shorter second goal
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np

from jalapeno.serving import StepCost, StepShape, simulate


class CheapOracle:
    """Roofline of a dense 8B model (bf16) on one 80 GB, 989 TFLOP/s, 3.35 TB/s chip, plus a fixed
    step overhead; busy power 700 W, idle 100 W. Not calibrated: a stand-in with realistic magnitudes."""

    params = 8.03e9
    layers, d_model = 32, 4096
    kv_bytes_per_token = 2 * 32 * 8 * 128 * 2  # K and V, 32 layers, 8 KV heads of 128, bf16
    flops_per_s = 989e12 * 0.6
    bytes_per_s = 3.35e12 * 0.8
    overhead_s = 3e-4
    busy_w, idle_power_w = 700.0, 100.0
    kv_capacity_tokens = int((80e9 * 0.9 - 2 * 8.03e9) / (2 * 32 * 8 * 128 * 2))

    def __init__(self) -> None:
        self._memo: dict[StepShape, StepCost] = {}
        self.calls = 0

    def step(self, shape: StepShape) -> StepCost:
        self.calls += 1
        cost = self._memo.get(shape)
        if cost is None:
            pairs = shape.prefill_context + shape.decode_context + shape.decode_seqs
            flops = 2 * self.params * shape.tokens + 4 * self.layers * self.d_model * pairs
            kv = shape.decode_context + shape.prefill_kv_tokens + shape.decode_seqs
            nbytes = 2 * self.params + self.kv_bytes_per_token * kv
            t = max(flops / self.flops_per_s, nbytes / self.bytes_per_s) + self.overhead_s
            cost = self._memo[shape] = StepCost(t, self.busy_w * t)
        return cost


@dataclass(frozen=True, slots=True)
class SynthRequest:
    request_id: int
    arrival_s: float
    prompt_tokens: int
    output_tokens: int
    block_hashes: tuple[int, ...] = ()
    block_tokens: int = 512


def azure_like(n: int, rate_per_s: float, seed: int = 0, cv: float = 4.0) -> list[SynthRequest]:
    """Azure-code-like lengths (prompt median 1,469 / mean ~2,048; output median 13 / mean ~28) and
    bursty arrivals (gamma inter-arrival times with coefficient of variation ``cv``)."""
    rng = np.random.default_rng(seed)
    prompt = np.clip(rng.lognormal(np.log(1469), 0.815, n), 3, 7437).astype(int)
    output = np.clip(rng.lognormal(np.log(13), 1.237, n), 1, 1899).astype(int)
    shape = 1.0 / (cv * cv)
    gaps = rng.gamma(shape, 1.0 / (rate_per_s * shape), n)
    arrival = np.cumsum(gaps) - gaps[0]
    return [SynthRequest(i, float(a), int(p), int(o)) for i, (a, p, o) in enumerate(zip(arrival, prompt, output))]


def azure_code() -> tuple[str, list]:
    try:
        from jalapeno.workload import load_trace
    except ImportError:
        return "synthetic azure-like (8,819)", azure_like(8819, 2.57, cv=13.2)
    return "azure-code (bundled)", list(load_trace("azure-code").requests)


def real_oracle() -> object | None:
    """The cost model's oracle (Llama-3.1-8B on H100) when the cost layer is there, else None."""
    try:
        from jalapeno.cost.oracle import CostOracle
        from jalapeno.cost.params import params_for
        from jalapeno.hardware.registry import resolve_chip
        from jalapeno.models.registry import resolve_model
    except ImportError:
        return None
    chip = resolve_chip("h200")
    return CostOracle(resolve_model("llama-3.1-8b"), chip, params_for(chip.name))


def timed(label: str, requests: list, **kwargs: object) -> float:
    oracle = CheapOracle()
    t = time.perf_counter()
    res = simulate(requests, oracle, **kwargs)  # type: ignore[arg-type]
    wall = time.perf_counter() - t
    print(f"{label:58s} {wall:7.2f} s  ({len(requests):,} req, {res.steps:,} steps in "
          f"{res.step_events:,} events, {oracle.calls:,} oracle calls, p50 TTFT {res.ttft_s.p50:.3f} s, "
          f"attainment {res.slo_attainment:.3f})")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=1_000_000, help="requests of the 16-replica goal")
    ap.add_argument("--skip-large", action="store_true")
    args = ap.parse_args()
    name, trace = azure_code()
    w_cheap = timed(f"{name}, 1 replica, vllm (analytic stand-in oracle)", trace)
    timed(f"{name}, 1 replica, sarathi (stand-in)", trace, scheduler="sarathi")
    timed(f"{name}, 1 replica, vllm, exact decode (max_decode_run=1, stand-in)", trace, max_decode_run=1)
    w1 = w_cheap
    t = time.perf_counter()
    real = real_oracle()  # built inside the timing: a cold cost model, as a user's first run sees it
    if real is not None:
        simulate(trace, real)
        w1 = time.perf_counter() - t
        print(f"{name}, 1 replica, vllm, calibrated cost oracle (llama-3.1-8b on h200), cold: {w1:.2f} s")
        t = time.perf_counter()
        simulate(trace, real)
        print(f"{name}, 1 replica, vllm, calibrated cost oracle, warm: {time.perf_counter() - t:.2f} s")
    print(f"goal 1 (< 1 s, real cost model, cold): {'met' if w1 < 1.0 else 'MISSED'} ({w1:.2f} s)")
    if args.skip_large:
        return
    big = azure_like(args.requests, 16 * 2.57 * 1.5, seed=1)
    timed("synthetic azure-like, 16 replicas, least_outstanding (stand-in)", big, replicas=16,
          router="least_outstanding")
    t = time.perf_counter()
    w2 = t
    real = real_oracle()
    if real is not None:
        res = simulate(big, real, replicas=16, router="least_outstanding")
        w2 = time.perf_counter() - t
        print(f"synthetic azure-like, 16 replicas, calibrated cost oracle, cold: {w2:.1f} s "
              f"({res.completed:,} completed, attainment {res.slo_attainment:.3f})")
    print(f"goal 2 (< 180 s for 1M): {'met' if w2 * 1_000_000 / args.requests < 180 else 'MISSED'} ({w2:.1f} s)")


if __name__ == "__main__":
    main()
