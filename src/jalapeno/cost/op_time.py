"""Time of one operator on one chip: compute time, memory time, their overlap, fixed costs.

Physics first: every op takes at least max(FLOPs / peak, bytes / peak bandwidth); efficiencies only
ever slow it down. The result says what bounds the op and how close to the roofline it runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from jalapeno.graph.ops import Op
from jalapeno.hardware.spec import ChipSpec
from jalapeno.seams.cost_params import CostParams
from jalapeno.seams.op_timing import OpTime as OpTime  # re-exported: cost.op_time.OpTime


@dataclass(frozen=True)
class ChipRates:
    """The few numbers of a chip the op model uses, resolved once (dict lookups are hot)."""

    peak: dict[str, float]
    vector_flops: float
    mem_bw: float
    cores: int

    @classmethod
    def of(cls, chip: ChipSpec) -> ChipRates:
        peak = {d: f.value for d, f in chip.matrix_flops.items()}
        vec = max((f.value for f in chip.vector_flops.values()), default=peak.get("bf16", 1e12) / 16)
        cores = int(chip.cores.value) if chip.cores else 1
        return cls(peak, vec, chip.memory_bandwidth_bytes_per_s, max(cores, 1))

    def matrix_peak(self, dtype: str) -> float:
        """Rate for ``dtype``; a chip without that format computes it at the next wider one it has."""
        for d in _FALLBACK.get(dtype, (dtype,)):
            if d in self.peak:
                return self.peak[d]
        return max(self.peak.values())


_FALLBACK = {
    "fp4": ("fp4", "fp8", "bf16"),
    "int4": ("int4", "int8", "fp8", "bf16"),
    "fp8": ("fp8", "bf16"),
    "int8": ("int8", "fp8", "bf16"),
    "bf16": ("bf16", "fp16", "tf32", "fp32"),
    "tf32": ("tf32", "fp32"),
    "fp32": ("fp32", "tf32"),
}


def smooth_max(a: float, b: float, p: float) -> float:
    """(a^p + b^p)^(1/p): max(a, b) when one dominates, up to 2^(1/p) x larger when they are equal."""
    hi = max(a, b)
    if hi <= 0.0:
        return 0.0
    norm: float = ((a / hi) ** p + (b / hi) ** p) ** (1.0 / p)  # a positive base: a real power
    return hi * norm


def matmul_compute_s(
    m: int, n: int, k: int, groups: int, peak: float, rates: ChipRates, prm: CostParams, eff: float
) -> float:
    """Compute time with wave quantization: tiles of (tile_m x tile_n) spread over ``cores``.

    Small M uses narrower tiles (as cuBLAS/CUTLASS do), so M is padded to the next of 16/32/64. Larger
    M may use tile_m x tile_n, its transpose or tile_m x tile_m tiles: the library's heuristics pick the
    shape that fills the cores best (80 tiles of 128x256 leave 40% of 132 SMs idle; 160 of 128x128 do
    not), and so does the model. Too few tiles to fill the cores are split along K (split-K / stream-K),
    down to ``split_k_min``.
    """
    small = next((t for t in (16, 32, 64) if m <= t), 0)
    shapes = (
        ((small, prm.tile_n),)
        if small
        else ((prm.tile_m, prm.tile_n), (prm.tile_n, prm.tile_m), (prm.tile_m, prm.tile_m))
    )
    cores = rates.cores
    per_core = peak * eff / cores
    best = math.inf
    for tm, tn in shapes:
        tiles = math.ceil(m / tm) * math.ceil(n / tn) * groups
        split = 1
        if tiles < cores:
            split = max(1, min(cores // tiles, k // prm.split_k_min))
        waves = _waves(tiles * split, cores, prm.wave_quantization)
        best = min(best, waves * 2.0 * tm * tn * (k / split + prm.k_overhead) / per_core)
    return best


def attention_parts(
    flops: float, bytes_: float, phase: str, peak: float, rates: ChipRates, prm: CostParams
) -> tuple[float, float]:
    """(compute, memory) time of a FlashAttention-style kernel: prefill streams, decode reads the KV cache."""
    eff_m = prm.stream_eff if phase == "prefill" else prm.attn_decode_mem_eff
    return flops / (peak * prm.attn_prefill_eff), bytes_ / (rates.mem_bw * eff_m)


def op_time(op: Op, rates: ChipRates, prm: CostParams) -> OpTime:
    kind = op.kind
    bytes_ = op.bytes
    if kind in ("matmul", "lm_head", "router", "moe"):
        peak = rates.matrix_peak(op.dtype)
        eff = prm.eff(op.dtype) * (prm.moe_eff if kind == "moe" else 1.0)
        tc = (
            matmul_compute_s(op.m, op.n, op.k, op.groups, peak, rates, prm, eff)
            if op.m
            else op.flops / (peak * eff)
        )
        if kind == "moe":  # groups of unequal size: scale the tiled estimate to the exact FLOPs
            tc = max(tc, op.flops / (peak * eff))
        tm = bytes_ / (rates.mem_bw * prm.mem_eff(op.dtype))
        ideal = max(op.flops / peak, bytes_ / rates.mem_bw)
    elif kind == "attention":
        a = op.attention
        assert a is not None
        peak = rates.matrix_peak(op.dtype)
        tc, tm = attention_parts(op.flops, bytes_, a.phase, peak, rates, prm)
        ideal = max(op.flops / peak, bytes_ / rates.mem_bw)
    else:  # elementwise, norms, rope, embedding gather, KV writes: vector unit, streaming memory
        tc = op.flops / rates.vector_flops
        tm = bytes_ / (rates.mem_bw * prm.stream_eff)
        ideal = max(op.flops / rates.vector_flops, bytes_ / rates.mem_bw)
    return op_time_of(tc, tm, ideal, prm.kernels(op.name), prm)


def op_time_of(tc: float, tm: float, ideal: float, kernels: int, prm: CostParams) -> OpTime:
    """One instance's time from its compute and memory times: their smooth max plus the kernels' fixed
    cost, and what bounds it."""
    body = smooth_max(tc, tm, prm.smooth)
    t = body + prm.kernel_s * kernels
    bound = "overhead" if prm.kernel_s * kernels > body else ("compute" if tc >= tm else "memory")
    return OpTime(t, tc, tm, ideal, bound, kernels)


def _waves(work_tiles: int, cores: int, quantization: float) -> float:
    """Waves of tiles over the cores: ``quantization`` 1 = whole waves (data-parallel tiling), 0 = perfectly
    balanced (stream-K); fitted values sit between."""
    exact = work_tiles / cores
    return max(1.0, quantization * math.ceil(exact) + (1.0 - quantization) * exact)
