"""The data-movement kernels SGLang runs around its prefill expert GEMMs, as ops of the rows' graphs.

SGLang's prefill MoE path (DeepEP normal dispatch + DeepGEMM contiguous grouped GEMMs; sglang 0.4.6.post3,
``python/sglang/srt/layers/moe/ep_moe/``: ``_DeepEPDispatcherImplNormal.dispatch_a`` and
``DeepEPMoE.forward_deepgemm_contiguous``, the path of PR #5626 that the blog lists) runs, per MoE layer and
micro-batch, five memory-bound kernels besides the two grouped GEMMs and the all-to-alls:

1. ``sglang_per_token_group_quant_fp8`` of the T local tokens before dispatch (read BF16, write FP8 + one FP32
   scale per 128 values);
2. ``ep_scatter``: the U tokens a rank received (deduplicated: one copy a rank) copied into expert order, one
   row per token-expert pair, R rows (FP8 + scales);
3. ``silu_and_mul`` on the gate-up GEMM's BF16 output (R x 2I read, R x I written, BF16);
4. ``sglang_per_token_group_quant_fp8`` of the down GEMM's input (R x I BF16 read, FP8 + scales written);
5. ``ep_gather``: the down GEMM's BF16 rows weighted and summed per received token (R x H read, U x H written,
   BF16), then DeepEP's combine sums the ranks' partial results.

The model's graph has none of these except the weighted sum (``moe_combine``, at the source rank in the
activations' format), which ``sglang_moe_glue`` replaces by ``ep_gather``. Four more copies complete the layer
(``output_glue_bytes``, same release): ``tma_align_input_scale`` copies each grouped GEMM's FP32 scales into
DeepGEMM's TMA-aligned column-major layout (``ep_moe/kernels.py``: R x H/128 and R x I/128 values read and
written); ``DeepseekV2MoE.forward_deepep`` scales the combined output in place (``final_hidden_states *=
self.routed_scaling_factor``: T x H BF16 read and written) and adds the shared expert's output (``+
shared_output``: 2 T x H read, T x H written); the MLA prefill copies FA3's log-sum-exp into token-major order
(``forward_normal_chunked_kv``: ``torch.transpose(lse, 0, 1).contiguous()``, T x heads FP32 read and
written). R = imbalance x T x top-k rows on the hottest rank; U = imbalance x T x the distinct ranks a
token's experts reach (``cost.ep_stats.expected_nodes`` over the ranks: group-limited routing). Their time
is the model's pricing of streaming ops at HBM speed.
"""

from __future__ import annotations

from dataclasses import replace

from jalapeno.cost.ep_stats import expected_nodes
from jalapeno.cost.pipeline import Parallel
from jalapeno.cost.published_glue_dense import SCALE_BYTES, quant_bytes, sglang_dense_glue, with_glue
from jalapeno.graph.builder import Graph
from jalapeno.graph.ops import Op
from jalapeno.models.config import ModelConfig


def glue_bytes(cfg: ModelConfig, par: Parallel, tokens: int) -> dict[str, tuple[float, float]]:
    """(read, write) bytes of each kernel, one micro-batch of ``tokens`` local tokens, the hottest rank."""
    moe = cfg.moe
    assert moe is not None
    h, i, k = cfg.hidden_size, moe.expert_intermediate_size, moe.experts_per_token
    gamma = par.ep_imbalance or 1.0
    ranks = expected_nodes(moe.num_experts, k, par.ep, moe.expert_groups, moe.groups_per_token)
    rows, uniq, fp8 = gamma * tokens * k, gamma * tokens * ranks, 1.0 + SCALE_BYTES
    return {
        "moe_dispatch_quant": quant_bytes(h, tokens),
        "moe_ep_scatter": (uniq * h * fp8, rows * h * fp8),
        "moe_silu_mul": (rows * 2 * i * 2.0, rows * i * 2.0),
        "moe_down_quant": quant_bytes(i, rows),
        "moe_ep_gather": (rows * h * 2.0, uniq * h * 2.0),
    }


def output_glue_bytes(cfg: ModelConfig, par: Parallel, tokens: int) -> dict[str, tuple[float, float]]:
    """(read, write) bytes of the MoE layer's remaining copies (module docstring), one micro-batch of
    ``tokens`` local tokens on the hottest rank: the scales' TMA alignment (R rows), the routed output's
    scaling and the shared expert's add (T tokens), the attention's log-sum-exp transpose (T x heads FP32)."""
    moe = cfg.moe
    assert moe is not None
    h, i, k = cfg.hidden_size, moe.expert_intermediate_size, moe.experts_per_token
    rows, scale = (par.ep_imbalance or 1.0) * tokens * k, (h + i) / 128 * 4.0
    lse = tokens * cfg.num_heads * 4.0
    return {
        "tma_scale_align": (rows * scale, rows * scale),
        "routed_scale": (tokens * h * 2.0, tokens * h * 2.0),
        "shared_add": (2 * tokens * h * 2.0, tokens * h * 2.0),
        "mla_lse_transpose": (lse, lse),
    }


def _output_glue(g: Graph, cfg: ModelConfig, par: Parallel) -> Graph:
    """``g`` with ``output_glue_bytes``' kernels: the LSE transpose after every layer's prefill attention,
    the scale alignment, the output scaling and the shared add after each MoE layer's ``moe_ep_gather``."""
    b = output_glue_bytes(cfg, par, g.batch.new_tokens)
    after = {
        "attn_prefill": ("mla_lse_transpose",),
        "moe_ep_gather": ("tma_scale_align", "routed_scale", "shared_add"),
    }
    return with_glue(g, {}, {op: [(name, *b[name]) for name in names] for op, names in after.items()})


def sglang_moe_glue(g: Graph, cfg: ModelConfig, par: Parallel, on: bool = True) -> Graph:
    """``g`` with its ``moe_combine`` op replaced by SGLang's five MoE data-movement kernels, SGLang's
    dense-GEMM quantizations and MLA key assembly added (``cost.published_glue_dense``), and the MoE layers'
    remaining copies (``output_glue_bytes``), when ``on``."""
    if not on:
        return g
    ops: list[Op] = []
    for o in g.ops:
        if o.name != "moe_combine":
            ops.append(o)
            continue
        for name, (rd, wr) in glue_bytes(cfg, par, g.batch.new_tokens).items():
            ops.append(
                replace(o, name=name, flops=wr / 2.0, act_read_bytes=rd, act_write_bytes=wr, dtype="bf16")
            )
    return _output_glue(sglang_dense_glue(replace(g, ops=tuple(ops)), cfg), cfg, par)
