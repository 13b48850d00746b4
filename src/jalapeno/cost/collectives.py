"""Closed-form collective times over a chip-to-chip topology (ring / switch / torus).

Each is the standard bandwidth term plus a latency term per communication round:
ring all-reduce = 2(n-1)/n x bytes / link bandwidth + 2(n-1) x latency (Patarasuk & Yuan, JPDC 2009).
"""

from __future__ import annotations

import math


def _check(n: int, bw: float) -> None:
    if n < 1:
        raise ValueError("n must be >= 1")
    if bw <= 0:
        raise ValueError("link bandwidth must be > 0")


def all_reduce_s(bytes_: float, n: int, bw: float, latency_s: float, topology: str = "ring") -> float:
    """Time to all-reduce ``bytes_`` (per chip) across ``n`` chips, each with ``bw`` bytes/s per direction."""
    _check(n, bw)
    if n == 1:
        return 0.0
    side = math.isqrt(n)
    if topology == "torus2d" and side * side == n:
        # reduce-scatter along x, all-reduce the 1/side shard along y, all-gather along x;
        # the chip's links are split evenly between the two dimensions.
        bw_dim = bw / 2
        return (
            2.0 * (side - 1) / side * bytes_ / bw_dim
            + 2.0 * (side - 1) / side * (bytes_ / side) / bw_dim
            + 4.0 * (side - 1) * latency_s
        )
    return 2.0 * (n - 1) / n * bytes_ / bw + 2.0 * (n - 1) * latency_s


def all_gather_s(bytes_out: float, n: int, bw: float, latency_s: float) -> float:
    """All-gather producing ``bytes_out`` per chip (each contributes bytes_out / n)."""
    _check(n, bw)
    return 0.0 if n == 1 else (n - 1) / n * bytes_out / bw + (n - 1) * latency_s


def reduce_scatter_s(bytes_in: float, n: int, bw: float, latency_s: float) -> float:
    _check(n, bw)
    return 0.0 if n == 1 else (n - 1) / n * bytes_in / bw + (n - 1) * latency_s


def all_to_all_s(bytes_: float, n: int, bw: float, latency_s: float) -> float:
    """Each chip sends (n-1)/n of ``bytes_`` to the others (expert-parallel dispatch/combine)."""
    _check(n, bw)
    return 0.0 if n == 1 else (n - 1) / n * bytes_ / bw + latency_s


def p2p_s(bytes_: float, bw: float, latency_s: float) -> float:
    """Point to point (pipeline activations, KV transfer)."""
    _check(1, bw)
    return bytes_ / bw + latency_s


def stage_transfer_s(bytes_: float, bw: float, links: int, latency_s: float, topology: str) -> float:
    """Activations from one pipeline stage to the next: on a switch all the chip's links carry them,
    on direct topologies (torus, dragonfly, fully connected) the one link to the neighbour does, and
    a dragonfly's stages sit one local plus one global hop apart."""
    link_bw = bw if topology == "switch" else bw / max(links, 1)
    hops = 2 if topology == "dragonfly" else 1
    return p2p_s(bytes_, link_bw, hops * latency_s)
