"""Collectives priced over a ``hardware.network.Network``: alpha-beta closed forms per topology.

Every form is (steps x alpha) + (bytes on the busiest link / its bandwidth) for one algorithm
(Hockney's alpha-beta model; Thakur, Rabenseifner & Gropp, "Optimization of collective communication
operations in MPICH", IJHPCA 2005). ``B`` is the bytes each chip holds (reduce-scatter input,
all-gather output, all-reduce buffer, all-to-all send buffer including its own share), ``n`` the
group, ``a`` the per-hop latency, ``bw`` the chip's bandwidth per direction over all links.

* ring (Patarasuk & Yuan, JPDC 2009): reduce-scatter = all-gather = (n-1) (B/n / bw_ring + a). On a
  switch one ring uses the chip's whole port at its measured share (bw_ring = e_ring bw: ``ring_eff``,
  below); on direct topologies (ring, mesh, torus)
  two counter-rotating rings each carry half over the links to the two neighbours (bw_ring = 2 x
  neighbour-link bw; a pair on a full mesh has one link, bw_ring = its bw); on a torus the ring runs
  dimension by dimension (the shard shrinks by each dimension's length), and a group filling a
  dimension only partly runs on an open line (half the bandwidth).
* direct (one shot, switch and full mesh): every chip sends its n-1 shares at once:
  switch (n-1) B/n / bw + a (the port serializes them), mesh B/n / link bw + a (one link a peer).
* tree = recursive halving-doubling (Rabenseifner), switch, n a power of two: (n-1) B/n / bw + log2(n) a.
* one-shot all-reduce, switch, n > 2 (TensorRT-LLM's ONESHOT custom all-reduce, vLLM's custom all-reduce for
  small buffers): a flag round says every chip's buffer is ready, then each chip reads its n-1 peers' whole
  buffers and sums locally: (n-1) B / (e_ring bw) + 2a. Four times the ring's bytes at n = 8 but 2 hops
  instead of 2 (n-1), so it wins below a few MB; at n = 2 it is the ring itself.
* all-reduce = reduce-scatter + all-gather of the same algorithm; or, where the switch reduces in the
  network (``ScaleUp.in_network_reduction``: NVLink SHARP, "NVLS", on third-generation NVSwitch and
  later), in the switch: every chip sends each owner's share of its buffer into the switch, which sums
  the n contributions and hands the owner its reduced b/n share, which the owner multicasts back
  through the switch to all (NCCL's NVLS algorithm: multimem.ld_reduce then multimem.st, pipelined in
  chunks). A chip's port carries b + b/n each way and the data crosses the switch twice:
  (n+1)/n b / (e bw) + 2a, against the ring's 2 (n-1)/n b / bw + 2 (n-1) a (ring wins only at n = 2).
  ``e`` (``ScaleUp.in_network_eff``) is the share of that line rate the switch path achieves, from the
  preset's measured nccl-tests bus bandwidth (8 H100s: 480 GB/s, algbw 275 GB/s, where the line-rate
  form gives 400 GB/s: e = 0.686; 8 B200s: 830 GB/s, e = 0.593); 1 where none is measured. A ring on a
  switch has its own measured share, ``ScaleUp.ring_eff`` = ring bus bandwidth / link bandwidth (NCCL's
  protocol overhead: 370 of NVLink 4's 450 GB/s, 695 of NVLink 5's 900). ``cost.netsim`` steps through the
  line-rate schedules (e = 1).
* all-to-all, direct (DeepEP-style: all sends posted at once): switch (n-1) B/n / bw + a, mesh
  B/n / link bw + a; pairwise (n-1 synchronized exchanges, MPI's pairwise exchange): (n-1)(share/bw + a);
  on a ring or torus, relay (store-and-forward along the shortest way, dimension by dimension): the
  busiest link carries (L^2 - 1)/8 shares (L odd) or L^2/8 (L even) of B/L each, in ceil((L-1)/2)
  or L/2 steps.
* hierarchical, when the group spans ``k`` scale-up domains of ``d`` chips (rail-optimized NICs):
  all-reduce = reduce-scatter inside the domain + ring all-reduce of the B/d shard across the k
  domains over each chip's own NIC + all-gather inside (NCCL's tree/ring hierarchy, as in
  Jeaugey's NCCL 2 talk, GTC 2017); all-to-all = the (n-d)/n B bound for other domains over the NIC,
  forwarded over the scale-up links at the receiver while the NIC streams (DeepEP's normal kernels,
  DeepSeek-V3 report section 3.2.2): max(NIC part, scale-up part), each with its latency; the scale-up
  part is a direct all-to-all of B inside the domain ((d-1)/n B of the own domain's shares plus (d-1)/d of
  the (n-d)/n B received). The pipelined schedule (``cost.netsim``) also pays the forwarding hop's latency
  after the last NIC piece, which the NIC part leaves out (one scale-up hop, a few microseconds).

``collective_s`` picks the fastest algorithm the topology supports (or the one named) and says which.
Tensor-parallel reductions (``tp_collective_s``) run the ring, NCCL's algorithm for them and the one the
estimator's figures were made with, or the in-network all-reduce where the switch has it (NCCL picks
NVLS there; TensorRT-LLM's all-reduce strategies include NVLS), the faster of the two; on a full
mesh, where a ring would use two of the chip's links, the direct exchange, the fastest the step
simulation allows. A tensor-parallel group on a
dragonfly sits inside one fully connected local group (Kim, Dally, Scott & Abts, ISCA 2008; Groq's
8-chip node, Abts et al., ISCA 2022), so its steps take one hop, not the local-global-local three of a
group spanning several (the Groq LLMPerf row of docs/validation-architectures.md was made so).
``p2p_s`` prices one chip to one chip (pipeline stages, KV transfer); on a dragonfly consecutive stages
sit one local plus one global hop apart, over the one global link between them.

This is the package's only closed form for collectives (``cost.netsim`` checks it step by step):
the step estimator, expert parallelism, pipelines and ``jalapeno chip plan`` all price links here.
"""

