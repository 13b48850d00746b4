"""Analytic parameter counts against published figures, hand-computed cases, and exact KV sizes."""

from __future__ import annotations

import dataclasses

import pytest

from jalapeno.models import (
    ModelConfig,
    count_params,
    kv_bytes_per_token,
    list_models,
    parse_hf_config,
    resolve_model,
)
from jalapeno.models.params import kv_cache_bytes, kv_elements_per_layer

# (alias, published total, published active or None). Sources: Meta, Qwen and Mistral model cards/blogs,
# the DeepSeek-V3 report (671B / 37B), OpenAI's gpt-oss model card (116.83B / 5.13B, 20.91B / 3.61B).
PUBLISHED = [
    ("llama-3.1-8b", 8.03e9, None),
    ("llama-3.1-70b", 70.6e9, None),
    ("qwen2.5-coder-7b", 7.62e9, None),
    ("mixtral-8x7b", 46.7e9, 12.9e9),
    ("deepseek-v3", 671e9, None),  # active checked separately below
    ("gpt-oss-120b", 116.8e9, 5.1e9),
    ("gpt-oss-20b", 20.9e9, 3.6e9),
    ("qwen3-coder-30b-a3b", 30.5e9, 3.3e9),
    ("qwen3-coder-480b-a35b", 480e9, 35e9),
]


@pytest.mark.parametrize(("alias", "total", "active"), PUBLISHED)
def test_published_counts_within_1_percent(alias: str, total: float, active: float | None) -> None:
    p = count_params(resolve_model(alias))
    assert p.total == pytest.approx(total, rel=0.01)
    if active is not None:
        # Qwen's "3.3B activated" and "A35B" are rounded labels (computed: 3.35B, 35.47B)
        assert p.active == pytest.approx(active, rel=0.02 if alias.startswith("qwen3") else 0.01)


def test_gpt_oss_120b_headline_figures() -> None:
    p = count_params(resolve_model("gpt-oss-120b"))
    assert p.total == pytest.approx(117e9, rel=0.01)
    assert p.active == pytest.approx(5.13e9, rel=0.002)
    # OpenAI's breakdown: MLP 114.71B, attention 0.96B, embedding + unembedding 1.16B
    assert p.routed_experts + p.router == pytest.approx(114.71e9, rel=0.001)
    assert p.attention == pytest.approx(0.96e9, rel=0.01)
    assert p.embedding + p.lm_head == pytest.approx(1.16e9, rel=0.01)
    assert p.active_embedding == p.lm_head  # OpenAI counts the unembedding, not the embedding


def test_deepseek_v3_counts() -> None:
    p = count_params(resolve_model("deepseek-v3"))
    assert p.total == pytest.approx(671e9, rel=0.001)
    assert p.total == 671_026_419_200
    # hand check: per-layer MLA 187,107,328 x 61; 3 dense MLPs; 58 x (257 experts + router with bias)
    assert p.attention == 187_107_328 * 61
    assert p.dense_mlp == 3 * 396_361_728
    assert p.routed_experts + p.shared_experts + p.router == 58 * (257 * 44_040_192 + 256 * 7168 + 256)
    # DeepSeek counts the LM head but not the input embedding (this rule reproduces V2-Lite's 2.4B and
    # V2's 21B too). That gives 36.63B, which the report rounds to "37B": 1.01% below it.
    assert p.active == 36_625_618_432
    assert p.active == pytest.approx(37e9, rel=0.015)


def test_mixtral_counts_both_embeddings_in_active() -> None:
    p = count_params(resolve_model("mixtral-8x7b"))
    assert p.active_embedding == p.embedding + p.lm_head
    assert p.active == pytest.approx(12.9e9, rel=0.01)


@pytest.mark.parametrize("alias", list_models())
def test_components_add_up(alias: str) -> None:
    cfg = resolve_model(alias)
    p = count_params(cfg)
    parts = (
        p.embedding,
        p.lm_head,
        p.attention,
        p.dense_mlp,
        p.routed_experts,
        p.shared_experts,
        p.router,
        p.norms,
    )
    assert p.total == sum(parts)
    assert 0 < p.active <= p.total
    if cfg.moe is None:
        assert p.active == p.total and p.routed_experts == 0
    else:
        assert p.active < p.total


def test_exact_llama_3_1_8b() -> None:
    p = count_params(resolve_model("llama-3.1-8b"))
    assert p.total == 8_030_261_248  # the safetensors count


def _tiny(**overrides: object) -> ModelConfig:
    d: dict[str, object] = {
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": 8,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "head_dim": 4,
        "intermediate_size": 16,
        "vocab_size": 10,
        "num_hidden_layers": 2,
        "max_position_embeddings": 64,
        "tie_word_embeddings": False,
    }
    d.update(overrides)
    return parse_hf_config(d, name="tiny")


def test_hand_computed_tiny_llama() -> None:
    p = count_params(_tiny())
    # embedding 10*8, lm_head 10*8; per layer q 8*8 + k 8*4 + v 8*4 + o 8*8 = 192; MLP 3*8*16 = 384;
    # norms (2 per layer + final) * 8
    assert (p.embedding, p.lm_head, p.attention, p.dense_mlp, p.norms) == (80, 80, 384, 768, 40)
    assert p.total == p.active == 1352
    tied = count_params(_tiny(tie_word_embeddings=True))
    assert tied.lm_head == 0 and tied.total == 1272


