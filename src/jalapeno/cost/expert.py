"""Expert parallelism with data-parallel attention: one step of an ``ep``-chip group, as its hottest rank sees
it.

Each chip runs the attention (and dense) layers of 1/dp of the group's sequences, ``tp`` wide
(``Parallel``'s convention: ep = tp x dp), and holds ``(experts + redundant) / ep`` whole experts of
every MoE layer. Per MoE layer, every chip sends each of its tokens to the ranks of its top-k
experts (dispatch) and gets the weighted outputs back (combine): two all-to-alls of
``tokens / tp x top_k x hidden x activation bytes`` a chip (the combine in BF16 when activations
are 8-bit, ``combine_bytes``), priced over the network
(``cost.network.collective_s``: direct on a switch, hierarchical over the NICs when the group spans
scale-up domains). With ``Parallel.ep_dispatch == "per_node"`` (DeepEP's normal kernels, which
SGLang and DeepSeek run for prefill) a token crosses the NICs once to each remote node its experts
are on and is forwarded inside the node over the scale-up links (``ep_all_to_all_s``); the default
``per_expert`` sends a copy a token-expert pair (DeepEP's low-latency kernels, run for decode). Work
per expert rank: ``imbalance x tokens x top_k / ep`` token-expert pairs,
reading the weights of the local experts they touch.

Imbalance: the hottest rank's pairs over the mean. It sets the step's time (every rank waits for
it in the combine), while energy counts the mean rank on every chip. Default: the statistical floor
of uniform routing (the hottest of ``ep`` binomial loads, normal extreme-value approximation
mean + sd sqrt(2 ln ep)); real routers skew more. With routing statistics (tokens per expert),
``eplb_imbalance`` places experts as DeepSeek's EPLB does (``deepseek-ai/EPLB``, eplb.py: the
redundant slots go one by one to the expert with the most load per replica, then replicas are
packed heaviest first onto the least-loaded rank with a free slot) and returns its max/mean.

Data-parallel attention imbalance (``Parallel.attn_imbalance``, ``cost.ep_stats.dp_attention_imbalance``):
the slowest attention replica's KV load over the mean scales the hottest rank's decode attention
kernels (time only; energy counts the mean rank).

Two-micro-batch overlap (``tbo``; DeepSeek-V3 report section 3.4, "two micro-batches with similar
computational workloads, overlapping the attention and MoE of one micro-batch with the dispatch
and combine of another"; SGLang TBO): the step runs two halves, each lasting max(compute, all-to-all)
instead of their sum; each half reads the weights again, which the half-batch graphs count. All-to-all
kernels that hold ``Parallel.comm_sms`` cores for the step (DeepEP's normal kernels: DeepSeek's prefill
profile partitions the H800 into "Computation 108 SMs" and "Communication 24 SMs",
github.com/deepseek-ai/profile-data, assets/prefill.jpg) leave the compute the rest (``compute_share``).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from jalapeno.cost.ep_stats import remote_nodes
from jalapeno.cost.network import collective_s, scale_up_s, sent_bytes, tp_collective
from jalapeno.cost.op_time import ChipRates
from jalapeno.cost.pipeline import Parallel
from jalapeno.cost.step import Estimator, OpCost, StepCost
from jalapeno.cost.tbo_stages import EP_EXPERTS, layer_blocks, stack_s
from jalapeno.errors import JalapenoError
from jalapeno.graph.builder import Graph, expected_experts
from jalapeno.graph.ops import Op
from jalapeno.hardware.network import Network, network_of
from jalapeno.models.config import ModelConfig


def uniform_imbalance(pairs: float, ep: int) -> float:
    """Hottest of ``ep`` ranks over the mean when ``pairs`` token-expert picks land uniformly."""
    if ep <= 1 or pairs <= 0:
        return 1.0
    mean = pairs / ep
    sd = math.sqrt(pairs * (1.0 / ep) * (1.0 - 1.0 / ep))
    return 1.0 + sd * math.sqrt(2.0 * math.log(ep)) / mean


def eplb_imbalance(loads: Sequence[float], ep: int, redundant: int = 0) -> float:
    """Max/mean rank load after EPLB-style replication and packing of experts with ``loads``."""
    n = len(loads)
    if ep < 1 or (n + redundant) % ep or any(x < 0 for x in loads) or sum(loads) <= 0:
        raise JalapenoError(
            f"{n} experts + {redundant} redundant over {ep} ranks, loads >= 0 and not all 0",
            field="expert_loads",
        )
    replicas = [1] * n
    for _ in range(redundant):
        i = max(range(n), key=lambda e: (loads[e] / replicas[e], -e))
        replicas[i] += 1
    items = sorted(((loads[e] / replicas[e], e) for e in range(n) for _ in range(replicas[e])), reverse=True)
    slots = (n + redundant) // ep
    ranks = [(0.0, r, 0) for r in range(ep)]  # (load, rank, experts placed)
    heapq.heapify(ranks)
    full: list[tuple[float, int, int]] = []
    for w, _ in items:
        load, r, k = heapq.heappop(ranks)
        if k + 1 == slots:
            full.append((load + w, r, k + 1))
        else:
            heapq.heappush(ranks, (load + w, r, k + 1))
    per_rank = [x[0] for x in full + ranks]
    return max(per_rank) / (sum(per_rank) / ep)


@dataclass(frozen=True)
class ExpertCost:
    """The expert-parallel terms of one step (all micro-batches), for reports."""

    imbalance: float
    micro_batches: int  # 2 with two-batch overlap
    compute_s: float  # the hottest rank's device time without the all-to-alls
    all_to_all_s: float  # dispatch + combine, all MoE layers
    algorithm: str
    dispatch_bytes_per_chip: float  # one dispatch of one MoE layer, one micro-batch (before imbalance)
    hidden_s: float  # all-to-all time hidden under compute by the overlap

    def to_json(self) -> dict[str, object]:
        return {
            "imbalance": self.imbalance,
            "micro_batches": self.micro_batches,
            "compute_s": self.compute_s,
            "all_to_all_s": self.all_to_all_s,
            "algorithm": self.algorithm,
            "dispatch_bytes_per_chip": self.dispatch_bytes_per_chip,
            "hidden_s": self.hidden_s,
        }


def combine_bytes(activation_bytes: float) -> float:
    """Bytes an element of the combine carries: 8-bit activations are dispatched in FP8 but combined
    in BF16 (DeepSeek-V3 report, arXiv:2412.19437, section 3.3.3: "for both the forward and backward
    combine components, we retain them in BF16"; DeepEP's low-latency kernels: FP8 dispatch, BF16
    combine); wider activations travel as they are."""
    return max(activation_bytes, 2.0)


def rank_experts(
    op: Op, cfg: ModelConfig, local_tokens: int, group_tokens: int, par: Parallel, gamma: float
) -> Op:
    """The ``experts`` op of a graph built for ``local_tokens`` turned into one rank's share of the
    group's ``group_tokens``: ``gamma`` x the mean pairs, over its (experts + redundant)/ep slots."""
    moe = cfg.moe
    assert moe is not None
    k, n = moe.experts_per_token, moe.num_experts
    rows = local_tokens * k
    pairs = gamma * group_tokens * k / par.ep
    slots = (n + par.redundant_experts) / par.ep
    touched = slots * (1.0 - (1.0 - 1.0 / slots) ** pairs) if slots > 1 else min(1.0, pairs)
    per_expert = op.weight_bytes / expected_experts(n, k, local_tokens)
    f = pairs / rows
    return replace(
        op,
        name=EP_EXPERTS,
        flops=op.flops * f,
        weight_bytes=touched * per_expert,
        act_read_bytes=op.act_read_bytes * f,
        act_write_bytes=op.act_write_bytes * f,
        m=max(1, math.ceil(pairs / max(touched, 1e-9))),
        groups=max(1, round(touched)),
    )


