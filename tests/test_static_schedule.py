"""Statically scheduled chips: compiled buckets, derived issue losses, per-level step energy, event
cross-check."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jalapeno.cost.oracle import CostOracle
from jalapeno.cost.params import setup_for
from jalapeno.cost.step import Estimator
from jalapeno.errors import JalapenoError
from jalapeno.graph.batch import Batch
from jalapeno.graph.builder import build_graph
from jalapeno.graph.ops import Op
from jalapeno.graph.precision import Precision
from jalapeno.hardware import resolve_chip
from jalapeno.hardware.arch import resolve_arch
from jalapeno.hardware.arch.loader import load_arch
from jalapeno.mapping import Mapper, mapper_for
from jalapeno.mapping.event_sim import replay_gemm, replay_step, totals
from jalapeno.mapping.gemm import GemmProblem
from jalapeno.mapping.static import StaticSchedule
from jalapeno.models import resolve_model
from jalapeno.serving.oracle import StepShape

J1 = "jalapeno-1"
FP8 = Precision.of("fp8")


@pytest.fixture(scope="module")
def j1():
    chip = resolve_chip(J1)
    return chip, mapper_for(chip)


# -- compiled shape buckets ------------------------------------------------------------------------------


def test_token_and_kv_buckets():
    s = StaticSchedule(token_bucket_gap=128, kv_bucket_tokens=128, dma_setup_s=1e-7, barrier_s=2e-7)
    # powers of two from 16 up to the gap, then multiples of the gap (vLLM's TPU runner)
    assert [s.pad_tokens(n) for n in (1, 16, 17, 33, 100, 128, 129, 300, 512, 513)] == [
        16,
        16,
        32,
        64,
        128,
        128,
        256,
        384,
        512,
        640,
    ]
    assert [s.pad_kv(n) for n in (1, 128, 129, 8193)] == [128, 128, 256, 8320]


@given(st.integers(1, 100_000), st.sampled_from([64, 128, 512]))
def test_buckets_never_shrink_and_are_idempotent(n, gap):
    s = StaticSchedule(gap, 128, 1e-7, 2e-7)
    p = s.pad_tokens(n)
    assert p >= n and s.pad_tokens(p) == p
    assert p <= max(16, 2 * n, n + gap)  # padding is bounded: below the gap at most 2x, above it < one gap


def test_mapper_maps_the_compiled_shape(j1):
    """A 33-token step runs the 64-token program: same time for every matmul, utilization of the real 33."""
    _chip, mp = j1
    cfg = resolve_model("qwen2.5-coder-1.5b")
    g33, g64 = (build_graph(cfg, Batch.decode(b, 1024), FP8) for b in (33, 64))
    for a, b in zip(g33.ops, g64.ops, strict=True):
        if a.kind == "matmul":
            m33, m64 = mp.map(a), mp.map(b)
            assert m33.time.time_s == m64.time.time_s
            assert m33.detail["padded"] == "33->64"
            assert m33.utilization == pytest.approx(m64.utilization * 33 / 64)


def test_serving_oracle_sees_the_padding(j1):
    """The step oracle of an architecture chip prices the padded program: a 129-token prefill chunk runs the
    256-token program, so it costs nearly what 256 tokens cost (only attention, unpadded in query tokens,
    differs), far more than the 1% over 128 tokens an unpadded step would cost."""
    chip, _ = j1
    prm, timer = setup_for(chip)
    o = CostOracle(resolve_model("qwen2.5-coder-1.5b"), chip, prm, precision=FP8, timer=timer)
    t = {
        n: o.step(
            StepShape(prefill_seqs=1, prefill_tokens=n, prefill_context=n * (n + 1) // 2, prefill_kv_tokens=n)
        ).time_s
        for n in (128, 129, 256)
    }
    assert t[129] - t[128] > 0.8 * (t[256] - t[128])


def test_static_kinds_derive_issue_gpus_must_state_it():
    assert Mapper(resolve_arch(J1)).target.issue_eff == 1.0  # no assumed 0.9: losses are derived
    assert resolve_arch(J1).runtime.matrix_issue_efficiency is None
    assert Mapper(resolve_arch("h100-sxm-arch")).target.static is None
    text = resolve_arch("h100-sxm-arch").source_file
    src = Path(text).read_text(encoding="utf-8")
    start = src.index("  matrix_issue_efficiency:")
    end = src.index("\n  ", start + 10)
    while src[end + 3] == " ":  # drop the figure's indented lines too
        end = src.index("\n  ", end + 1)
    with pytest.raises(JalapenoError) as e:
        load_arch(src[:start] + src[end + 1 :])
    assert e.value.field == "runtime.matrix_issue_efficiency"


def test_estimated_constants_carry_ranges():
    rt = resolve_arch(J1).runtime
    for f in (rt.token_bucket_gap, rt.kv_bucket_tokens, rt.dma_setup_s, rt.barrier_s, rt.kernel_overhead_s):
        assert f is not None and f.range is not None and f.range[0] <= f.value <= f.range[1] and f.secondary


def test_range_outside_value_is_rejected():
    src = Path(resolve_arch(J1).source_file).read_text(encoding="utf-8")
    bad = (
        src.replace("    range: [2e-8, 5e-7]", "    range: [2e-7, 5e-7]")
        if "range: [2e-8" in src
        else src.replace("    - 2e-8\n    - 5e-7", "    - 2e-7\n    - 5e-7")
    )
    assert bad != src
    with pytest.raises(JalapenoError) as e:
        load_arch(bad)
    assert e.value.field == "runtime.dma_setup_s.range"


# -- derived losses -------------------------------------------------------------------------------------


def test_split_k_pays_its_combine_and_every_op_a_barrier(j1):
    _, mp = j1
    t = mp.target
    op = Op(
        "down",
        "matmul",
        1,
        2.0 * 16 * 1536 * 8960,
        weight_bytes=1536 * 8960,
        act_read_bytes=16 * 8960,
        act_write_bytes=16 * 1536,
        m=16,
        n=1536,
        k=8960,
        dtype="fp8",
    )
    m = mp.map(op)
    if m.detail["split_k"] > 1:
        assert m.detail["reduce_us"] > 0
    assert m.detail["barrier_us"] == pytest.approx(t.barrier_s() * 1e6)
    slower = Mapper(
        replace(
            resolve_arch(J1),
            runtime=replace(
                resolve_arch(J1).runtime, barrier_s=replace(resolve_arch(J1).runtime.barrier_s, value=1e-6)
            ),
        )
    )
    assert slower.map(op).time.time_s > m.time.time_s


# -- energy: the mapper's per-level counts price the step ----------------------------------------------------


@pytest.mark.parametrize(
    "batch", [Batch.decode(16, 2048), Batch.prefill(512, 512)], ids=["decode", "prefill"]
)
def test_step_energy_is_the_per_level_counts(j1, batch):
    """Conservation: a step's dynamic energy = sum over ops of layers x (FLOPs and bytes at each level x
    energy per action); and it is at least the old DRAM-and-FLOP-only price of the same step."""
    chip, mp = j1
    prm, timer = setup_for(chip)
    est = Estimator(chip, prm, 1, timer)
    g = build_graph(resolve_model("qwen2.5-coder-7b"), batch, FP8)
    costs, _, e_dyn, _ = est.price_ops(g)
    t = mp.target
    by_level = 0.0
    for c in costs:
        w = mp.map(c.sharded).counts
        by_level += (
            c.op.repeat
            * 1e-12
            * (
                w["matrix_flops"] * t.energy_pj_flop(c.sharded.dtype)
                + w["vector_flops"] * t.pj_vector_flop
                + 8
                * (
                    w["main_bytes"] * t.pj_main_bit
                    + w["level2_bytes"] * t.pj_l2_bit
                    + w["sram_bytes"] * t.pj_sram_bit
                    + w["rf_bytes"] * t.pj_rf_bit
                )
            )
        )
    assert e_dyn == pytest.approx(by_level, rel=1e-12)
    # the old price, FLOPs and main-memory bytes only, of the same mapped work (fusion removes graph bytes
    # from DRAM, so the graph's own byte count would overstate what the chip moves)
    old = sum(
        c.op.repeat
        * 1e-12
        * (
            c.sharded.flops * prm.pj_flop(c.sharded.dtype)
            + mp.map(c.sharded).counts["main_bytes"] * prm.pj_per_byte_mem
        )
        for c in costs
    )
    assert e_dyn >= old
    assert all(
        t_ > 0 for t_ in (t.pj_l2_bit, t.pj_sram_bit, t.pj_rf_bit)
    )  # the levels are priced, not dropped
    step = est.step(g)
    static = step.energy_j - e_dyn
    assert static == pytest.approx((est.idle_w + prm.active_static_w) * step.time_s, rel=1e-9)


# -- the event model ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [Batch.decode(8, 2048), Batch.prefill(256, 256)], ids=["decode", "prefill"])
def test_event_model_agrees_with_the_mapper(j1, batch):
    """A small model on Jalapeño-1: the event replay and the analytical mapper within 10% on the step (the
    32B steps of docs/mapping.md agree within 4%), and neither beats the roofline on any op."""
    _, mp = j1
    rows = replay_step(mp, build_graph(resolve_model("qwen2.5-coder-7b"), batch, FP8))
    tot = totals(rows)
    assert tot["ratio"] == pytest.approx(1.0, abs=0.10)
    for r in rows:
        assert r.event_s >= r.roofline_s * (1 - 1e-9), r.name
        assert r.mapper_s >= r.roofline_s * (1 - 1e-9), r.name


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    m=st.sampled_from([16, 64, 256, 512]),
    n=st.sampled_from([256, 1536, 8960]),
    k=st.sampled_from([128, 1536, 5120]),
)
def test_event_gemm_never_beats_physics(j1, m, n, k):
    _, mp = j1
    t = mp.target
    p = GemmProblem(m, n, k, 1, m * k, k * n, m * n, "fp8")
    ev = replay_gemm(t, p)
    assert ev >= 2.0 * m * n * k / t.peak_flops("fp8")
    assert ev >= (m * k + k * n + m * n) / t.main_bw  # compulsory bytes at peak DRAM bandwidth


def test_serving_oracle_prices_what_the_estimator_prices(j1):
    """The serving path (CostOracle, by aggregates) charges an architecture chip exactly the Estimator's step,
    whose dynamic energy is the per-level count (above): serving energy is the mapper's energy."""
    chip, _ = j1
    prm, timer = setup_for(chip)
    cfg = resolve_model("qwen2.5-coder-7b")
    o = CostOracle(cfg, chip, prm, precision=FP8, timer=timer)
    est = Estimator(chip, prm, 1, timer)
    pairs = [
        (StepShape(decode_seqs=16, decode_context=16 * 2048), Batch.decode(16, 2048), True),
        (
            StepShape(
                prefill_seqs=1,
                prefill_tokens=512,
                prefill_context=512 * 512 + 512 * 513 // 2,
                prefill_kv_tokens=1024,
            ),
            Batch.prefill(512, 512),
            False,
        ),
    ]
    for shape, batch, graph_mode in pairs:
        s, g = o.step(shape), est.step(build_graph(cfg, batch, FP8), cuda_graph=graph_mode)
        assert s.time_s == pytest.approx(g.time_s, rel=1e-9)
        assert s.energy_j == pytest.approx(g.energy_j, rel=1e-9)
