"""What to measure: grids, the models behind them, and memory estimates. No torch here.

Models resolve through ``jalapeno.models.registry`` when it knows them; the four default models also have
built-in shapes (from their Hugging Face ``config.json``) so a GPU run never depends on anything else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from jalapeno.errors import JalapenoError
from jalapeno.models.config import LayerAttention, ModelConfig

# The models whose decode/prefill steps are measured, in the order they run (most valuable first).
DEFAULT_MODELS: tuple[str, ...] = (
    "qwen2.5-coder-7b",
    "llama-3.1-8b",
    "qwen2.5-coder-32b",
    "qwen2.5-coder-1.5b",
)
# The models whose projection shapes make the GEMM sweep.
GEMM_MODELS: tuple[str, ...] = ("llama-3.1-8b", "qwen2.5-coder-7b", "qwen2.5-coder-32b", "qwen2.5-coder-1.5b")


def _full(layers: int) -> tuple[LayerAttention, ...]:
    full: LayerAttention = "full"
    return (full,) * layers


def _builtin(
    name: str,
    hf_id: str,
    arch: str,
    h: int,
    layers: int,
    heads: int,
    kv: int,
    inter: int,
    vocab: int,
    tied: bool,
    qkv_bias: bool,
) -> ModelConfig:
    return ModelConfig(
        name=name,
        hf_id=hf_id,
        architecture=arch,
        hidden_size=h,
        num_layers=layers,
        num_heads=heads,
        num_kv_heads=kv,
        head_dim=128,
        intermediate_size=inter,
        vocab_size=vocab,
        tie_embeddings=tied,
        max_position_embeddings=32768,
        layer_attention=_full(layers),
        qkv_bias=qkv_bias,
        source="jalapeno.measure.shapes (built-in)",
    )


BUILTIN_MODELS: dict[str, ModelConfig] = {
    m.name: m
    for m in (
        _builtin(
            "llama-3.1-8b",
            "meta-llama/Llama-3.1-8B-Instruct",
            "LlamaForCausalLM",
            4096,
            32,
            32,
            8,
            14336,
            128256,
            False,
            False,
        ),
        _builtin(
            "qwen2.5-coder-7b",
            "Qwen/Qwen2.5-Coder-7B-Instruct",
            "Qwen2ForCausalLM",
            3584,
            28,
            28,
            4,
            18944,
            152064,
            False,
            True,
        ),
        _builtin(
            "qwen2.5-coder-32b",
            "Qwen/Qwen2.5-Coder-32B-Instruct",
            "Qwen2ForCausalLM",
            5120,
            64,
            40,
            8,
            27648,
            152064,
            False,
            True,
        ),
        _builtin(
            "qwen2.5-coder-1.5b",
            "Qwen/Qwen2.5-Coder-1.5B-Instruct",
            "Qwen2ForCausalLM",
            1536,
            28,
            12,
            2,
            8960,
            151936,
            True,
            True,
        ),
    )
}


def resolve(name: str) -> ModelConfig:
    """The registry's config for ``name``; the built-in shapes when the registry is absent or lacks it."""
    resolve_model: Callable[[str], ModelConfig] | None
    try:
        from jalapeno.models.registry import resolve_model  # lazy: written by another layer
    except ImportError:
        resolve_model = None
    if resolve_model is not None:
        try:
            return resolve_model(name)
        except Exception as e:
            if name not in BUILTIN_MODELS:
                if isinstance(e, JalapenoError):
                    raise
                raise JalapenoError(
                    f"cannot resolve {name!r}: {type(e).__name__}: {e}", field="--models"
                ) from e
    if name in BUILTIN_MODELS:
        return BUILTIN_MODELS[name]
    raise JalapenoError(f"unknown model {name!r}; built in: {', '.join(BUILTIN_MODELS)}", field="--models")


def check_supported(cfg: ModelConfig) -> None:
    """Raise unless ``cfg`` is a dense GQA decoder with a gated MLP (what ``torch_model`` builds)."""
    why = []
    if cfg.moe is not None:
        why.append("MoE")
    if cfg.mla is not None:
        why.append("MLA")
    if not cfg.mlp_gated:
        why.append("ungated MLP")
    if cfg.attention_sinks:
        why.append("attention sinks")
    if cfg.num_heads % cfg.num_kv_heads:
        why.append(f"{cfg.num_heads} heads not a multiple of {cfg.num_kv_heads} kv heads")
    if why:
        raise JalapenoError(
            f"measure supports dense GQA models; got {cfg.name} ({', '.join(why)})", field="--models"
        )


def tiny(cfg: ModelConfig) -> ModelConfig:
    """A few-kilobyte model with ``cfg``'s architecture flags, for ``--quick`` runs and CPU tests."""
    return replace(
        cfg,
        name=f"{cfg.name}-tiny",
        hidden_size=64,
        num_layers=2,
        num_heads=4,
        num_kv_heads=2 if cfg.num_kv_heads < cfg.num_heads else 4,
        head_dim=16,
        intermediate_size=128,
        vocab_size=256,
        layer_attention=_full(2),
        sliding_window=None,
    )


# ---- memory estimates (bytes), used to skip points that cannot fit ----


