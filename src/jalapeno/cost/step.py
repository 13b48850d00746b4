"""Time and energy of one step (a Graph) on a deployment of ``tp`` chips.

Ops run one after another (a decoder step is a chain); tensor parallelism divides the sharded ops'
work by ``tp`` and adds two all-reduces a layer. Energy = static power x time + counted work x
energy per action; if that power exceeds the chip's limit, the step stretches until it does not.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from jalapeno.cost.fused_gemm import fused_4bit_time, is_fused_4bit
from jalapeno.cost.network import sent_bytes, tp_collective
from jalapeno.cost.op_time import ChipRates, OpTime, op_time
from jalapeno.cost.params import CostParams
from jalapeno.errors import JalapenoError
from jalapeno.graph.builder import Graph
from jalapeno.graph.ops import Op
from jalapeno.hardware.network import Network, network_of
from jalapeno.hardware.spec import ChipSpec
from jalapeno.memo import remember
from jalapeno.seams.op_timing import OpTimer as OpTimer  # re-exported: cost.step.OpTimer

# Ops every tensor-parallel rank repeats in full (hidden-sized elementwise work, the embedding gather).
# ``ep_experts``: one expert-parallel rank's whole experts (``cost.expert``).
REPLICATED = frozenset(
    {
        "attn_norm",
        "mlp_norm",
        "final_norm",
        "residual_add",
        "embedding",
        "moe_combine",
        "q_a_norm",
        "kv_a_norm",
        "q_a_proj",
        "kv_a_proj",
        "ep_experts",
    }
)
# Row-parallel matmuls: their K (input) dimension is split; the others split N (output columns).
ROW_PARALLEL = frozenset({"o_proj", "down", "shared_down", "v_absorb"})


@dataclass(frozen=True, slots=True)
class OpCost:
    op: Op
    sharded: Op  # one chip's share of ``op`` under tensor parallelism
    time: OpTime  # one instance on one chip (after tensor-parallel sharding)
    total_s: float  # all instances, launch costs included
    energy_j: float  # all instances, all chips, dynamic only

    @property
    def roofline_fraction(self) -> float:
        return self.time.roofline_s / self.time.time_s if self.time.time_s > 0 else 1.0


@dataclass(frozen=True)
class StepCost:
    time_s: float
    energy_j: float  # all chips of the replica
    ops: tuple[OpCost, ...]
    comm_s: float
    launch_s: float
    power_capped: bool
    chips: int
    tokens: int
    flops: float  # all chips
    mem_bytes: float  # main-memory bytes, all chips
    link_bytes: float
    host_wait_s: float = 0.0  # device idle waiting on eager launches the host could not hide
    throttle_s: float = 0.0  # added by lowering the clock to stay within the power limit
    overhead_s: float = 0.0  # serial host work between steps (step_overhead_s)

    @property
    def power_w(self) -> float:
        """Average power of the whole replica (all ``chips``) during the step."""
        return self.energy_j / self.time_s

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.time_s


def shard(op: Op, tp: int) -> Op:
    """One rank's share of ``op`` under ``tp``-way tensor parallelism."""
    if tp == 1 or op.name in REPLICATED:
        return op
    f = 1.0 / tp
    kw: dict[str, Any] = {
        "flops": op.flops * f,
        "weight_bytes": op.weight_bytes * f,
        "act_read_bytes": op.act_read_bytes * f,
        "act_write_bytes": op.act_write_bytes * f,
        "kv_read_bytes": op.kv_read_bytes * f,
        "kv_write_bytes": op.kv_write_bytes * f,
    }
    if op.m:
        if op.name in ROW_PARALLEL:
            kw["k"] = max(1, op.k // tp)
        else:
            kw["n"] = max(1, op.n // tp)
    return replace(op, **kw)


# ``shard`` of op objects that outlive one oracle (``explore.FastOracle``'s shared graphs and attention ops),
# for every oracle of the process: keyed by identity and tp (the entry holds the op: its id cannot be reused)
_SHARDS: dict[tuple[int, int], tuple[Op, Op]] = {}


def _shared_shard(op: Op, tp: int) -> Op:
    hit = _SHARDS.get((id(op), tp))
    if hit is None:
        hit = remember(_SHARDS, (id(op), tp), (op, shard(op, tp)))
    return hit[1]


def output_waves(op: Op, rates: ChipRates, prm: CostParams) -> float:
    """Waves of output tiles a GEMM writes, at least one: its (M x N) output in tiles of tile_m x tile_n
    (M padded to 16/32/64 rows when smaller, as ``op_time.matmul_compute_s``) over the chip's cores.
    Split-K does not add waves of output: a tile is final only when its K slices are summed."""
    small = next((t for t in (16, 32, 64) if op.m <= t), 0)
    tiles = math.ceil(op.m / (small or prm.tile_m)) * math.ceil(op.n / prm.tile_n) * max(1, op.groups)
    return max(1.0, tiles / rates.cores)


class Estimator:
    """Prices graphs on one chip type. Build once per (chip, params); ``step`` is pure and cheap."""

    def __init__(
        self,
        chip: ChipSpec,
        params: CostParams,
        tp: int = 1,
        timer: OpTimer | None = None,
        gemm_allreduce: bool = False,
    ) -> None:
        if tp < 1:
            raise JalapenoError(f"must be >= 1, got {tp}", field="tp")
        ic = chip.interconnect
        if tp > 1 and ic is None:
            raise JalapenoError(f"chip {chip.name!r} has no chip-to-chip links; use --tp 1", field="tp")
        if tp > 1 and ic is not None and tp > ic.domain_size.value:
            raise JalapenoError(
                f"{tp} exceeds the {int(ic.domain_size.value)}-chip scale-up domain of {chip.name}",
                field="tp",
            )
        self.chip, self.params, self.tp = chip, params, tp
        # each row-parallel GEMM fused with its all-reduce (TensorRT-LLM's gemm_allreduce_plugin):
        # ``fused_allreduce_saving_s``
        self.gemm_allreduce = gemm_allreduce
        self.net: Network | None = network_of(chip) if tp > 1 else None  # prices the collectives
        self.rates = ChipRates.of(chip)
        # how one (sharded) op is timed: the calibrated roofline model by default; a mapper for
        # parameterized processors (jalapeno.mapping) plugs in here
        self.custom_timer = timer is not None
        self.timer: OpTimer = timer or (lambda op: op_time(op, self.rates, self.params))
        self.idle_w = chip.idle_w.value if chip.idle_w else 0.1 * chip.tdp_w.value
        self.tdp_w = chip.tdp_w.value
        # opt-in (``explore.FastOracle``, whose graphs share interned ops): each op object's shard and time,
        # keyed by identity (the entry holds the op, so its id cannot be reused); the timer must be pure
        self.op_memo: dict[int, tuple[Op, Op, OpTime]] | None = None

    def price_ops(
        self, graph: Graph, *, cuda_graph: bool = True, keep: bool = True
    ) -> tuple[list[OpCost], float, float, float]:
        """``price_op_list`` over the graph's ops."""
        return self.price_op_list(graph.ops, cuda_graph=cuda_graph, keep=keep)

    def price_op_list(
        self, ops: Iterable[Op], *, cuda_graph: bool = True, keep: bool = True
    ) -> tuple[list[OpCost], float, float, float]:
        """Per-op costs, the device's busy time, dynamic energy and the host's launch time (no
        communication, no power cap).

        Eager kernels are queued asynchronously: the host runs ahead while long kernels execute, so the
        step lasts max(device busy, host launching) (see ``finish``), not the sum of per-kernel maxima.
        Under CUDA graphs the host launches once; each replayed kernel adds ``graph_launch_s`` on device.
        Energy: the timer's per-level count when it gives one (a mapped architecture: registers, SRAM, NoC,
        main memory, fused traffic), else FLOPs and main-memory bytes x the parameters' energies.
        ``keep=False``: the totals only (no per-op list: the serving oracle's hot path).
        """
        prm, tp = self.params, self.tp
        launch = prm.graph_launch_s if cuda_graph else 0.0
        eager = 0.0 if cuda_graph else prm.eager_launch_s
        costs, t_dev, host, e_dyn = [], 0.0, 0.0, 0.0
        fused = self.gemm_allreduce and tp > 1 and not self.custom_timer
        memo = self.op_memo
        for op in ops:
            hit = memo.get(id(op)) if memo is not None else None
            if hit is not None:
                s, ot = hit[1], hit[2]
            else:
                s = shard(op, tp) if memo is None else _shared_shard(op, tp)
                ot = self.timer(s)
                if fused and op.name in ROW_PARALLEL and is_fused_4bit(s):  # the plugin's one Blackwell tile
                    ot = fused_4bit_time(s, ot, self.rates, prm)
                if memo is not None:
                    remember(memo, id(op), (op, s, ot))
            per = ot.time_s + launch * ot.kernels
            e1 = (
                ot.energy_j
                if ot.energy_j is not None
                else (s.flops * prm.pj_flop(s.dtype) + s.bytes * prm.pj_per_byte_mem) * 1e-12
            )
            e = tp * op.repeat * e1
            if keep:
                costs.append(OpCost(op, s, ot, per * op.repeat, e))
            t_dev += per * op.repeat
            host += eager * ot.kernels * op.repeat
            e_dyn += e
        return costs, t_dev, e_dyn, host

    def finish(self, t: float, e_dyn: float, host_s: float = 0.0) -> tuple[float, float, bool]:
        """Add static power; if the chip would exceed its power limit, lower its clock until it does not.

        ``t`` is device-busy time, ``host_s`` the host's launch time of eager kernels (it overlaps the
        device's work; the step lasts the longer of the two) and ``step_overhead_s`` is serial host work
        between steps. DVFS: at clock fraction f device work takes t / f and each action costs f^beta of
        its full-clock energy (dynamic energy ~ C V^2 with V ~ f: beta = 2). Only device time stretches:
        a step waiting on its host draws less power per second and is throttled less.
        """
        prm = self.params
        static_w = self.idle_w + prm.active_static_w
        per_chip = e_dyn / self.tp
        span = max(t, host_s)
        capped = span > 0 and static_w + per_chip / span > self.tdp_w
        if capped:
            beta, room = prm.dvfs_beta, self.tdp_w - static_w
            # host-bound at full clock, and still after throttling down to the clock t / host_s at which
            # the device would become the slower one
            if host_s > t and static_w + per_chip * (t / host_s) ** beta / host_s <= self.tdp_w:
                f = (room * host_s / per_chip) ** (1.0 / beta)  # host-bound even after throttling
            else:
                f = (room * t / per_chip) ** (1.0 / (beta + 1.0))
            span, e_dyn = max(t / f, host_s), e_dyn * f**beta
        span += prm.step_overhead_s
        return span, self.tp * static_w * span + e_dyn, capped

    def step(self, graph: Graph, *, cuda_graph: bool = True) -> StepCost:
        prm, tp = self.params, self.tp
        costs, t_dev, e_dyn, host = self.price_ops(graph, cuda_graph=cuda_graph)
        comm_s, link_bytes = self.comm(graph)
        comm_s -= self.fused_allreduce_saving_s(costs, graph) * sum(
            o.repeat for o in graph.ops if o.name == "attn_norm"
        )
        e_dyn += link_bytes * prm.pj_per_byte_link * 1e-12
        device = t_dev + comm_s
        t, energy, capped = self.finish(device, e_dyn, host)
        span = max(device, host)
        flops = sum(tp * c.sharded.flops * c.op.repeat for c in costs)
        mem = sum(tp * c.sharded.bytes * c.op.repeat for c in costs)
        launch = (prm.graph_launch_s if cuda_graph else prm.eager_launch_s) * sum(
            c.time.kernels * c.op.repeat for c in costs
        )
        return StepCost(
            t,
            energy,
            tuple(costs),
            comm_s,
            launch,
            capped,
            tp,
            graph.batch.new_tokens,
            flops,
            mem,
            link_bytes,
            max(0.0, host - device),
            max(0.0, t - prm.step_overhead_s - span),
            prm.step_overhead_s,
        )

    def comm(self, graph: Graph) -> tuple[float, float]:
        """Two all-reduces of the hidden state a layer (after attention and after the MLP), one logits
        gather, in the residual stream's format (16-bit under fp8 or fp4 activations)."""
        if self.tp == 1:
            return 0.0, 0.0
        n_layers = sum(o.repeat for o in graph.ops if o.name == "attn_norm")
        head = next(o for o in graph.ops if o.name == "lm_head")
        rb = graph.precision.residual.bytes_per_element
        return self.comm_for(n_layers, graph.batch.new_tokens, head.k, head.m, head.n, rb)

    def fused_allreduce_saving_s(self, costs: Iterable[OpCost], graph: Graph) -> float:
        """Per layer, the all-reduce time hidden under the row-parallel GEMMs that produce it, when each
        is fused with its all-reduce (``gemm_allreduce``; 0 otherwise).

        TensorRT-LLM's GEMM + AllReduce plugin (build flag ``gemm_allreduce_plugin``, set in NVIDIA's MLPerf
        v5.1 Llama-3.1-405B configurations) runs a warp-specialized CUTLASS GEMM whose output tiles are
        reduced in the NVSwitch (multimem.ld_reduce / multimem.st) as soon as every rank has written them,
        while the GEMM computes the next tiles (cutlass_kernels/allreduce_gemm/communication/
        sm90_allreduce_nvls_warpspecialized.hpp). The pair then lasts about the longer of the two, not
        their sum, except for the tiles finished last: a wave of output tiles is reduced while the next
        wave computes, so the last wave's reduction, 1 / waves of the all-reduce, follows the GEMM
        (``output_waves``). Each row-parallel GEMM instance hides min(its time, (1 - 1 / waves) of one
        all-reduce): a decode step's GEMM, its few rows' output tiles all in one wave, hides nothing; a
        2,560-token chunk's o_proj (1,280 tiles on 132 SMs, 9.7 waves) hides 90% of its all-reduce."""
        if not self.gemm_allreduce or self.tp == 1:
            return 0.0
        assert self.net is not None
        n_layers = sum(o.repeat for o in graph.ops if o.name == "attn_norm")
        head = next(o for o in graph.ops if o.name == "lm_head")
        rb = graph.precision.residual.bytes_per_element
        t_ar = tp_collective(self.net, "all_reduce", graph.batch.new_tokens * head.k * rb, self.tp)[0]
        prm, rates = self.params, self.rates
        hidden = sum(
            c.op.repeat * min(c.time.time_s, t_ar * (1.0 - 1.0 / output_waves(c.sharded, rates, prm)))
            for c in costs
            if c.op.name in ROW_PARALLEL
        )
        return min(hidden, 2 * n_layers * t_ar) / max(1, n_layers)

    def comm_for(
        self, n_layers: int, tokens: int, hidden: int, logit_rows: int, vocab: int, elem_bytes: float
    ) -> tuple[float, float]:
        """(time, link bytes of all chips) of a step's tensor-parallel collectives; ``elem_bytes`` is the
        residual stream's element size (``Precision.residual``)."""
        if self.tp == 1:
            return 0.0, 0.0
        net, tp = self.net, self.tp
        assert net is not None
        hidden_bytes = tokens * hidden * elem_bytes
        logit_bytes = logit_rows * vocab * elem_bytes
        t_ar, algo = tp_collective(net, "all_reduce", hidden_bytes, tp)
        t, moved = 2 * n_layers * t_ar, 2 * n_layers * sent_bytes("all_reduce", algo, hidden_bytes, tp)
        if logit_rows:  # a pipeline stage without the LM head gathers no logits
            t += tp_collective(net, "all_gather", logit_bytes, tp)[0]
            moved += sent_bytes("all_gather", "ring", logit_bytes, tp)
        return t, moved * tp
