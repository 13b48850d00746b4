"""Eager launch overlap, power capping of device time only, and the GEMM tile choice: hand-computed cases."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jalapeno.cost.op_time import ChipRates, matmul_compute_s
from jalapeno.cost.params import CostParams, params_for
from jalapeno.cost.step import Estimator
from jalapeno.graph.batch import Batch
from jalapeno.graph.builder import build_graph
from jalapeno.hardware import resolve_chip
from jalapeno.models import resolve_model

H200 = resolve_chip("h200")


def _est(**kw: float) -> Estimator:
    return Estimator(H200, replace(params_for("h200-sxm"), **kw))


def test_eager_step_lasts_the_longer_of_device_and_host():
    """Async launches: a prefill whose kernels outlast their launches costs the device's time; one
    whose host is slower costs the host's (sum of launches), never the sum of per-kernel maxima."""
    cfg = resolve_model("qwen2.5-coder-1.5b")
    uncapped = _est(active_static_w=0.0, pj_per_flop={"bf16": 0.0}, pj_per_byte_mem=0.0)  # no power cap
    for prompt in (16, 8192):
        g = build_graph(cfg, Batch.prefill(prompt))
        costs, dev, _, host = uncapped.price_ops(g, cuda_graph=False)
        kernels = sum(c.time.kernels * c.op.repeat for c in costs)
        assert host == pytest.approx(kernels * uncapped.params.eager_launch_s, rel=1e-12)
        t = uncapped.step(g, cuda_graph=False).time_s
        assert t == pytest.approx(max(dev, host), rel=1e-12)
        per_op_max = sum(
            max(c.time.time_s, uncapped.params.eager_launch_s * c.time.kernels) * c.op.repeat for c in costs
        )
        assert t <= per_op_max + 1e-15
    short = build_graph(cfg, Batch.prefill(16))
    _, dev, _, host = uncapped.price_ops(short, cuda_graph=False)
    assert host > dev  # a 16-token prefill of a small model waits on its host


def test_cuda_graph_steps_have_no_host_launch_time():
    g = build_graph(resolve_model("llama-3.1-8b"), Batch.decode(8, 2048))
    est = _est()
    costs, dev, _, host = est.price_ops(g, cuda_graph=True)
    assert host == 0.0
    assert dev == pytest.approx(sum(c.total_s for c in costs), rel=1e-12)


def test_power_cap_stretches_device_time_only():
    """Hand-computed DVFS: static 100 W, limit 700 W, beta 2."""
    est = _est(active_static_w=0.0, dvfs_beta=2.0, step_overhead_s=0.0)
    est.idle_w, est.tdp_w = 100.0, 700.0
    # device-bound: 1 ms of device work wanting 1.2 J of dynamic energy (1300 W): f^3 = 600 * 1e-3 / 1.2
    t, e, capped = est.finish(1e-3, 1.2, 0.0)
    f = (600 * 1e-3 / 1.2) ** (1 / 3)
    assert capped and t == pytest.approx(1e-3 / f) and e == pytest.approx(100 * t + 1.2 * f**2)
    assert e / t == pytest.approx(700.0)
    # host-bound even after throttling: 1 ms device, 5 ms host, 3.2 J: f^2 = 600 * 5e-3 / 3.2
    t, e, capped = est.finish(1e-3, 3.2, 5e-3)
    f = math.sqrt(600 * 5e-3 / 3.2)
    assert capped and t == pytest.approx(5e-3) and e == pytest.approx(100 * 5e-3 + 3.2 * f**2)
    assert 1e-3 / f < 5e-3
    # host-bound at full clock but the cap throttles the device past the host: device-bound formula
    t, e, _ = est.finish(4e-3, 30.0, 5e-3)
    f = (600 * 4e-3 / 30.0) ** (1 / 3)
    assert t == pytest.approx(4e-3 / f) and t > 5e-3 and e / t == pytest.approx(700.0)
    # below the limit nothing changes
    t, e, capped = est.finish(1e-3, 0.1, 2e-3)
    assert not capped and t == pytest.approx(2e-3) and e == pytest.approx(100 * 2e-3 + 0.1)