from __future__ import annotations

import math
from dataclasses import replace

from jalapeno.errors import JalapenoError
from jalapeno.hardware.network import Network, ScaleUp, group_dims

KINDS = ("all_reduce", "all_gather", "reduce_scatter", "all_to_all")


def dims_of(up: ScaleUp, n: int) -> tuple[tuple[int, bool], ...]:
    """(length, closed ring?) of each dimension a contiguous group of ``n`` chips spans; a switch,
    ring or mesh is one closed dimension of ``n``."""
    return group_dims(up.topology, up.dims, n)


def neighbour_bw(up: ScaleUp) -> float:
    """Bytes/s per direction to one neighbour on a direct topology."""
    if up.topology == "ring":
        return up.bw_bytes_per_s / 2
    if up.topology in ("torus2d", "torus3d"):
        return up.bw_bytes_per_s / (2 * (2 if up.topology == "torus2d" else 3))
    return up.link_bytes_per_s  # mesh: one link a peer


def hop_s(up: ScaleUp) -> float:
    """Latency of one algorithm step: a dragonfly's is local-global-local."""
    return up.latency_s * (3 if up.topology == "dragonfly" else 1)


def _switched(up: ScaleUp) -> bool:
    return up.topology in ("switch", "dragonfly")


def ring_reduce_scatter_s(up: ScaleUp, b: float, n: int) -> float:
    """Ring reduce-scatter (= ring all-gather of output ``b``), dimension by dimension."""
    if n <= 1:
        return 0.0
    a = hop_s(up)
    if _switched(up):
        return (n - 1) * (b / n / (up.bw_bytes_per_s * up.ring_eff) + a)
    t = 0.0
    for length, closed in dims_of(up, n):
        if length > 1:
            t += (length - 1) * (b / length / ring_bw(up, length, closed) + a)
            b /= length
    return t


def ring_bw(up: ScaleUp, length: int, closed: bool) -> float:
    """Bytes/s per direction of the two counter-rotating rings along one dimension of a direct topology:
    each runs over the links to a neighbour (an open line: half). On a full mesh a pair's two rings
    both cross the one link between them (a mesh has a link a peer), so a group of two gets that link
    alone: a 4-GPU HGX H100 board's TP2 all-reduce runs over the pair's 6 NVLinks, not 12."""
    if up.topology == "mesh" and length == 2:
        return neighbour_bw(up)
    return 2 * neighbour_bw(up) * (1.0 if closed else 0.5)


def direct_reduce_scatter_s(up: ScaleUp, b: float, n: int) -> float | None:
    """One-shot: every chip sends each peer its share at once (switch, or a mesh with a link a peer)."""
    if n <= 1:
        return 0.0
    if _switched(up):
        return (n - 1) * b / n / up.bw_bytes_per_s + hop_s(up)
    if up.topology == "mesh" and n - 1 <= up.links:
        return b / n / neighbour_bw(up) + up.latency_s
    return None


