"""The small kernels SGLang runs around DeepSeek-V3's decode GEMMs, as ops of its decode row's graph.

The same sglang 0.4.6.post3 code paths as its prefill (``cost.published_glue_dense``, ``cost.published_glue``)
run in decode, where each kernel is a few microseconds of launch-to-end latency rather than bytes:

1. **FP8 quantization before every dense block-FP8 GEMM** (``apply_w8a8_block_fp8_linear``): the fused q_a +
   kv_a projection, q_b, o_proj, and the MLP's gate-up and down (the shared expert's on MoE layers, the dense
   MLP's on the first layers) (``published_glue_dense.quant_k``; kv_b is absorbed in decode and runs no GEMM).
2. **The MoE output's scaling and the shared expert's add** (``DeepseekV2MoE.forward_deepep``: ``*=
   routed_scaling_factor``, ``+ shared_output``; ``published_glue.output_glue_bytes``).

Not added: the decode MoE's activation (SGLang's ``silu_and_mul_masked_post_quant_fwd``, one kernel), which
stands where the model's ``moe_combine`` stands (DeepEP's low-latency combine does the weighted sum itself),
and MLA's absorbed-path copies, not counted from the code here. Priced as streaming ops at the model's HBM
efficiency (flops = written bytes / 2), each with the model's per-kernel cost.
"""

from __future__ import annotations

from jalapeno.cost.pipeline import Parallel
from jalapeno.cost.published_glue import output_glue_bytes
from jalapeno.cost.published_glue_dense import quant_bytes, quant_k, with_glue
from jalapeno.graph.builder import Graph
from jalapeno.models.config import ModelConfig

AFTER_MOE = ("routed_scale", "shared_add")
DECODE_QUANT = frozenset(
    {"q_a_proj", "q_b_proj", "o_proj", "gate_up", "down", "shared_gate_up", "shared_down"}
)


def sglang_decode_glue(g: Graph, cfg: ModelConfig, par: Parallel) -> Graph:
    """``g`` (a decode or verify graph) with SGLang's FP8 quantization before each dense GEMM and the MoE
    output's scaling and shared add after each MoE layer's weighted sum (``moe_combine``)."""
    if cfg.mla is None or cfg.moe is None:
        return g
    ks, tokens = quant_k(cfg), g.batch.new_tokens
    out = output_glue_bytes(cfg, par, tokens)
    quant = {name: quant_bytes(k, tokens) for name, k in ks.items() if name in DECODE_QUANT}
    return with_glue(g, quant, {"moe_combine": [(n, *out[n]) for n in AFTER_MOE]})
