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
from jalapeno.graph.ops import Op
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


def verify_aggregates(seqs: int, context: int, q: int, window: int = 0) -> tuple[int, int, int]:
    """A verify step's decode-attention aggregates: (query rows, (query, key) pairs, KV tokens read) of
    ``seqs`` sequences with ``context`` cached tokens in all, ``q`` query tokens each. The i-th new token
    (1..q) sees ``cached + i`` keys; the kernel reads each sequence's ``cached + q`` keys once. A sliding
    ``window`` caps the keys a query sees. q = 1: (seqs, context + seqs, context + seqs), a decode step."""
    rows, pairs, kv = seqs * q, context * q + seqs * (q * (q + 1) // 2), context + seqs * q
    if window:
        pairs, kv = min(pairs, rows * window), min(kv, seqs * (window + q - 1))
    return rows, pairs, kv


def multi_query_decode(op: Op, seqs: int, kv_tokens: int) -> Op:
    """A decode attention op built with one sequence a query row (``rows`` = seqs x q), read as ``seqs``
    sequences of several query tokens that read their ``kv_tokens`` of cache once: FLOPs and activation
    bytes stay the rows', the KV bytes become the sequences'."""
    a = op.attention
    if a is None or a.phase != "decode" or a.kv_tokens == 0:
        return op
    scale = kv_tokens / a.kv_tokens
    return replace(
        op,
        kv_read_bytes=op.kv_read_bytes * scale,
        attention=replace(a, seqs=seqs, kv_tokens=kv_tokens),
    )
