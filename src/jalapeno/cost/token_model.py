"""Token-proportional work of a step as closed forms in (new tokens T, sequences S), for the oracle.

Every non-attention operator of a dense model does work linear in T (projections, norms, MLP) or in S
(the LM head); only the tile quantization of matmuls is not linear, and it is evaluated exactly. So the
graph is built twice (T = 1 and T = 2), each op becomes (intercept, slope) pairs, and a step's token part
costs a few microseconds instead of a graph build. The result equals ``Estimator.price_ops`` on the
graph of the same step (tested to 1e-9).
"""

from __future__ import annotations

from dataclasses import dataclass

from jalapeno.cost.op_time import matmul_compute_s, smooth_max
from jalapeno.cost.step import Estimator, shard
from jalapeno.graph.batch import Batch, Sequence
from jalapeno.graph.builder import build_graph
from jalapeno.graph.precision import Precision
from jalapeno.models.config import ModelConfig

MATMUL_KINDS = ("matmul", "lm_head", "router")


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
        for o1, o2 in zip(g1.ops, g2.ops):
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
            self.templates.append(_Template(
                o1.repeat, per_seq, mm, a.flops - f1, f1, a.bytes - by1, by1, a.n, a.k, peak,
                prm.eff(a.dtype) if mm else 0.0,
                rates.mem_bw * (prm.mem_eff(a.dtype) if mm else prm.stream_eff),
                prm.kernels(o1.name), prm.pj_flop(a.dtype)))
        self.embedding_cap = cfg.vocab_size
        self.n_layers = cfg.num_layers
        self.act_bytes = precision.activations.bytes_per_element

    def time_energy(self, tokens: int, seqs: int, graph_mode: bool) -> tuple[float, float, float]:
        """(device seconds incl. graph launches and collectives, dynamic joules, host launch seconds of
        eager kernels) of the token part of a step."""
        est = self.est
        prm, rates, tp = est.params, est.rates, est.tp
        launch, eager, ks, p, vec = prm.graph_launch_s, prm.eager_launch_s, prm.kernel_s, prm.smooth, rates.vector_flops
        t = e = host = 0.0
        for tpl in self.templates:
            x = seqs if tpl.per_seq else tokens
            flops = tpl.flops0 + tpl.flops1 * x
            bytes_ = tpl.bytes0 + tpl.bytes1 * x
            if tpl.matmul:
                tc = matmul_compute_s(x, tpl.n, tpl.k, 1, tpl.peak, rates, prm, tpl.eff)
            else:
                tc = flops / vec
            body = smooth_max(tc, bytes_ / tpl.bw, p) + ks * tpl.kernels
            if graph_mode:
                t += (body + launch * tpl.kernels) * tpl.rep
            else:
                t += body * tpl.rep
                host += eager * tpl.kernels * tpl.rep
            e += tp * tpl.rep * (flops * tpl.pj_flop + bytes_ * prm.pj_per_byte_mem) * 1e-12
        comm_t, link = est.comm_for(self.n_layers, tokens, self.cfg.hidden_size, seqs, self.cfg.vocab_size,
                                    self.act_bytes)
        return t + comm_t, e + link * prm.pj_per_byte_link * 1e-12, host
