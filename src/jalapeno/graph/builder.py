"""One builder for prefill, decode and mixed batches: ModelConfig x Batch x Precision -> Graph.

Layers that are the same (same attention kind, dense or MoE) are built once and repeated, so the
graph of a 126-layer model is as cheap to build as one layer. Shapes are commented as (rows, cols).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Required, TypedDict, Unpack, cast

from jalapeno.graph.attention import chunk_kv_tokens, chunk_pairs
from jalapeno.graph.batch import Batch
from jalapeno.graph.ops import AttentionShape, Op, verify
from jalapeno.graph.precision import BF16, Precision
from jalapeno.models.config import ModelConfig


class AttentionKwargs(TypedDict, total=False):
    """Head counts and widths of a model's attention kernels: the keyword arguments of
    ``_Builder.attention_from_totals`` that ``_Builder.attention_kwargs`` returns."""

    heads: Required[int]
    kv_heads: Required[int]
    dqk: Required[int]
    dv: Required[int]
    kv_elems_per_token: Required[int]
    decode_dqk: int
    decode_dv: int
    decode_kv_heads: int
    prefill_kv_act: bool
    extra_params: float


@dataclass(frozen=True)
class Graph:
    model: str
    batch: Batch
    precision: Precision
    ops: tuple[Op, ...]

    @property
    def flops(self) -> float:
        return sum(o.flops * o.repeat for o in self.ops)

    def total(self, attr: str) -> float:
        """Sum of an Op attribute over the step (e.g. ``"weight_bytes"``, ``"kv_read_bytes"``)."""
        return sum(cast(float, getattr(o, attr)) * o.repeat for o in self.ops)

    @property
    def bytes(self) -> float:
        return sum(o.bytes * o.repeat for o in self.ops)

    @property
    def params(self) -> float:
        return self.total("params")

    @property
    def active_params(self) -> float:
        return self.total("active_params")


@dataclass(frozen=True)
class _Work:
    """Per-step token counts the layer builders need, computed once from the batch."""

    tokens: int  # new tokens (rows of every projection)
    decode: tuple[int, ...]  # cached tokens of each decode sequence
    chunks: tuple[tuple[int, int], ...]  # (new, cached) of each prefill chunk
    logits: int


def _work(batch: Batch) -> _Work:
    dec, chunks = [], []
    for s in batch.seqs:
        if s.is_decode:
            dec.append(s.cached_tokens)
        else:
            chunks.append((s.new_tokens, s.cached_tokens))
    return _Work(batch.new_tokens, tuple(dec), tuple(chunks), batch.logits_tokens)


class _Builder:
    def __init__(self, cfg: ModelConfig, p: Precision, w: _Work) -> None:
        self.cfg, self.p, self.w = cfg, p, w
        self.wb = p.weights.bytes_per_element
        self.ab = p.activations.bytes_per_element
        self.kb = p.kv.bytes_per_element

    # -- primitives -------------------------------------------------------------------------
    def matmul(
        self,
        name: str,
        m: int,
        k: int,
        n: int,
        rep: int,
        layers: str,
        *,
        bias: bool = False,
        kind: str = "matmul",
        params: float | None = None,
        weight_elems: float | None = None,
    ) -> Op:
        """y(m, n) = x(m, k) @ W(k, n) [+ b(n)]."""
        we = k * n if weight_elems is None else weight_elems
        own = (k * n + (n if bias else 0)) if params is None else params
        return verify(
            Op(
                name,
                kind,
                rep,
                flops=2.0 * m * n * k,
                weight_bytes=(we + (n if bias else 0)) * self.wb,
                act_read_bytes=m * k * self.ab,
                act_write_bytes=m * n * self.ab,
                params=own,
                active_params=own,
                m=m,
                n=n,
                k=k,
                dtype=self.p.compute,
                weight_dtype=self.p.weights.name,
                layers=layers,
            )
        )

    def elementwise(
        self,
        name: str,
        kind: str,
        elems: float,
        rep: int,
        layers: str,
        *,
        reads: float = 1.0,
        flops_per: float = 1.0,
        params: float = 0.0,
    ) -> Op:
        """An op streaming ``elems`` output elements, reading ``reads`` inputs of the same size."""
        return verify(
            Op(
                name,
                kind,
                rep,
                flops=flops_per * elems,
                weight_bytes=params * self.wb,
                act_read_bytes=reads * elems * self.ab,
                act_write_bytes=elems * self.ab,
                params=params,
                active_params=params,
                dtype=self.p.compute,
                layers=layers,
            )
        )

    def norm(self, name: str, width: int, rows: int, rep: int, layers: str) -> Op:
        # RMSNorm: square, mean, rsqrt, scale: ~4 FLOPs an element; weight (width,)
        return self.elementwise(name, "norm", rows * width, rep, layers, flops_per=4.0, params=width)

    def kv_write(self, per_token: int, rep: int, layers: str) -> Op:
        """Appending this step's tokens to the KV cache: ``per_token`` cached elements a token, read as
        activations and written at the KV dtype (full K and V per head, or MLA's compressed latent)."""
        t = self.w.tokens
        return verify(
            Op(
                "kv_write",
                "kv_write",
                rep,
                flops=0.0,
                act_read_bytes=t * per_token * self.ab,
                kv_write_bytes=t * per_token * self.kb,
                layers=layers,
            )
        )

    def attention(
        self, rep: int, layers: str, window: int | None, **shape: Unpack[AttentionKwargs]
    ) -> list[Op]:
        """Decode and prefill attention as separate kernels (as serving engines launch them)."""
        w = self.w
        dec = pre = None
        if w.decode:
            pairs = sum(min(c + 1, window) if window else c + 1 for c in w.decode)
            dec = (len(w.decode), pairs)
        if w.chunks:
            pre = (
                len(w.chunks),
                sum(n for n, _ in w.chunks),
                sum(chunk_kv_tokens(n, c, window) for n, c in w.chunks),
                sum(chunk_pairs(n, c, window) for n, c in w.chunks),
            )
        return self.attention_from_totals(rep, layers, dec, pre, **shape)

    def attention_from_totals(
        self,
        rep: int,
        layers: str,
        decode: tuple[int, int] | None,
        prefill: tuple[int, int, int, int] | None,
        *,
        heads: int,
        kv_heads: int,
        dqk: int,
        dv: int,
        kv_elems_per_token: int,
        decode_dqk: int | None = None,
        decode_dv: int | None = None,
        decode_kv_heads: int | None = None,
        prefill_kv_act: bool = False,
        extra_params: float = 0.0,
    ) -> list[Op]:
        """``decode`` = (seqs, pairs); ``prefill`` = (chunks, query tokens, KV tokens read, pairs)."""
        ops: list[Op] = []
        if decode:
            seqs, pairs = decode
            dq, dvv = decode_dqk or dqk, decode_dv or dv
            shape = AttentionShape(
                "decode", seqs, seqs, pairs, pairs, heads, decode_kv_heads or kv_heads, dq, dvv
            )
            ops.append(
                verify(
                    Op(
                        "attn_decode",
                        "attention",
                        rep,
                        flops=2.0 * pairs * heads * (dq + dvv),
                        act_read_bytes=seqs * heads * dq * self.ab,
                        act_write_bytes=seqs * heads * dvv * self.ab,
                        kv_read_bytes=pairs * kv_elems_per_token * self.kb,
                        params=extra_params,
                        active_params=extra_params,
                        dtype=self.p.attention_compute,
                        layers=layers,
                        attention=shape,
                    )
                )
            )
        if prefill:
            chunks, q, kv_tok, pairs = prefill
            shape = AttentionShape("prefill", chunks, q, kv_tok, pairs, heads, kv_heads, dqk, dv)
            # MLA prefill attends over K/V decompressed by kv_b_proj (activations, not the cache)
            kv_bytes = kv_tok * kv_elems_per_token * self.kb
            act_kv = kv_tok * kv_heads * (dqk + dv) * self.ab if prefill_kv_act else 0.0
            own = 0.0 if decode else extra_params
            ops.append(
                verify(
                    Op(
                        "attn_prefill",
                        "attention",
                        rep,
                        flops=2.0 * pairs * heads * (dqk + dv),
                        act_read_bytes=q * heads * dqk * self.ab + act_kv,
                        act_write_bytes=q * heads * dv * self.ab,
                        kv_read_bytes=0.0 if prefill_kv_act else kv_bytes,
                        params=own,
                        active_params=own,
                        dtype=self.p.attention_compute,
                        layers=layers,
                        attention=shape,
                    )
                )
            )
        return ops

    def attention_kwargs(self) -> AttentionKwargs:
        """Head counts and widths of this model's attention kernels (MLA: absorbed decode, decompressed
        prefill)."""
        c, m = self.cfg, self.cfg.mla
        if m is None:
            return {
                "heads": c.num_heads,
                "kv_heads": c.num_kv_heads,
                "dqk": c.head_dim,
                "dv": c.head_dim,
                "kv_elems_per_token": 2 * c.num_kv_heads * c.head_dim,
                "extra_params": c.num_heads if c.attention_sinks else 0,
            }
        latent = m.kv_lora_rank + m.qk_rope_head_dim
        return {
            "heads": c.num_heads,
            "kv_heads": c.num_heads,
            "dqk": m.qk_nope_head_dim + m.qk_rope_head_dim,
            "dv": m.v_head_dim,
            "kv_elems_per_token": latent,
            "decode_dqk": latent,
            "decode_dv": m.kv_lora_rank,
            "decode_kv_heads": 1,
            "prefill_kv_act": True,
        }

    # -- blocks -----------------------------------------------------------------------------
    def gqa_block(self, rep: int, layers: str, window: int | None) -> list[Op]:
        c, t = self.cfg, self.w.tokens
        h, hd, nh, nkv = c.hidden_size, c.head_dim, c.num_heads, c.num_kv_heads
        ops = [
            self.norm("attn_norm", h, t, rep, layers),
            self.matmul("qkv_proj", t, h, (nh + 2 * nkv) * hd, rep, layers, bias=c.qkv_bias),
        ]  # (T, (H+2KV)*hd)
        if c.qk_norm:
            ops.append(
                self.elementwise(
                    "qk_norm", "norm", t * (nh + nkv) * hd, rep, layers, flops_per=4.0, params=2 * hd
                )
            )
        ops.append(self.elementwise("rope", "rope", t * (nh + nkv) * hd, rep, layers, flops_per=3.0))
        ops.append(self.kv_write(2 * nkv * hd, rep, layers))
        ops += self.attention(rep, layers, window, **self.attention_kwargs())
        ops.append(self.matmul("o_proj", t, nh * hd, h, rep, layers, bias=c.o_bias))  # (T, hidden)
        return ops

    def mla_block(self, rep: int, layers: str, window: int | None) -> list[Op]:
        c, t, m = self.cfg, self.w.tokens, self.cfg.mla
        assert m is not None
        h, nh = c.hidden_size, c.num_heads
        dqk = m.qk_nope_head_dim + m.qk_rope_head_dim
        latent = m.kv_lora_rank + m.qk_rope_head_dim  # cached per token: compressed KV + shared rope key
        ops = [self.norm("attn_norm", h, t, rep, layers)]
        if m.q_lora_rank:
            ops += [
                self.matmul("q_a_proj", t, h, m.q_lora_rank, rep, layers),
                self.norm("q_a_norm", m.q_lora_rank, t, rep, layers),
                self.matmul("q_b_proj", t, m.q_lora_rank, nh * dqk, rep, layers),
            ]
        else:
            ops.append(self.matmul("q_proj", t, h, nh * dqk, rep, layers))
        ops += [
            self.matmul("kv_a_proj", t, h, latent, rep, layers),  # (T, kv_lora + rope)
            self.norm("kv_a_norm", m.kv_lora_rank, t, rep, layers),
            self.elementwise("rope", "rope", t * (nh + 1) * m.qk_rope_head_dim, rep, layers, flops_per=3.0),
            self.kv_write(latent, rep, layers),
        ]
        kvb_k, kvb_n = m.kv_lora_rank, nh * (m.qk_nope_head_dim + m.v_head_dim)
        nd = len(self.w.decode)
        if nd:  # decode: kv_b_proj absorbed into the query (nope -> latent) and the output (latent -> v)
            ops.append(
                self.matmul(
                    "q_absorb",
                    nd * nh,
                    m.qk_nope_head_dim,
                    m.kv_lora_rank,
                    rep,
                    layers,
                    params=kvb_k * kvb_n,
                    weight_elems=nh * m.qk_nope_head_dim * m.kv_lora_rank,
                )
            )
        if self.w.chunks:  # prefill: decompress K/V of every position the chunks attend to
            kv_tok = sum(chunk_kv_tokens(n, cc, window) for n, cc in self.w.chunks)
            op = self.matmul("kv_b_proj", kv_tok, kvb_k, kvb_n, rep, layers, params=0.0 if nd else None)
            ops.append(
                Op(**{**_fields(op), "act_read_bytes": 0.0, "kv_read_bytes": kv_tok * latent * self.kb})
            )
        ops += self.attention(rep, layers, window, **self.attention_kwargs())
        if nd:
            ops.append(
                self.matmul(
                    "v_absorb",
                    nd * nh,
                    m.kv_lora_rank,
                    m.v_head_dim,
                    rep,
                    layers,
                    params=0.0,
                    weight_elems=nh * m.kv_lora_rank * m.v_head_dim,
                )
            )
        ops.append(self.matmul("o_proj", t, nh * m.v_head_dim, h, rep, layers))
        return ops

    def dense_mlp(self, rep: int, layers: str, inter: int, prefix: str = "") -> list[Op]:
        c, t, h = self.cfg, self.w.tokens, self.cfg.hidden_size
        up = 2 * inter if c.mlp_gated else inter
        return [
            self.matmul(
                f"{prefix}gate_up" if c.mlp_gated else f"{prefix}up", t, h, up, rep, layers, bias=c.mlp_bias
            ),  # (T, 2I)
            self.elementwise(
                f"{prefix}act",
                "elementwise",
                t * inter,
                rep,
                layers,
                reads=2.0 if c.mlp_gated else 1.0,
                flops_per=5.0,
            ),
            self.matmul(f"{prefix}down", t, inter, h, rep, layers, bias=c.mlp_bias),
        ]  # (T, hidden)

    def moe_mlp(self, rep: int, layers: str) -> list[Op]:
        c, t, e = self.cfg, self.w.tokens, self.cfg.moe
        assert e is not None
        h, ie, ne, k = c.hidden_size, e.expert_intermediate_size, e.num_experts, e.experts_per_token
        ops = [self.matmul("router", t, h, ne, rep, layers, bias=e.router_bias, kind="router")]
        per_expert = (3 if c.mlp_gated else 2) * h * ie + (
            (2 * ie if c.mlp_gated else ie) + h if e.expert_bias else 0
        )
        touched = expected_experts(ne, k, t)  # distinct experts the batch's tokens route to
        rows = t * k
        flops = 2.0 * rows * (per_expert - ((2 * ie if c.mlp_gated else ie) + h if e.expert_bias else 0))
        inter_act = rows * ie * (3 if c.mlp_gated else 1)  # gate/up outputs, activation, down input
        ops.append(
            Op(
                "experts",
                "moe",
                rep,
                flops=flops,
                weight_bytes=touched * per_expert * self.wb,
                act_read_bytes=rows * h * self.ab + inter_act * self.ab,
                act_write_bytes=rows * h * self.ab + inter_act * self.ab,
                params=ne * per_expert,
                active_params=k * per_expert,
                m=max(1, math.ceil(rows / touched)),
                n=ie,
                k=h,
                groups=max(1, round(touched)),
                dtype=self.p.compute,
                weight_dtype=self.p.weights.name,
                layers=layers,
            )
        )
        if e.num_shared_experts:
            shared = e.num_shared_experts * (e.shared_intermediate_size or ie)
            ops += self.dense_mlp(rep, layers, shared, prefix="shared_")
        ops.append(
            self.elementwise(
                "moe_combine", "elementwise", t * h, rep, layers, reads=float(k), flops_per=2.0 * k
            )
        )
        return ops

    def layer(self, rep: int, layers: str, window: int | None, moe: bool) -> list[Op]:
        c, t, h = self.cfg, self.w.tokens, self.cfg.hidden_size
        attn = self.mla_block(rep, layers, window) if c.mla else self.gqa_block(rep, layers, window)
        mlp = [self.norm("mlp_norm", h, t, rep, layers)]
        mlp += self.moe_mlp(rep, layers) if moe else self.dense_mlp(rep, layers, c.intermediate_size)
        if c.norms_per_layer > 2:  # Gemma 2/3: RMSNorms on the attention and MLP outputs too
            attn = [*attn, self.norm("post_attn_norm", h, t, rep, layers)]
            mlp = [*mlp, self.norm("post_mlp_norm", h, t, rep, layers)]
        res = [self.elementwise("residual_add", "elementwise", t * h, rep, layers, reads=2.0)]
        return attn + res + mlp + res


def _fields(op: Op) -> dict[str, Any]:
    return {f: getattr(op, f) for f in Op.__slots__}


def expected_experts(num_experts: int, per_token: int, tokens: int) -> float:
    """Expected distinct experts touched when each token picks ``per_token`` of ``num_experts`` uniformly."""
    return num_experts * (1.0 - (1.0 - per_token / num_experts) ** tokens)


def layer_groups(cfg: ModelConfig) -> list[tuple[tuple[str, bool], list[int]]]:
    """Layers grouped by (attention kind, is MoE), in first-appearance order."""
    groups: dict[tuple[str, bool], list[int]] = {}
    for i in range(cfg.num_layers):
        groups.setdefault((cfg.layer_attention[i], cfg.is_moe_layer(i)), []).append(i)
    return list(groups.items())


def group_label(attn: str, moe: bool, idx: list[int]) -> str:
    """The ``layers`` label of a layer group's ops (pipeline stages find their layers by it)."""
    return f"{attn}{' moe' if moe else ''}: {_span(idx)}"


def _span(idx: list[int]) -> str:
    if idx == list(range(idx[0], idx[-1] + 1)):
        return f"{idx[0]}-{idx[-1]}" if len(idx) > 1 else str(idx[0])
    return ",".join(map(str, idx[:3])) + (f",..,{idx[-1]}" if len(idx) > 3 else "")


def build_graph(cfg: ModelConfig, batch: Batch, precision: Precision = BF16) -> Graph:
    """Operators of one step of ``batch`` through ``cfg`` (embedding, every layer, LM head)."""
    w = _work(batch)
    b = _Builder(cfg, precision, w)
    h, t = cfg.hidden_size, w.tokens
    ops: list[Op] = [
        verify(
            Op(  # gather T rows of the (vocab, hidden) table
                "embedding",
                "embedding",
                1,
                flops=0.0,
                weight_bytes=min(t, cfg.vocab_size) * h * b.wb,
                act_write_bytes=t * h * b.ab,
                params=cfg.vocab_size * h,
                active_params=0.0,
                dtype=precision.compute,
                weight_dtype=precision.weights.name,
                layers="-",
            )
        )
    ]
    for (attn, moe), idx in layer_groups(cfg):
        window = cfg.sliding_window if attn == "sliding" else None
        ops += b.layer(len(idx), group_label(attn, moe, idx), window, moe)
    ops.append(b.norm("final_norm", h, t, 1, "-"))
    head = b.matmul("lm_head", w.logits, h, cfg.vocab_size, 1, "-", kind="lm_head")  # (seqs, vocab)
    if cfg.tie_embeddings:
        head = Op(**{**_fields(head), "params": 0.0})
    ops.append(head)
    return Graph(cfg.name, batch, precision, tuple(ops))
