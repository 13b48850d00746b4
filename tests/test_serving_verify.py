"""A speculative verify step priced as a decode step of several query tokens a sequence (``graph.verify``
through ``StepShape.decode_queries``): weights and each sequence's KV read once, FLOPs per query token."""

from __future__ import annotations

from dataclasses import replace
from unittest import mock

import pytest
from test_serving_helpers import Req

from jalapeno.cost import published_moe as pm
from jalapeno.cost.oracle import CostOracle, weight_bytes
from jalapeno.cost.params import setup_for
from jalapeno.cost.pipeline import Parallel
from jalapeno.explore.fast_oracle import FastOracle
from jalapeno.graph.precision import BF16
from jalapeno.graph.verify import verify_aggregates
from jalapeno.hardware.registry import resolve_chip
from jalapeno.models import resolve_model
from jalapeno.seams.step_oracle import StepShape
from jalapeno.serving import Speculative
from jalapeno.serving.config import ServingConfig
from jalapeno.serving.simulate import Simulation


def _oracle(model: str, chip: str, **kw) -> CostOracle:
    c = resolve_chip(chip)
    prm, timer = setup_for(c, "fused")
    return CostOracle(resolve_model(model), c, prm, timer=timer, **kw)


def test_verify_aggregates_by_hand():
    # 4 sequences, 16,000 cached tokens in all, 3 query tokens each: token i sees cached + i keys
    assert verify_aggregates(4, 16000, 3) == (12, 3 * 16000 + 4 * (1 + 2 + 3), 16000 + 4 * 3)
    assert verify_aggregates(4, 16000, 1) == (4, 16004, 16004)  # a plain decode step
    # a 100-token window: each query sees at most 100 keys, a sequence reads at most 100 + 2 of its keys
    assert verify_aggregates(4, 16000, 3, window=100) == (12, 1200, 408)


def test_dense_gqa_verify_op_reads_the_cache_once_and_computes_per_query():
    o = _oracle("llama-3.1-8b", "h100")
    [op] = o._attention_ops(1, "full", StepShape(4, 16000, decode_queries=3), 0, None)
    # Llama-3.1-8B: 32 query heads, 8 KV heads, head_dim 128, bf16 K and V: 4,096 bytes a token and layer
    assert op.kv_read_bytes == 16012 * 2 * 8 * 128 * 2
    assert op.flops == 2.0 * 48024 * 32 * (128 + 128)
    assert op.act_read_bytes == 12 * 32 * 128 * 2  # 12 query rows
    a = op.attention
    assert (a.seqs, a.query_tokens, a.kv_tokens, a.pairs) == (4, 12, 16012, 48024)


@pytest.mark.parametrize("q", [2, 4, 8])
def test_dense_gqa_verify_costs_between_one_and_q_decode_steps(q):
    o = _oracle("llama-3.1-8b", "h100")
    nd, ctx = 64, 4000
    one = o.step(StepShape(nd, nd * ctx))
    ver = o.step(StepShape(nd, nd * ctx, decode_queries=q))
    rows = o.step(StepShape(nd * q, nd * q * ctx))  # q x the sequences: the cache read q times
    assert one.time_s < ver.time_s < q * one.time_s
    assert ver.time_s < rows.time_s and ver.energy_j < rows.energy_j
    # physics: the weights and every sequence's KV once over HBM bandwidth, and FLOPs x q over peak
    kv_once = nd * (ctx + q) * o.kv_bytes_per_token
    assert ver.time_s >= (weight_bytes(o.cfg, BF16) + kv_once) / o.chip.memory_bandwidth_bytes_per_s
    assert ver.time_s >= 2 * 8.0e9 * nd * q / o.est.rates.matrix_peak("bf16")