def slowest_attention(op: Op, alpha: float) -> Op:
    """A decode attention kernel on the slowest data-parallel rank: ``alpha`` x the mean rank's KV reads
    and FLOPs (the same number of queries); any other op as it is."""
    a = op.attention
    if alpha == 1.0 or a is None or a.phase != "decode":
        return op
    return replace(op, flops=op.flops * alpha, kv_read_bytes=op.kv_read_bytes * alpha)


def rank_graph(
    g: Graph, cfg: ModelConfig, group_tokens: int, par: Parallel, gamma: float, alpha: float = 1.0
) -> Graph:
    """One rank's graph: its share of the experts at ``gamma`` x the mean pairs, its decode attention at
    ``alpha`` x the mean KV load (the hottest rank: ``par.attn_imbalance``; the mean rank: 1)."""
    t = g.batch.new_tokens
    ops = tuple(
        rank_experts(o, cfg, t, group_tokens, par, gamma)
        if o.name == "experts"
        else slowest_attention(o, alpha)
        for o in g.ops
    )
    return replace(g, ops=ops)


def tp_comm(est: Estimator, g: Graph) -> tuple[float, float]:
    """Tensor-parallel collectives of one attention replica: one all-reduce after attention in a MoE
    layer (its experts combine by all-to-all), two in a dense layer, the logits gather; in the residual
    stream's format (``Precision.residual``)."""
    if est.tp == 1:
        return 0.0, 0.0
    net, tp = network(est), est.tp
    head = next(o for o in g.ops if o.name == "lm_head")
    rb = g.precision.residual.bytes_per_element
    layers = sum(o.repeat for o in g.ops if o.name == "attn_norm")
    moe = sum(o.repeat for o in g.ops if o.name == "experts")
    hidden_b, logit_b = g.batch.new_tokens * head.k * rb, head.m * head.n * rb
    reduces = 2 * layers - moe
    t_ar, algo = tp_collective(net, "all_reduce", hidden_b, tp)
    t = reduces * t_ar + tp_collective(net, "all_gather", logit_b, tp)[0]
    moved = reduces * sent_bytes("all_reduce", algo, hidden_b, tp)
    moved += sent_bytes("all_gather", "ring", logit_b, tp)
    return t, moved * tp