@settings(max_examples=60, deadline=None)
@given(dev=st.floats(1e-5, 1.0), host=st.floats(0.0, 1.0), watts=st.floats(1.0, 5000.0))
def test_capped_power_never_exceeds_the_limit_and_time_never_shrinks(dev, host, watts):
    est = _est(step_overhead_s=0.0)
    span = max(dev, host)
    t, e, _ = est.finish(dev, watts * span, host)
    assert t >= span * (1 - 1e-12)
    assert e / t <= est.tdp_w * (1 + 1e-9)


def test_tile_choice_fills_the_cores():
    """512 x 5120 x 27648 on 132 SMs: 128x256 tiles make 80 (one wave, 61% busy); 128x128 make 160
    (1.21 waves): the model takes the faster, as cuBLAS's heuristics do."""
    rates = ChipRates.of(H200)
    prm = CostParams(tile_m=128, tile_n=256, wave_quantization=1.0, k_overhead=0.0, split_k_min=512)
    peak, k = 1e15, 27648
    t = matmul_compute_s(512, 5120, k, 1, peak, rates, prm, 1.0)
    per_core = peak / rates.cores
    wide = 1 * 2.0 * 128 * 256 * k / per_core  # 80 tiles: one wave
    square = 2 * 2.0 * 128 * 128 * k / per_core  # 160 tiles: two whole waves
    tall = 1 * 2.0 * 256 * 128 * k / per_core  # 2 x 40 = 80 tiles: one wave
    assert t == pytest.approx(min(wide, square, tall))
    # and never faster than the FLOPs at peak
    assert t >= 2.0 * 512 * 5120 * k / peak


def test_unmeasured_fp8_energy_is_derived_from_bf16_and_the_datasheet():
    """Same power limit at twice the rate: an fp8 FLOP costs bf16's energy x bf16 peak / fp8 peak."""
    from jalapeno.cost.calibrate import derive_flop_energy

    rates = ChipRates.of(H200)
    p = derive_flop_energy(CostParams(pj_per_flop={"bf16": 1.5, "fp8": 0.2}), rates, {"bf16"})
    assert p.pj_per_flop["fp8"] == pytest.approx(1.5 * rates.peak["bf16"] / rates.peak["fp8"])
    assert p.pj_per_flop["fp8"] == pytest.approx(0.75, rel=0.01)  # H200: fp8 peak = 2 x bf16 peak
    assert "fp8" in p.meta["pj_per_flop_derived"]
    kept = derive_flop_energy(CostParams(pj_per_flop={"bf16": 1.5, "fp8": 0.6}), rates, {"bf16", "fp8"})
    assert kept.pj_per_flop["fp8"] == 0.6  # a measured format is never overwritten
    assert params_for("h200-sxm").pj_per_flop["fp8"] == pytest.approx(
        params_for("h200-sxm").pj_per_flop["bf16"] / 2, rel=0.01
    )


@pytest.mark.parametrize("prompt", [16, 512, 8192])
def test_breakdown_accounts_for_the_whole_step(prompt):
    """Operators + collectives + host wait + throttling + step overhead = the step: nothing hidden."""
    for model, tp in (("qwen2.5-coder-1.5b", 1), ("qwen2.5-coder-32b", 2)):
        est = Estimator(H200, replace(params_for("h200-sxm"), step_overhead_s=5e-5), tp)
        for graph, eager in (
            (build_graph(resolve_model(model), Batch.prefill(prompt)), True),
            (build_graph(resolve_model(model), Batch.decode(64, prompt)), False),
        ):
            c = est.step(graph, cuda_graph=not eager)
            parts = sum(oc.total_s for oc in c.ops) + c.comm_s + c.host_wait_s + c.throttle_s + c.overhead_s
            assert parts == pytest.approx(c.time_s, rel=1e-9)
