"""The published wide-EP systems' kernels (cost.published_kernels, cost.expert.compute_share): SMs held by
DeepEP's normal kernels, FP8 GEMMs at DeepGEMM's published H800 rates, attention in BF16. Expectations are
computed by hand from the sources' figures."""

from __future__ import annotations

from dataclasses import replace

import pytest

from jalapeno.cost.expert import compute_share, ep_step
from jalapeno.cost.op_time import ChipRates
from jalapeno.cost.params import setup_for
from jalapeno.cost.pipeline import Parallel
from jalapeno.cost.published_kernels import (
    COMM_SMS,
    DEEPGEMM_H800,
    bf16_attention,
    gemm_factors,
    kernel_params,
    model_tflops,
)
from jalapeno.cost.step import Estimator
from jalapeno.errors import JalapenoError
from jalapeno.graph.batch import Batch
from jalapeno.graph.builder import build_graph
from jalapeno.graph.ops import Op
from jalapeno.graph.precision import Precision
from jalapeno.hardware import resolve_chip
from jalapeno.models import resolve_model

CHIP = resolve_chip("h800")
PRM = setup_for(CHIP, "fused")[0]
FP8 = Precision.of("fp8", "fp8", "bf16")


def _est() -> Estimator:
    return Estimator(CHIP, PRM, 1)


def test_comm_sms_leave_the_compute_the_other_cores():
    """DeepSeek's prefill profile: 108 of the H800's 132 SMs compute, 24 communicate."""
    est = _est()
    shared = compute_share(est, COMM_SMS["deepseek"])
    assert shared.rates.cores == 108
    assert shared.rates.peak["fp8"] == pytest.approx(1978.9e12 * 108 / 132)
    assert shared.rates.vector_flops == pytest.approx(est.rates.vector_flops * 108 / 132)
    assert shared.rates.mem_bw == est.rates.mem_bw  # HBM still streams at full rate
    assert compute_share(est, 0) is est
    # a large compute-bound GEMM takes 132/108 as long, a streaming op (memory-bound) as long as before
    gemm = Op("o_proj", "matmul", 1, flops=2.0 * 8192 * 7168 * 16384, m=8192, n=7168, k=16384, dtype="fp8")
    (full,), *_ = est.price_op_list((gemm,))
    (part,), *_ = shared.price_op_list((gemm,))
    body = full.time.time_s - PRM.kernel_s
    assert part.time.time_s - PRM.kernel_s == pytest.approx(body * 132 / 108, rel=0.01)
    norm = Op("attn_norm", "norm", 1, flops=0.0, act_read_bytes=1e9, act_write_bytes=1e9)
    assert shared.price_op_list((norm,))[1] == pytest.approx(est.price_op_list((norm,))[1])
    with pytest.raises(JalapenoError):
        compute_share(est, 132)


def test_comm_sms_is_an_expert_parallel_knob():
    with pytest.raises(JalapenoError):
        Parallel(ep=8, dp=8, comm_sms=-1)
    with pytest.raises(JalapenoError):
        Parallel(comm_sms=24)  # no expert parallelism: nothing to communicate
    assert Parallel(ep=32, dp=32, tbo=True, comm_sms=24).to_json()["comm_sms"] == 24


def test_comm_sms_slow_only_an_overlapped_step():
    """Two micro-batches: compute shares the chip with the other's all-to-all; one batch runs them apart."""
    cfg = resolve_model("deepseek-v3")
    g = build_graph(cfg, Batch.prefill(4096, 0, batch=2), FP8)
    base = Parallel(ep=32, dp=32, redundant_experts=32, tbo=True, ep_dispatch="per_node")
    held = replace(base, comm_sms=24)
    two = [(g, 8192 * 32)] * 2
    _, x0 = ep_step(_est(), cfg, base, two, cuda_graph=False)
    _, x1 = ep_step(_est(), cfg, held, two, cuda_graph=False)
    assert x1.all_to_all_s == pytest.approx(x0.all_to_all_s)
    # the prefill step is GEMM- and attention-bound: nearly 132/108 longer (memory-bound ops do not stretch)
    assert 1.18 < x1.compute_s / x0.compute_s <= 132 / 108 + 1e-9
    one = [(g, 8192 * 32)]
    s0, _ = ep_step(_est(), cfg, base, one, cuda_graph=False)
    s1, _ = ep_step(_est(), cfg, held, one, cuda_graph=False)
    assert s1.time_s == pytest.approx(s0.time_s)