def tree_reduce_scatter_s(up: ScaleUp, b: float, n: int) -> float | None:
    """Recursive halving (all-gather: doubling) on a switch, ``n`` a power of two."""
    if n <= 1:
        return 0.0
    if not _switched(up) or n & (n - 1):
        return None
    return (n - 1) * b / n / up.bw_bytes_per_s + math.log2(n) * hop_s(up)


def one_shot_all_reduce_s(up: ScaleUp, b: float, n: int) -> float | None:
    """One-shot all-reduce on a switch: a flag hop, then every chip pulls the n-1 peers' whole buffers
    through its port at the ring's measured share and reduces them itself; None at n <= 2 (the ring)."""
    if n <= 1:
        return 0.0
    if not _switched(up) or n <= 2:
        return None
    return (n - 1) * b / (up.bw_bytes_per_s * up.ring_eff) + 2 * hop_s(up)


def in_network_all_reduce_s(up: ScaleUp, b: float, n: int) -> float | None:
    """All-reduce summed in the switch (NVLink SHARP), pipelined: b + b/n through each port each way at
    the achieved share of the line rate (``ScaleUp.in_network_eff``), two switch traversals; only on a
    switch that reduces."""
    if n <= 1:
        return 0.0
    if not up.in_network_reduction or up.topology != "switch":
        return None
    return (n + 1) / n * b / (up.bw_bytes_per_s * up.in_network_eff) + 2 * hop_s(up)


def _ring_relay_s(share: float, length: int, bw: float, a: float) -> float:
    """All-to-all along one closed ring of ``length``, ``share`` bytes per destination, shortest way."""
    if length <= 1:
        return 0.0
    if length % 2:
        load, steps = (length * length - 1) / 8, (length - 1) // 2
    else:
        load, steps = length * length / 8, length // 2
    return load * share / bw + steps * a


def direct_all_to_all_s(up: ScaleUp, b: float, n: int) -> float | None:
    """All sends posted at once: the same one-shot exchange as the direct reduce-scatter."""
    return direct_reduce_scatter_s(up, b, n)


def pairwise_all_to_all_s(up: ScaleUp, b: float, n: int) -> float | None:
    if n <= 1:
        return 0.0
    if _switched(up):
        return (n - 1) * (b / n / up.bw_bytes_per_s + hop_s(up))
    if up.topology == "mesh" and n - 1 <= up.links:
        return (n - 1) * (b / n / neighbour_bw(up) + up.latency_s)
    return None


def relay_all_to_all_s(up: ScaleUp, b: float, n: int) -> float | None:
    """Ring or torus: dimension by dimension, every phase moves the whole buffer ``b``."""
    if n <= 1:
        return 0.0
    if up.topology not in ("ring", "torus2d", "torus3d"):
        return None
    t = 0.0
    for length, closed in dims_of(up, n):
        t += _ring_relay_s(b / length, length, neighbour_bw(up) * (1.0 if closed else 0.5), up.latency_s)
    return t


def _best(options: dict[str, float | None], algo: str | None, kind: str) -> tuple[float, str]:
    have = {k: v for k, v in options.items() if v is not None}
    if algo is not None:
        if algo not in have:
            raise JalapenoError(
                f"{kind} has no {algo!r} algorithm on this topology; use one of {', '.join(have)}",
                field="algorithm",
            )
        return have[algo], algo
    name = min(have, key=lambda k: (have[k], k))
    return have[name], name


def scale_up_s(up: ScaleUp, kind: str, b: float, n: int, algo: str | None = None) -> tuple[float, str]:
    """(seconds, algorithm) of one collective inside one scale-up domain."""
    if kind == "all_to_all":
        opts = {
            "direct": direct_all_to_all_s(up, b, n),
            "pairwise": pairwise_all_to_all_s(up, b, n),
            "relay": relay_all_to_all_s(up, b, n),
        }
        return _best(opts, algo, kind)
    if kind not in KINDS:
        raise JalapenoError(f"unknown collective {kind!r}; use one of {', '.join(KINDS)}", field="collective")
    half = {
        "ring": ring_reduce_scatter_s(up, b, n),
        "direct": direct_reduce_scatter_s(up, b, n),
        "tree": tree_reduce_scatter_s(up, b, n),
    }
    k = 2.0 if kind == "all_reduce" else 1.0
    opts = {a: None if v is None else k * v for a, v in half.items()}
    if kind == "all_reduce":
        opts["in_network"] = in_network_all_reduce_s(up, b, n)
        opts["one_shot"] = one_shot_all_reduce_s(up, b, n)
    return _best(opts, algo, kind)


