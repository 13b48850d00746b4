"""Pipeline parallelism: a replica's layers split into ``pp`` stages of ``tp`` chips each.

The plan is a frozen ``Parallel`` value passed down from the CLI to the estimator and the serving
oracle (its expert and data-parallel degrees are priced by ``cost.expert``). Stages hold contiguous, balanced
layer ranges (the first ``layers % pp`` stages get one more layer); stage 0 also runs the embedding,
the last stage the final norm and the LM head. Between stages the hidden state of the micro-batch's
tokens crosses one chip-to-chip link (bytes / link bandwidth + hop latency, ``cost.network.p2p_s``).

Timing model (closed form) for a step cut into ``m`` equal micro-batches that follow each other
through the stages:

* ``latency`` = sum of the stage times + (pp - 1) transfers: one micro-batch through every stage;
* ``makespan`` = latency + (m - 1) x slowest stage: ``m`` micro-batches injected back to back, with
  the fill/drain bubble of GPipe (Huang et al., NeurIPS 2019: bubble fraction (pp-1)/(m+pp-1)); a cold
  prefill's time to first token;
* ``interval`` = max(latency, m x slowest stage): the steady-state period in which every micro-batch
  advances once when concurrent micro-batches keep the pipeline full. vLLM's engine builds one
  scheduler per pipeline stage ("virtual engines", ``vllm/engine/llm_engine.py``) so that as many
  batches as stages are in flight; DeepSpeed-Inference (Aminabadi et al., SC'22) likewise keeps its
  generation pipeline full with micro-batches; Sarathi-Serve (Agrawal et al., OSDI'24) shows that
  micro-batches of unequal cost leave bubbles, which the max over stages keeps. Decode's time per
  output token is the interval; throughput is the batch over the interval, at best the micro-batch
  over the slowest stage.

Energy: each stage's busy time is priced like a step (static power while busy, dynamic energy, the
power cap) ``m`` times; the time a stage waits in bubbles draws idle power; transfers pay the link's
energy per byte.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from jalapeno.cost.network import p2p_s
from jalapeno.cost.step import Estimator, OpCost
from jalapeno.errors import JalapenoError
from jalapeno.graph.builder import Graph, group_label, layer_groups
from jalapeno.hardware.network import network_of
from jalapeno.hardware.spec import ChipSpec
from jalapeno.models.config import ModelConfig

Work = tuple[float, float, float]  # (device seconds, dynamic joules, host launch seconds)
FIRST, LAST = "first", "last"  # parts outside the layers: embedding (stage 0), final norm + LM head (last)


@dataclass(frozen=True)
class Parallel:
    """How one replica (a parallel group) splits a model over chips.

    * ``tp``: tensor-parallel chips of one attention replica (and of a stage);
    * ``dp``: data-parallel attention: ``dp`` copies of the attention (and dense) layers, each ``tp``
      wide, each running 1/dp of the group's sequences and holding their KV cache (DeepSeek-V3's
      decode deployment, SGLang's ``--enable-dp-attention``);
    * ``ep``: expert parallelism: each MoE layer's experts spread over ``ep`` chips, whole experts a
      chip, tokens dispatched to them and combined back by all-to-all. Convention (vLLM's: "EP size =
      TP x DP"): ``ep`` is 1 (experts tensor-parallel as today, then ``dp`` must be 1) or ``tp x dp``
      (every chip of the group holds ``(experts + redundant_experts) / ep`` experts);
    * ``pp``: pipeline stages (layers split over them, ``cost.pipeline``); not combined with ep/dp here.

    ``chips`` = tp x dp x pp. ``redundant_experts``: extra replicas of hot experts (EPLB); they must
    fill the ranks evenly. ``ep_imbalance``: the hottest rank's token-expert pairs over the mean (1 =
    perfectly balanced; None = the statistical floor of uniform routing, ``cost.expert``). ``tbo``:
    two-micro-batch overlap (DeepSeek's dual micro-batch, SGLang's TBO): the batch runs as two halves
    whose dispatch/combine hide under the other half's compute. ``ep_dispatch``: how the all-to-alls
    cross nodes: ``per_expert`` (a token-expert pair a copy over the NICs: DeepEP's low-latency kernels,
    pure RDMA) or ``per_node`` (a token once to each node its experts are on, forwarded inside the node
    over the scale-up links: DeepEP's normal kernels; ``cost.ep_stats.remote_nodes``).
    ``attn_imbalance``: the slowest attention replica's KV load over the mean (decode with data-parallel
    attention; 1 = every replica at the mean; ``cost.ep_stats.dp_attention_imbalance``); it scales the
    attention kernels of the hottest rank's step, not their energy. ``comm_sms``: cores (SMs) the
    all-to-all kernels hold for the whole step under two-batch overlap, so the compute runs on the rest
    (DeepEP's normal kernels occupy SMs, its low-latency ones none; ``cost.expert.compute_share``).
    """

    tp: int = 1
    pp: int = 1
    ep: int = 1
    dp: int = 1
    redundant_experts: int = 0
    ep_imbalance: float | None = None
    tbo: bool = False
    ep_dispatch: str = "per_expert"
    attn_imbalance: float = 1.0
    comm_sms: int = 0

    def __post_init__(self) -> None:
        for k in ("tp", "pp", "ep", "dp"):
            v = getattr(self, k)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise JalapenoError(f"must be an integer >= 1, got {v!r}", field=k)
        r = self.redundant_experts
        if not isinstance(r, int) or r < 0:
            raise JalapenoError(f"must be an integer >= 0, got {r!r}", field="redundant_experts")
        g = self.ep_imbalance
        if g is not None and not g >= 1.0:
            raise JalapenoError(
                f"the hottest rank's load over the mean is >= 1, got {g!r}", field="ep_imbalance"
            )
        if self.ep > 1 and self.ep != self.tp * self.dp:
            raise JalapenoError(
                f"ep={self.ep} must equal tp x dp = {self.tp * self.dp} (the experts spread over "
                f"every chip of the group); set --dp {max(1, self.ep // self.tp)}",
                field="ep",
            )
        if self.dp > 1 and self.ep == 1:
            raise JalapenoError(
                f"dp={self.dp} needs expert parallelism over the group: set --ep {self.tp * self.dp} "
                f"(independent replicas: serve --replicas)",
                field="dp",
            )
        if self.pp > 1 and self.ep > 1:
            raise JalapenoError(
                "pipeline stages with expert parallelism are not modelled; use --pp 1 or --ep 1", field="pp"
            )
        if self.ep_dispatch not in ("per_expert", "per_node"):
            raise JalapenoError(
                f"must be 'per_expert' or 'per_node', got {self.ep_dispatch!r}", field="ep_dispatch"
            )
        if not self.attn_imbalance >= 1.0:
            raise JalapenoError(
                f"the slowest rank's load over the mean is >= 1, got {self.attn_imbalance!r}",
                field="attn_imbalance",
            )
        c = self.comm_sms
        if not isinstance(c, int) or isinstance(c, bool) or c < 0:
            raise JalapenoError(f"must be an integer >= 0, got {c!r}", field="comm_sms")
        ep_only = (
            r
            or g is not None
            or self.tbo
            or self.ep_dispatch != "per_expert"
            or self.attn_imbalance != 1
            or c
        )
        if ep_only and self.ep == 1:
            raise JalapenoError(
                "redundant experts, imbalances, two-batch overlap and the dispatch apply to expert "
                "parallelism; set --ep",
                field="ep",
            )

    @property
    def chips(self) -> int:
        return self.tp * self.dp * self.pp

    def check(self, chip: ChipSpec, num_layers: int) -> None:
        """A pipeline needs links and no more stages than layers; a group larger than the chip's
        scale-up domain needs its scale-out NICs (``hardware.network``) and whole domains, and a
        stage never straddles two domains."""
        if self.chips == 1:
            return
        if self.pp > 1:
            stage_ranges(num_layers, self.pp)
        ic = chip.interconnect
        if ic is None:
            raise JalapenoError(f"chip {chip.name!r} has no chip-to-chip links; use --pp 1", field="pp")
        size = int(ic.domain_size.value)
        if self.chips > size:
            net = network_of(chip)
            assert net is not None
            field = "pp" if self.pp > 1 else "ep"
            if net.scale_out is None:
                raise JalapenoError(
                    f"{self.chips} chips exceed the {size}-chip scale-up domain of {chip.name}, which "
                    f"has no scale-out NIC figures; lower --tp, --pp or --ep",
                    field=field,
                )
            if size % self.tp or (self.pp == 1 and self.chips % size):
                raise JalapenoError(
                    f"a {self.chips}-chip group over {size}-chip domains must fill whole domains with "
                    f"whole tensor-parallel groups; use a tp dividing {size}",
                    field=field,
                )

    def check_model(self, cfg: ModelConfig) -> None:
        """Expert parallelism needs a MoE model whose (experts + redundant) fill the ranks evenly."""
        if self.ep == 1:
            return
        if cfg.moe is None:
            raise JalapenoError(f"{cfg.name} has no experts; use --ep 1", field="ep")
        slots = cfg.moe.num_experts + self.redundant_experts
        if slots % self.ep:
            raise JalapenoError(
                f"{cfg.moe.num_experts} experts + {self.redundant_experts} redundant do not split "
                f"evenly over ep={self.ep}; add redundant experts to a multiple of {self.ep}",
                field="ep",
            )

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"tp": self.tp, "pp": self.pp, "chips": self.chips}
        if self.ep > 1:
            out.update(
                {
                    "ep": self.ep,
                    "dp": self.dp,
                    "redundant_experts": self.redundant_experts,
                    "ep_imbalance": self.ep_imbalance,
                    "tbo": self.tbo,
                }
            )
            if self.ep_dispatch != "per_expert":
                out["ep_dispatch"] = self.ep_dispatch
            if self.attn_imbalance != 1.0:
                out["attn_imbalance"] = self.attn_imbalance
            if self.comm_sms:
                out["comm_sms"] = self.comm_sms
        return out


def stage_ranges(num_layers: int, pp: int) -> tuple[tuple[int, int], ...]:
    """Contiguous [start, end) layer ranges, sizes differing by at most one (larger ones first)."""
    if pp > num_layers:
        raise JalapenoError(
            f"pp={pp} exceeds the model's {num_layers} layers; use --pp <= {num_layers}", field="pp"
        )
    base, extra = divmod(num_layers, pp)
    out, a = [], 0
    for s in range(pp):
        b = a + base + (1 if s < extra else 0)
        out.append((a, b))
        a = b
    return tuple(out)


def stage_counts(cfg: ModelConfig, pp: int) -> tuple[dict[object, int], ...]:
    """Per stage, how many layers of each group it holds, keyed by the group's ops' ``layers`` label
    (token-proportional ops) and by ``("attn", kind)`` (attention, merged over MoE/dense), plus
    ``FIRST``/``LAST`` for the ops outside the layers and ``"layers"`` for the stage's layer count."""
    ranges = stage_ranges(cfg.num_layers, pp)
    counts: list[dict[object, int]] = [{} for _ in ranges]
    for (attn, moe), idx in layer_groups(cfg):
        label = group_label(attn, moe, idx)
        for c, (a, b) in zip(counts, ranges, strict=True):
            n = sum(1 for i in idx if a <= i < b)
            if n:
                c[label] = c.get(label, 0) + n
                c[("attn", attn)] = c.get(("attn", attn), 0) + n
                c["layers"] = c.get("layers", 0) + n
    counts[0][FIRST] = 1
    counts[-1][LAST] = 1
    return tuple(counts)


def part_of(op_name: str, layers: str) -> str:
    """Which part an op belongs to: its layer group's label, or FIRST/LAST outside the layers."""
    if layers == "-":
        return FIRST if op_name == "embedding" else LAST
    return layers


def per_layer_parts(rows: Iterable[tuple[str, str, int, float, float, float]]) -> dict[object, Work]:
    """Sum (name, layers, repeat, seconds, joules, host seconds) rows, each over all its repeats, into
    per-layer work of each part (a group's layers are identical, so a stage's share is linear)."""
    parts: dict[object, list[float]] = {}
    for name, layers, repeat, t, e, h in rows:
        key = part_of(name, layers)
        n = 1 if key in (FIRST, LAST) else repeat
        acc = parts.setdefault(key, [0.0, 0.0, 0.0])
        acc[0] += t / n
        acc[1] += e / n
        acc[2] += h / n
    return {k: (v[0], v[1], v[2]) for k, v in parts.items()}


def stage_work(parts: Mapping[object, Work], counts: Mapping[object, int]) -> Work:
    """One stage's (device s, J, host s): each part's per-layer work times the stage's count of it."""
    t = e = h = 0.0
    for key, n in counts.items():
        w = parts.get(key)
        if w is not None:
            t += n * w[0]
            e += n * w[1]
            h += n * w[2]
    return t, e, h


def micro_batches(pp: int, units: int) -> int:
    """Micro-batches a step is cut into: one per stage, no more than its sequences (or tokens)."""
    return max(1, min(pp, units))


@dataclass(frozen=True)
class PipelineCost:
    """One step of a ``pp``-stage replica cut into ``micro_batches`` equal micro-batches."""

    stage_s: tuple[float, ...]  # one micro-batch on each stage (device, its collectives, power cap)
    transfer_s: float  # one stage boundary, one micro-batch
    micro_batches: int
    overhead_s: float  # host work between steps, once per micro-batch's pass
    busy_energy_j: float  # one micro-batch through all stages, all chips (static while busy + dynamic)
    transfer_energy_j: float  # one micro-batch over all boundaries
    idle_w_per_stage: float  # idle power of one stage's chips (bubbles)
    link_bytes: float = 0.0  # one micro-batch: tensor-parallel collectives plus stage transfers, all chips
    collective_s: float = 0.0  # one micro-batch: the stages' tensor-parallel collectives, summed
    power_capped: bool = False  # some stage ran at a lowered clock

    @property
    def latency_s(self) -> float:
        return sum(self.stage_s) + (len(self.stage_s) - 1) * self.transfer_s + self.overhead_s

    @property
    def slowest_s(self) -> float:
        return max(self.stage_s)

    @property
    def makespan_s(self) -> float:
        return self.latency_s + (self.micro_batches - 1) * self.slowest_s

    @property
    def interval_s(self) -> float:
        return max(self.latency_s, self.micro_batches * self.slowest_s)

    def energy_over(self, span_s: float) -> float:
        """All chips' energy over ``span_s`` in which every micro-batch passes every stage once."""
        m = self.micro_batches
        idle = sum(self.idle_w_per_stage * max(0.0, span_s - m * t) for t in self.stage_s)
        return m * (self.busy_energy_j + self.transfer_energy_j) + idle


def price_pipeline(
    est: Estimator,
    stages: list[Work],
    comms: list[tuple[float, float]],
    transfer_s: float,
    transfer_bytes: float,
    m: int,
) -> PipelineCost:
    """Stage times and energies from each stage's (device s, J, host s) and its tensor-parallel
    collectives (s, link bytes); ``est`` (a ``cost.step.Estimator`` of ``tp`` chips) applies static
    power and the power cap to each stage as it does to a whole step, less the between-step host
    overhead, which a pipeline pays once per pass."""
    prm = est.params
    ovh = prm.step_overhead_s
    static_w = est.idle_w + prm.active_static_w
    pj_link = prm.pj_per_byte_link * 1e-12
    times, busy, capped = [], 0.0, False
    for (t, e, h), (c_s, c_bytes) in zip(stages, comms, strict=True):
        span, energy, cap = est.finish(t + c_s, e + c_bytes * pj_link, h)
        times.append(span - ovh)
        busy += energy - est.tp * static_w * ovh
        capped |= cap
    x_bytes = (len(stages) - 1) * transfer_bytes * est.tp
    link = sum(b for _, b in comms) + x_bytes
    return PipelineCost(
        tuple(times),
        transfer_s,
        m,
        ovh,
        busy,
        x_bytes * pj_link,
        est.tp * est.idle_w,
        link_bytes=link,
        power_capped=capped,
        collective_s=sum(c for c, _ in comms),
    )


def split_graph(cfg: ModelConfig, graph: Graph, pp: int) -> tuple[Graph, ...]:
    """The graph's ops on each stage (a layer op's ``repeat`` becomes the stage's count of its layers);
    FLOPs and bytes over the stages sum to the graph's."""
    out = []
    for c in stage_counts(cfg, pp):
        ops = []
        for o in graph.ops:
            key = part_of(o.name, o.layers)
            n = c.get(key, 0)
            if n:
                ops.append(replace(o, repeat=1 if key in (FIRST, LAST) else n))
        out.append(replace(graph, ops=tuple(ops)))
    return tuple(out)


def ceil_div(a: int, m: int) -> int:
    return -(-a // m) if a > 0 else 0


def transfer(est: Estimator, hidden_bytes: float, pp: int = 1) -> float:
    """Seconds to move one micro-batch's hidden state across a stage boundary (every tensor-parallel
    rank sends its full copy to its counterpart in parallel, as vLLM's send/recv of intermediate
    tensors does), averaged over the ``pp - 1`` boundaries: stages fill scale-up domains in order, and
    a boundary between two domains crosses the scale-out network (each rank over its own NICs,
    ``cost.network.p2p_s``), so the pipeline's latency (their sum) is exact."""
    net = network_of(est.chip)
    if net is None:
        raise JalapenoError(f"chip {est.chip.name!r} has no chip-to-chip links; use --pp 1", field="pp")
    inside = p2p_s(net, hidden_bytes)
    size = net.scale_up.domain_size
    crossings = sum(1 for s in range(1, pp) if (s * est.tp) % size == 0)
    if not crossings:
        return inside
    out = p2p_s(net, hidden_bytes, cross_domain=True)
    return (crossings * out + (pp - 1 - crossings) * inside) / (pp - 1)


def graph_pipeline(
    est: Estimator, cfg: ModelConfig, graph: Graph, pp: int, m: int, *, cuda_graph: bool
) -> tuple[PipelineCost, list[OpCost]]:
    """A micro-batch ``graph`` split into ``pp`` stages and priced as a pipeline of ``m`` such
    micro-batches: (pipeline cost, the graph's per-op costs on all stages)."""
    prm = est.params
    eager = 0.0 if cuda_graph else prm.eager_launch_s
    costs, _, _, _ = est.price_ops(graph, cuda_graph=cuda_graph)
    parts = per_layer_parts(
        (c.op.name, c.op.layers, c.op.repeat, c.total_s, c.energy_j, eager * c.time.kernels * c.op.repeat)
        for c in costs
    )
    counts = stage_counts(cfg, pp)
    head = next(o for o in graph.ops if o.name == "lm_head")
    ab = graph.precision.activations.bytes_per_element
    rb = graph.precision.residual.bytes_per_element  # tensor-parallel collectives
    tokens = graph.batch.new_tokens
    saving = est.fused_allreduce_saving_s(costs, graph)  # per layer, under fused GEMM + all-reduce
    comms = [
        _less(
            est.comm_for(
                c.get("layers", 0), tokens, cfg.hidden_size, head.m if LAST in c else 0, cfg.vocab_size, rb
            ),
            saving * c.get("layers", 0),
        )
        for c in counts
    ]
    hidden = tokens * cfg.hidden_size * ab
    pc = price_pipeline(
        est, [stage_work(parts, c) for c in counts], comms, transfer(est, hidden, pp), hidden, m
    )
    return pc, costs


def _less(comm: tuple[float, float], hidden_s: float) -> tuple[float, float]:
    """A stage's (collective time, link bytes) with ``hidden_s`` of it overlapped by its GEMMs."""
    return max(0.0, comm[0] - hidden_s), comm[1]
