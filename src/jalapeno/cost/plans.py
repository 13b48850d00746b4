"""Splitting a model over chips: tensor (tp), pipeline (pp) and expert (ep) parallelism.

A plan uses ``tp x pp`` chips: each pipeline stage holds ``ceil(layers / pp)`` layers sharded
``tp`` ways; MoE experts are spread over ``ep`` of a stage's ``tp`` chips (ep divides tp), which
turns the MLP's all-reduce into an all-to-all dispatch and combine. Per step and stage:

* tensor parallel: two all-reduces of the hidden state a layer (attention, MLP), a logits all-gather;
* expert parallel: all-to-all of the routed tokens (tokens x top-k x hidden) in and out of the experts;
* pipeline: the hidden state of every token sent point to point to the next stage.

``check_fit`` rejects a plan whose per-chip weights plus KV cache exceed the chip's memory, with the
numbers; ``plan_step`` prices one step (latency through all stages, and the pipelined step time of
the slowest stage) with the mapper (or any ``OpTimer``) for the ops and ``cost.network`` (the same
collectives as the step estimator's) for the links.

``Plan`` is not ``cost.pipeline.Parallel``: a plan may combine pipeline stages with expert parallelism
and spread experts over any divisor of ``tp``, which ``Parallel`` (the serving path's plan) rejects;
merging them waits until ``Parallel`` models ep with pp.

It lives in ``cost`` (it was ``mapping.parallel``): a plan is chosen by pricing it, and pricing needs the
``Estimator``; the mapper reaches it only as an ``OpTimer``, so mapping stays below cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from jalapeno.cost.network import collective_s, p2p_s, sent_bytes, tp_collective
from jalapeno.cost.oracle import kv_bytes_per_token, weight_bytes
from jalapeno.cost.params import CostParams
from jalapeno.cost.step import Estimator, OpTimer
from jalapeno.errors import JalapenoError
from jalapeno.graph.batch import Batch
from jalapeno.graph.builder import Graph, build_graph
from jalapeno.graph.precision import Precision
from jalapeno.hardware.network import Network, network_of
from jalapeno.hardware.spec import ChipSpec
from jalapeno.models.config import ModelConfig

RESERVE = 0.10  # memory kept for activations, runtime buffers and fragmentation


@dataclass(frozen=True)
class Plan:
    tp: int = 1
    pp: int = 1
    ep: int = 1

    def __post_init__(self) -> None:
        for k in ("tp", "pp", "ep"):
            if getattr(self, k) < 1:
                raise JalapenoError(f"must be >= 1, got {getattr(self, k)}", field=k)
        if self.tp % self.ep:
            raise JalapenoError(
                f"ep={self.ep} must divide tp={self.tp} (experts spread over a stage's chips)", field="ep"
            )

    @property
    def chips(self) -> int:
        return self.tp * self.pp


@dataclass(frozen=True)
class Fit:
    weights_per_chip: float
    kv_per_chip: float
    capacity_per_chip: float

    @property
    def fits(self) -> bool:
        return self.weights_per_chip + self.kv_per_chip <= self.capacity_per_chip * (1 - RESERVE)


@dataclass(frozen=True)
class PlanCost:
    plan: Plan
    latency_s: float  # one step through every stage
    stage_s: float  # slowest stage for this batch: batch / stage_s is the rate with pp batches in flight
    ops_s: float  # per stage
    tp_comm_s: float
    ep_comm_s: float
    pp_comm_s: float
    link_bytes: float  # per chip per step

    def to_json(self) -> dict[str, float | int]:
        return {
            "tp": self.plan.tp,
            "pp": self.plan.pp,
            "ep": self.plan.ep,
            "chips": self.plan.chips,
            "latency_s": self.latency_s,
            "slowest_stage_s": self.stage_s,
            "ops_s": self.ops_s,
            "tp_comm_s": self.tp_comm_s,
            "ep_comm_s": self.ep_comm_s,
            "pp_comm_s": self.pp_comm_s,
            "link_bytes": self.link_bytes,
        }


def memory_fit(cfg: ModelConfig, chip: ChipSpec, plan: Plan, precision: Precision, kv_tokens: int) -> Fit:
    w = weight_bytes(cfg, precision) / plan.chips
    kv = kv_bytes_per_token(cfg, precision) * kv_tokens / plan.chips
    return Fit(w, kv, chip.memory_bytes)


def check_fit(cfg: ModelConfig, chip: ChipSpec, plan: Plan, precision: Precision, kv_tokens: int) -> Fit:
    """The plan's per-chip memory, or a ``JalapenoError`` saying which numbers do not fit."""
    f = memory_fit(cfg, chip, plan, precision, kv_tokens)
    if not f.fits:
        need = f.weights_per_chip + f.kv_per_chip
        have = f.capacity_per_chip * (1 - RESERVE)
        chips = math.ceil(plan.chips * need / have)
        raise JalapenoError(
            f"{cfg.name} on {plan.chips} x {chip.name} (tp={plan.tp}, pp={plan.pp}, ep={plan.ep}): "
            f"{f.weights_per_chip / 1e9:.2f} GB weights + {f.kv_per_chip / 1e9:.2f} GB KV cache ({kv_tokens} "
            f"tokens) = {need / 1e9:.2f} GB per chip > {have / 1e9:.2f} GB usable "
            f"({f.capacity_per_chip / 1e9:.2f} "
            f"GB less {RESERVE:.0%} reserve); needs about {chips} chips",
            field="memory",
        )
    return f


