"""One request's KV from a prefill replica to a decode replica that may shard it differently.

A request's KV sits on one attention replica: ``tp`` chips a pipeline stage, ``pp`` stages (with
data-parallel attention, one of the group's ``dp`` attention replicas, not the whole group). Rank
``r = stage x tp + t`` holds its stage's layers (``cost.pipeline.stage_ranges``) and its KV heads:

* GQA with ``heads >= tp``: heads ``[t H / tp, (t + 1) H / tp)``; with fewer heads than ranks each head
  is replicated, rank ``t`` holding head ``t H // tp`` (vLLM's rule);
* MLA: the latent (one "head") sits whole on every tensor-parallel rank (``KVLayout.replicated``).

The resharding map (``reshard``) says which share of one KV copy each source rank sends each destination
rank: every (layer, head) a destination rank holds comes from the source ranks that hold it, split evenly
over them (a replicated GQA head is sent once, by its holders together). A destination rank that holds a
replicated GQA head gets its own copy (one per rank that needs it). MLA's latent crosses the NICs once:
cut into lcm(tp, tp') slices, each sender sends its own slices to the receivers of them, and each
destination stage all-gathers the latent over its scale-up links (``cost.network.tp_collective_s``),
overlapped with the transfer layer by layer (Mooncake and NIXL send layer by layer).

Time (``KVTransfer.seconds``): every rank sends over its own NICs (NIXL and Mooncake's transfer engine
do); the busiest NIC sets the time, the sender's fan-out or the receiver's fan-in: per rank
``cost.network.p2p_s`` of its bytes (bytes / its NICs' bandwidth + one scale-out latency), plus one more
latency a message for the completion notice to the receiver and two a further message. ``link`` gives
the serving simulator the same as a bandwidth and a latency a request (exact when one rank is the
busiest by bytes and by messages, an upper bound otherwise). docs/parallel.md, "KV between pools".
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction

from jalapeno.cost.network import p2p_s, tp_collective_s
from jalapeno.cost.pipeline import Parallel, stage_ranges
from jalapeno.hardware.network import Network
from jalapeno.models.config import ModelConfig

Pair = tuple[int, int]  # (source rank, destination rank)
_PROBE_BYTES = 1e9  # the all-gather's seconds per byte, read off at one gigabyte


@dataclass(frozen=True)
class KVLayout:
    """One token's KV as ranks hold it: ``layers`` x ``heads`` equal units; ``replicated`` (MLA's
    latent) means every tensor-parallel rank holds all of a layer's units."""

    layers: int
    heads: int
    replicated: bool = False


def kv_layout(cfg: ModelConfig) -> KVLayout:
    """GQA: the model's KV heads; MLA: one latent (kv_lora_rank + rope dims), replicated over tp."""
    if cfg.mla is not None:
        return KVLayout(cfg.num_layers, 1, replicated=True)
    return KVLayout(cfg.num_layers, cfg.num_kv_heads)


