"""A transformer LLM as a typed, frozen value: what the graph builder needs and nothing else.

Imported from a Hugging Face ``config.json`` by ``jalapeno.models.hf_import``. Sizes are in elements,
not bytes: dtypes are chosen later (a deployment decision, not a model property).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

LayerAttention = Literal["full", "sliding"]


@dataclass(frozen=True)
class MLAConfig:
    """DeepSeek multi-head latent attention. KV cache per token per layer = kv_lora_rank +
    qk_rope_head_dim."""

    q_lora_rank: int | None  # None: plain q_proj (DeepSeek-V2-Lite)
    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int


@dataclass(frozen=True)
class MoEConfig:
    """Mixture of experts. Layers ``i`` with ``i >= first_dense_layers`` and ``i % layer_freq == 0`` are
    MoE. Group-limited routing (DeepSeek-V3's ``n_group`` / ``topk_group``): the experts form
    ``expert_groups`` equal groups and a token's top-k experts come from ``groups_per_token`` of them
    (1 / 1: no limit)."""

    num_experts: int
    experts_per_token: int
    expert_intermediate_size: int
    num_shared_experts: int = 0
    shared_intermediate_size: int = 0  # per shared expert; 0 -> expert_intermediate_size
    first_dense_layers: int = 0
    layer_freq: int = 1
    router_bias: bool = False
    expert_bias: bool = False  # gpt-oss has biases in expert projections
    expert_groups: int = 1
    groups_per_token: int = 1


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of one decoder-only LLM.

    ``layer_attention`` has one entry per layer ("full" or "sliding"); sliding layers attend to at most
    ``sliding_window`` previous tokens. ``attention_sinks``: gpt-oss's learned per-head sink logits.
    """

    name: str  # short alias, e.g. "llama-3.1-8b"
    hf_id: str  # e.g. "meta-llama/Llama-3.1-8B-Instruct"
    architecture: str  # HF class, e.g. "LlamaForCausalLM"
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int  # dense MLP width (dense layers)
    vocab_size: int
    tie_embeddings: bool
    max_position_embeddings: int
    layer_attention: tuple[LayerAttention, ...]
    sliding_window: int | None = None
    attention_sinks: bool = False
    qkv_bias: bool = False
    o_bias: bool = False
    mlp_bias: bool = False
    mlp_gated: bool = True  # SwiGLU (gate, up, down) vs plain 2-matrix MLP
    qk_norm: bool = False  # Qwen3 per-head RMSNorm on q and k
    norms_per_layer: int = (
        2  # RMSNorms in a decoder layer: Gemma 2/3 have 4 (before and after attention and MLP)
    )
    mla: MLAConfig | None = None
    moe: MoEConfig | None = None
    source: str = ""  # where the config came from (bundled file or user path)

    def is_moe_layer(self, i: int) -> bool:
        m = self.moe
        return m is not None and i >= m.first_dense_layers and (i % m.layer_freq == 0)
