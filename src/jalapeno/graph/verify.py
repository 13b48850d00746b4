"""A speculative verify step as a decode step: every sequence checks ``q`` tokens in one pass.

Multi-token prediction (DeepSeek-V3's MTP) and draft-model speculation verify the target's own token plus
``q - 1`` drafted ones per sequence. Every verified token goes through the projections, the router and the
experts and gets its logits, so the step is a decode step of ``q x seqs`` query rows. Attention is where it is
not: a decode kernel with several query tokens a sequence (FlashMLA's ``s_q``, FlashInfer's multi-token
decode) packs them with the heads and reads the sequence's KV cache once, so the attention FLOPs grow ``q``
times and the KV bytes do not. Pricing the chunk as a prefill instead would decompress MLA's whole cache
(``kv_b_proj`` over every cached position), which no MTP kernel does.
"""

from __future__ import annotations

from dataclasses import replace

from jalapeno.errors import JalapenoError
from jalapeno.graph.batch import Batch
from jalapeno.graph.builder import Graph, build_graph
from jalapeno.graph.precision import Precision
from jalapeno.models.config import ModelConfig


def verify_graph(cfg: ModelConfig, seqs: int, context: int, q: int, precision: Precision) -> Graph:
    """One verify step of ``seqs`` sequences at ``context`` cached tokens, ``q`` tokens each (q = 1: a
    plain decode step). The second token attends to one more key than the first; that pair is ignored."""
    if q < 1:
        raise JalapenoError(f"must be >= 1, got {q}", field="verify.tokens_per_sequence")
    g = build_graph(cfg, Batch.decode(seqs * q, context), precision)
    if q == 1:
        return g
    ops = tuple(
        replace(o, kv_read_bytes=o.kv_read_bytes / q) if o.name == "attn_decode" else o for o in g.ops
    )
    return Graph(g.model, g.batch, g.precision, ops)
