"""A memoized StepOracle for the serving simulator: the cost model answering in aggregates.

A step's cost splits exactly into token-proportional ops (projections, MLPs, norms; they depend on
the number of new tokens and sequences only: memoized) and attention (depends on the (query, key)
pairs and KV read: priced fresh, it is two small closed forms). Sliding-window layers cap pairs with
the mean context of the step, the one approximation here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache

from jalapeno.cost.expert import (
    RankTemplate,
    RankWork,
    gamma_of,
    rank_template,
    rank_work_from,
    slowest_attention,
    weights_per_chip,
)
from jalapeno.cost.op_time import smooth_max
from jalapeno.cost.params import CostParams
from jalapeno.cost.pipeline import (
    LAST,
    Parallel,
    Work,
    ceil_div,
    micro_batches,
    per_layer_parts,
    price_pipeline,
    stage_counts,
    stage_work,
    transfer,
)
from jalapeno.cost.step import Estimator, OpTimer, shard
from jalapeno.cost.token_model import TokenModel
from jalapeno.errors import JalapenoError
from jalapeno.graph.batch import Batch, Sequence
from jalapeno.graph.builder import Graph, _Builder, _work, build_graph, layer_groups
from jalapeno.graph.ops import Op
from jalapeno.graph.precision import BF16, Precision
from jalapeno.graph.verify import multi_query_decode, verify_aggregates
from jalapeno.hardware.network import network_of
from jalapeno.hardware.spec import ChipSpec
from jalapeno.models.config import ModelConfig
from jalapeno.seams.step_oracle import StepCost, StepShape

ACTIVATION_RESERVE = 0.10  # share of memory kept for activations, CUDA graphs and fragmentation
_NO_SPLIT = (0, 0)  # the token part's decode/prefill split key, for models without MLA


def weight_bytes(cfg: ModelConfig, precision: Precision) -> float:
    g = build_graph(cfg, Batch.decode(1, 1), precision)
    return g.params * precision.weights.bytes_per_element


def kv_bytes_per_token(cfg: ModelConfig, precision: Precision) -> float:
    """KV bytes one token adds over all layers (sliding layers included: a conservative capacity)."""
    b = _Builder(cfg, precision, _work(Batch.decode(1, 1)))
    per_layer = b.attention_kwargs()["kv_elems_per_token"]
    return float(per_layer) * cfg.num_layers * precision.kv.bytes_per_element


class CostOracle:
    """StepOracle over one replica of ``tp x pp`` chips (``parallel``, else ``tp`` chips in one stage).
    Deterministic; memoizes token-proportional work. With ``pp > 1`` a step is priced as a pipeline
    (``cost.pipeline``): its shape cut into min(pp, tokens) equal micro-batches, the step lasting the
    pipeline's steady-state interval."""

    def __init__(
        self,
        cfg: ModelConfig,
        chip: ChipSpec,
        params: CostParams,
        *,
        tp: int = 1,
        precision: Precision = BF16,
        cuda_graph_decode: bool = True,
        timer: OpTimer | None = None,
        parallel: Parallel | None = None,
    ) -> None:
        par = parallel or Parallel(tp=tp)
        tp = par.tp
        self.cfg, self.chip, self.precision, self.parallel = cfg, chip, precision, par
        self.est = Estimator(chip, params, tp, timer)
        par.check(chip, cfg.num_layers)
        par.check_model(cfg)
        if par.comm_sms:  # cost.expert.ep_step prices it; the serving hot loop does not (yet)
            raise JalapenoError(
                "cores held by the all-to-all are not modelled in serving; use 0", field="comm_sms"
            )
        self.tp = tp
        self.cuda_graph_decode = cuda_graph_decode
        self._kv_bpt = kv_bytes_per_token(cfg, precision)
        weights = weight_bytes(cfg, precision)
        chips = par.chips
        if par.ep > 1:  # each chip holds its expert slots and its attention replica's weights / tp
            weights = chips * weights_per_chip(cfg, build_graph(cfg, Batch.decode(1, 1), precision), par)
        free = chip.memory_bytes * chips * (1 - ACTIVATION_RESERVE) - weights
        if free <= 0:
            need = weights / (1 - ACTIVATION_RESERVE) / 1e9
            raise JalapenoError(
                f"{cfg.name} weights ({weights / 1e9:.1f} GB in {precision.weights.name}) "
                f"do not fit {chips} x {chip.name} ({chip.memory_bytes * chips / 1e9:.0f} GB); need >= "
                f"{need:.0f} GB: raise --tp or --pp, or use a smaller weight dtype",
                field="memory",
            )
        self._kv_capacity = int(free // self._kv_bpt)
        self._groups = [(attn, len(idx)) for (attn, _), idx in _merge_attn(layer_groups(cfg))]
        self._b = _Builder(cfg, precision, _work(Batch.decode(1, 1)))
        self._attn_kw = self._b.attention_kwargs()
        self._smooth, self._pj_mem = self.est.params.smooth, self.est.params.pj_per_byte_mem
        self._attn_coeffs = self._coefficients()
        dense = cfg.moe is None and cfg.mla is None and not self.est.custom_timer and par.pp == 1
        self._fast = TokenModel(cfg, precision, self.est) if dense else None
        self._token_part = lru_cache(maxsize=65536)(self._token_part_uncached)
        self._mla = bool(cfg.mla)
        self._stage_counts = stage_counts(cfg, par.pp) if par.pp > 1 else ()
        self._token_parts = lru_cache(maxsize=65536)(self._token_parts_uncached)
        self._ep_part = lru_cache(maxsize=65536)(self._ep_part_uncached)
        self._ep_template = lru_cache(maxsize=16384)(self._ep_template_uncached)
        self._gamma = lru_cache(maxsize=65536)(self._gamma_uncached)

    # -- StepOracle ---------------------------------------------------------------------------
    @property
    def kv_capacity_tokens(self) -> int:
        return self._kv_capacity

    @property
    def kv_bytes_per_token(self) -> float:
        return self._kv_bpt

    @property
    def idle_power_w(self) -> float:
        return self.est.idle_w * self.parallel.chips

    def step(self, shape: StepShape) -> StepCost:
        nd, ps = shape.decode_seqs, shape.prefill_seqs
        if nd + ps == 0:
            return StepCost(0.0, 0.0)
        graph_mode = self.cuda_graph_decode and ps == 0
        if self.parallel.pp > 1:
            return self._pipeline_step(shape, graph_mode)
        if self.parallel.ep > 1:
            return self._ep_step(shape, graph_mode)
        # a verify step's tokens are query rows of their own (``graph.verify``): the token part of a decode
        # step of nd * q sequences, memoized under that key
        rows = nd * shape.decode_queries
        # MLA's absorbed/decompressed projections depend on the decode/prefill split
        mla = (rows, shape.prefill_kv_tokens) if self._mla else _NO_SPLIT
        t, e, h = self._token_part(rows + shape.prefill_tokens, rows + ps, graph_mode, mla)
        ta, ea, ha = self._attention(shape, graph_mode)
        return self._finish(t + ta, e + ea, h + ha)

    # -- parts ------------------------------------------------------------------------------

    def _token_batch(self, tokens: int, seqs: int, mla: tuple[int, int]) -> Batch:
        """A batch with the step's token and sequence counts (MLA: its decode/prefill split)."""
        if self.cfg.mla and mla[0]:
            dec = (Sequence(1, 1),) * mla[0]
            rest = tokens - mla[0]
            pre = (Sequence(rest, max(mla[1] - rest, 0)),) if rest > 0 else ()
            return Batch(dec + pre)
        first = tokens - (seqs - 1)
        return Batch((Sequence(first, 0),) + (Sequence(1, 0),) * (seqs - 1))

    def _token_graph(self, tokens: int, seqs: int, mla: tuple[int, int]) -> Graph:
        """The graph the token part prices (chip-independent: ``explore.FastOracle`` shares it across
        designs)."""
        return build_graph(self.cfg, self._token_batch(tokens, seqs, mla), self.precision)

    def _token_part_uncached(
        self, tokens: int, seqs: int, graph_mode: bool, mla: tuple[int, int]
    ) -> tuple[float, float, float]:
        """(device seconds, dynamic joules, host launch seconds) of everything but attention."""
        if self._fast is not None and tokens < self.cfg.vocab_size:
            return self._fast.time_energy(tokens, seqs, graph_mode)
        g = self._token_graph(tokens, seqs, mla)
        _, t, e, host = self.est.price_ops(_without_attention(g), cuda_graph=graph_mode, keep=False)
        comm_s, link_bytes = self.est.comm(g)
        return t + comm_s, e + link_bytes * self.est.params.pj_per_byte_link * 1e-12, host

    def _attention(
        self, shape: StepShape, graph_mode: bool, alpha: float = 1.0
    ) -> tuple[float, float, float]:
        """Attention priced from per-layer-group linear coefficients (flops and bytes are linear in the
        aggregates), so no operator objects are built in the serving hot loop: (device s, J, host s).
        ``alpha``: the slowest data-parallel rank's decode KV load over the mean
        (``Parallel.attn_imbalance``): it scales the decode kernels' key-proportional FLOPs and KV bytes
        in the time, not the energy."""
        if self.est.custom_timer:
            return self._attention_via_timer(shape, graph_mode, alpha)
        nd, ps = shape.decode_seqs, shape.prefill_seqs
        t = e = h = 0.0
        for window, rep, dec, pre in self._attn_coeffs:
            if nd:  # FLOPs by (query, key) pairs, KV bytes by the keys each sequence reads once
                rows, pairs, kv = verify_aggregates(nd, shape.decode_context, shape.decode_queries, window)
                fc, bc = dec.flops, dec.bytes
                t1, e1, h1 = self._lin_time(
                    dec, fc[0] * rows + fc[1] * pairs, bc[0] * rows + bc[1] * kv, graph_mode
                )
                if alpha != 1.0:
                    f_hot, b_hot = fc[0] * rows + alpha * fc[1] * pairs, bc[0] * rows + alpha * bc[1] * kv
                    t1 = self._lin_time(dec, f_hot, b_hot, graph_mode)[0]
                t += rep * t1
                e += rep * e1
                h += rep * h1
            if ps:
                pairs, kv, q = shape.prefill_context, shape.prefill_kv_tokens, shape.prefill_tokens
                if window:
                    pairs = min(pairs, q * window)
                    kv = min(kv, q + ps * window)
                fc, bc = pre.flops, pre.bytes
                t1, e1, h1 = self._lin_time(
                    pre,
                    fc[0] * ps + fc[1] * q + fc[2] * kv + fc[3] * pairs,
                    bc[0] * ps + bc[1] * q + bc[2] * kv + bc[3] * pairs,
                    graph_mode,
                )
                t += rep * t1
                e += rep * e1
                h += rep * h1
        return t, e, h

    def _attention_via_timer(
        self, shape: StepShape, graph_mode: bool, alpha: float = 1.0
    ) -> tuple[float, float, float]:
        """Slow path for chips timed by a mapper: build the attention ops and price them as a step does."""
        window = self.cfg.sliding_window
        ops = []
        for attn, rep in self._groups:
            cap = window if attn == "sliding" and window else None
            pre = None
            if shape.prefill_seqs:
                pairs, kv = shape.prefill_context, shape.prefill_kv_tokens
                if cap:
                    pairs, kv = (
                        min(pairs, shape.prefill_tokens * cap),
                        min(kv, shape.prefill_tokens + shape.prefill_seqs * cap),
                    )
                pre = (shape.prefill_seqs, shape.prefill_tokens, kv, pairs)
            ops += self._attention_ops(rep, attn, shape, cap or 0, pre)
        # each op carries its layer count
        _, t, e, h = self.est.price_op_list(ops, cuda_graph=graph_mode, keep=False)
        if alpha != 1.0:
            hot = [slowest_attention(o, alpha) for o in ops]
            _, t, _, h = self.est.price_op_list(hot, cuda_graph=graph_mode, keep=False)
        return t, e, h

    def _attention_ops(
        self, rep: int, attn: str, shape: StepShape, window: int, pre: tuple[int, int, int, int] | None
    ) -> list[Op]:
        """The step's attention ops of one kind (``attention_from_totals``), a verify step's decode op
        reading each sequence's cache once (``graph.verify``)."""
        nd, q = shape.decode_seqs, shape.decode_queries
        dec = None
        if nd:
            rows, pairs, kv = verify_aggregates(nd, shape.decode_context, q, window)
            dec = (rows, pairs)
        ops = self._b.attention_from_totals(rep, attn, dec, pre, **self._attn_kw)
        if nd and q > 1:
            ops = [multi_query_decode(o, nd, kv) if o.name == "attn_decode" else o for o in ops]
        return ops

    def _lin_time(
        self, k: _AttnKernel, flops: float, bytes_: float, graph_mode: bool
    ) -> tuple[float, float, float]:
        """One attention kernel's (device time, dynamic energy, host launch time); formulas of op_time."""
        t = smooth_max(flops / k.compute_rate, bytes_ / k.mem_rate, self._smooth) + k.fixed_s
        e = self.tp * (flops * k.pj_flop + bytes_ * self._pj_mem) * 1e-12
        if graph_mode:
            return t + k.graph_s, e, 0.0
        return t, e, k.eager_s

    def _coefficients(self) -> list[tuple[int, int, _AttnKernel, _AttnKernel]]:
        """Per attention kind: its window (0: full attention), layers, and the decode and the prefill
        kernel, linear in their aggregates."""
        prm, window = self.est.params, self.cfg.sliding_window
        return [
            (
                window if attn == "sliding" and window else 0,
                rep,
                self._kernel(attn, _DECODE_UNITS, "attn_decode", prm.attn_decode_mem_eff),
                self._kernel(attn, _PREFILL_UNITS, "attn_prefill", prm.stream_eff),
            )
            for attn, rep in self._groups
        ]

    def _kernel(self, attn: str, units: tuple[_Unit, ...], name: str, mem_eff: float) -> _AttnKernel:
        """Per-chip FLOPs and bytes per unit of each of the kernel's aggregates (``units``, in order), with
        op_time's rates and per-kernel costs folded in once (the params are frozen)."""
        prm, rates = self.est.params, self.est.rates
        flops, bytes_, peak, pj = [], [], 0.0, 0.0
        for decode, prefill in units:
            op = self._b.attention_from_totals(1, attn, decode, prefill, **self._attn_kw)[0]
            s = shard(op, self.tp)
            flops.append(s.flops)
            bytes_.append(s.bytes)
            peak = rates.matrix_peak(s.dtype)
            pj = prm.pj_flop(s.dtype)
        kernels = prm.kernels(name)
        return _AttnKernel(
            tuple(flops),
            tuple(bytes_),
            peak * prm.attn_prefill_eff,
            rates.mem_bw * mem_eff,
            pj,
            prm.kernel_s * kernels,
            prm.graph_launch_s * kernels,
            prm.eager_launch_s * kernels,
        )

    # -- pipeline parallel ------------------------------------------------------------------------

    def _pipeline_step(self, shape: StepShape, graph_mode: bool) -> StepCost:
        """The step cut into ``m`` equal micro-batches (aggregates divided by m, rounded up) that
        follow each other through the stages; it lasts the pipeline's interval (``cost.pipeline``)."""
        est, cfg = self.est, self.cfg
        m = micro_batches(self.parallel.pp, shape.tokens)
        micro = shape.split(m)
        rows, ps = micro.decode_seqs * micro.decode_queries, micro.prefill_seqs
        tokens = rows + micro.prefill_tokens
        mla = (rows, micro.prefill_kv_tokens) if self._mla else _NO_SPLIT
        parts, logit_rows = self._token_parts(tokens, rows + ps, graph_mode, mla)
        parts = {**parts, **self._attention_by_kind(micro, graph_mode)}
        ab = self.precision.activations.bytes_per_element
        rb = self.precision.residual.bytes_per_element  # tensor-parallel collectives
        comms = [
            est.comm_for(
                c.get("layers", 0),
                tokens,
                cfg.hidden_size,
                logit_rows if LAST in c else 0,
                cfg.vocab_size,
                rb,
            )
            for c in self._stage_counts
        ]
        hidden = tokens * cfg.hidden_size * ab
        pc = price_pipeline(
            est,
            [stage_work(parts, c) for c in self._stage_counts],
            comms,
            transfer(est, hidden, self.parallel.pp),
            hidden,
            m,
        )
        t = pc.interval_s
        return StepCost(t, pc.energy_over(t))

    def _token_parts_uncached(
        self, tokens: int, seqs: int, graph_mode: bool, mla: tuple[int, int]
    ) -> tuple[dict[object, Work], int]:
        """Per-layer work of each layer group (attention excluded) and of the ops outside the layers,
        and the LM head's rows (for the logits gather)."""
        g = self._token_graph(tokens, seqs, mla)
        costs, _, _, _ = self.est.price_ops(_without_attention(g), cuda_graph=graph_mode)
        eager = 0.0 if graph_mode else self.est.params.eager_launch_s
        parts = per_layer_parts(
            (c.op.name, c.op.layers, c.op.repeat, c.total_s, c.energy_j, eager * c.time.kernels * c.op.repeat)
            for c in costs
        )
        head = next(o for o in g.ops if o.name == "lm_head")
        return parts, head.m

    def _attention_by_kind(self, shape: StepShape, graph_mode: bool) -> dict[object, Work]:
        """One layer's attention work of each attention kind, keyed ("attn", kind)."""
        return {("attn", attn): self._attention_one_kind(attn, shape, graph_mode) for attn, _ in self._groups}

    def _attention_one_kind(self, attn: str, shape: StepShape, graph_mode: bool) -> Work:
        """One layer of ``attn``-kind attention for ``shape``, by the same formulas as ``_attention``."""
        window = self.cfg.sliding_window
        cap = window if attn == "sliding" and window else None
        nd, ps = shape.decode_seqs, shape.prefill_seqs
        pre = None
        if ps:
            pairs, kv = shape.prefill_context, shape.prefill_kv_tokens
            if cap:
                pairs, kv = min(pairs, shape.prefill_tokens * cap), min(kv, shape.prefill_tokens + ps * cap)
            pre = (ps, shape.prefill_tokens, kv, pairs)
        if self.est.custom_timer:
            ops = self._attention_ops(1, attn, shape, cap or 0, pre)
            _, t, e, h = self.est.price_op_list(ops, cuda_graph=graph_mode)
            return t, e, h
        kinds = [k for k, _ in self._groups]
        _, _, kdec, kpre = self._attn_coeffs[kinds.index(attn)]
        t = e = h = 0.0
        if nd:
            rows, pairs, kv = verify_aggregates(nd, shape.decode_context, shape.decode_queries, cap or 0)
            fc, bc = kdec.flops, kdec.bytes
            t, e, h = self._lin_time(
                kdec, fc[0] * rows + fc[1] * pairs, bc[0] * rows + bc[1] * kv, graph_mode
            )
        if pre:
            fc, bc = kpre.flops, kpre.bytes
            t1, e1, h1 = self._lin_time(
                kpre,
                sum(f * a for f, a in zip(fc, pre, strict=True)),
                sum(b * a for b, a in zip(bc, pre, strict=True)),
                graph_mode,
            )
            t, e, h = t + t1, e + e1, h + h1
        return t, e, h

    # -- expert parallel ---------------------------------------------------------------------------

    def _ep_step(self, shape: StepShape, graph_mode: bool) -> StepCost:
        """The group's step (``cost.expert``): each attention replica runs 1/dp of every aggregate
        (rounded up: the hottest replica), halved again with two-batch overlap; the experts see the
        group's tokens."""
        par = self.parallel
        halves = 2 if par.tbo and shape.tokens >= 2 else 1
        local = shape.split(par.dp * halves)
        group = ceil_div(shape.tokens, halves)
        rows = local.decode_seqs * local.decode_queries
        mla = (rows, local.prefill_kv_tokens) if self._mla else _NO_SPLIT
        w = self._ep_part(
            rows + local.prefill_tokens,
            rows + local.prefill_seqs,
            group,
            graph_mode,
            mla,
            self._gamma(shape.tokens),
        )
        ta, ea, ha = self._attention(local, graph_mode, par.attn_imbalance)
        # ``overlap`` of ``halves`` identical micro-batches, written out (the serving hot loop): one runs
        # compute then all-to-alls; two last max(compute, all-to-all) each; the same sums as ``overlap``
        c, dyn, host = w.compute_s + ta, w.dyn_j + ea * par.dp, w.host_s + ha
        if halves == 1:
            device = c + w.all_to_all_s
        else:
            m = max(c, w.all_to_all_s)
            device, dyn, host = m + m, dyn + dyn, host + host
        t, energy, _ = self.est.finish(device, dyn / par.dp, host)
        return StepCost(t, energy * par.dp)

    @property
    def all_to_all_on_nics(self) -> bool:
        """Whether the group's all-to-alls cross the scale-out NICs (expert parallelism over more than
        one scale-up domain), where they share the NICs with disaggregated serving's KV transfers."""
        net = network_of(self.chip)
        return self.parallel.ep > 1 and net is not None and net.domains(self.parallel.ep) > 1

    def all_to_all_s(self, shape: StepShape) -> float:
        """The hottest rank's all-to-all seconds in a step of ``shape`` (dispatch and combine over the MoE
        layers, both halves with two-batch overlap): the same work ``_ep_step`` prices; 0 without EP."""
        par = self.parallel
        if par.ep == 1 or shape.tokens == 0:
            return 0.0
        halves = 2 if par.tbo and shape.tokens >= 2 else 1
        local = shape.split(par.dp * halves)
        rows = local.decode_seqs * local.decode_queries
        mla = (rows, local.prefill_kv_tokens) if self._mla else _NO_SPLIT
        graph_mode = self.cuda_graph_decode and shape.prefill_seqs == 0
        w = self._ep_part(
            rows + local.prefill_tokens,
            rows + local.prefill_seqs,
            ceil_div(shape.tokens, halves),
            graph_mode,
            mla,
            self._gamma(shape.tokens),
        )
        return halves * w.all_to_all_s

    def _gamma_uncached(self, group_tokens: int) -> float:
        return gamma_of(self.cfg, self.parallel, group_tokens)

    def _ep_part_uncached(
        self, tokens: int, seqs: int, group: int, graph_mode: bool, mla: tuple[int, int], gamma: float
    ) -> RankWork:
        """``rank_work`` of the replica's tokens, from a template priced once per (tokens, sequences):
        only the expert ops change with the group's tokens and the imbalance."""
        tpl = self._ep_template(tokens, seqs, graph_mode, mla)
        return rank_work_from(self.est, self.cfg, self.parallel, tpl, group, gamma, cuda_graph=graph_mode)

    def _ep_template_uncached(
        self, tokens: int, seqs: int, graph_mode: bool, mla: tuple[int, int]
    ) -> RankTemplate:
        g = self._token_graph(tokens, seqs, mla)
        return rank_template(self.est, _without_attention(g), cuda_graph=graph_mode)

    def _finish(self, t: float, e_dyn: float, host_s: float = 0.0) -> StepCost:
        t, energy, _ = self.est.finish(t, e_dyn, host_s)
        return StepCost(t, energy)


# One unit of each aggregate of an attention kernel, where ``attention_from_totals`` takes it: decode
# (sequences, pairs), prefill (chunks, query tokens, KV tokens read, pairs).
_Unit = tuple[tuple[int, int] | None, tuple[int, int, int, int] | None]
_DECODE_UNITS: tuple[_Unit, ...] = (((1, 0), None), ((0, 1), None))
_PREFILL_UNITS: tuple[_Unit, ...] = (
    (None, (1, 0, 0, 0)),
    (None, (0, 1, 0, 0)),
    (None, (0, 0, 1, 0)),
    (None, (0, 0, 0, 1)),
)


@dataclass(frozen=True, slots=True)
class _AttnKernel:
    """One attention kernel of a layer: per-chip FLOPs and bytes per unit of each aggregate, and
    op_time's attention rates and per-kernel costs, so a step prices it in a few multiplications."""

    flops: tuple[float, ...]
    bytes: tuple[float, ...]
    compute_rate: float  # peak * attn_prefill_eff (FLOP/s)
    mem_rate: float  # mem_bw * the phase's memory efficiency (decode: KV reads; prefill: streaming)
    pj_flop: float
    fixed_s: float  # kernel_s * kernels: device overhead
    graph_s: float  # graph_launch_s * kernels: replay cost under CUDA graphs
    eager_s: float  # eager_launch_s * kernels: host launch time, eager mode


def _merge_attn(
    groups: Iterable[tuple[tuple[str, bool], list[int]]],
) -> list[tuple[tuple[str, bool], list[int]]]:
    """Layer counts by attention kind only (MoE or dense does not change attention)."""
    merged: dict[str, list[int]] = {}
    for (attn, _), idx in groups:
        merged.setdefault(attn, []).extend(idx)
    return [((a, False), idx) for a, idx in merged.items()]


def _without_attention(g: Graph) -> Graph:
    return replace(g, ops=tuple(o for o in g.ops if o.kind != "attention"))