def test_hand_computed_biases() -> None:
    p = count_params(_tiny(attention_bias=True, mlp_bias=True))
    # q +8, k +4, v +4, o +8 per layer; MLP gate +16, up +16, down +8 per layer
    assert p.attention == 384 + 2 * 24
    assert p.dense_mlp == 768 + 2 * 40


def test_qk_norm_and_sinks_are_counted() -> None:
    cfg = _tiny()
    base = count_params(cfg).attention
    assert count_params(dataclasses.replace(cfg, qk_norm=True)).attention == base + 2 * 2 * 4
    assert count_params(dataclasses.replace(cfg, attention_sinks=True)).attention == base + 2 * 2


# ---- KV cache ----


def test_kv_bytes_llama_3_1_8b_bf16_exact() -> None:
    assert kv_bytes_per_token(resolve_model("llama-3.1-8b")) == 131_072  # 2 * 8 * 128 * 32 * 2 bytes


def test_kv_deepseek_mla_576_elements_per_layer() -> None:
    cfg = resolve_model("deepseek-v3")
    assert kv_elements_per_layer(cfg) == 576  # kv_lora_rank 512 + qk_rope_head_dim 64
    assert kv_bytes_per_token(cfg, kv_bytes=1.0) == 61 * 576


def test_kv_bytes_scale_with_element_size() -> None:
    cfg = resolve_model("qwen2.5-coder-7b")
    assert kv_bytes_per_token(cfg, kv_bytes=1.0) * 2 == kv_bytes_per_token(cfg) == 57_344


def test_kv_cache_caps_sliding_layers_at_window() -> None:
    cfg = resolve_model("gpt-oss-120b")
    per_layer = 2 * 8 * 64 * 2  # bytes per token per layer in bf16
    assert kv_cache_bytes(cfg, 1000) == (18 * 1000 + 18 * 128) * per_layer
    assert kv_cache_bytes(cfg, 100) == 36 * 100 * per_layer
    llama = resolve_model("llama-3.1-8b")
    assert kv_cache_bytes(llama, 1000) == 1000 * kv_bytes_per_token(llama)


# -- GLM-4.5, GLM-4.5-Air (Glm4MoeForCausalLM) and Kimi-K2 (DeepSeek-V3 layout) ------------------------------
# Published totals: Z.ai's model cards / transformers' Glm4Moe docs (GLM-4.5 355B total, 32B active;
# GLM-4.5-Air 106B, 12B), Moonshot's Kimi K2 report (1.04T total, 32B active). Zhipu's "activated" figures
# match the non-embedding count (its embedding convention is not published); the bundled configs are
# reconstructed from published fields (their "_source"), and the multi-token-prediction layer is not modelled
# (as for DeepSeek-V3).
GLM_KIMI = [
    # alias, total, tolerance, active, which active, tolerance
    ("glm-4.5", 355e9, 0.01, 32e9, "active_nonembedding", 0.01),  # 352.80B (-0.6%), 32.08B (+0.3%)
    ("glm-4.5-air", 106e9, 0.01, 12e9, "active_nonembedding", 0.02),  # 106.85B (+0.8%), 12.18B (+1.5%)
    ("kimi-k2", 1.04e12, 0.015, 32e9, "active", 0.015),  # 1,026.4B (-1.3%), 31.69B (-1.0%; DeepSeek's rule)
]


@pytest.mark.parametrize(("alias", "total", "tol", "active", "which", "atol"), GLM_KIMI)
def test_glm_and_kimi_counts_against_published(
    alias: str, total: float, tol: float, active: float, which: str, atol: float
) -> None:
    p = count_params(resolve_model(alias))
    assert p.total == pytest.approx(total, rel=tol)
    assert getattr(p, which) == pytest.approx(active, rel=atol)


def test_glm_4_5_layer_by_hand() -> None:
    """92 layers of GQA (96 q heads, 8 kv heads of 128, q/k/v biases, no o bias, per-head q/k RMSNorm); 3
    dense MLPs of 12288; 89 MoE layers of 160 routed + 1 shared expert of 1536 and a 160-way router with its
    correction bias; untied 151552 x 5120 embedding and head."""
    p = count_params(resolve_model("glm-4.5"))
    h, q, kv = 5120, 96 * 128, 8 * 128
    attention = (h * q + q) + 2 * (h * kv + kv) + q * h + 2 * 128
    assert p.attention == 92 * attention
    assert p.dense_mlp == 3 * 3 * h * 12288
    expert = 3 * h * 1536
    assert p.routed_experts == 89 * 160 * expert and p.shared_experts == 89 * expert
    assert p.router == 89 * (h * 160 + 160)
    assert p.embedding == p.lm_head == 151552 * h
    assert p.active_routed_experts == 89 * 8 * expert


def test_kimi_k2_is_deepseek_v3_with_384_experts_and_64_heads() -> None:
    k, d = resolve_model("kimi-k2"), resolve_model("deepseek-v3")
    assert k.architecture == d.architecture == "DeepseekV3ForCausalLM" and k.mla == d.mla
    assert k.moe is not None and d.moe is not None
    assert (k.moe.num_experts, k.moe.first_dense_layers, k.num_heads) == (384, 1, 64)
    assert (k.moe.experts_per_token, k.moe.num_shared_experts, k.moe.expert_intermediate_size) == (8, 1, 2048)
    # the MLA cache per token is the DeepSeek-V3 one: latent 512 + rope key 64, whatever the head count
    assert kv_bytes_per_token(k) == 61 * (512 + 64) * 2