def check_domain(chip: ChipSpec, plan: Plan) -> Network | None:
    fab = network_of(chip)
    if plan.chips > 1 and fab is None:
        raise JalapenoError(
            f"chip {chip.name!r} has no chip-to-chip links; a {plan.chips}-chip plan needs them", field="plan"
        )
    ic = chip.interconnect
    if ic is not None and plan.chips > ic.domain_size.value:
        raise JalapenoError(
            f"{plan.chips} chips exceed the {int(ic.domain_size.value)}-chip scale-up domain of {chip.name}",
            field="plan",
        )
    return fab


def stage_graph(graph: Graph, pp: int) -> Graph:
    """The slowest stage: ceil(layers / pp) of each repeated layer op, plus embedding and LM head."""
    if pp == 1:
        return graph
    ops = tuple(
        replace(o, repeat=max(1, math.ceil(o.repeat / pp))) if o.layers != "-" else o for o in graph.ops
    )
    return replace(graph, ops=ops)


def plan_step(
    cfg: ModelConfig,
    chip: ChipSpec,
    plan: Plan,
    batch: Batch,
    precision: Precision,
    params: CostParams,
    timer: OpTimer | None = None,
    *,
    cuda_graph: bool = True,
) -> PlanCost:
    fab = check_domain(chip, plan)
    graph = build_graph(cfg, batch, precision)
    stage = stage_graph(graph, plan.pp)
    est = Estimator(chip, params, plan.tp, timer)
    _, dev_s, _, host_s = est.price_ops(stage, cuda_graph=cuda_graph)
    ops_s = max(dev_s, host_s)  # eager launches overlap the device's work
    layers = sum(o.repeat for o in stage.ops if o.name == "attn_norm")
    moe_layers = sum(o.repeat for o in stage.ops if o.kind == "moe")
    ab = precision.activations.bytes_per_element
    hidden = graph.batch.new_tokens * cfg.hidden_size * ab
    tp_s = ep_s = pp_s = moved = 0.0
    if fab is not None and plan.tp > 1:
        rb = precision.residual.bytes_per_element  # all-reduces sum the residual stream's format
        summed = graph.batch.new_tokens * cfg.hidden_size * rb
        ar, algo = tp_collective(fab, "all_reduce", summed, plan.tp)
        n_ar = 2 * layers - (moe_layers if plan.ep > 1 else 0)
        logits = graph.batch.logits_tokens * cfg.vocab_size * rb
        tp_s = n_ar * ar + tp_collective(fab, "all_gather", logits, plan.tp)[0]
        moved += n_ar * sent_bytes("all_reduce", algo, summed, plan.tp)
    if fab is not None and plan.ep > 1 and moe_layers:
        k = cfg.moe.experts_per_token if cfg.moe else 1
        routed = hidden * k
        ep_s = 2 * moe_layers * collective_s(fab, "all_to_all", routed, plan.ep)[0]
        moved += 2 * moe_layers * (plan.ep - 1) / plan.ep * routed
    if fab is not None and plan.pp > 1:
        pp_s = p2p_s(fab, hidden)
        moved += hidden
    stage_s = ops_s + tp_s + ep_s + pp_s
    latency = plan.pp * (ops_s + tp_s + ep_s) + (plan.pp - 1) * pp_s
    return PlanCost(plan, latency, stage_s, ops_s, tp_s, ep_s, pp_s, moved)


def search_plans(
    cfg: ModelConfig,
    chip: ChipSpec,
    batch: Batch,
    precision: Precision,
    params: CostParams,
    timer: OpTimer | None = None,
    *,
    max_chips: int = 64,
    kv_tokens: int | None = None,
) -> list[PlanCost]:
    """Every (tp, pp, ep) of powers of two that fits, fastest pipelined step first."""
    limit = min(max_chips, chip.scale_up_chips)
    toks = kv_tokens if kv_tokens is not None else sum(s.new_tokens + s.cached_tokens for s in batch.seqs)
    out = []
    for tp in (1 << i for i in range(8)):
        for pp in (1 << i for i in range(8)):
            if tp * pp > limit:
                continue
            for ep in {1, tp} if cfg.moe else {1}:
                plan = Plan(tp, pp, ep)
                if memory_fit(cfg, chip, plan, precision, toks).fits:
                    out.append(plan_step(cfg, chip, plan, batch, precision, params, timer))
    return sorted(out, key=lambda c: (c.stage_s, c.plan.chips))