def network(est: Estimator) -> Network:
    net = network_of(est.chip)
    if net is None:
        raise JalapenoError(f"chip {est.chip.name!r} has no chip-to-chip links; use --ep 1", field="ep")
    return net


@dataclass(frozen=True)
class RankWork:
    """One micro-batch's work on the hottest rank, and the group's counts."""

    compute_s: float  # the hottest rank's device time: its ops and its tensor-parallel collectives
    all_to_all_s: float  # dispatch + combine over all MoE layers
    dyn_j: float  # dynamic energy of all chips (mean rank on each) and of the link bytes
    host_s: float
    link_bytes: float  # all chips
    flops: float  # all chips
    mem_bytes: float  # all chips
    tp_comm_s: float
    dispatch_bytes: float  # one chip, one dispatch of one MoE layer (before imbalance)
    algorithm: str
    costs: tuple[OpCost, ...]  # the hottest rank's ops
    dispatch_s: float = 0.0  # one dispatch of one MoE layer (the hottest rank's bytes)
    combine_s: float = 0.0


def rank_work(
    est: Estimator,
    cfg: ModelConfig,
    par: Parallel,
    g: Graph,
    group_tokens: int,
    gamma: float,
    *,
    cuda_graph: bool,
) -> RankWork:
    """Price one micro-batch: ``g`` is one rank's graph (its attention replica's tokens), ``group_tokens``
    the group's tokens routed over the ``ep`` expert ranks."""
    moe = cfg.moe
    assert moe is not None
    hot = rank_graph(g, cfg, group_tokens, par, gamma, par.attn_imbalance)
    mean = rank_graph(g, cfg, group_tokens, par, 1.0)
    costs, t_hot, _, h = est.price_ops(hot, cuda_graph=cuda_graph)
    mcosts, _, e_mean, _ = est.price_ops(mean, cuda_graph=cuda_graph)
    flops = mem = 0.0
    for c in mcosts:
        flops, mem = flops + c.sharded.flops * c.op.repeat, mem + c.sharded.bytes * c.op.repeat
    return _assemble(
        est, cfg, par, g, group_tokens, gamma, t_hot, e_mean, h, flops, mem, *tp_comm(est, g), tuple(costs)
    )