def test_deepgemm_factors_by_hand():
    """The Feb-2025 dense factor: sum(N K / model) / sum(N K / published) over DeepGEMM's six M=4096 shapes
    (a token's time through them at each rate)."""
    rows = DEEPGEMM_H800["2025-02-25"]["dense"]
    model = sum(n * k / model_tflops(CHIP, PRM, n, k, 1, 4096) for n, k, _ in rows)
    dense, grouped = gemm_factors(CHIP, PRM, "2025-02-25")
    assert dense == pytest.approx(model / sum(n * k / tf for n, k, tf in rows))
    # the model prices o_proj's shape (N 7168, K 16384) at ~1383 TFLOPS where DeepGEMM published 1358, and
    # kv_b's (32768, 512) at ~1011 against 590: the mix reaches 0.864 of the model's FP8 rate
    assert model_tflops(CHIP, PRM, 7168, 16384, 1, 4096) == pytest.approx(1383, abs=2)
    assert dense == pytest.approx(0.864, abs=0.002)
    assert grouped == pytest.approx(0.918, abs=0.002)
    # the April release: faster dense GEMMs, the mix at the model's rate
    assert gemm_factors(CHIP, PRM, "2025-04-09")[0] == pytest.approx(0.997, abs=0.002)


@pytest.mark.parametrize("release", sorted(DEEPGEMM_H800))
def test_kernel_params_reproduce_deepgemms_weighted_rate(release):
    """Under ``kernel_params`` the model's time-weighted rate over each set of shapes is DeepGEMM's."""
    prm = kernel_params(CHIP, PRM, release)
    for kind, groups, m in (("dense", 1, 4096), ("grouped", 4, 8192)):
        rows = DEEPGEMM_H800[release][kind]
        w = sum(n * k for n, k, _ in rows)
        model = w / sum(n * k / _rate(prm, n, k, groups, m, kind) for n, k, _ in rows)
        published = w / sum(n * k / tf for n, k, tf in rows)
        assert model == pytest.approx(published, rel=1e-9), kind


def _rate(prm, n: int, k: int, groups: int, m: int, kind: str) -> float:
    """The model's TFLOPS for a dense GEMM or a grouped one (``op_time`` multiplies in ``moe_eff``)."""
    scaled = replace(prm, matmul_eff={**prm.matmul_eff, "fp8": prm.eff("fp8") * prm.moe_eff})
    return model_tflops(CHIP, scaled if kind == "grouped" else prm, n, k, groups, m)


def test_bf16_attention_halves_the_attention_rate_on_hopper():
    g = build_graph(resolve_model("deepseek-v3"), Batch.prefill(4096, 0), FP8)
    h = bf16_attention(g)
    att = [o for o in h.ops if o.kind == "attention"]
    assert att and all(o.dtype == "bf16" for o in att)
    assert [o for o in h.ops if o.kind != "attention"] == [o for o in g.ops if o.kind != "attention"]
    assert sum(o.flops for o in h.ops) == sum(o.flops for o in g.ops)
    est = _est()
    rates = ChipRates.of(CHIP)
    assert rates.matrix_peak("fp8") / rates.matrix_peak("bf16") == pytest.approx(2.0, rel=1e-3)
    a_fp8 = next(o for o in g.ops if o.kind == "attention")
    a_bf16 = next(o for o in h.ops if o.kind == "attention")
    t8 = est.price_op_list((a_fp8,))[1] - PRM.kernel_s
    t16 = est.price_op_list((a_bf16,))[1] - PRM.kernel_s
    assert t16 / t8 == pytest.approx(2.0, rel=0.02)  # 4K causal MLA prefill is compute-bound


def test_the_serving_oracle_refuses_comm_sms_rather_than_ignore_them():
    from jalapeno.cost.oracle import CostOracle

    par = Parallel(ep=32, dp=32, redundant_experts=32, tbo=True, comm_sms=24)
    with pytest.raises(JalapenoError, match="comm_sms"):
        CostOracle(resolve_model("deepseek-v3"), CHIP, PRM, precision=FP8, parallel=par)