def qkv_out(cfg: ModelConfig) -> int:
    return (cfg.num_heads + 2 * cfg.num_kv_heads) * cfg.head_dim


def projections(cfg: ModelConfig) -> dict[str, tuple[int, int]]:
    """(N, K) of each matmul ``y[M,N] = x[M,K] @ w[K,N]`` in one layer, plus the LM head."""
    h, i = cfg.hidden_size, cfg.intermediate_size
    return {
        "qkv": (qkv_out(cfg), h),
        "o": (h, cfg.num_heads * cfg.head_dim),
        "gate_up": (2 * i, h),
        "down": (h, i),
        "lm_head": (cfg.vocab_size, h),
    }


def weight_elements(cfg: ModelConfig) -> int:
    layer = sum(n * k for name, (n, k) in projections(cfg).items() if name != "lm_head")
    layer += 2 * cfg.hidden_size + (2 * cfg.head_dim if cfg.qk_norm else 0)  # norms
    layer += (qkv_out(cfg) if cfg.qkv_bias else 0) + (cfg.hidden_size if cfg.o_bias else 0)
    layer += 2 * cfg.intermediate_size + cfg.hidden_size if cfg.mlp_bias else 0
    embed = cfg.vocab_size * cfg.hidden_size
    return cfg.num_layers * layer + embed * (1 if cfg.tie_embeddings else 2) + cfg.hidden_size


def kv_bytes(cfg: ModelConfig, batch: int, length: int, elem_bytes: int = 2) -> int:
    return 2 * cfg.num_layers * batch * cfg.num_kv_heads * length * cfg.head_dim * elem_bytes


def activation_bytes(cfg: ModelConfig, tokens: int, rows: int, elem_bytes: int = 2) -> int:
    """Rough peak of live activations for ``tokens`` tokens and ``rows`` logits rows (with slack)."""
    per_token = 4 * (qkv_out(cfg) + 4 * cfg.hidden_size) + 4 * cfg.intermediate_size
    return (tokens * per_token + 2 * rows * cfg.vocab_size) * elem_bytes * 2 + (64 << 20)


# ---- grids ----


@dataclass(frozen=True)
class Grid:
    """Every sweep axis in one value; ``FULL`` for a GPU, ``QUICK`` for a dry run on any device."""

    copy_bytes: int
    gemm_m: tuple[int, ...]
    attn_batch: tuple[int, ...]
    attn_context: tuple[int, ...]
    attn_seq: tuple[int, ...]
    attn_heads: tuple[int, int, int]  # heads, kv_heads, head_dim
    elem_t: tuple[int, ...]
    elem_hidden: tuple[tuple[str, int], ...]  # (op, hidden)
    decode_batch: tuple[int, ...]
    decode_context: tuple[int, ...]
    prefill_prompt: tuple[int, ...]
    iters: int  # timed iterations at most (fewer when one takes long)
    warmup: int
    target_s: float  # time spent on timed iterations per point, roughly
    tiny_models: bool
    # ``jalapeno measure engine`` (measure/serve_steps.py): the serving replay's own kernels and per-step
    # host work
    serve_bucket: tuple[int, ...] = (1, 4, 16)  # decode rows (batch buckets of the replay)
    serve_length: tuple[int, ...] = (1024, 4096, 8192)  # padded attention length L of a decode step
    serve_prompt: tuple[int, ...] = (16, 64, 256)  # short prompts: host-bound eager prefills
    serve_iters: int = 50  # timed steps per decode mode (after warm-up)
    serve_prefill_iters: int = 20  # timed prefills per mode
    serve_idle_s: float = 0.05  # idle before each prefill in the after_sleep / after_spin modes


FULL = Grid(
    copy_bytes=512 << 20,
    gemm_m=(1, 16, 64, 128, 256, 512, 1024, 2048, 4096, 8192),
    attn_batch=(1, 16, 64, 256),
    attn_context=(1024, 4096, 16384, 32768),
    attn_seq=(512, 1024, 2048, 4096, 8192),
    attn_heads=(32, 8, 128),
    elem_t=(1, 64, 1024, 8192),
    elem_hidden=(("rms_norm", 4096), ("silu_mul", 4096), ("silu_mul", 14336)),
    decode_batch=(1, 4, 16, 64, 128, 256),
    decode_context=(2048, 8192, 32768),
    prefill_prompt=(512, 1024, 2048, 4096, 8192),
    iters=30,
    warmup=3,
    target_s=0.3,
    tiny_models=False,
)

QUICK = Grid(
    copy_bytes=1 << 20,
    gemm_m=(1, 16),
    attn_batch=(1, 2),
    attn_context=(64, 128),
    attn_seq=(64,),
    attn_heads=(4, 2, 16),
    elem_t=(1, 64),
    elem_hidden=(("rms_norm", 64), ("silu_mul", 64)),
    decode_batch=(1, 4),
    decode_context=(16, 64),
    prefill_prompt=(16, 64),
    iters=5,
    warmup=1,
    target_s=0.02,
    tiny_models=True,
    serve_bucket=(1, 2),
    serve_length=(64, 128),
    serve_prompt=(16, 32),
    serve_iters=4,
    serve_prefill_iters=3,
    serve_idle_s=0.002,
)