def heads_of(t: int, tp: int, layout: KVLayout) -> range:
    """The KV heads tensor-parallel rank ``t`` of ``tp`` holds."""
    h = layout.heads
    if layout.replicated:
        return range(h)
    if h >= tp:
        return range(t * h // tp, (t + 1) * h // tp)
    first = t * h // tp
    return range(first, first + 1)


@dataclass(frozen=True)
class Reshard:
    """Shares of one KV copy each (source rank, destination rank) pair moves; ``gather``: the
    destination stages all-gather what they received (MLA)."""

    src: Parallel
    dst: Parallel
    layers: int
    shares: dict[Pair, Fraction]
    gather: bool

    def sent(self, rank: int) -> Fraction:
        return sum((v for (s, _), v in self.shares.items() if s == rank), Fraction(0))

    def received(self, rank: int) -> Fraction:
        return sum((v for (_, d), v in self.shares.items() if d == rank), Fraction(0))

    def messages(self, rank: int, sender: bool) -> int:
        return sum(1 for p in self.shares if p[0 if sender else 1] == rank)

    @property
    def total(self) -> Fraction:
        """Copies moved, summed over pairs: 1, or the destination's replication of GQA heads."""
        return sum(self.shares.values(), Fraction(0))


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def reshard(layout: KVLayout, src: Parallel, dst: Parallel) -> Reshard:
    """The resharding map from one source attention replica to one destination attention replica.
    MLA's replicated latent is cut into lcm(tp, tp') slices, as if it had that many heads held once:
    one copy moves, each sender sending its slices to the receivers that hold them (then all-gathered)."""
    gather = layout.replicated and dst.tp > 1
    if layout.replicated:
        layout = KVLayout(layout.layers, math.lcm(src.tp, dst.tp) * layout.heads)
    unit = Fraction(1, layout.layers * layout.heads)
    src_stages = stage_ranges(layout.layers, src.pp)
    shares: dict[Pair, Fraction] = defaultdict(Fraction)
    for ds, drange in enumerate(stage_ranges(layout.layers, dst.pp)):
        for dt in range(dst.tp):
            for ss, srange in enumerate(src_stages):
                layers = _overlap(drange, srange)
                for h in heads_of(dt, dst.tp, layout) if layers else ():
                    # a head held by several source ranks (replicated) is sent once, split over them
                    holders = [t for t in range(src.tp) if h in heads_of(t, src.tp, layout)]
                    for t in holders:
                        shares[(ss * src.tp + t, ds * dst.tp + dt)] += layers * unit / len(holders)
    return Reshard(src, dst, layout.layers, dict(shares), gather)


@dataclass(frozen=True)
class KVTransfer:
    """The resharding map priced over each side's NICs (``src_net``: the prefill chip's network)."""

    map: Reshard
    src_net: Network
    dst_net: Network

    def __post_init__(self) -> None:
        for net in (self.src_net, self.dst_net):
            p2p_s(net, 0.0, cross_domain=True)  # refuses a chip without scale-out NIC figures

    def _ranks(self) -> list[tuple[Network, Fraction, int]]:
        """(network, share of a copy, messages) of every rank on both sides."""
        m = self.map
        out = [(self.src_net, m.sent(r), m.messages(r, True)) for r in range(m.src.tp * m.src.pp)]
        out += [(self.dst_net, m.received(r), m.messages(r, False)) for r in range(m.dst.tp * m.dst.pp)]
        return [x for x in out if x[2]]

    def _gather_s(self, nbytes: float) -> float:
        """MLA: the destination stages' all-gather of their layers' latent (the largest stage)."""
        if not self.map.gather:
            return 0.0
        dst = self.map.dst
        first = stage_ranges(self.map.layers, dst.pp)[0]  # the largest stage
        stage_bytes = nbytes * (first[1] - first[0]) / self.map.layers
        return tp_collective_s(self.dst_net, "all_gather", stage_bytes, dst.tp)

    def seconds(self, nbytes: float) -> float:
        """One request's KV of ``nbytes`` (one copy): the busiest NIC, or the overlapped all-gather."""
        t = 0.0
        for net, share, msgs in self._ranks():
            lat = _latency(net)
            t = max(t, p2p_s(net, nbytes * float(share), cross_domain=True) + (2 * msgs - 1) * lat)
        return max(t, self._gather_s(nbytes))

    def link(self) -> tuple[float, float]:
        """(bytes/s, seconds a request) with ``nbytes / bw + latency >= seconds(nbytes)``: the rate at
        which the busiest NIC drains one copy, and the most latencies a rank pays."""
        bw = min(Fraction(_nic_bw(net)) / share for net, share, _ in self._ranks())
        lat = max(msgs * 2 * _latency(net) for net, _, msgs in self._ranks())
        if self.map.gather:
            g0 = self._gather_s(0.0)
            bw = min(bw, Fraction(_PROBE_BYTES / (self._gather_s(_PROBE_BYTES) - g0)))
            lat = max(lat, g0)
        return float(bw), lat


def _nic_bw(net: Network) -> float:
    assert net.scale_out is not None
    return net.scale_out.bw_bytes_per_s


def _latency(net: Network) -> float:
    assert net.scale_out is not None
    return net.scale_out.latency_s


def kv_transfer(
    cfg: ModelConfig, src: Parallel, dst: Parallel, src_net: Network, dst_net: Network
) -> KVTransfer:
    """The KV transfer of ``cfg`` from a replica under ``src`` to one under ``dst``."""
    return KVTransfer(reshard(kv_layout(cfg), src, dst), src_net, dst_net)
