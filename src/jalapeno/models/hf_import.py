"""Hugging Face ``config.json`` -> :class:`ModelConfig`, one small parser per architecture family.

``parse_hf_config`` dispatches on ``architectures[0]`` (or, when that key is absent, on ``model_type``).
Every read goes through :class:`_Reader`, which checks presence, type and range and raises
:class:`JalapenoError` naming the field, so malformed input never escapes as ``KeyError``/``TypeError``.

What each family contributes (HF key -> ModelConfig field):

- all: ``hidden_size``, ``num_hidden_layers`` -> ``num_layers``, ``num_attention_heads`` -> ``num_heads``,
  ``num_key_value_heads`` -> ``num_kv_heads`` (default: ``num_heads``), ``head_dim`` (default
  ``hidden_size // num_heads``), ``intermediate_size``, ``vocab_size``, ``tie_word_embeddings`` (default
  false), ``max_position_embeddings``, ``layer_types`` (when present) -> ``layer_attention``.
- Llama: ``attention_bias`` -> ``qkv_bias`` and ``o_bias``; ``mlp_bias``.
- Qwen2: q/k/v always carry a bias; a layer slides only when ``use_sliding_window`` and its index is
  ``>= max_window_layers``.
- Qwen3 / Qwen3-MoE: per-head RMSNorm on q and k (``qk_norm``); MoE layers from ``decoder_sparse_step``,
  ``mlp_only_layers``; experts from ``num_experts``, ``num_experts_per_tok``, ``moe_intermediate_size``.
- Mistral / Mixtral: every layer slides when ``sliding_window`` is set (it may be null); Mixtral experts from
  ``num_local_experts``, ``num_experts_per_tok``, expert width ``intermediate_size``.
- DeepSeek-V3: MLA from ``q_lora_rank`` (may be null), ``kv_lora_rank``, ``qk_nope_head_dim``,
  ``qk_rope_head_dim``, ``v_head_dim``; ``head_dim`` = nope + rope (the q/k head width); MoE from
  ``n_routed_experts``, ``num_experts_per_tok``, ``moe_intermediate_size``, ``n_shared_experts``,
  ``first_k_dense_replace``, ``moe_layer_freq``; ``topk_method == "noaux_tc"`` -> ``router_bias`` (the
  ``e_score_correction_bias``); ``n_group`` / ``topk_group`` (group-limited routing) -> ``expert_groups`` /
  ``groups_per_token``. ``num_nextn_predict_layers`` (the multi-token-prediction module) is read
  and validated but NOT modelled: it is not part of the published 671B and is unused by plain decoding.
- GLM-4.5 (``Glm4MoeForCausalLM``): GQA with q/k/v biases from ``attention_bias`` (the output projection
  has none), per-head q/k RMSNorm from ``use_qk_norm``; MoE as DeepSeek-V3 (``n_routed_experts``,
  ``num_experts_per_tok``, ``moe_intermediate_size``, ``n_shared_experts`` of that width each,
  ``first_k_dense_replace`` dense layers first) with the router's ``e_score_correction_bias`` always;
  ``partial_rotary_factor`` (RoPE on part of each head) and ``n_group``/``topk_group`` (grouped routing)
  change no weight, KV byte or matmul and are validated only; ``num_nextn_predict_layers`` as DeepSeek-V3.
- gpt-oss: ``layer_types`` (alternating sliding/full), ``sliding_window``, attention sinks, ``attention_bias``
  (q/k/v/o), ``num_local_experts``, ``num_experts_per_tok`` (or ``experts_per_token``), router and expert
  biases; expert width ``intermediate_size``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jalapeno.errors import JalapenoError
from jalapeno.models.config import LayerAttention, MLAConfig, ModelConfig, MoEConfig

_MISSING: Any = object()
_MAX_LAYERS = 100_000  # bounds per-layer tuples on hostile input
_LAYER_TYPES: dict[str, LayerAttention] = {"full_attention": "full", "sliding_attention": "sliding"}


class _Reader:
    """Typed, range-checked access to a config dict; every failure names the key. Null counts as absent."""

    def __init__(self, d: Mapping[str, Any]) -> None:
        self.d = d

    def _get(self, key: str, default: Any) -> tuple[Any, bool]:
        """(value, found); a missing key with no default is an error."""
        value = self.d.get(key)
        if value is not None:
            return value, True
        if default is _MISSING:
            raise JalapenoError("required field is missing", field=key)
        return default, False

    def get_int(self, key: str, default: Any = _MISSING, *, minimum: int = 1, maximum: int = 2**40) -> Any:
        value, found = self._get(key, default)
        if not found:
            return value
        if type(value) is not int:
            raise JalapenoError(f"must be an integer, got {value!r} ({type(value).__name__})", field=key)
        if value < minimum:
            raise JalapenoError(f"must be >= {minimum}, got {value}", field=key)
        if value > maximum:
            raise JalapenoError(f"must be <= {maximum}, got {value}", field=key)
        return value

    def opt_int(self, key: str, *, minimum: int = 1) -> int | None:
        value: int | None = self.get_int(key, None, minimum=minimum)
        return value

    def get_bool(self, key: str, default: bool) -> bool:
        value, _ = self._get(key, default)
        if type(value) is not bool:
            raise JalapenoError(f"must be true or false, got {value!r}", field=key)
        return value

    def get_str(self, key: str, default: str) -> str:
        value, _ = self._get(key, default)
        if not isinstance(value, str):
            raise JalapenoError(f"must be a string, got {value!r}", field=key)
        return value

    def int_list(self, key: str, *, minimum: int = 0) -> tuple[int, ...]:
        value, _ = self._get(key, [])
        if not isinstance(value, list) or any(type(v) is not int or v < minimum for v in value):
            raise JalapenoError(f"must be a list of integers >= {minimum}, got {value!r}", field=key)
        return tuple(value)

    def str_list(self, key: str) -> tuple[str, ...] | None:
        value, found = self._get(key, None)
        if not found:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise JalapenoError(f"must be a list of strings, got {value!r}", field=key)
        return tuple(value)


@dataclass(frozen=True)
class _Core:
    """Fields every decoder family shares."""

    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    tie_embeddings: bool
    max_position_embeddings: int

    def as_kwargs(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _core(r: _Reader, *, head_dim: int | None = None) -> _Core:
    hidden, heads = r.get_int("hidden_size"), r.get_int("num_attention_heads")
    kv_heads = r.get_int("num_key_value_heads", heads)
    if heads % kv_heads:
        raise JalapenoError(
            f"num_attention_heads ({heads}) is not divisible by num_key_value_heads ({kv_heads})",
            field="num_key_value_heads",
        )
    if head_dim is None:
        head_dim = r.opt_int("head_dim") or _default_head_dim(hidden, heads)
    return _Core(
        hidden_size=hidden,
        num_layers=r.get_int("num_hidden_layers", maximum=_MAX_LAYERS),
        num_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        vocab_size=r.get_int("vocab_size"),
        tie_embeddings=r.get_bool("tie_word_embeddings", False),
        max_position_embeddings=r.get_int("max_position_embeddings"),
    )


def _default_head_dim(hidden: int, heads: int) -> int:
    if hidden % heads:
        raise JalapenoError(
            f"hidden_size ({hidden}) is not divisible by num_attention_heads ({heads}); give head_dim",
            field="head_dim",
        )
    return hidden // heads


def _layer_types(r: _Reader, num_layers: int) -> tuple[LayerAttention, ...] | None:
    """The explicit ``layer_types`` list, if the config has one."""
    names = r.str_list("layer_types")
    if names is None:
        return None
    if len(names) != num_layers:
        raise JalapenoError(f"has {len(names)} entries for {num_layers} layers", field="layer_types")
    unknown = sorted(set(names) - set(_LAYER_TYPES))
    if unknown:
        expected = sorted(_LAYER_TYPES)
        raise JalapenoError(f"unknown entries {unknown}; expected {expected}", field="layer_types")
    return tuple(_LAYER_TYPES[n] for n in names)


def _all(kind: LayerAttention, n: int) -> tuple[LayerAttention, ...]:
    return (kind,) * n


def _windowed(layers: tuple[LayerAttention, ...], window: int | None) -> dict[str, Any]:
    """``layer_attention`` and ``sliding_window`` (kept only when some layer slides)."""
    if "sliding" in layers and window is None:
        raise JalapenoError("required when any layer uses sliding attention", field="sliding_window")
    return {"layer_attention": layers, "sliding_window": window if "sliding" in layers else None}


def _qwen_window(r: _Reader, num_layers: int) -> dict[str, Any]:
    """Qwen2/Qwen3 rule: layer i slides iff use_sliding_window and i >= max_window_layers."""
    explicit = _layer_types(r, num_layers)
    window = r.opt_int("sliding_window")
    if explicit is not None:
        return _windowed(explicit, window)
    first = r.get_int("max_window_layers", num_layers, minimum=0)
    if not r.get_bool("use_sliding_window", False) or window is None:
        return _windowed(_all("full", num_layers), None)
    return _windowed(tuple("sliding" if i >= first else "full" for i in range(num_layers)), window)


def _mistral_window(r: _Reader, num_layers: int) -> dict[str, Any]:
    """Mistral/Mixtral: every layer slides when ``sliding_window`` is set (null: full attention)."""
    explicit = _layer_types(r, num_layers)
    window = r.opt_int("sliding_window")
    if explicit is not None:
        return _windowed(explicit, window)
    return _windowed(_all("sliding" if window else "full", num_layers), window)


def _experts_per_token(r: _Reader, num_experts: int, *keys: str) -> int:
    key = next((k for k in keys if r.d.get(k) is not None), keys[0])
    top_k: int = r.get_int(key)
    if top_k > num_experts:
        raise JalapenoError(f"({top_k}) exceeds the number of experts ({num_experts})", field=key)
    return top_k


# ---- one parser per family: each returns ModelConfig keyword arguments (minus name/hf_id/source) ----


def _parse_llama(r: _Reader) -> dict[str, Any]:
    core = _core(r)
    bias = r.get_bool("attention_bias", False)
    layers = _layer_types(r, core.num_layers) or _all("full", core.num_layers)
    return {
        **core.as_kwargs(),
        **_windowed(layers, r.opt_int("sliding_window")),
        "intermediate_size": r.get_int("intermediate_size"),
        "qkv_bias": bias,
        "o_bias": bias,
        "mlp_bias": r.get_bool("mlp_bias", False),
    }


def _parse_qwen2(r: _Reader) -> dict[str, Any]:
    core = _core(r)
    return {
        **core.as_kwargs(),
        **_qwen_window(r, core.num_layers),
        "intermediate_size": r.get_int("intermediate_size"),
        "qkv_bias": True,
    }


def _parse_qwen3(r: _Reader) -> dict[str, Any]:
    core = _core(r)
    bias = r.get_bool("attention_bias", False)
    return {
        **core.as_kwargs(),
        **_qwen_window(r, core.num_layers),
        "intermediate_size": r.get_int("intermediate_size"),
        "qkv_bias": bias,
        "o_bias": bias,
        "qk_norm": True,
    }


def _parse_qwen3_moe(r: _Reader) -> dict[str, Any]:
    kwargs = _parse_qwen3(r)
    num_experts = r.get_int("num_experts")
    moe_layers = _qwen_moe_layers(r, kwargs["num_layers"])
    first_dense, freq = _moe_pattern(moe_layers, kwargs["num_layers"]) if moe_layers else (0, 1)
    kwargs["moe"] = (
        None
        if not moe_layers
        else MoEConfig(
            num_experts=num_experts,
            experts_per_token=_experts_per_token(r, num_experts, "num_experts_per_tok"),
            expert_intermediate_size=r.get_int("moe_intermediate_size"),
            first_dense_layers=first_dense,
            layer_freq=freq,
        )
    )
    return kwargs


def _qwen_moe_layers(r: _Reader, num_layers: int) -> frozenset[int]:
    """HF Qwen3-MoE: layer i is sparse iff i not in mlp_only_layers and (i + 1) % decoder_sparse_step == 0."""
    step = r.get_int("decoder_sparse_step", 1)
    dense = set(r.int_list("mlp_only_layers"))
    return frozenset(i for i in range(num_layers) if i not in dense and (i + 1) % step == 0)


def _moe_pattern(moe_layers: frozenset[int], num_layers: int) -> tuple[int, int]:
    """Express a set of MoE layers as MoEConfig's (first_dense_layers, layer_freq), or refuse."""
    ordered = sorted(moe_layers)
    first = ordered[0]
    freq = ordered[1] - first if len(ordered) > 1 else (first or num_layers)
    if first % freq == 0 and moe_layers == set(range(first, num_layers, freq)):
        return first, freq
    raise JalapenoError(
        f"MoE layers {ordered} are not 'i >= first and i % freq == 0' for any freq; "
        "MoEConfig cannot express this decoder_sparse_step/mlp_only_layers pattern",
        field="mlp_only_layers",
    )