def _assemble(
    est: Estimator,
    cfg: ModelConfig,
    par: Parallel,
    g: Graph,
    group_tokens: int,
    gamma: float,
    t_hot: float,
    e_mean: float,
    h: float,
    flops: float,
    mem: float,
    c_s: float,
    c_bytes: float,
    costs: tuple[OpCost, ...],
) -> RankWork:
    """The rank's work from its priced ops (hottest rank's time, mean rank's energy, one chip's FLOPs and
    bytes) plus its collectives: tensor-parallel ones and the dispatch/combine all-to-alls."""
    moe = cfg.moe
    assert moe is not None
    n_moe = sum(o.repeat for o in g.ops if o.name == "experts")
    ab = g.precision.activations.bytes_per_element
    b = g.batch.new_tokens / est.tp * moe.experts_per_token * cfg.hidden_size * ab
    bc = b * combine_bytes(ab) / ab
    one, algo, copies = ep_all_to_all_s(network(est), cfg, par, gamma * b)
    back, _, _ = ep_all_to_all_s(network(est), cfg, par, gamma * bc)
    x_bytes = n_moe * copies * (b + bc)  # all chips
    link = c_bytes * par.dp + x_bytes
    dyn = e_mean * par.dp + link * est.params.pj_per_byte_link * 1e-12
    return RankWork(
        t_hot + c_s,
        n_moe * (one + back),
        dyn,
        h,
        link,
        flops * par.chips,
        mem * par.chips,
        c_s,
        b,
        algo,
        costs,
        one,
        back,
    )


def node_fraction(cfg: ModelConfig, par: Parallel, domain: int) -> float:
    """Bytes a chip sends over its NICs in one per-node dispatch, over the per-expert send buffer: the
    remote nodes a token reaches (``cost.ep_stats.remote_nodes``, group-limited routing from the model's
    ``expert_groups`` / ``groups_per_token``) over its top-k experts."""
    moe = cfg.moe
    assert moe is not None
    nodes, k = par.ep // domain, moe.experts_per_token
    n, groups, top = moe.num_experts, moe.expert_groups, moe.groups_per_token
    if n % nodes:  # experts do not split over the nodes: uniform over the (experts + redundant) slots
        n, groups, top = n + par.redundant_experts, 1, 1
    return remote_nodes(n, k, nodes, groups, top) / k


def ep_all_to_all_s(net: Network, cfg: ModelConfig, par: Parallel, b: float) -> tuple[float, str, float]:
    """(seconds, algorithm, bytes all chips send over the links per byte of ``b``) of one dispatch or
    combine of ``b`` bytes a chip (per-expert copies) over the ``ep`` group. ``per_expert``:
    ``cost.network.collective_s`` (hierarchical across domains: (ep - d)/ep b over the NIC). ``per_node``
    across domains (DeepEP's normal kernels): ``node_fraction`` x b over the NIC, the per-expert copies
    forwarded inside the domain (a direct all-to-all of b), the two overlapped, each with its latency.
    Link bytes count every chip's sends once: (ep - 1) b per expert, (d - 1) b + ep x the NIC part per
    node."""
    d = net.scale_up.domain_size
    if par.ep_dispatch == "per_expert" or par.ep <= d:
        t, algo = collective_s(net, "all_to_all", b, par.ep)
        return t, algo, float(par.ep - 1)
    out = net.scale_out
    assert out is not None
    f = node_fraction(cfg, par, d)
    t_up, name = scale_up_s(net.scale_up, "all_to_all", b, d) if d > 1 else (0.0, "none")
    t = max(f * b / out.bw_bytes_per_s + out.latency_s, t_up)
    return t, f"hierarchical({name}),per-node", d - 1 + par.ep * f


