"""Operator time, pinned: every op kind and dtype priced on small made-up chips, the expected values
worked out by hand in the comments (never read back from the code under test), plus upper bounds.

The chip used throughout (``RATES``): 4 cores, bf16 1 PFLOP/s, fp8 2 PFLOP/s, vector 10 TFLOP/s,
1 TB/s memory. The parameters (``PRM``) are chosen so that every factor is distinct: matmul efficiency
bf16 0.5 / fp8 0.25 / other 0.4, weight-streaming bandwidth efficiency bf16 0.8 / fp8 0.4 / other 0.25,
streaming 0.5, attention prefill 0.5 of peak, attention decode 0.25 of bandwidth, 1 us per kernel.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jalapeno.cost.op_time import ChipRates, OpTime, _waves, matmul_compute_s, op_time, smooth_max
from jalapeno.cost.params import CostParams, params_for
from jalapeno.graph.batch import Batch
from jalapeno.graph.builder import build_graph
from jalapeno.graph.ops import AttentionShape, Op
from jalapeno.graph.precision import Precision
from jalapeno.hardware import resolve_chip
from jalapeno.hardware.spec import Figure
from jalapeno.models import resolve_model

RATES = ChipRates(peak={"bf16": 1e15, "fp8": 2e15}, vector_flops=1e13, mem_bw=1e12, cores=4)
PRM = CostParams(
    matmul_eff={"bf16": 0.5, "fp8": 0.25},
    matmul_eff_default=0.4,
    tile_m=128,
    tile_n=256,
    k_overhead=256.0,
    wave_quantization=0.5,
    split_k_min=512,
    stream_eff=0.5,
    matmul_mem_eff={"bf16": 0.8, "fp8": 0.4},
    matmul_mem_eff_default=0.25,
    attn_prefill_eff=0.5,
    attn_decode_mem_eff=0.25,
    kernel_s=1e-6,
    smooth=4.0,
)
PER_CORE = 1e15 * 0.5 / 4  # bf16 peak x efficiency / cores = 1.25e14 FLOP/s per core
A100 = {"tf32": 156e12, "bf16": 312e12, "int8": 624e12, "int4": 1248e12}  # datasheet dense peaks


def approx(x: float) -> object:
    return pytest.approx(x, rel=1e-12, abs=0.0)


def smooth4(a: float, b: float) -> float:
    """(a^4 + b^4)^(1/4), written out here so the op tests do not lean on the smooth_max under test."""
    return (a**4 + b**4) ** 0.25


# --- formats: the rate an op runs at --------------------------------------------------------------------
def test_a100_has_no_fp8_so_fp8_runs_at_bf16_not_at_the_int4_peak():
    rates = ChipRates(peak=A100, vector_flops=19.5e12, mem_bw=2.039e12, cores=108)
    assert rates.matrix_peak("fp8") == 312e12  # fp8 -> bf16; the fastest rate (int4, 1248e12) is wrong
    assert rates.matrix_peak("fp4") == 312e12  # fp4 -> fp8 (absent) -> bf16
    assert rates.matrix_peak("int4") == 1248e12
    assert rates.matrix_peak("int8") == 624e12
    assert rates.matrix_peak("bf16") == 312e12
    assert rates.matrix_peak("fp32") == 156e12  # no fp32 tensor rate: tf32
    assert rates.matrix_peak("fp6") == 1248e12  # a format with no fallback chain gets the chip's best rate


# Each chain: the format asked for, then the formats that may run it, widest last. A decoy faster rate
# ("zz") must never be picked while a chain member exists.
CHAINS = {
    "fp4": ("fp4", "fp8", "bf16"),
    "int4": ("int4", "int8", "fp8", "bf16"),
    "fp8": ("fp8", "bf16"),
    "int8": ("int8", "fp8", "bf16"),
    "bf16": ("bf16", "fp16", "tf32", "fp32"),
    "tf32": ("tf32", "fp32"),
    "fp32": ("fp32", "tf32"),
}


@pytest.mark.parametrize(("dtype", "chain"), CHAINS.items())
def test_each_format_falls_back_along_its_chain_in_order(dtype, chain):
    for i, have in enumerate(chain):
        peak = {d: float(j + 1) for j, d in enumerate(chain[i:], start=i)} | {"zz": 1e9}
        assert ChipRates(peak, 1.0, 1.0, 1).matrix_peak(dtype) == float(i + 1), (dtype, have)
    assert ChipRates({"zz": 1e9, "q": 1.0}, 1.0, 1.0, 1).matrix_peak(dtype) == 1e9  # none: the best there is


def test_chip_rates_of_presets_and_of_chips_missing_figures():
    h200 = resolve_chip("h200")
    r = ChipRates.of(h200)
    assert r.peak == {d: f.value for d, f in h200.matrix_flops.items()}
    assert r.vector_flops == max(f.value for f in h200.vector_flops.values())
    assert r.mem_bw == 4.8e12 and r.cores == 132  # H200 datasheet: 4.8 TB/s, 132 SMs
    bare = dataclasses.replace(h200, vector_flops={}, cores=None)
    r = ChipRates.of(bare)
    assert r.vector_flops == h200.matrix_flops["bf16"].value / 16 and r.cores == 1
    r = ChipRates.of(dataclasses.replace(bare, matrix_flops={"fp8": Figure(8e15, "x")}, cores=Figure(0, "x")))
    assert r.vector_flops == 1e12 / 16 and r.cores == 1  # no bf16 rate: 1 TFLOP/s / 16; zero cores -> 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.cores = 2  # type: ignore[misc]


# --- building blocks -----------------------------------------------------------------------------------
def test_smooth_max_at_balance_and_when_one_side_dominates():
    assert smooth_max(3.0, 3.0, 4.0) == approx(3.0 * 2**0.25)  # equal: 2^(1/p) x larger
    assert smooth_max(3.0, 4.0, 2.0) == approx(5.0)  # p = 2: the hypotenuse
    assert smooth_max(4.0, 3.0, 2.0) == approx(5.0)
    assert smooth_max(0.5, 0.5, 1.0) == approx(1.0)  # p = 1: the sum
    assert smooth_max(7.0, 0.0, 4.0) == 7.0 and smooth_max(0.0, 7.0, 4.0) == 7.0
    assert smooth_max(0.0, 0.0, 4.0) == 0.0  # no work: no time (and no 0/0)


def test_waves_interpolate_between_whole_and_balanced():
    assert _waves(6, 4, 1.0) == 2.0  # whole waves: ceil(6/4)
    assert _waves(6, 4, 0.0) == 1.5  # balanced: 6/4
    assert _waves(6, 4, 0.5) == 1.75  # 0.5 * 2 + 0.5 * 1.5
    assert _waves(6, 4, 0.25) == 1.625  # 0.25 * 2 + 0.75 * 1.5
    assert _waves(2, 4, 0.5) == 1.0  # fewer tiles than cores still take one wave (0.5 * 1 + 0.5 * 0.5 = 0.75)
    assert _waves(4, 4, 0.5) == 1.0


# --- matmul compute time: tiles, waves, split-K -------------------------------------------------------
def mm(m: int, n: int, k: int, groups: int = 1, rates: ChipRates = RATES, prm: CostParams = PRM) -> float:
    return matmul_compute_s(m, n, k, groups, 1e15, rates, prm, 0.5)


@pytest.mark.parametrize(("m", "tile"), [(1, 16), (16, 16), (17, 32), (32, 32), (33, 64), (64, 64)])
def test_small_m_uses_the_narrowest_tile_that_holds_it(m, tile):
    # n = 1024 -> 4 column tiles of 256 = 4 tiles on 4 cores: one wave, no split.
    # time = 2 x tile x 256 x (K + k_overhead) / per-core rate, K = 1024, k_overhead = 256
    assert mm(m, 1024, 1024) == approx(2 * tile * 256 * (1024 + 256) / PER_CORE)


def test_m_65_leaves_the_small_tiles_and_pads_to_128():
    # m = 65: (128 x 256): 1 x 4 = 4 tiles, one wave; (256 x 128): 1 x 8 = 8 tiles, 2 waves;
    # (128 x 128): 1 x 8 = 8 tiles, 2 waves. Best: 1 x 128 x 256 (= 2 x 128 x 128, a tie).
    assert mm(65, 1024, 1024) == approx(2 * 128 * 256 * (1024 + 256) / PER_CORE)


def test_split_k_fills_idle_cores_down_to_the_smallest_slice():
    # 1 tile (16 x 256) on 4 cores, K = 2048: split = min(4 // 1, 2048 // 512) = 4, 4 slices of 512
    assert mm(1, 256, 2048) == approx(2 * 16 * 256 * (2048 / 4 + 256) / PER_CORE)
    # K = 1000: split = min(4, 1000 // 512 = 1) = 1 (integer division: never a fractional split)
    assert mm(1, 256, 1000) == approx(2 * 16 * 256 * (1000 + 256) / PER_CORE)
    # K = 256 < split_k_min: 256 // 512 = 0 -> split at least 1
    assert mm(1, 256, 256) == approx(2 * 16 * 256 * (256 + 256) / PER_CORE)
    # 3 tiles on 4 cores: split = 4 // 3 = 1, so 3 tiles in one wave (not 4/3 slices)
    assert mm(1, 768, 4096) == approx(2 * 16 * 256 * (4096 + 256) / PER_CORE)
    # 2 tiles on 4 cores, K = 4096: split = min(4 // 2 = 2, 8) = 2, 4 work tiles, one wave
    assert mm(1, 512, 4096) == approx(2 * 16 * 256 * (4096 / 2 + 256) / PER_CORE)


def test_groups_multiply_tiles_and_waves():
    # 8 experts x 1 tile = 8 tiles on 4 cores: no split, waves = 0.5 * 2 + 0.5 * 2 = 2
    assert mm(1, 256, 1024, groups=8) == approx(2 * 2 * 16 * 256 * (1024 + 256) / PER_CORE)
    # 6 tiles: waves = 0.5 * ceil(1.5) + 0.5 * 1.5 = 1.75
    assert mm(1, 256, 1024, groups=6) == approx(1.75 * 2 * 16 * 256 * (1024 + 256) / PER_CORE)


def test_large_m_picks_whichever_tile_shape_fills_6_cores_best():
    r6 = dataclasses.replace(RATES, cores=6)
    pc6 = 1e15 * 0.5 / 6
    # m = 128, n = 512, K = 3072 on 6 cores:
    #   128x256: 1 x 2 = 2 tiles, split = min(6 // 2 = 3, 3072 // 512 = 6) = 3 -> 6 work tiles, 1 wave:
    #            2 x 128 x 256 x (1024 + 256) = 83.9e6 FLOP-slots      <- best
    #   256x128: 1 x 4 = 4 tiles, split = 6 // 4 = 1, 1 wave: 2 x 256 x 128 x (3072 + 256) = 218e6
    #   128x128: 4 tiles, split 1, 1 wave: 2 x 128 x 128 x 3328 = 109e6
    assert mm(128, 512, 3072, rates=r6) == approx(2 * 128 * 256 * (1024 + 256) / pc6)
    # the transpose: m = 512, n = 128 -> 256x128 has 2 tiles, split 3: 2 x 256 x 128 x 1280 = 83.9e6 (best);
    #   128x256: 4 x 1 = 4 tiles (n padded to 256), split 1: 2 x 128 x 256 x 3328; 128x128: 4 tiles: 109e6
    assert mm(512, 128, 3072, rates=r6) == approx(2 * 256 * 128 * (1024 + 256) / pc6)
    # m = 128, n = 384, K = 512 on 4 cores: 128x256: 2 tiles, split min(2, 1) = 1 -> 2 x 128 x 256 x 768;
    #   256x128: 3 tiles, 1 wave: 2 x 256 x 128 x 768; 128x128: 3 tiles, 1 wave: 2 x 128 x 128 x 768 (best)
    assert mm(128, 384, 512) == approx(2 * 128 * 128 * (512 + 256) / PER_CORE)
    # many tiles, whole waves differ: m = 640, n = 256, q = 0.5 on 4 cores
    #   128x256: 5 tiles -> waves 0.5 * 2 + 0.5 * 1.25 = 1.625 -> 1.625 x 32768 = 53248 tile-area
    #   256x128: 3 x 2 = 6 tiles -> 1.75 x 32768 = 57344; 128x128: 10 tiles -> 0.5 * 3 + 0.5 * 2.5 = 2.75
    #   -> 2.75 x 16384 = 45056 (best)
    assert mm(640, 256, 1024) == approx(2.75 * 2 * 128 * 128 * (1024 + 256) / PER_CORE)


# --- op_time: one case per op kind and dtype ------------------------------------------------------------
def weights_op(kind: str, dtype: str = "bf16", m: int = 1, n: int = 1024, k: int = 1024, **kw) -> Op:
    flops, weights = kw.pop("flops", 2.0 * m * n * k), kw.pop("weight_bytes", 2.0 * n * k)
    return Op("w", kind, 1, flops=flops, weight_bytes=weights, m=m, n=n, k=k, dtype=dtype, **kw)


@pytest.mark.parametrize("kind", ["matmul", "lm_head", "router"])
def test_batch_1_weight_gemm_is_memory_bound_on_the_matrix_unit(kind):
    t = op_time(weights_op(kind), RATES, PRM)
    tc = 2 * 16 * 256 * (1024 + 256) / PER_CORE  # m = 1 padded to a 16-row tile, 4 tiles, one wave
    tm = 2 * 1024 * 1024 / (1e12 * 0.8)  # 2 MiB of bf16 weights at 0.8 of 1 TB/s = 2.62144 us
    assert t.compute_s == approx(tc) and t.memory_s == approx(tm)
    assert t.time_s == approx(smooth4(tc, tm) + 1e-6)
    assert t.roofline_s == approx(2 * 1024 * 1024 / 1e12)  # bytes / bandwidth beats 2 MFLOP / 1 PFLOP/s
    assert (t.bound, t.kernels) == ("memory", 1)


def test_matmul_without_a_shape_uses_its_flops_at_the_efficiency():
    t = op_time(weights_op("matmul", m=0, flops=4e9, weight_bytes=1e6), RATES, PRM)
    assert t.compute_s == approx(4e9 / (1e15 * 0.5))  # 8 us
    assert t.memory_s == approx(1e6 / (1e12 * 0.8))  # 1.25 us
    assert t.roofline_s == approx(4e9 / 1e15)  # compute-bound roofline: 4 us
    assert t.time_s == approx(smooth4(8e-6, 1.25e-6) + 1e-6) and t.bound == "compute"


def test_fp8_runs_at_the_fp8_rate_efficiency_and_bandwidth():
    t = op_time(weights_op("matmul", "fp8", m=0, flops=4e9, weight_bytes=1e6), RATES, PRM)
    assert t.compute_s == approx(4e9 / (2e15 * 0.25))  # 8 us
    assert t.memory_s == approx(1e6 / (1e12 * 0.4))  # 2.5 us
    assert t.roofline_s == approx(4e9 / 2e15)


def test_int8_without_its_own_rate_or_efficiency_uses_fp8_peak_and_the_defaults():
    t = op_time(weights_op("matmul", "int8", m=0, flops=4e9, weight_bytes=1e6), RATES, PRM)
    assert t.compute_s == approx(4e9 / (2e15 * 0.4))  # int8 -> fp8 rate, default efficiency 0.4
    assert t.memory_s == approx(1e6 / (1e12 * 0.25))  # default weight-streaming efficiency 0.25


def test_fp8_prefill_gemm_on_a100_is_priced_at_bf16():
    a100 = ChipRates(peak=A100, vector_flops=19.5e12, mem_bw=2.039e12, cores=108)
    t = op_time(weights_op("matmul", "fp8", m=0, flops=1e12, weight_bytes=1e6), a100, PRM)
    assert t.compute_s == approx(1e12 / (312e12 * 0.25))  # 12.8 ms at bf16, not 3.2 ms at int4
    assert t.roofline_s == approx(1e12 / 312e12)


def test_moe_floor_is_the_exact_flops_when_groups_are_unequal():
    # 2 experts, m = 64 rows each as tiled: 2 tiles (64 x 256) on 4 cores,
    # split = min(4 // 2 = 2, 1024 // 512 = 2) = 2,
    # 4 work tiles, one wave: tiled = 2 x 64 x 256 x (512 + 256) / 1.25e14 = 201.3 ns
    tiled = 2 * 64 * 256 * (1024 / 2 + 256) / PER_CORE
    # the routed rows are 200, not 2 x 64: exact = 2 x 200 x 256 x 1024 FLOP / (1 PFLOP/s x 0.5) = 209.7 ns
    exact = 2 * 200 * 256 * 1024 / (1e15 * 0.5)
    assert exact > tiled
    no_launch = dataclasses.replace(PRM, kernel_s=0.0)
    op = weights_op("moe", m=64, n=256, k=1024, groups=2, flops=2.0 * 200 * 256 * 1024, weight_bytes=1e3)
    t = op_time(op, RATES, no_launch)
    assert t.compute_s == approx(exact)  # divided by the rate, never multiplied
    assert t.memory_s == approx(1e3 / (1e12 * 0.8)) and t.bound == "compute"
    # a matmul of the same shape has no floor: the tiled time stands
    mmt = op_time(
        weights_op("matmul", m=64, n=256, k=1024, groups=2, flops=2.0 * 200 * 256 * 1024, weight_bytes=1e3),
        RATES,
        PRM,
    )
    assert mmt.compute_s == approx(tiled)


def test_moe_with_balanced_groups_keeps_the_tiled_time_on_the_matrix_unit():
    tiled = 2 * 64 * 256 * (1024 / 2 + 256) / PER_CORE  # as above: 201.3 ns > exact 134.2 ns
    t = op_time(weights_op("moe", m=64, n=256, k=1024, groups=2, flops=2.0 * 128 * 256 * 1024), RATES, PRM)
    assert t.compute_s == approx(tiled)  # on the vector unit it would be 67 MFLOP / 10 TFLOP/s = 6.7 us
    assert t.roofline_s == approx(2 * 256 * 1024 / 1e12)  # 512 KiB of weights / 1 TB/s


def test_moe_efficiency_divides_only_the_expert_gemms_rate():
    """moe_eff = 0.5: the grouped expert GEMM's exact floor doubles (2 x 209.7 ns = 419.4 ns); a dense matmul
    of the same shape keeps its tiled 201.3 ns (moe_eff multiplies the efficiency of kind "moe" only)."""
    half = dataclasses.replace(PRM, kernel_s=0.0, moe_eff=0.5)
    flops = 2.0 * 200 * 256 * 1024
    t = op_time(weights_op("moe", m=64, n=256, k=1024, groups=2, flops=flops, weight_bytes=1e3), RATES, half)
    assert t.compute_s == approx(flops / (1e15 * 0.5 * 0.5))
    mm = weights_op("matmul", m=64, n=256, k=1024, groups=2, flops=flops, weight_bytes=1e3)
    assert op_time(mm, RATES, half).compute_s == approx(2 * 64 * 256 * (1024 / 2 + 256) / PER_CORE)


def attention_op(phase: str, dtype: str = "bf16", flops: float = 1e9, kv: float = 1e6) -> Op:
    shape = AttentionShape(phase, 1, 16, 1024, 16 * 1024, 8, 8, 128, 128)
    return Op("attn", "attention", 1, flops=flops, kv_read_bytes=kv, dtype=dtype, attention=shape)


def test_attention_prefill_streams_and_decode_reads_the_cache():
    pre = op_time(attention_op("prefill"), RATES, PRM)
    assert pre.compute_s == approx(1e9 / (1e15 * 0.5))  # 2 us at 0.5 of the matrix peak
    assert pre.memory_s == approx(1e6 / (1e12 * 0.5))  # 2 us at the streaming efficiency
    assert pre.time_s == approx(2e-6 * 2**0.25 + 1e-6)  # balanced: 2^(1/4) x 2 us
    assert pre.bound == "compute"  # a tie counts as compute
    dec = op_time(attention_op("decode"), RATES, PRM)
    assert dec.memory_s == approx(1e6 / (1e12 * 0.25)) and dec.bound == "memory"  # 4 us at 0.25
    assert dec.roofline_s == approx(max(1e9 / 1e15, 1e6 / 1e12))  # 1 us both ways
    fp8 = op_time(attention_op("prefill", "fp8", flops=1e10), RATES, PRM)
    assert fp8.compute_s == approx(1e10 / (2e15 * 0.5)) and fp8.roofline_s == approx(1e10 / 2e15)


@pytest.mark.parametrize("kind", ["elementwise", "norm", "rope", "embedding", "kv_write"])
def test_vector_ops_use_the_vector_unit_and_streaming_bandwidth(kind):
    t = op_time(Op("v", kind, 1, flops=3e7, act_read_bytes=1e6, act_write_bytes=5e5), RATES, PRM)
    assert t.compute_s == approx(3e7 / 1e13)  # 3 us
    assert t.memory_s == approx(1.5e6 / (1e12 * 0.5))  # 3 us: balanced
    assert t.time_s == approx(3e-6 * 2**0.25 + 1e-6) and t.bound == "compute"
    assert t.roofline_s == approx(3e-6)
    t = op_time(Op("v", kind, 1, flops=1e7, act_read_bytes=4e6), RATES, PRM)
    assert t.roofline_s == approx(4e6 / 1e12) and t.bound == "memory"  # 1 us compute vs 8 us memory


def test_bound_labels_at_their_boundaries():
    prm = dataclasses.replace(PRM, kernel_s=4e-6)
    # memory 2 MB at 0.5 x 1 TB/s = 4 us, no compute: body 4 us equals the 4 us kernel floor -> still "memory"
    t = op_time(Op("e", "elementwise", 1, flops=0.0, act_read_bytes=2e6), RATES, prm)
    assert t.memory_s == 4e-6 and t.time_s == approx(8e-6) and t.bound == "memory"
    # a smaller op: 3 kernels of rope at 4 us = 12 us > 4 us body -> "overhead"
    prm3 = dataclasses.replace(prm, kernels_per_op={"rope": 3})
    t = op_time(Op("rope", "rope", 1, flops=0.0, act_read_bytes=2e6), RATES, prm3)
    assert (t.kernels, t.bound) == (3, "overhead") and t.time_s == approx(4e-6 + 12e-6)
    free_launch = dataclasses.replace(PRM, kernel_s=0.0)
    t = op_time(Op("e", "elementwise", 1, flops=1e7, act_read_bytes=2e4), RATES, free_launch)
    assert t.bound == "compute" and t.time_s == approx(smooth4(1e-6, 4e-8))  # no kernel cost: body only


def test_op_time_is_frozen_with_slots():
    t = op_time(attention_op("decode"), RATES, PRM)
    assert isinstance(t, OpTime) and not hasattr(t, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.time_s = 0.0  # type: ignore[misc]


# --- a real chip: the calibrated H200, Llama-3.1-8B decode at batch 1 ---------------------------------
def test_h200_llama_8b_batch_1_qkv_pinned_by_hand():
    prm = params_for("h200-sxm")
    rates = ChipRates.of(resolve_chip("h200"))
    graph = build_graph(resolve_model("llama-3.1-8b"), Batch.decode(1, 1024))
    qkv = next(o for o in graph.ops if o.name == "qkv_proj")
    assert (qkv.m, qkv.k, qkv.n, qkv.groups) == (1, 4096, 6144, 1)  # q 4096 + k 1024 + v 1024
    # 1 row -> 16-row tiles; 6144 / 256 = 24 tiles on 132 SMs
    # -> split = min(132 // 24 = 5, 4096 // split_k_min)
    split = max(1, min(5, 4096 // prm.split_k_min))
    work = 24 * split
    waves = max(1.0, prm.wave_quantization * math.ceil(work / 132) + (1 - prm.wave_quantization) * work / 132)
    per_core = 989.4e12 * prm.eff("bf16") / 132  # H200 dense bf16: 989.4 TFLOP/s
    tc = waves * 2 * 16 * 256 * (4096 / split + prm.k_overhead) / per_core
    tm = qkv.bytes / (4.8e12 * prm.mem_eff("bf16"))
    t = op_time(qkv, rates, prm)
    assert t.compute_s == approx(tc) and t.memory_s == approx(tm) and t.bound == "memory"
    p = prm.smooth
    assert t.time_s == approx((tc**p + tm**p) ** (1 / p) + prm.kernel_s * prm.kernels("qkv_proj"))


# --- upper bounds ------------------------------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(
    chip=st.sampled_from(["h200", "a100", "b200", "mi300x", "tpu-v5e"]),
    model=st.sampled_from(["llama-3.1-8b", "mixtral-8x7b", "qwen2.5-coder-7b"]),
    dtype=st.sampled_from(["bf16", "fp8"]),
    batch=st.integers(1, 256),
    prompt=st.integers(1, 4096),
)
def test_no_op_is_slower_than_whole_waves_of_padded_tiles(chip, model, dtype, batch, prompt):
    """Upper bounds on every op of real graphs: a GEMM's compute is at most whole waves of its first tile
    shape, unsplit (split-K only ever runs within one wave: tiles x split <= cores); MoE at most that or
    its exact FLOPs at the fitted efficiency; memory at most the bytes at the worst fitted bandwidth
    efficiency; the op at most 2^(1/p) x the larger of the two plus its kernels' fixed cost."""
    c = resolve_chip(chip)
    prm, rates = params_for(c.name), ChipRates.of(c)
    for b in (Batch.decode(batch, 2048), Batch.prefill(prompt)):
        for op in build_graph(resolve_model(model), b, Precision.of(dtype)).ops:
            t = op_time(op, rates, prm)
            rate = rates.matrix_peak(op.dtype) * prm.eff(op.dtype)
            if op.kind in ("matmul", "lm_head", "router", "moe") and op.m:
                tm = next((x for x in (16, 32, 64) if op.m <= x), prm.tile_m)
                tiles = math.ceil(op.m / tm) * math.ceil(op.n / prm.tile_n) * op.groups
                per_core = rate / rates.cores
                cap = (
                    math.ceil(tiles / rates.cores)
                    * 2.0
                    * tm
                    * prm.tile_n
                    * (op.k + prm.k_overhead)
                    / per_core
                )
                if op.kind == "moe":
                    cap = max(cap, op.flops / rate)
                assert t.compute_s <= cap * (1 + 1e-12)
            worst_bw = min(prm.stream_eff, prm.attn_decode_mem_eff, prm.mem_eff(op.dtype))
            assert t.memory_s <= op.bytes / (rates.mem_bw * worst_bw) * (1 + 1e-12)
            fixed = prm.kernel_s * prm.kernels(op.name)
            assert t.time_s <= (2 ** (1 / prm.smooth) * max(t.compute_s, t.memory_s) + fixed) * (1 + 1e-12)
            assert t.time_s >= (max(t.compute_s, t.memory_s) + fixed) * (1 - 1e-12)