def _parse_mistral(r: _Reader) -> dict[str, Any]:
    core = _core(r)
    return {
        **core.as_kwargs(),
        **_mistral_window(r, core.num_layers),
        "intermediate_size": r.get_int("intermediate_size"),
    }


def _parse_phi3(r: _Reader) -> dict[str, Any]:
    """Phi-3: Llama's weights with Q/K/V and gate/up each packed into one matrix (the same counts), no
    biases; every layer slides when ``sliding_window`` is set (Phi-3-mini-4k: 2047), as in Mistral."""
    core = _core(r)
    return {
        **core.as_kwargs(),
        **_mistral_window(r, core.num_layers),
        "intermediate_size": r.get_int("intermediate_size"),
    }


def _gemma(r: _Reader, layers: tuple[LayerAttention, ...], qk_norm: bool) -> dict[str, Any]:
    """Gemma 2/3: gated GELU MLP, four RMSNorms a layer, embeddings tied unless the config says otherwise,
    ``head_dim`` given (256). Logit soft-capping and ``query_pre_attn_scalar`` change no weight or KV byte."""
    core = _core(r)
    bias = r.get_bool("attention_bias", False)
    return {
        **core.as_kwargs(),
        **_windowed(_layer_types(r, core.num_layers) or layers, r.opt_int("sliding_window")),
        "tie_embeddings": r.get_bool("tie_word_embeddings", True),
        "intermediate_size": r.get_int("intermediate_size"),
        "qkv_bias": bias,
        "o_bias": bias,
        "qk_norm": qk_norm,
        "norms_per_layer": 4,
    }


