"""The fused GEMM + all-reduce plugin's 4-bit (Blackwell) kernel: 512-row x 256-column cluster tiles over
cores / 4 clusters in whole waves, whatever M is (cost.fused_gemm)."""

from __future__ import annotations

import pytest

from jalapeno.cost.fused_gemm import fused_4bit_compute_s, fused_4bit_time, is_fused_4bit
from jalapeno.cost.op_time import ChipRates, op_time
from jalapeno.cost.params import CostParams, fused_engine, params_for
from jalapeno.cost.scenario import precision_of
from jalapeno.cost.scenario_steps import graph_of
from jalapeno.cost.step import Estimator
from jalapeno.graph.ops import Op
from jalapeno.hardware.registry import resolve_chip
from jalapeno.models.registry import resolve_model

L405 = resolve_model("llama-3.1-405b")
RATES = ChipRates(peak={"fp4": 8e12}, vector_flops=1e12, mem_bw=1e12, cores=8)  # 2 clusters of 4 SMs
PRM = CostParams()


def gemm(m: int, n: int, k: int, dtype: str = "fp4") -> Op:
    return Op("down", "matmul", 1, 2.0 * m * n * k, weight_bytes=n * k / 2, m=m, n=n, k=k, dtype=dtype)


def test_a_few_rows_pay_for_a_whole_cluster_tile() -> None:
    """24 rows x 512 columns: one 512-row cluster tile x two 256-column tiles = 2 tiles on 2 clusters, one
    wave of 2 x 512 x 256 x (128 + k_overhead) FLOPs at 4 / 8 of the chip's efficient rate; 600 rows
    (2 cluster rows) x 1,024 columns: 8 tiles, 4 waves."""
    rate = 8e12 * PRM.eff("fp4") * 4 / 8
    one = 2.0 * 512 * 256 * (128 + PRM.k_overhead) / rate
    assert fused_4bit_compute_s(gemm(24, 512, 128), RATES, PRM) == pytest.approx(one)
    assert fused_4bit_compute_s(gemm(512, 512, 128), RATES, PRM) == pytest.approx(one)  # same tile
    assert fused_4bit_compute_s(gemm(600, 1024, 128), RATES, PRM) == pytest.approx(4 * one)


def test_the_padded_time_only_raises_compute() -> None:
    """The padded kernel never makes a GEMM faster than the general tiling, and leaves its memory time."""
    op = gemm(24, 512, 128)
    ot = op_time(op, RATES, PRM)
    padded = fused_4bit_time(op, ot, RATES, PRM)
    assert padded.compute_s == pytest.approx(fused_4bit_compute_s(op, RATES, PRM))
    assert padded.compute_s > ot.compute_s
    assert padded.memory_s == ot.memory_s and padded.time_s > ot.time_s >= ot.roofline_s
    big = gemm(8192, 512, 128)  # 16 x 2 = 32 tiles: the general tiling is already the slower
    ot_big = op_time(big, RATES, PRM)
    assert fused_4bit_compute_s(big, RATES, PRM) <= ot_big.compute_s
    assert fused_4bit_time(big, ot_big, RATES, PRM) is ot_big


def test_only_4bit_gemms_take_the_blackwell_kernel() -> None:
    assert is_fused_4bit(gemm(8, 8, 8, "fp4")) and is_fused_4bit(gemm(8, 8, 8, "nvfp4"))
    assert not is_fused_4bit(gemm(8, 8, 8, "fp8")) and not is_fused_4bit(gemm(8, 8, 8, "bf16"))


def test_a_b200_decode_steps_row_parallel_gemms_under_the_plugin() -> None:
    """Llama-3.1-405B decode at 23 requests on 4 B200s (NVFP4): o_proj (N = 16,384, K = 4,096) and down
    (K = 13,312) write 64 tiles of 256 columns over 148 // 4 = 37 clusters, two waves of 512-row tiles;
    with the plugin they last the padded compute (more than the plain engine's), every other op is
    unchanged, and without the plugin, or for the H200's FP8 (Hopper) kernel, nothing changes."""
    chip = resolve_chip("b200")
    prm = fused_engine(params_for("b200"))
    g = graph_of(L405, "decode", 23, 9800, precision_of("fp4"))
    plain = {c.op.name: c for c in Estimator(chip, prm, 4).price_ops(g)[0]}
    fused = {c.op.name: c for c in Estimator(chip, prm, 4, gemm_allreduce=True).price_ops(g)[0]}
    rates = ChipRates.of(chip)
    for name, k in (("o_proj", 4096), ("down", 13312)):
        s = fused[name].sharded
        assert (s.m, s.n, s.k) == (23, 16384, k)
        rate = rates.matrix_peak("fp4") * prm.eff("fp4") * 4 / 148
        assert fused[name].time.compute_s == pytest.approx(2 * 2.0 * 512 * 256 * (k + prm.k_overhead) / rate)
        assert fused[name].time.time_s > plain[name].time.time_s
    assert all(fused[n].time == plain[n].time for n in plain if n not in ("o_proj", "down"))
    h200 = resolve_chip("h200-sxm")
    hp = fused_engine(params_for("h200-sxm"))
    g8 = graph_of(L405, "decode", 9, 9800, precision_of("fp8"))
    hopper = [Estimator(h200, hp, 8, gemm_allreduce=f).price_ops(g8)[0] for f in (False, True)]
    assert [c.time for c in hopper[0]] == [c.time for c in hopper[1]]
