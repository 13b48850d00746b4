"""Collectives over a chip-to-chip topology: bandwidth, per-hop latency and hop counts.

``Fabric`` is one chip's view of the scale-up network: ``bw`` bytes/s per direction over all its
``links``, ``hop_s`` per hop, and the topology (switch, ring, fully_connected, dragonfly, torus2d/3d
with ``dims``). A group of ``n`` chips is placed contiguously: on a torus it fills the first
dimension, then the next (``group_shape``); a ring closes only when it spans a whole dimension.

Closed forms (B = bytes per chip):
* all-reduce on a ring of n: 2 (n-1)/n B / bw + 2 (n-1) hop (Patarasuk & Yuan 2009) - the form of
  ``jalapeno.cost.collectives.all_reduce_s``, which the ring and switch cases call;
* on a torus, dimension by dimension: reduce-scatter along each dimension, then all-gather back, each
  dimension using the links of that dimension (bw / dims); an open line (a partial dimension) is twice
  as slow as a ring of the same length (one direction of travel per step);
* fully connected: every peer at one hop over its own link: 2 (n-1)/n B / (min(n-1, links) link bw) + 2 hop;
* all-gather / reduce-scatter: half an all-reduce; all-to-all: (n-1)/n B x mean hops / bw + diameter hops;
* point to point: B / (bandwidth of the links between the two chips) + hops x hop.

(It was ``mapping.collectives``; it prices links, so it lives in cost next to the closed forms it calls.)
"""

from __future__ import annotations

from dataclasses import dataclass

from jalapeno.cost import collectives as closed
from jalapeno.hardware.network import group_dims


@dataclass(frozen=True)
class Fabric:
    topology: str
    bw: float  # per chip, per direction, all links
    links: int
    hop_s: float
    dims: tuple[int, ...] = ()

    @property
    def link_bw(self) -> float:
        return self.bw / max(self.links, 1)


def group_shape(f: Fabric, n: int) -> tuple[tuple[int, bool], ...]:
    """(length, closed ring?) of each torus dimension a contiguous group of ``n`` chips spans."""
    return group_dims(f.topology, f.dims, n)


def all_reduce_s(f: Fabric, bytes_: float, n: int) -> float:
    if n <= 1:
        return 0.0
    if f.topology in ("ring", "switch"):
        return closed.all_reduce_s(bytes_, n, f.bw, f.hop_s)
    if f.topology == "fully_connected":
        return 2.0 * (n - 1) / n * bytes_ / (min(n - 1, f.links) * f.link_bw) + 2 * f.hop_s
    if f.topology == "dragonfly":  # local-global-local: up to 3 hops a step
        return closed.all_reduce_s(bytes_, n, f.bw, 3 * f.hop_s)
    return 2.0 * _torus_reduce_scatter(f, bytes_, n)


def _torus_reduce_scatter(f: Fabric, bytes_: float, n: int) -> float:
    """Reduce-scatter dimension by dimension; the shard shrinks by each dimension's length."""
    dims = len(f.dims) or 1
    t, b = 0.0, bytes_
    for length, ring in group_shape(f, n):
        if length <= 1:
            continue
        bw_dim = f.bw / dims * (1.0 if ring else 0.5)
        t += (length - 1) / length * b / bw_dim + (length - 1) * f.hop_s
        b /= length
    return t


def all_gather_s(f: Fabric, bytes_out: float, n: int) -> float:
    return 0.5 * all_reduce_s(f, bytes_out, n)


def reduce_scatter_s(f: Fabric, bytes_in: float, n: int) -> float:
    return 0.5 * all_reduce_s(f, bytes_in, n)


def mean_hops(f: Fabric, n: int) -> float:
    if f.topology in ("switch", "fully_connected"):
        return 1.0
    if f.topology == "dragonfly":
        return 2.0
    return max(1.0, sum(length / 4.0 if ring else length / 3.0 for length, ring in group_shape(f, n)))


def diameter(f: Fabric, n: int) -> int:
    if f.topology in ("switch", "fully_connected"):
        return 1
    if f.topology == "dragonfly":
        return 3
    return max(1, sum(length // 2 if ring else length - 1 for length, ring in group_shape(f, n)))


def all_to_all_s(f: Fabric, bytes_: float, n: int) -> float:
    """Each chip sends (n-1)/n of ``bytes_`` spread over the others (expert-parallel dispatch/combine)."""
    if n <= 1:
        return 0.0
    return (n - 1) / n * bytes_ * mean_hops(f, n) / f.bw + diameter(f, n) * f.hop_s


def p2p_s(f: Fabric, bytes_: float, hops: int = 1) -> float:
    """Neighbour to neighbour (pipeline activations, KV transfer); on a switch all links carry it."""
    bw = f.bw if f.topology == "switch" else f.link_bw
    return bytes_ / bw + max(1, hops) * f.hop_s


def ring_check(bytes_: float, n: int, bw: float, hop_s: float) -> float:
    """The textbook ring all-reduce, for tests: 2 (n-1)/n B / bw + 2 (n-1) hop."""
    return 2.0 * (n - 1) / n * bytes_ / bw + 2.0 * (n - 1) * hop_s if n > 1 else 0.0


def fabric_of(chip: object) -> Fabric | None:
    """The fabric of a ``ChipSpec`` (architecture chips keep their torus shape and true topology)."""
    ic = getattr(chip, "interconnect", None)
    if ic is None:
        return None
    arch = getattr(chip, "arch", None)
    topo, dims = ic.topology, ()
    if arch is not None and arch.links is not None:
        topo, dims = arch.links.topology, arch.links.dims
    elif topo in ("torus2d", "torus3d"):
        k = 2 if topo == "torus2d" else 3
        side = round(ic.domain_size.value ** (1 / k))
        dims = (side,) * k if side**k == int(ic.domain_size.value) else ()
    return Fabric(topo, ic.bandwidth_bytes_per_s.value, int(ic.links.value), ic.latency_s.value, tuple(dims))


def hops_between_stages(f: Fabric) -> int:
    return 1 if f.topology != "dragonfly" else 2