def _parse_gemma2(r: _Reader) -> dict[str, Any]:
    """Gemma 2: layers alternate local (even: ``sliding_window``) and global attention."""
    n = r.get_int("num_hidden_layers")
    return _gemma(r, tuple("sliding" if i % 2 == 0 else "full" for i in range(n)), qk_norm=False)


def _parse_gemma3(r: _Reader) -> dict[str, Any]:
    """Gemma 3 (text): one global layer in every ``sliding_window_pattern`` (6: layers 5, 11, ...), per-head
    q/k RMSNorms instead of soft-capping."""
    n = r.get_int("num_hidden_layers")
    every = r.get_int("sliding_window_pattern", 6)
    return _gemma(r, tuple("full" if (i + 1) % every == 0 else "sliding" for i in range(n)), qk_norm=True)


def _parse_mixtral(r: _Reader) -> dict[str, Any]:
    kwargs = _parse_mistral(r)
    num_experts = r.get_int("num_local_experts")
    kwargs["moe"] = MoEConfig(
        num_experts=num_experts,
        experts_per_token=_experts_per_token(r, num_experts, "num_experts_per_tok"),
        expert_intermediate_size=kwargs["intermediate_size"],
    )
    return kwargs


def _parse_deepseek_v3(r: _Reader) -> dict[str, Any]:
    mla = MLAConfig(
        q_lora_rank=r.opt_int("q_lora_rank"),
        kv_lora_rank=r.get_int("kv_lora_rank"),
        qk_nope_head_dim=r.get_int("qk_nope_head_dim"),
        qk_rope_head_dim=r.get_int("qk_rope_head_dim"),
        v_head_dim=r.get_int("v_head_dim"),
    )
    core = _core(r, head_dim=mla.qk_nope_head_dim + mla.qk_rope_head_dim)
    r.get_int("num_nextn_predict_layers", 0, minimum=0)  # validated; the MTP module is not modelled
    bias = r.get_bool("attention_bias", False)
    return {
        **core.as_kwargs(),
        "layer_attention": _all("full", core.num_layers),
        "intermediate_size": r.get_int("intermediate_size"),
        "qkv_bias": bias,
        "o_bias": bias,
        "mla": mla,
        "moe": _deepseek_moe(r),
    }


