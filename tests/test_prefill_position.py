"""Prefill attention at the length-biased prompt (cost.scenario_steps.biased_isl): a step's prefill tokens
belong mostly to long prompts, so they attend to E[L^2] / (2 E[L]) keys on average, not ISL / 2."""

from __future__ import annotations

import pytest

from jalapeno.cost.params import fused_engine, params_for
from jalapeno.cost.published import ServingConfig
from jalapeno.cost.scenario import precision_of, replica_setup
from jalapeno.cost.scenario_steps import biased_isl, graph_of, mixed_graph, prefill_graph
from jalapeno.graph.builder import Graph
from jalapeno.hardware.registry import resolve_chip
from jalapeno.models.registry import resolve_model

L70 = resolve_model("llama-3.1-70b")
FP8 = precision_of("fp8")


def pairs(g: Graph) -> int:
    (a,) = [o.attention for o in g.ops if o.name == "attn_prefill"]
    return a.pairs


def test_biased_length_by_hand():
    # prompts of 500 and 1,500 tokens, equally many: mean 1,000, std 500 (cv 0.5), E[L^2] = 1.25e6,
    # E[L^2] / E[L] = 1,250; Llama-3.1-405B's set (9,429 tokens, cv 0.43): 9,429 x 1.1849 = 11,172
    assert biased_isl(1000, 0.5) == 1250
    assert biased_isl(9429, 0.43) == 11172
    assert biased_isl(9429, 0.0) == 9429


def test_a_chunk_of_mean_prompt_tokens_does_the_sets_attention():
    # the two prompts' causal attention, (L^2 + L) / 2 each: (125,250 + 1,125,750) / 2 = 625,500 pairs a
    # prompt; 1,000 prefill tokens at the biased position do exactly that (1,000 x 125 + 1,000 x 1,001 / 2),
    # where the mean prompt alone does 500,500 (20% short: 1 + cv^2 = 1.25 on the quadratic part)
    g = mixed_graph(L70, 0, 0, 1000, 1000, FP8, biased_isl(1000, 0.5))
    assert pairs(g) == 625_500 == (500 * 501 // 2 + 1500 * 1501 // 2) // 2
    assert pairs(mixed_graph(L70, 0, 0, 1000, 1000, FP8)) == 500_500
    # a 500-token piece of such prompts sits (1,250 - 500) / 2 = 375 tokens in: 500 x 375 + 500 x 501 / 2
    assert pairs(mixed_graph(L70, 0, 0, 500, 1000, FP8, 1250)) == 187_500 + 125_250


def test_separate_prefill_steps_take_the_same_pairs():
    # 16 prompts of 1,000 tokens attending as prompts of 1,250: each 1,000 x 125 + 500,500 pairs
    assert pairs(prefill_graph(L70, 16, 1000, 1250, FP8)) == 16 * 625_500
    assert prefill_graph(L70, 16, 1000, 1000, FP8) is graph_of(L70, "prefill", 16, 1000, FP8)
    # only attention moves: the GEMMs see the same 16,000 tokens
    a, b = prefill_graph(L70, 16, 1000, 1250, FP8), prefill_graph(L70, 16, 1000, 1000, FP8)
    gemm = {o.name: o.flops for o in a.ops if o.kind == "matmul"}
    assert gemm == {o.name: o.flops for o in b.ops if o.kind == "matmul"}


def test_a_replica_prices_chunks_at_the_biased_position():
    # Llama-3.1-405B's MLPerf prompts (9,429 tokens, cv 0.43) on 8 H200s under a 2,560-token budget: the
    # full chunk step costs more with the spread (more attention), its GEMMs unchanged; no spread, as before
    h200 = resolve_chip("h200-sxm")
    prm = fused_engine(params_for("h200-sxm"))
    cfg = ServingConfig(1, 64, 2560, False, gemm_allreduce=True)
    m = resolve_model("llama-3.1-405b")
    flat = replica_setup(m, h200, prm, FP8, 8, 9429, 652, (), cfg)
    spread = replica_setup(m, h200, prm, FP8, 8, 9429, 652, (), cfg, isl_cv=0.43)
    assert flat is not None and spread is not None
    assert spread[0].biased_isl == 11172 and flat[0].biased_isl == 9429
    assert spread[0].full_step_s(8) > flat[0].full_step_s(8)
    assert spread[0].full_step_s(8) < 1.1 * flat[0].full_step_s(8)  # attention is a few % of a chunk step
    assert spread[0].cycle(8).decode_s == pytest.approx(flat[0].cycle(8).decode_s)