@dataclass(frozen=True)
class RankTemplate:
    """What one rank's step costs apart from its experts, for one attention replica's token batch: the
    serving oracle keeps one per (tokens, sequences) and prices only the expert ops per group size and
    imbalance (``rank_work_from``), the same sums in the same order as ``rank_work``."""

    graph: Graph
    rows: tuple[
        tuple[float, float, float, float, float] | None, ...
    ]  # per op: time, J, host, FLOPs, bytes; None: experts
    tp_s: float
    tp_bytes: float


def _row(est: Estimator, op: Op, cuda_graph: bool) -> tuple[float, float, float, float, float]:
    (c,), t, e, h = est.price_op_list((op,), cuda_graph=cuda_graph)
    return t, e, h, c.sharded.flops * c.op.repeat, c.sharded.bytes * c.op.repeat


def _hot_row(
    est: Estimator, op: Op, alpha: float, cuda_graph: bool
) -> tuple[float, float, float, float, float]:
    """A non-expert op's row: time and host time on the slowest rank, energy and counts of the mean."""
    row = _row(est, op, cuda_graph)
    hot = slowest_attention(op, alpha)
    if hot is op:
        return row
    t, _, h, _, _ = _row(est, hot, cuda_graph)
    return t, row[1], h, row[3], row[4]


def rank_template(est: Estimator, g: Graph, *, cuda_graph: bool, alpha: float = 1.0) -> RankTemplate:
    rows = tuple(None if o.name == "experts" else _hot_row(est, o, alpha, cuda_graph) for o in g.ops)
    return RankTemplate(g, rows, *tp_comm(est, g))


def rank_work_from(
    est: Estimator,
    cfg: ModelConfig,
    par: Parallel,
    tpl: RankTemplate,
    group_tokens: int,
    gamma: float,
    *,
    cuda_graph: bool,
) -> RankWork:
    """``rank_work`` of the template's graph, pricing only its expert ops (no per-op rows: ``costs``
    is empty). Equal to ``rank_work`` to the last bit (tests/test_expert_parallel.py)."""
    moe = cfg.moe
    assert moe is not None
    g = tpl.graph
    t_hot = e_mean = host = flops = mem = 0.0
    for op, row in zip(g.ops, tpl.rows, strict=True):
        if row is None:
            t, _, h, _, _ = _row(
                est, rank_experts(op, cfg, g.batch.new_tokens, group_tokens, par, gamma), cuda_graph
            )
            _, e, _, f, b = _row(
                est, rank_experts(op, cfg, g.batch.new_tokens, group_tokens, par, 1.0), cuda_graph
            )
            t_hot, e_mean, host, flops, mem = t_hot + t, e_mean + e, host + h, flops + f, mem + b
        else:
            t_hot, e_mean, host = t_hot + row[0], e_mean + row[1], host + row[2]
            flops, mem = flops + row[3], mem + row[4]
    return _assemble(
        est, cfg, par, g, group_tokens, gamma, t_hot, e_mean, host, flops, mem, tpl.tp_s, tpl.tp_bytes, ()
    )


def overlap(works: Sequence[RankWork]) -> tuple[float, float]:
    """(device seconds, all-to-all seconds hidden): with two micro-batches each lasts max(compute,
    all-to-all); a single batch runs them one after the other."""
    if len(works) == 1:
        return works[0].compute_s + works[0].all_to_all_s, 0.0
    steps = [max(w.compute_s, w.all_to_all_s) for w in works]
    return sum(steps), sum(w.compute_s + w.all_to_all_s for w in works) - sum(steps)


def compute_share(est: Estimator, comm_sms: int) -> Estimator:
    """The estimator for compute that shares the chip with all-to-all kernels holding ``comm_sms`` of its
    cores: the matrix and vector rates and the core count (wave quantization) scale to the remaining
    cores; memory bandwidth does not (the rest still streams HBM at full rate, an assumption)."""
    if comm_sms == 0:
        return est
    r = est.rates
    if est.custom_timer or comm_sms >= r.cores:
        raise JalapenoError(
            f"{comm_sms} communication cores of {r.cores} on {est.chip.name} (a datasheet preset with "
            f"more cores than that)",
            field="comm_sms",
        )
    f = (r.cores - comm_sms) / r.cores
    out = Estimator(est.chip, est.params, est.tp)
    peak = {d: v * f for d, v in r.peak.items()}
    out.rates = ChipRates(peak, r.vector_flops * f, r.mem_bw, r.cores - comm_sms)
    return out


