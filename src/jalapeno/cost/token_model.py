"""Token-proportional work of a step as closed forms in (new tokens T, sequences S), for the oracle.

Every non-attention operator of a dense model does work linear in T (projections, norms, MLP) or in S
(the LM head); only the tile quantization of matmuls is not linear, and it is evaluated exactly. So the
graph is built twice (T = 1 and T = 2), each op becomes (intercept, slope) pairs, and a step's token part
costs a few microseconds instead of a graph build. The result equals ``Estimator.price_ops`` on the
graph of the same step (tested to 1e-9).

The serving simulator asks for thousands of distinct (T, S) pairs, so two memos keep the closed forms
cheap without changing a bit of the result: the running sums over the ops that depend on T alone are
kept per (T, graph mode) (S changes more often than T between steps), and each matmul's tiled compute
time per row bucket. ``matmul_compute_s`` sees the rows only through the tiles they fill (16, 32 or 64
rows for small M; ``tile_m`` or ``tile_n`` rows otherwise), so rows rounded up to a multiple of
``row_quantum`` (the gcd of those tile heights) give the same time; ``tests/test_token_model.py``
checks that this holds for op_time's model.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd

from jalapeno.cost.op_time import matmul_compute_s, smooth_max
from jalapeno.cost.step import Estimator, shard
from jalapeno.graph.batch import Batch, Sequence
from jalapeno.graph.builder import build_graph
from jalapeno.graph.precision import Precision
from jalapeno.models.config import ModelConfig

MATMUL_KINDS = ("matmul", "lm_head", "router")
LEAD_MEMO_MAX = 1 << 16  # running sums kept (one per token count and graph mode)
SMALL_M_TILE = 16  # the narrowest row tile op_time's small-M matmuls use (16/32/64 rows)


@dataclass(frozen=True, slots=True)
class _Template:
    rep: int
    per_seq: bool  # LM head: rows are sequences, not tokens
    matmul: bool
    flops0: float  # flops = flops0 + flops1 * x (x = T, or S for the LM head)
    flops1: float
    bytes0: float
    bytes1: float
    n: int
    k: int
    peak: float
    eff: float
    bw: float  # achieved bandwidth for this op
    kernels: int
    pj_flop: float
    fixed_s: float  # kernel_s * kernels: per-kernel device overhead
    graph_s: float  # graph_launch_s * kernels: replay cost of the op's kernels under CUDA graphs
    host_s: float  # eager_launch_s * kernels * rep: host launch time of all instances, eager mode
    e_scale: int  # tp * rep: dynamic energy counts every instance on every chip


class TokenModel:
    """Closed-form token part of a dense (non-MoE, non-MLA) model on one estimator."""

    def __init__(self, cfg: ModelConfig, precision: Precision, est: Estimator) -> None:
        if cfg.moe is not None or cfg.mla is not None:
            raise ValueError("TokenModel handles dense GQA models only")
        self.est, self.cfg = est, cfg
        prm, rates = est.params, est.rates
        g1 = build_graph(cfg, Batch((Sequence(1, 0),)), precision)
        g2 = build_graph(cfg, Batch((Sequence(2, 0),)), precision)
        self.templates: list[_Template] = []
        for o1, o2 in zip(g1.ops, g2.ops, strict=True):
            if o1.kind == "attention":
                continue
            a, b = shard(o1, est.tp), shard(o2, est.tp)
            per_seq = o1.kind == "lm_head"
            mm = o1.kind in MATMUL_KINDS
            f1, by1 = (0.0, 0.0) if per_seq else (b.flops - a.flops, b.bytes - a.bytes)
            if per_seq:  # one-sequence graphs: derive the per-row slope from the shapes
                f1 = 2.0 * a.n * a.k
                by1 = a.act_read_bytes + a.act_write_bytes
            peak = rates.matrix_peak(a.dtype)
            kernels = prm.kernels(o1.name)
            self.templates.append(
                _Template(
                    o1.repeat,
                    per_seq,
                    mm,
                    a.flops - f1,
                    f1,
                    a.bytes - by1,
                    by1,
                    a.n,
                    a.k,
                    peak,
                    prm.eff(a.dtype) if mm else 0.0,
                    rates.mem_bw * (prm.mem_eff(a.dtype) if mm else prm.stream_eff),
                    kernels,
                    prm.pj_flop(a.dtype),
                    prm.kernel_s * kernels,
                    prm.graph_launch_s * kernels,
                    prm.eager_launch_s * kernels * o1.repeat,
                    est.tp * o1.repeat,
                )
            )
        self.embedding_cap = cfg.vocab_size
        self.n_layers = cfg.num_layers
        self.residual_bytes = precision.residual.bytes_per_element  # tensor-parallel collectives
        # ops summed in graph order (the order fixes the rounding): the leading ones that depend on T
        # alone are memoized as a running sum, the rest (from the first per-sequence op on) priced per call;
        # each op comes with its memo of tiled compute time per row bucket (None: not a matmul)
        ops: list[tuple[_Template, dict[int, float] | None]] = [
            (tpl, {} if tpl.matmul else None) for tpl in self.templates
        ]
        lead = next((i for i, tpl in enumerate(self.templates) if tpl.per_seq), len(self.templates))
        self._lead, self._tail = ops[:lead], ops[lead:]
        self._lead_sums: dict[tuple[int, bool], tuple[float, float, float]] = {}
        self.row_quantum = gcd(SMALL_M_TILE, prm.tile_m, prm.tile_n)

    def time_energy(self, tokens: int, seqs: int, graph_mode: bool) -> tuple[float, float, float]:
        """(device seconds incl. graph launches and collectives, dynamic joules, host launch seconds of
        eager kernels) of the token part of a step."""
        sums = self._lead_sums
        acc = sums.get((tokens, graph_mode))
        if acc is None:
            if len(sums) >= LEAD_MEMO_MAX:  # a cache: dropping it changes nothing but speed
                sums.clear()
            acc = self._accumulate(self._lead, tokens, seqs, graph_mode, (0.0, 0.0, 0.0))
            sums[(tokens, graph_mode)] = acc
        t, e, host = self._accumulate(self._tail, tokens, seqs, graph_mode, acc)
        est, prm = self.est, self.est.params
        comm_t, link = est.comm_for(
            self.n_layers, tokens, self.cfg.hidden_size, seqs, self.cfg.vocab_size, self.residual_bytes
        )
        return t + comm_t, e + link * prm.pj_per_byte_link * 1e-12, host

    def _accumulate(
        self,
        ops: list[tuple[_Template, dict[int, float] | None]],
        tokens: int,
        seqs: int,
        graph_mode: bool,
        acc: tuple[float, float, float],
    ) -> tuple[float, float, float]:
        """Add ``ops`` to the running (device s, J, host s) sums, one at a time in graph order."""
        prm, vec, q = self.est.params, self.est.rates.vector_flops, self.row_quantum
        p, pj_mem = prm.smooth, prm.pj_per_byte_mem
        t, e, host = acc
        for tpl, memo in ops:
            x = seqs if tpl.per_seq else tokens
            flops = tpl.flops0 + tpl.flops1 * x
            bytes_ = tpl.bytes0 + tpl.bytes1 * x
            if memo is None:
                tc = flops / vec
            else:  # a matmul: its tiled compute time, per row bucket (inline: this loop is hot)
                rows = -(-x // q) * q
                cached = memo.get(rows)
                if cached is None:
                    cached = memo[rows] = self._matmul_s(tpl, rows)
                tc = cached
            body = smooth_max(tc, bytes_ / tpl.bw, p) + tpl.fixed_s
            if graph_mode:
                t += (body + tpl.graph_s) * tpl.rep
            else:
                t += body * tpl.rep
                host += tpl.host_s
            e += tpl.e_scale * (flops * tpl.pj_flop + bytes_ * pj_mem) * 1e-12
        return t, e, host

    def padded_rows(self, rows: int) -> int:
        """``rows`` rounded up to the row quantum: the same tiles, so the same tiled compute time."""
        q = self.row_quantum
        return -(-rows // q) * q

    def _matmul_s(self, tpl: _Template, rows: int) -> float:
        """Tiled compute time of a matmul op with ``rows`` rows."""
        est = self.est
        return matmul_compute_s(rows, tpl.n, tpl.k, 1, tpl.peak, est.rates, est.params, tpl.eff)
