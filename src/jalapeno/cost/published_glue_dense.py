"""The data-movement kernels SGLang runs around DeepSeek-V3's dense GEMMs and MLA prefill attention.

Read from sglang 0.4.6.post3 (the release of the blog's runs), the prefill path of its reproduction commands:
DP attention on H100 picks the ``fa3`` backend (``model_executor/model_runner.py``), whose prefill of fresh
prompts is ``DeepseekV2AttentionMLA.forward_normal_chunked_kv`` (``models/deepseek_v2.py``). Besides the ops
the model's graph already prices (GEMMs, norms, in-place RoPE, the latent KV write, attention), it runs:

1. **FP8 quantization before every dense block-FP8 GEMM** (``apply_w8a8_block_fp8_linear`` in
   ``layers/quantization/fp8_utils.py``: ``sglang_per_token_group_quant_fp8`` / ``per_token_group_quant_fp8``,
   then DeepGEMM or CUTLASS): read K BF16 values a token, write K FP8 values and one FP32 scale per 128.
   The GEMMs: the fused q_a + kv_a projection (K = hidden, one quantization for both), q_b (K = q LoRA rank),
   kv_b (K = KV LoRA rank), o_proj (K = heads x v head dim), and the MLP's gate-up (K = hidden) and down
   (K = its intermediate size): the shared expert's on MoE layers, the dense MLP's on the first layers.
   The router (BF16 weights) and the LM head are not block-FP8 and quantize nothing.
2. **MLA key/value assembly** (``forward_normal_chunked_kv``, BF16): ``kv_a.contiguous()`` (the latent's 512
   values copied out of the fused projection's output), ``k[..., :nope] = k_nope`` (heads x nope values read
   from kv_b's output and written into k), ``k[..., nope:] = k_pe`` (the one shared rope key read, broadcast
   to every head), ``latent_cache[..., :rank] = kv_a`` (the normed latent copied into the cache row). The two
   other assignments (``q[..., nope:] = q_pe``, ``latent_cache[..., rank:] = k_pe``) write a tensor onto its
   own storage after the in-place RoPE and are skipped by PyTorch's ``copy_``; ``v`` is passed as a strided
   view (no copy).

Priced like ``cost.published_glue``: streaming ops at the model's HBM efficiency (flops = written bytes / 2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from jalapeno.graph.builder import Graph
from jalapeno.graph.ops import Op
from jalapeno.models.config import ModelConfig

BF16 = 2.0
SCALE_BYTES = 4.0 / 128  # one FP32 scale per 128 FP8 values (1x128 groups)


def quant_k(cfg: ModelConfig) -> dict[str, int]:
    """The graph's GEMM op -> the K of the BF16 activations SGLang quantizes before it (one token)."""
    mla, moe = cfg.mla, cfg.moe
    assert mla is not None and moe is not None
    h = cfg.hidden_size
    q = {"q_b_proj": mla.q_lora_rank} if mla.q_lora_rank else {"q_proj": h, "kv_a_proj": h}
    return q | {
        "q_a_proj": cfg.hidden_size,  # fused with kv_a_proj: one quantization for both
        "kv_b_proj": mla.kv_lora_rank,
        "o_proj": cfg.num_heads * mla.v_head_dim,
        "gate_up": cfg.hidden_size,
        "down": cfg.intermediate_size,
        "shared_gate_up": cfg.hidden_size,
        "shared_down": moe.shared_intermediate_size * moe.num_shared_experts,
    }


def quant_bytes(k: int, tokens: float) -> tuple[float, float]:
    """(read, write) bytes of one per-token-group FP8 quantization of ``tokens`` rows of ``k`` BF16 values."""
    return tokens * k * BF16, tokens * k * (1.0 + SCALE_BYTES)


def mla_assembly_bytes(cfg: ModelConfig, tokens: int) -> tuple[float, float]:
    """(read, write) bytes of the MLA prefill key assembly copies (module docstring, 2), ``tokens`` tokens."""
    mla = cfg.mla
    assert mla is not None
    rank, nope, rope, heads = mla.kv_lora_rank, mla.qk_nope_head_dim, mla.qk_rope_head_dim, cfg.num_heads
    read = rank + heads * nope + rope + rank  # kv_a.contiguous, k_nope, k_pe, latent <- kv_a
    write = rank + heads * nope + heads * rope + rank
    return tokens * read * BF16, tokens * write * BF16


def stream_op(o: Op, name: str, rd: float, wr: float) -> Op:
    """An elementwise pass over ``o``'s layers reading ``rd`` and writing ``wr`` bytes (a glue kernel)."""
    return Op(
        name=name,
        kind="elementwise",
        repeat=o.repeat,
        flops=wr / 2.0,
        act_read_bytes=rd,
        act_write_bytes=wr,
        dtype="bf16",
        layers=o.layers,
    )


def with_glue(
    g: Graph,
    quant: Mapping[str, tuple[float, float]],
    after: Mapping[str, Sequence[tuple[str, float, float]]],
) -> Graph:
    """``g`` with an FP8 quantization pass before each matmul ``quant`` names (its read and write bytes) and,
    after each op ``after`` names, its glue passes (name, read bytes, write bytes), over that op's layers."""
    ops: list[Op] = []
    for o in g.ops:
        if o.kind == "matmul" and o.name in quant:
            ops.append(stream_op(o, f"quant_{o.name}", *quant[o.name]))
        ops.append(o)
        ops.extend(stream_op(o, name, rd, wr) for name, rd, wr in after.get(o.name, ()))
    return replace(g, ops=tuple(ops))


def sglang_dense_glue(g: Graph, cfg: ModelConfig) -> Graph:
    """``g`` with SGLang's FP8 quantization before each dense GEMM and its MLA key assembly after RoPE."""
    if cfg.mla is None or cfg.moe is None:
        return g
    tokens = g.batch.new_tokens
    quant = {name: quant_bytes(k, tokens) for name, k in quant_k(cfg).items()}
    return with_glue(g, quant, {"rope": [("mla_kv_assembly", *mla_assembly_bytes(cfg, tokens))]})