def test_deepseek_v3_verify_is_far_below_prefill_chunk_pricing():
    """DeepSeek's Day 6 decode deployment (88 sequences a GPU, EP144, KV 4,989, MTP: 2 tokens verified):
    priced as prefill chunks, MLA's decompression of every cached position makes the step ~9x a decode
    step; priced as a verify step it matches ``graph.verify`` (``published_moe.mtp_step_s``)."""
    row = next(r for r in pm.ROWS if r.id == "deepseek-day6-decode")
    o = _oracle("deepseek-v3", row.chip, precision=pm._precision(), parallel=pm._plan(row, None))
    nd, k1 = row.per_gpu * row.ep, pm.MTP_TOKENS
    dctx = nd * row.length
    chunk = StepShape(0, 0, nd, nd * k1, dctx * k1 + nd * k1 * (k1 + 1) // 2, dctx + nd * k1)
    plain = o.step(StepShape(nd, dctx)).time_s
    ver = o.step(StepShape(nd, dctx, decode_queries=k1)).time_s
    assert plain < ver < 1.5 * plain
    assert ver < 0.2 * o.step(chunk).time_s
    # the oracle prices the plain engine: compare with the row's step off its published kernels (BF16
    # attention, DeepGEMM's rates: cost.published_kernels; the decode kernels' published rates:
    # cost.published_decode_kernels) and overlapping step by step, not as DeepSeek's published decode
    # schedule (cost.tbo_stages), none of which the serving oracle models
    plain_row = replace(
        row, tbo_stages=False, masked_moe=False, flashmla="", launch_gap=False, ll_kernels=False, ll_nic=False
    )
    with (
        mock.patch.object(pm, "bf16_attention", lambda g: g),
        mock.patch.object(pm, "kernel_params", lambda c, p, r: p),
    ):
        step = pm.mtp_step_s(plain_row)
        assert ver + pm.MTP_DRAFT_COST * plain == pytest.approx(step, rel=0.01)


@pytest.mark.parametrize(
    ("model", "kw"), [("llama-3.1-8b", {}), ("deepseek-v3", {"tp": 8, "precision": pm._precision()})]
)
def test_speculative_serving_conserves_tokens(model, kw):
    k = 2
    o = _oracle(model, "h200", **kw)
    reqs = [Req(i, 0.05 * i, 300 + 97 * (i % 7), 5 + 11 * (i % 5)) for i in range(40)]
    verify_steps = []

    def observe(rec):
        s = rec.shape
        assert s.decode_queries == (k + 1 if s.decode_seqs else 1)
        # the plan gives each decoding sequence k + 1 tokens (its own and k drafts): all are computed
        assert s.tokens == sum(rec.plan.values())
        verify_steps.append(s.decode_seqs > 0)

    sim = Simulation(reqs, o, ServingConfig(speculative=Speculative(k, 0.7)), observers=[observe])
    sim.run()
    sim.check_invariants()
    from jalapeno.serving.result import build_result

    res = build_result(sim, 0.0)
    assert res.completed == len(reqs)
    assert res.output_tokens == sum(r.output_tokens for r in reqs)
    assert any(verify_steps)


@pytest.mark.parametrize(
    ("model", "chip", "plan"),
    [
        ("llama-3.1-8b", "h100", Parallel(tp=1, pp=2)),  # pipeline stages
        ("qwen3-coder-30b-a3b", "h100", Parallel(tp=1, ep=4, dp=4)),  # expert parallel
        ("llama-3.1-8b", "jalapeno-1", Parallel(tp=1)),  # a chip timed by the mapper
        ("mistral-7b", "h100", Parallel(tp=1)),  # sliding window
    ],
)
def test_every_oracle_path_prices_a_verify_step_between_one_and_q_decode_steps(model, chip, plan):
    o = _oracle(model, chip, parallel=plan)
    nd, ctx, q = 32, 6000, 4
    one = o.step(StepShape(nd, nd * ctx)).time_s
    ver = o.step(StepShape(nd, nd * ctx, decode_queries=q)).time_s
    rows = o.step(StepShape(nd * q, nd * q * ctx)).time_s
    assert one < ver < q * one and ver < rows


def test_fast_oracle_keys_on_queries_and_agrees_with_the_exact_one():
    c = resolve_chip("jalapeno-1")
    prm, timer = setup_for(c, "fused")
    cfg = resolve_model("llama-3.1-8b")
    fast, exact = FastOracle(cfg, c, prm, timer=timer), CostOracle(cfg, c, prm, timer=timer)
    assert fast.fast
    base = StepShape(37, 37 * 3100)
    shapes = [base, base._replace(decode_queries=4), StepShape(37, 37 * 3100, 1, 500, 625250, 1500, 4)]
    got = [fast.step(s).time_s for s in shapes]
    assert got[0] < got[1] < got[2]  # the memos tell q = 1 from q = 4
    for s, t in zip(shapes, got, strict=True):
        assert t == pytest.approx(exact.step(s).time_s, rel=0.02)