def _deepseek_moe(r: _Reader) -> MoEConfig | None:
    num_experts = r.opt_int("n_routed_experts")
    if num_experts is None:
        return None
    expert_width = r.get_int("moe_intermediate_size")
    groups, top = _expert_groups(r, num_experts)
    return MoEConfig(
        num_experts=num_experts,
        experts_per_token=_experts_per_token(r, num_experts, "num_experts_per_tok"),
        expert_intermediate_size=expert_width,
        num_shared_experts=r.get_int("n_shared_experts", 0, minimum=0),
        shared_intermediate_size=expert_width,
        first_dense_layers=r.get_int("first_k_dense_replace", 0, minimum=0),
        layer_freq=r.get_int("moe_layer_freq", 1),
        router_bias=r.get_str("topk_method", "greedy") == "noaux_tc",
        expert_groups=groups,
        groups_per_token=top,
    )


def _expert_groups(r: _Reader, num_experts: int) -> tuple[int, int]:
    """``n_group`` groups of experts, a token's experts drawn from ``topk_group`` of them (DeepSeek-V3
    report, arXiv:2412.19437, section 2.1.2: node-limited routing, at most M = 4 nodes a token)."""
    groups = r.get_int("n_group", 1)
    top = r.get_int("topk_group", 1)
    k = r.get_int("num_experts_per_tok")
    if num_experts % groups or top > groups or k > top * (num_experts // groups):
        raise JalapenoError(
            f"{groups} groups must divide {num_experts} experts, be >= topk_group ({top}) and hold the "
            f"top-{k} experts in topk_group groups",
            field="n_group",
        )
    return groups, top


def _parse_glm4_moe(r: _Reader) -> dict[str, Any]:
    """GLM-4.5 / GLM-4.5-Air (HF ``Glm4MoeForCausalLM``): Llama-style GQA plus DeepSeek-V3-style experts."""
    core = _core(r)
    r.get_int("num_nextn_predict_layers", 0, minimum=0)  # validated; the MTP module is not modelled
    factor = r.d.get("partial_rotary_factor", 1.0)
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor <= 1:
        raise JalapenoError(f"must be a number in (0, 1], got {factor!r}", field="partial_rotary_factor")
    num_experts = r.get_int("n_routed_experts")
    groups = r.get_int("n_group", 1)
    if num_experts % groups or r.get_int("topk_group", 1) > groups:
        raise JalapenoError(
            f"{groups} groups must divide {num_experts} experts and be >= topk_group", field="n_group"
        )
    width = r.get_int("moe_intermediate_size")
    return {
        **core.as_kwargs(),
        "layer_attention": _all("full", core.num_layers),
        "intermediate_size": r.get_int("intermediate_size"),
        "qkv_bias": r.get_bool("attention_bias", False),
        "qk_norm": r.get_bool("use_qk_norm", False),
        "moe": MoEConfig(
            num_experts=num_experts,
            experts_per_token=_experts_per_token(r, num_experts, "num_experts_per_tok"),
            expert_intermediate_size=width,
            num_shared_experts=r.get_int("n_shared_experts", 0, minimum=0),
            shared_intermediate_size=width,
            first_dense_layers=r.get_int("first_k_dense_replace", 0, minimum=0),
            router_bias=True,
        ),
    }


def _parse_gpt_oss(r: _Reader) -> dict[str, Any]:
    core = _core(r)
    layers = _layer_types(r, core.num_layers) or tuple(
        "sliding" if i % 2 == 0 else "full"
        for i in range(core.num_layers)  # HF GptOssConfig default
    )
    width = r.get_int("intermediate_size")
    num_experts = r.get_int("num_local_experts")
    bias = r.get_bool("attention_bias", True)
    return {
        **core.as_kwargs(),
        **_windowed(layers, r.get_int("sliding_window", 128)),
        "intermediate_size": width,
        "attention_sinks": True,
        "qkv_bias": bias,
        "o_bias": bias,
        "moe": MoEConfig(
            num_experts=num_experts,
            experts_per_token=_experts_per_token(r, num_experts, "num_experts_per_tok", "experts_per_token"),
            expert_intermediate_size=width,
            router_bias=True,
            expert_bias=True,
        ),
    }


_PARSERS: dict[str, Callable[[_Reader], dict[str, Any]]] = {
    "LlamaForCausalLM": _parse_llama,
    "Qwen2ForCausalLM": _parse_qwen2,
    "Qwen3ForCausalLM": _parse_qwen3,
    "Qwen3MoeForCausalLM": _parse_qwen3_moe,
    "MistralForCausalLM": _parse_mistral,
    "MixtralForCausalLM": _parse_mixtral,
    "DeepseekV3ForCausalLM": _parse_deepseek_v3,
    "GptOssForCausalLM": _parse_gpt_oss,
    "Glm4MoeForCausalLM": _parse_glm4_moe,
    "Phi3ForCausalLM": _parse_phi3,
    "Gemma2ForCausalLM": _parse_gemma2,
    "Gemma3ForCausalLM": _parse_gemma3,
}
_MODEL_TYPES = {
    "llama": "LlamaForCausalLM",
    "qwen2": "Qwen2ForCausalLM",
    "qwen3": "Qwen3ForCausalLM",
    "qwen3_moe": "Qwen3MoeForCausalLM",
    "mistral": "MistralForCausalLM",
    "mixtral": "MixtralForCausalLM",
    "deepseek_v3": "DeepseekV3ForCausalLM",
    "gpt_oss": "GptOssForCausalLM",
    # Kimi K2 reuses DeepSeek-V3's layout (MLA, shared + routed experts) under its own model_type; its
    # config.json names DeepseekV3ForCausalLM (moonshotai/Kimi-K2 docs/deploy_guidance.md)
    "kimi_k2": "DeepseekV3ForCausalLM",
    "phi3": "Phi3ForCausalLM",
    "gemma2": "Gemma2ForCausalLM",
    "gemma3_text": "Gemma3ForCausalLM",
    "glm4_moe": "Glm4MoeForCausalLM",
}
SUPPORTED_ARCHITECTURES: tuple[str, ...] = tuple(_PARSERS)


def _architecture(d: Mapping[str, Any]) -> str:
    archs = d.get("architectures")
    if archs is None and isinstance(d.get("model_type"), str) and d["model_type"] in _MODEL_TYPES:
        return _MODEL_TYPES[d["model_type"]]
    if archs is None:
        raise JalapenoError('required field is missing (e.g. ["LlamaForCausalLM"])', field="architectures")
    if not isinstance(archs, list) or not archs or not isinstance(archs[0], str):
        raise JalapenoError(f"must be a non-empty list of class names, got {archs!r}", field="architectures")
    if archs[0] not in _PARSERS:
        raise JalapenoError(
            f"unsupported architecture {archs[0]!r}; supported: {', '.join(SUPPORTED_ARCHITECTURES)}",
            field="architectures",
        )
    return archs[0]


def parse_hf_config(d: dict[str, Any], *, name: str, hf_id: str = "", source: str = "") -> ModelConfig:
    """Parse a Hugging Face ``config.json`` dict into a :class:`ModelConfig`.

    Raises :class:`JalapenoError` (naming the field) for an unsupported architecture, a missing required
    field, a wrong type, a size that is zero or negative, or heads not divisible by kv heads.
    """
    if not isinstance(d, Mapping):
        raise JalapenoError(f"a config must be a JSON object, got {type(d).__name__}", field=source or None)
    arch = _architecture(d)
    kwargs = _PARSERS[arch](_Reader(d))
    return ModelConfig(name=name, hf_id=hf_id, architecture=arch, source=source, **kwargs)
