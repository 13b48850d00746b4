"""Analytic parameter and KV-cache counts: the reference the graph builder is checked against.

Every weight tensor is counted: token embedding, untied LM head, attention projections and their biases,
MLA's low-rank matrices and their RMSNorms, Qwen3's q/k norms, gpt-oss's attention sinks, dense MLPs,
routed and shared experts (with biases where the model has them), routers (and their biases), per-layer
RMSNorms and the final norm. RoPE has no weights. DeepSeek-V3's multi-token-prediction module is not part
of the model (nor of the published 671B), so it is not counted.

``active`` is what one token uses: attention, norms, dense MLPs, shared experts, routers, and
``experts_per_token`` routed experts per MoE layer, plus the embedding tables as each vendor counts them
in its published figure (see ``EMBEDDINGS_IN_ACTIVE``):

- Meta, Mistral, Qwen: both the input embedding and the LM head (Mixtral 12.9B, Qwen3-Coder 3.3B/35B).
- OpenAI (gpt-oss) and DeepSeek: the LM head (unembedding) only, not the input embedding lookup
  (gpt-oss-120b 5.13B, gpt-oss-20b 3.61B; DeepSeek-V2-Lite 2.4B, V2 21B, V3 37B).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from jalapeno.models.config import MLAConfig, ModelConfig, MoEConfig

EmbeddingRule = Literal["both", "unembedding"]
# architecture -> which embedding tables the vendor's "active parameters" figure includes
EMBEDDINGS_IN_ACTIVE: dict[str, EmbeddingRule] = {
    "GptOssForCausalLM": "unembedding",
    "DeepseekV3ForCausalLM": "unembedding",
}


@dataclass(frozen=True)
class ParamCount:
    """Parameter counts in elements. ``total`` is the sum of the component fields."""

    total: int
    active: int
    embedding: int  # input token embedding table (vocab x hidden)
    lm_head: int  # untied output projection; 0 when tied to the embedding
    attention: int  # all layers: projections, biases, MLA low-rank + norms, q/k norms, sinks
    dense_mlp: int  # MLPs of dense layers
    routed_experts: int  # every routed expert of every MoE layer
    shared_experts: int
    router: int  # router weights and biases
    norms: int  # per-layer RMSNorms and the final norm
    active_routed_experts: int  # experts_per_token routed experts per MoE layer
    active_embedding: int  # the part of embedding + lm_head that ``active`` includes

    @property
    def active_nonembedding(self) -> int:
        return self.active - self.active_embedding


def _linear(n_in: int, n_out: int, bias: bool) -> int:
    return n_in * n_out + (n_out if bias else 0)


def _mlp(hidden: int, width: int, gated: bool, bias: bool) -> int:
    n_up = 2 if gated else 1  # gate and up, or up only
    return n_up * _linear(hidden, width, bias) + _linear(width, hidden, bias)


def _gqa_attention(cfg: ModelConfig) -> int:
    h, hd = cfg.hidden_size, cfg.head_dim
    q = _linear(h, cfg.num_heads * hd, cfg.qkv_bias)
    kv = 2 * _linear(h, cfg.num_kv_heads * hd, cfg.qkv_bias)
    o = _linear(cfg.num_heads * hd, h, cfg.o_bias)
    qk_norm = 2 * hd if cfg.qk_norm else 0
    sinks = cfg.num_heads if cfg.attention_sinks else 0
    return q + kv + o + qk_norm + sinks


def _mla_attention(cfg: ModelConfig, m: MLAConfig) -> int:
    h, heads, bias = cfg.hidden_size, cfg.num_heads, cfg.qkv_bias
    q_head = m.qk_nope_head_dim + m.qk_rope_head_dim
    if m.q_lora_rank is None:
        q = _linear(h, heads * q_head, bias)
    else:  # q_a_proj, q_a_layernorm, q_b_proj
        q = _linear(h, m.q_lora_rank, bias) + m.q_lora_rank + _linear(m.q_lora_rank, heads * q_head, False)
    kv_a = _linear(h, m.kv_lora_rank + m.qk_rope_head_dim, bias) + m.kv_lora_rank  # + kv_a_layernorm
    kv_b = _linear(m.kv_lora_rank, heads * (m.qk_nope_head_dim + m.v_head_dim), False)
    o = _linear(heads * m.v_head_dim, h, cfg.o_bias)
    return q + kv_a + kv_b + o


def attention_params_per_layer(cfg: ModelConfig) -> int:
    return _mla_attention(cfg, cfg.mla) if cfg.mla else _gqa_attention(cfg)


def _expert(cfg: ModelConfig, m: MoEConfig, width: int) -> int:
    return _mlp(cfg.hidden_size, width, cfg.mlp_gated, m.expert_bias)


@dataclass(frozen=True)
class _MoELayer:
    routed: int
    active_routed: int
    shared: int
    router: int


def _moe_layer(cfg: ModelConfig, m: MoEConfig) -> _MoELayer:
    one = _expert(cfg, m, m.expert_intermediate_size)
    shared = m.num_shared_experts * _expert(cfg, m, m.shared_intermediate_size or m.expert_intermediate_size)
    router = _linear(cfg.hidden_size, m.num_experts, m.router_bias)
    return _MoELayer(m.num_experts * one, m.experts_per_token * one, shared, router)


def _active_embedding(cfg: ModelConfig, embedding: int, lm_head: int) -> int:
    if EMBEDDINGS_IN_ACTIVE.get(cfg.architecture, "both") == "unembedding":
        return lm_head or embedding  # tied: the one table serves as the unembedding
    return embedding + lm_head


def count_params(cfg: ModelConfig) -> ParamCount:
    """Every weight of the model (see the module docstring for what ``active`` includes)."""
    n_moe = sum(cfg.is_moe_layer(i) for i in range(cfg.num_layers))
    moe = _moe_layer(cfg, cfg.moe) if cfg.moe and n_moe else _MoELayer(0, 0, 0, 0)
    embedding = cfg.vocab_size * cfg.hidden_size
    lm_head = 0 if cfg.tie_embeddings else embedding
    dense_width = cfg.intermediate_size
    dense_mlp = (cfg.num_layers - n_moe) * _mlp(cfg.hidden_size, dense_width, cfg.mlp_gated, cfg.mlp_bias)
    parts = {
        "embedding": embedding,
        "lm_head": lm_head,
        "attention": cfg.num_layers * attention_params_per_layer(cfg),
        "dense_mlp": dense_mlp,
        "routed_experts": n_moe * moe.routed,
        "shared_experts": n_moe * moe.shared,
        "router": n_moe * moe.router,
        "norms": (cfg.norms_per_layer * cfg.num_layers + 1) * cfg.hidden_size,
    }
    total = sum(parts.values())
    active_embedding = _active_embedding(cfg, embedding, lm_head)
    active_routed = n_moe * moe.active_routed
    active = total - parts["routed_experts"] + active_routed - embedding - lm_head + active_embedding
    return ParamCount(
        total=total,
        active=active,
        active_routed_experts=active_routed,
        active_embedding=active_embedding,
        **parts,
    )


def kv_elements_per_layer(cfg: ModelConfig) -> int:
    """Cached elements per token per layer: MLA latent + rope key, or K and V of every kv head."""
    if cfg.mla:
        return cfg.mla.kv_lora_rank + cfg.mla.qk_rope_head_dim
    return 2 * cfg.num_kv_heads * cfg.head_dim


def kv_bytes_per_token(cfg: ModelConfig, kv_bytes: float = 2.0) -> float:
    """KV-cache bytes one token adds, summed over all layers, at ``kv_bytes`` bytes per element.

    GQA: ``2 * kv_heads * head_dim`` elements per layer; MLA: ``kv_lora_rank + qk_rope_head_dim``.
    Sliding-window layers are counted too: this is the cost of a token while it is inside the window. Their
    cache never holds more than ``sliding_window`` tokens, so for the cache of a whole sequence use
    :func:`kv_cache_bytes`, which caps those layers at the window.
    """
    return cfg.num_layers * kv_elements_per_layer(cfg) * kv_bytes


def kv_cache_bytes(cfg: ModelConfig, num_tokens: int, kv_bytes: float = 2.0) -> float:
    """KV-cache bytes of one sequence of ``num_tokens``, with sliding layers capped at the window."""
    window = cfg.sliding_window or num_tokens
    tokens = sum(min(num_tokens, window) if kind == "sliding" else num_tokens for kind in cfg.layer_attention)
    return tokens * kv_elements_per_layer(cfg) * kv_bytes
