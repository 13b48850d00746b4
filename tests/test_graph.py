"""Operator graphs: parameter counts, hand-computed FLOPs and bytes, conservation under batching."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jalapeno.graph.attention import chunk_kv_tokens, chunk_pairs
from jalapeno.graph.batch import Batch, Sequence
from jalapeno.graph.builder import build_graph, expected_experts
from jalapeno.graph.precision import Precision
from jalapeno.models import list_models, resolve_model
from jalapeno.models.params import count_params

B = 1e9


def graph(name: str, batch: Batch, **prec: str):
    return build_graph(resolve_model(name), batch, Precision.of(**prec) if prec else Precision.of())


# -- parameters ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "total", "active"),
    [
        ("llama-3.1-8b", 8.03 * B, None),
        ("llama-3.1-70b", 70.6 * B, None),
        ("qwen2.5-coder-7b", 7.62 * B, None),
        ("mixtral-8x7b", 46.7 * B, 12.9 * B),
        ("gpt-oss-120b", 117 * B, 5.1 * B),
        ("deepseek-v3", 671 * B, None),
    ],
)
def test_params_from_graph_match_published(name, total, active):
    cfg = resolve_model(name)
    g = build_graph(cfg, Batch.decode(1, 16))
    assert g.params == pytest.approx(total, rel=0.01)
    if active is not None:
        # graph "active" excludes the input embedding table (a gather, not compute); Mistral counts it
        emb = cfg.vocab_size * cfg.hidden_size if name == "mixtral-8x7b" else 0
        assert g.active_params + emb == pytest.approx(active, rel=0.01)


def test_deepseek_v3_active_rounds_to_published_37b():
    # DeepSeek publishes "37B activated" (two significant figures): 36.63B rounds to it; 1.0% below.
    g = graph("deepseek-v3", Batch.decode(1, 16))
    assert round(g.active_params / B) == 37
    assert g.active_params == pytest.approx(36.626e9, rel=1e-3)


@pytest.mark.parametrize("name", list_models())
def test_graph_params_agree_with_analytic_reference(name):
    cfg = resolve_model(name)
    g = build_graph(cfg, Batch.decode(3, 100))
    ref = count_params(cfg)
    assert g.params == pytest.approx(ref.total, rel=1e-9)
    # graph: everything a token multiplies with (LM head included, tied or not), not the embedding lookup
    assert g.active_params == pytest.approx(
        ref.active_nonembedding + cfg.vocab_size * cfg.hidden_size, rel=1e-9
    )


# -- hand-computed decode and prefill ---------------------------------------------------------------
def test_llama_8b_decode_bytes_by_hand():
    ctx = 2048
    g = graph("llama-3.1-8b", Batch.decode(1, ctx))
    # KV: 32 layers x 8 kv heads x 128 x (K and V) x 2 bytes = 131,072 B per token; read ctx+1 positions
    assert g.total("kv_read_bytes") == 131_072 * (ctx + 1)
    assert g.total("kv_write_bytes") == 131_072
    # weights: every matrix once in bf16, plus one embedding row (not the whole table)
    non_emb = 8_030_261_248 - 128_256 * 4096
    assert g.total("weight_bytes") == 2 * (non_emb + 4096)


def test_llama_8b_decode_flops_by_hand():
    ctx = 1000
    g = graph("llama-3.1-8b", Batch.decode(4, ctx))
    matmul_params = 32 * (4096 * 6144 + 4096 * 4096 + 3 * 4096 * 14336) + 4096 * 128_256
    attn = 32 * 4 * (ctx + 1) * 32 * 128 * 4  # QK^T and PV: 2 FLOPs x 2 matmuls per (q, k) pair, per head dim
    matmul_flops = sum(o.flops * o.repeat for o in g.ops if o.kind in ("matmul", "lm_head"))
    attn_flops = sum(o.flops * o.repeat for o in g.ops if o.kind == "attention")
    assert matmul_flops == 2 * 4 * matmul_params
    assert attn_flops == attn


def test_prefill_attention_is_causal():
    s = 512
    g = graph("qwen2.5-coder-7b", Batch.prefill(s))
    a = next(o for o in g.ops if o.name == "attn_prefill")
    assert a.attention.pairs == s * (s + 1) // 2
    assert a.flops == 4 * a.attention.pairs * 28 * 128
    assert a.repeat == 28


def test_cached_prefix_prefill_attends_to_prefix():
    g = graph("llama-3.1-8b", Batch.prefill(100, cached=900))
    a = next(o for o in g.ops if o.name == "attn_prefill")
    assert a.attention.pairs == 100 * 900 + 100 * 101 // 2
    assert a.attention.kv_tokens == 1000


def test_mla_cache_is_576_elements_per_token_per_layer():
    g = graph("deepseek-v3", Batch.decode(1, 10))
    kv_write = next(o for o in g.ops if o.name == "kv_write")
    assert kv_write.kv_write_bytes == (512 + 64) * 2
    assert sum(o.repeat for o in g.ops if o.name == "kv_write") == 61
    a = next(o for o in g.ops if o.name == "attn_decode")
    assert a.kv_read_bytes == 11 * 576 * 2  # 10 cached + the new token, compressed latent only


def test_sliding_window_caps_kv_reads():
    g = graph("mistral-7b", Batch.decode(1, 10_000))
    a = next(o for o in g.ops if o.name == "attn_decode")
    assert a.attention.kv_tokens == 4096
    gpt = graph("gpt-oss-120b", Batch.decode(1, 10_000))
    reads = {
        o.layers.split(":")[0].split()[0]: o.attention.kv_tokens for o in gpt.ops if o.name == "attn_decode"
    }
    assert reads == {"sliding": 128, "full": 10_001}


def test_moe_touches_expected_experts():
    assert expected_experts(128, 4, 1) == pytest.approx(4)
    assert expected_experts(8, 2, 1000) == pytest.approx(8)
    g1 = graph("mixtral-8x7b", Batch.decode(1, 10))
    e1 = next(o for o in g1.ops if o.name == "experts")
    per_expert = 3 * 4096 * 14336 * 2
    assert e1.weight_bytes == pytest.approx(2 * per_expert)
    g2 = graph("mixtral-8x7b", Batch.decode(256, 10))
    e2 = next(o for o in g2.ops if o.name == "experts")
    assert e2.weight_bytes == pytest.approx(8 * per_expert, rel=1e-6)
    assert e2.flops == 2 * 256 * 2 * 3 * 4096 * 14336


def test_quantized_weights_count_scale_bytes():
    bf = graph("llama-3.1-8b", Batch.decode(1, 10))
    q = graph("llama-3.1-8b", Batch.decode(1, 10), weights="int4")
    # int4 with one fp16 scale per 128 weights: 4.125 bits per weight
    assert q.total("weight_bytes") == pytest.approx(bf.total("weight_bytes") / 2 * 4.125 / 8)
    fp8kv = graph("llama-3.1-8b", Batch.decode(1, 10), weights="bf16", kv="fp8")
    assert fp8kv.total("kv_read_bytes") == bf.total("kv_read_bytes") / 2


def test_chunk_closed_forms_match_brute_force():
    for new, cached, w in [(5, 0, None), (5, 3, 4), (10, 2, 3), (1, 100, 128), (7, 0, 2), (3, 1, 100)]:
        brute = sum(min(cached + i, w) if w else cached + i for i in range(1, new + 1))
        assert chunk_pairs(new, cached, w) == brute
        first = max(0, cached + 1 - w) if w else 0  # the first query's window start
        assert chunk_kv_tokens(new, cached, w) == cached + new - first


# -- properties ---------------------------------------------------------------------------------
seqs = st.lists(st.tuples(st.integers(1, 4096), st.integers(0, 65536)), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(a=seqs, b=seqs, name=st.sampled_from(["llama-3.1-8b", "gpt-oss-20b", "deepseek-v3", "mistral-7b"]))
def test_flops_and_kv_add_up_across_batches(a, b, name):
    cfg = resolve_model(name)
    mk = lambda xs: Batch(tuple(Sequence(n, c) for n, c in xs))  # noqa: E731
    ga, gb, gab = (build_graph(cfg, mk(x)) for x in (a, b, a + b))
    assert gab.flops == pytest.approx(ga.flops + gb.flops, rel=1e-9)
    for k in ("kv_read_bytes", "kv_write_bytes"):
        assert gab.total(k) == pytest.approx(ga.total(k) + gb.total(k), rel=1e-9)
    # weights are read once a step, however many sequences share it
    assert gab.total("weight_bytes") <= ga.total("weight_bytes") + gb.total("weight_bytes") + 1e-6
    for o in gab.ops:
        assert min(o.flops, o.bytes, o.params) >= 0


@settings(max_examples=40, deadline=None)
@given(batch=st.integers(1, 256), ctx=st.integers(1, 100_000), extra=st.integers(1, 5000))
def test_decode_work_grows_with_context(batch, ctx, extra):
    g1 = graph("qwen2.5-coder-7b", Batch.decode(batch, ctx))
    g2 = graph("qwen2.5-coder-7b", Batch.decode(batch, ctx + extra))
    assert g2.flops > g1.flops and g2.bytes > g1.bytes


def test_batch_rejects_bad_sizes():
    from jalapeno.errors import JalapenoError

    with pytest.raises(JalapenoError, match="batch"):
        Batch.decode(0, 10)
    with pytest.raises(JalapenoError, match="new_tokens"):
        Sequence(0, 0)


@pytest.mark.parametrize("name", ["glm-4.5", "glm-4.5-air", "kimi-k2"])
def test_glm_and_kimi_decode_graphs_build(name):
    """Issue 13: GLM-4.5 (Glm4MoeForCausalLM) and Kimi-K2 (DeepSeek-V3 layout) build a decode step whose
    weights are the analytic count, whose FLOPs cover every active weight once per token, and whose KV reads
    are the context times the cache per token."""
    from jalapeno.models.params import kv_bytes_per_token

    cfg = resolve_model(name)
    g = build_graph(cfg, Batch.decode(8, 4096))
    p = count_params(cfg)
    assert g.params == pytest.approx(p.total, rel=1e-9)
    assert g.flops > 2 * 8 * p.active_nonembedding
    assert g.total("kv_read_bytes") == pytest.approx(8 * 4097 * kv_bytes_per_token(cfg), rel=1e-9)