def collective_s(net: Network, kind: str, b: float, n: int, algo: str | None = None) -> tuple[float, str]:
    """(seconds, algorithm) of a collective over ``n`` chips: inside a domain, or hierarchical."""
    up, d = net.scale_up, net.scale_up.domain_size
    if n <= d:
        return scale_up_s(up, kind, b, n, algo)
    net.check_group(n, "chips")
    out = net.scale_out
    assert out is not None
    k, nic, a = n // d, out.bw_bytes_per_s, out.latency_s
    if kind == "all_to_all":
        # each chip's scale-up port carries its own domain's shares, (d-1)/n b, and forwards (d-1)/d of the
        # (n-d)/n b its NIC received: (d-1)/d b in all, a direct all-to-all of b inside the domain
        inter = (n - d) / n * b
        t_up, name = scale_up_s(up, kind, b, d) if d > 1 else (0.0, "none")
        return max(inter / nic + a, t_up), f"hierarchical({name})"
    inner, name = scale_up_s(up, "reduce_scatter", b, d)
    shard = b / d
    if kind == "all_reduce":
        return 2 * inner + 2 * (k - 1) * (shard / k / nic + a), f"hierarchical({name})"
    return inner + (k - 1) * (shard / k / nic + a), f"hierarchical({name})"


def tp_algorithms(up: ScaleUp, kind: str, n: int = 0) -> tuple[str, ...] | None:
    """The tensor-parallel collective's algorithms, the fastest of them wins: the ring; an all-reduce of
    more than 2 chips on a switch also one-shot (the engines' custom kernel for small buffers), and in the
    switch where it reduces; on a full mesh any (None: the direct exchange wins)."""
    if up.topology == "mesh":
        return None
    if kind != "all_reduce":
        return ("ring",)
    algos: tuple[str, ...] = ("ring",)
    if up.topology == "switch" and n > 2:  # a dragonfly's local group keeps its documented ring (Groq)
        algos += ("one_shot",)
    if up.in_network_reduction:
        algos += ("in_network",)
    return algos


def tp_collective(net: Network, kind: str, b: float, n: int) -> tuple[float, str]:
    """(seconds, algorithm) of one tensor-parallel all-reduce / all-gather of ``b`` bytes a chip over
    ``n`` chips."""
    up = net.scale_up
    if up.topology == "dragonfly":  # inside one fully connected local group: one hop a step
        net = replace(net, scale_up=replace(up, topology="switch"))
    algos = tp_algorithms(up, kind, n)
    if algos is None:
        return collective_s(net, kind, b, n)
    return min((collective_s(net, kind, b, n, a) for a in algos), key=lambda x: (x[0], x[1]))


def tp_collective_s(net: Network, kind: str, b: float, n: int) -> float:
    """Seconds of one tensor-parallel all-reduce / all-gather of ``b`` bytes a chip over ``n`` chips."""
    return tp_collective(net, kind, b, n)[0]


def sent_bytes(kind: str, algo: str, b: float, n: int) -> float:
    """Bytes one chip sends in a collective of ``b`` bytes a chip over ``n`` (for link energy): a ring,
    direct or tree all-reduce sends 2 (n-1)/n b, the in-network one b + b/n, the one-shot one (n-1) b (every
    peer reads the whole buffer), a gather or scatter (n-1)/n b."""
    if n <= 1:
        return 0.0
    if kind != "all_reduce":
        return (n - 1) / n * b
    if algo == "one_shot":
        return (n - 1) * b
    return (n + 1) / n * b if algo == "in_network" else 2 * (n - 1) / n * b


def p2p_s(net: Network, b: float, cross_domain: bool = False) -> float:
    """One chip to one chip: over its NICs between domains; inside, all links on a switch, the
    neighbour's link on a direct topology, one global link and two hops on a dragonfly."""
    if cross_domain:
        if net.scale_out is None:
            raise JalapenoError(
                "the transfer leaves the scale-up domain and the chip has no scale-out NIC figures",
                field="chips",
            )
        return b / net.scale_out.bw_bytes_per_s + net.scale_out.latency_s
    up = net.scale_up
    if up.topology == "dragonfly":
        return b / up.link_bytes_per_s + 2 * up.latency_s
    bw = up.bw_bytes_per_s if _switched(up) else neighbour_bw(up)
    return b / bw + hop_s(up)