def gamma_of(cfg: ModelConfig, par: Parallel, group_tokens: int) -> float:
    moe = cfg.moe
    assert moe is not None
    return par.ep_imbalance or uniform_imbalance(group_tokens * moe.experts_per_token, par.ep)


def staged_overlap(works: Sequence[RankWork], schedule: str) -> tuple[float, float]:
    """``overlap`` of two micro-batches under a published schedule (``cost.tbo_stages``): their compute
    outside the MoE layers plus the simulated MoE stack (compute blocks, awaited all-to-alls)."""
    a, b = (layer_blocks(w.costs, w.dispatch_s, w.combine_s) for w in works)
    n_moe = next(c.op.repeat for c in works[0].costs if c.op.name == EP_EXPERTS)
    rest = sum(w.compute_s for w in works) - n_moe * (a.compute_s + b.compute_s)
    device = rest + stack_s(schedule, a, b, n_moe)
    return device, sum(w.compute_s + w.all_to_all_s for w in works) - device


def ep_step(
    est: Estimator,
    cfg: ModelConfig,
    par: Parallel,
    micro: Sequence[tuple[Graph, int]],
    *,
    cuda_graph: bool,
    schedule: str = "",
) -> tuple[StepCost, ExpertCost]:
    """One step of the group: ``micro`` = (one rank's graph, the group's new tokens) per micro-batch
    (two with ``tbo``). Returns the group's StepCost (time of the hottest rank, energy of all chips).
    ``schedule`` ("prefill" or "decode", ``cost.tbo_stages``): two micro-batches overlap block by block as
    that published schedule runs them (``staged_overlap``), not step by step."""
    prm = est.params
    total = sum(gt for _, gt in micro)
    gamma = gamma_of(cfg, par, total)
    shared = compute_share(est, par.comm_sms) if len(micro) > 1 else est  # only overlapped steps share
    works = [rank_work(shared, cfg, par, g, gt, gamma, cuda_graph=cuda_graph) for g, gt in micro]
    staged = schedule and len(works) == 2
    device, hidden = staged_overlap(works, schedule) if staged else overlap(works)
    dyn, host = sum(w.dyn_j for w in works), sum(w.host_s for w in works)
    span, energy_tp, capped = est.finish(device, dyn / par.dp, host)
    rows = works[0].costs
    launch = (prm.graph_launch_s if cuda_graph else prm.eager_launch_s) * sum(
        c.time.kernels * c.op.repeat for c in rows
    )
    a2a = sum(w.all_to_all_s for w in works)
    sc = StepCost(
        span,
        energy_tp * par.dp,
        rows,
        a2a + sum(w.tp_comm_s for w in works),
        launch,
        capped,
        par.chips,
        total,
        sum(w.flops for w in works),
        sum(w.mem_bytes for w in works),
        sum(w.link_bytes for w in works),
        max(0.0, host - device),
        max(0.0, span - prm.step_overhead_s - max(device, host)),
        prm.step_overhead_s,
    )
    xc = ExpertCost(
        gamma,
        len(works),
        sum(w.compute_s for w in works),
        a2a,
        works[0].algorithm,
        works[0].dispatch_bytes,
        hidden,
    )
    return sc, xc


def weights_per_chip(cfg: ModelConfig, g: Graph, par: Parallel) -> float:
    """Bytes of weights one chip holds: the non-expert weights / tp, the expert slots it hosts."""
    wb = g.precision.weights.bytes_per_element
    expert = sum(o.params * o.repeat for o in g.ops if o.name == "experts") * wb
    total = g.params * wb
    if par.ep == 1:
        return total / (par.tp * par.pp)
    moe = cfg.moe
    assert moe is not None
    slots = (moe.num_experts + par.redundant_experts) / moe.num_experts
    return (total - expert) / par.tp + expert * slots / par.ep
