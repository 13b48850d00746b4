"""A step-by-step simulator of collective algorithms, to check ``cost.network``'s closed forms.

Chunks move link by link. A ``Send`` names its source, destination, bytes, the sends it must wait
for (data it forwards or reduces) and its route: a tuple of hops, each hop the resources it holds
while it serializes (a direct link ``("link", i, j, lane)``; on a switch the sender's output port
and the receiver's input port together, cut-through). A resource serves sends in the order given
(FIFO); a hop starts when the chunk is at the hop and every resource is free, lasts bytes / the
slowest resource's bandwidth, and the chunk reaches the hop's end one latency later.

Schedules for ring reduce-scatter / all-gather / all-reduce, direct reduce-scatter, one-shot all-reduce,
direct, pairwise and relay all-to-all are built per topology (switch, ring, torus, full mesh), placing chips
as the closed forms do; the in-network all-reduce on a switch that reduces sends chunks into the switch
(node ``SWITCH``), whose sums and multicasts come back out. ``run`` returns the finish time and the
bytes each chip sent and received.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from jalapeno.cost.network import dims_of, hop_s, neighbour_bw
from jalapeno.hardware.network import ScaleUp

Hop = tuple[Hashable, ...]
SWITCH = -1  # the switch's reduction and multicast unit, as a send's source or destination


@dataclass(frozen=True)
class Send:
    src: int
    dst: int
    bytes_: float
    after: tuple[int, ...]  # indices of earlier sends that must have arrived at ``src``
    route: tuple[Hop, ...]


@dataclass
class Result:
    time_s: float
    sent: dict[int, float] = field(default_factory=dict)
    received: dict[int, float] = field(default_factory=dict)


def run(
    sends: list[Send], bw_of: Callable[[Hashable], float], latency_s: float | Callable[[Hop], float]
) -> Result:
    """Simulate ``sends`` in list order (every ``after`` index precedes its send); ``latency_s`` is
    one figure, or a hop's latency by its resources (NIC hops and NVLink hops differ)."""
    free: dict[Hashable, float] = {}
    arrive: list[float] = []
    res = Result(0.0)
    for i, s in enumerate(sends):
        assert all(j < i for j in s.after), "a send waits only on earlier sends"
        t = max((arrive[j] for j in s.after), default=0.0)
        for hop in s.route:
            start = max([t] + [free.get(r, 0.0) for r in hop])
            end = start + s.bytes_ / min(bw_of(r) for r in hop)
            for r in hop:
                free[r] = end
            t = end + (latency_s(hop) if callable(latency_s) else latency_s)
        arrive.append(t)
        res.time_s = max(res.time_s, t)
        res.sent[s.src] = res.sent.get(s.src, 0.0) + s.bytes_
        res.received[s.dst] = res.received.get(s.dst, 0.0) + s.bytes_
    return res


# -- topologies: routes and bandwidths ---------------------------------------------------------------


class Fabric:
    """Chips 0..n-1 placed on ``up``'s topology (a torus fills its first dimension first)."""

    def __init__(self, up: ScaleUp, n: int) -> None:
        self.up, self.n = up, n
        self.shape = [length for length, _ in dims_of(up, n)] if up.topology.startswith("torus") else [n]
        self.switched = up.topology in ("switch", "dragonfly")

    def coords(self, i: int) -> list[int]:
        out = []
        for length in self.shape:
            out.append(i % length)
            i //= length
        return out

    def index(self, c: list[int]) -> int:
        i, m = 0, 1
        for x, length in zip(c, self.shape, strict=True):
            i += x * m
            m *= length
        return i

    def step(self, i: int, dim: int, delta: int) -> int:
        c = self.coords(i)
        c[dim] = (c[dim] + delta) % self.shape[dim]
        return self.index(c)

    def hop(self, i: int, j: int, lane: int = 0) -> Hop:
        """One hop from ``i`` to ``j``: a switch's ports, or the direct link (a lane per direction)."""
        if self.switched:
            return (("out", i), ("in", j))
        return (("link", i, j, lane),)

    def bw(self, r: Hashable) -> float:
        return self.up.bw_bytes_per_s if self.switched else neighbour_bw(self.up)

    @property
    def latency_s(self) -> float:
        return hop_s(self.up)

    def hop_latency_s(self, hop: Hop) -> float:
        """A chunk into the switch's reduction or multicast unit adds no latency of its own: a chip to
        the switch and back out is one traversal, one latency, as a cut-through hop."""
        first = hop[0]
        into = len(hop) == 1 and isinstance(first, tuple) and first[0] == "out"
        return 0.0 if into else self.latency_s


# -- schedules --------------------------------------------------------------------------------------


def _ring_phase(
    f: Fabric, sends: list[Send], last: dict[int, list[int]], rings: list[list[int]], chunk: float, lane: int
) -> dict[int, list[int]]:
    """len(ring) - 1 ring steps on each ring: every chip passes ``chunk`` to its successor, after what
    it received in the previous step (or ``last`` before the phase)."""
    got = {i: list(last.get(i, [])) for r in rings for i in r}
    for _ in range(max(len(r) for r in rings) - 1):
        new: dict[int, list[int]] = {i: [] for i in got}
        for r in rings:
            for k, i in enumerate(r):
                j = r[(k + 1) % len(r)]
                sends.append(Send(i, j, chunk, tuple(got[i]), (f.hop(i, j, lane),)))
                new[j].append(len(sends) - 1)
        got = new
    return got


def _rings(f: Fabric, dim: int, reverse: bool) -> list[list[int]]:
    """The rings along dimension ``dim`` (each in order, or reversed)."""
    out, seen = [], set()
    for i in range(f.n):
        if i in seen:
            continue
        r = [i]
        while len(r) < f.shape[dim]:
            r.append(f.step(r[-1], dim, 1))
        seen.update(r)
        out.append(r[::-1] if reverse else r)
    return out


def ring_schedule(f: Fabric, b: float, kind: str) -> list[Send]:
    """Ring reduce-scatter / all-gather / all-reduce of ``b`` bytes a chip: on a switch one ring at
    full port bandwidth; on direct topologies two counter-rotating rings of b/2, dimension by
    dimension (all-gather walks the dimensions back); a pair on a full mesh has one link between them
    (a link a peer), so one ring."""
    sends: list[Send] = []
    phases = {"reduce_scatter": ["rs"], "all_gather": ["ag"], "all_reduce": ["rs", "ag"]}[kind]
    one_ring = f.switched or (f.up.topology == "mesh" and f.n == 2)
    lanes = [(False, 1.0)] if one_ring else [(False, 0.5), (True, 0.5)]
    last: dict[tuple[bool, int], list[int]] = {}
    for ph in phases:
        order = range(len(f.shape)) if ph == "rs" else reversed(range(len(f.shape)))
        for dim in order:
            for rev, frac in lanes:
                shard = b * frac
                for d in range(dim):  # a step's chunk: the shard left after the dimensions before
                    shard /= f.shape[d]
                chunk = shard / f.shape[dim]
                got = _ring_phase(
                    f,
                    sends,
                    {i: last.get((rev, i), []) for i in range(f.n)},
                    _rings(f, dim, rev),
                    chunk,
                    int(rev),
                )
                for i, ids in got.items():
                    last[(rev, i)] = ids
    return sends


def direct_schedule(f: Fabric, b: float, kind: str) -> list[Send]:
    """One-shot reduce-scatter / all-gather / all-to-all on a switch or full mesh: chip i sends its
    share for i+1, i+2, ... in that order (no two senders hit one receiver at once)."""
    share = b / f.n
    return [
        Send(i, (i + k) % f.n, share, (), (f.hop(i, (i + k) % f.n),))
        for k in range(1, f.n)
        for i in range(f.n)
    ]


def one_shot_schedule(f: Fabric, b: float) -> list[Send]:
    """One-shot all-reduce on a switch: every chip first tells each peer its buffer is ready (a flag,
    zero bytes), then each peer, once it holds that chip's flag, reads the whole buffer (a pull, run
    as the owner's send after the flag arrived): chip i's data goes to i+1, i+2, ... in that order (no
    two senders hit one receiver at once); each chip sums what it read itself."""
    n = f.n
    sends = [Send(i, (i + k) % n, 0.0, (), (f.hop(i, (i + k) % n),)) for k in range(1, n) for i in range(n)]
    flag = {(s.src, s.dst): x for x, s in enumerate(sends)}
    sends += [
        Send(i, (i + k) % n, b, (flag[(i, (i + k) % n)],), (f.hop(i, (i + k) % n),))
        for k in range(1, n)
        for i in range(n)
    ]
    return sends


def pairwise_schedule(f: Fabric, b: float) -> list[Send]:
    """n-1 synchronized exchanges: in step k chip i sends to i+k once its step k-1 exchange is done."""
    share, sends = b / f.n, []
    got: dict[int, int] = {}  # the send chip i received in the last step
    own: dict[int, int] = {}  # the send chip i made in the last step
    for k in range(1, f.n):
        g, o = {}, {}
        for i in range(f.n):
            j = (i + k) % f.n
            after = tuple(x for x in (got.get(i), own.get(i)) if x is not None)
            sends.append(Send(i, j, share, after, (f.hop(i, j),)))
            g[j] = o[i] = len(sends) - 1
        got, own = g, o
    return sends


def relay_schedule(f: Fabric, b: float) -> list[Send]:
    """All-to-all on a ring or torus, dimension by dimension: along each ring every chip forwards,
    each step, the bundle of shares still travelling in that direction (shortest way; a share
    exactly opposite goes half each way)."""
    sends: list[Send] = []
    last: dict[int, list[int]] = {}
    for dim, length in enumerate(f.shape):
        if length <= 1:
            continue
        share = b / length
        steps = length // 2 if length % 2 == 0 else (length - 1) // 2
        got: dict[int, list[int]] = {i: list(last.get(i, [])) for i in range(f.n)}
        for rev in (False, True):
            prev = {i: list(last.get(i, [])) for i in range(f.n)}
            for s in range(1, steps + 1):
                # shares at distance >= s in this direction; the opposite one (even length) counts half
                count = (length - 1) // 2 - s + 1 + (0.5 if length % 2 == 0 else 0.0)
                new: dict[int, list[int]] = {i: [] for i in range(f.n)}
                for i in range(f.n):
                    j = f.step(i, dim, -1 if rev else 1)
                    sends.append(Send(i, j, count * share, tuple(prev[i]), (f.hop(i, j, int(rev)),)))
                    new[j].append(len(sends) - 1)
                prev = new
            for i in range(f.n):
                got[i] += prev[i]
        last = got
    return sends


def halving_schedule(f: Fabric, b: float) -> list[Send]:
    """Recursive-halving reduce-scatter on a switch (n a power of two): in step k chip i exchanges
    half of what it still holds, b / 2^(k+1), with chip i xor n / 2^(k+1)."""
    sends: list[Send] = []
    got: dict[int, int] = {}
    own: dict[int, int] = {}
    step, size = f.n // 2, b / 2
    while step >= 1:
        g, o = {}, {}
        for i in range(f.n):
            j = i ^ step
            after = tuple(x for x in (got.get(i), own.get(i)) if x is not None)
            sends.append(Send(i, j, size, after, (f.hop(i, j),)))
            g[j] = o[i] = len(sends) - 1
        got, own = g, o
        step, size = step // 2, size / 2
    return sends


def in_network_schedule(f: Fabric, b: float, chunks: int, depth: int) -> list[Send]:
    """NVLink SHARP all-reduce in ``chunks`` pieces, ``depth`` pieces in flight (run it with
    ``f.hop_latency_s``): chip j owns share j of each piece; every chip sends each owner's share into
    the switch (its own too: the switch reads all n), the switch sends owner j the sum, and j sends it
    once into the switch, which multicasts it to every chip. Piece c's multicast is queued on the
    ports after piece c + depth's contributions, so the two phases overlap."""
    n, share = f.n, b / f.n / chunks
    sends: list[Send] = []
    reduced: dict[int, list[int]] = {}

    def contribute(c: int) -> None:
        into: dict[int, list[int]] = {j: [] for j in range(n)}
        for k in range(n):
            for m in range(n):  # chip k starts with the share of the chip after it: no owner waits on all
                j = (k + m + 1) % n
                sends.append(Send(k, SWITCH, share, (), ((("out", k),),)))
                into[j].append(len(sends) - 1)
        reduced[c] = []
        for j in range(n):
            sends.append(Send(SWITCH, j, share, tuple(into[j]), ((("in", j),),)))
            reduced[c].append(len(sends) - 1)

    def multicast(c: int) -> None:
        for j in range(n):
            sends.append(Send(j, SWITCH, share, (reduced[c][j],), ((("out", j),),)))
            up = len(sends) - 1
            sends.extend(Send(SWITCH, (j + k) % n, share, (up,), ((("in", (j + k) % n),),)) for k in range(n))

    for c in range(chunks + depth):
        if c < chunks:
            contribute(c)
        if c >= depth:
            multicast(c - depth)
    return sends


def hierarchical_all_reduce_schedule(d: int, k: int, b: float) -> list[Send]:
    """All-reduce over ``k`` switched domains of ``d`` chips (chip ``r * d + j`` is rank j of domain r):
    direct reduce-scatter inside each domain over its switch ports, a ring all-reduce of the b/d shard
    among the rank-j chips of every domain over their NICs (``("nic_out", i)``, ``("nic_in", j)``,
    rail-optimized), direct all-gather inside the domain."""
    sends: list[Send] = []
    n = d * k

    def intra(after_of: dict[int, list[int]]) -> dict[int, list[int]]:
        got: dict[int, list[int]] = {i: [] for i in range(n)}
        for s in range(1, d):
            for i in range(n):
                r, j = divmod(i, d)
                dst = r * d + (j + s) % d
                sends.append(Send(i, dst, b / d, tuple(after_of.get(i, [])), ((("out", i), ("in", dst)),)))
                got[dst].append(len(sends) - 1)
        return got

    got = intra({})
    for _ in range(2 * (k - 1)):  # ring reduce-scatter then all-gather along each rail
        new: dict[int, list[int]] = {i: [] for i in range(n)}
        for i in range(n):
            r, j = divmod(i, d)
            dst = ((r + 1) % k) * d + j
            sends.append(Send(i, dst, b / d / k, tuple(got[i]), ((("nic_out", i), ("nic_in", dst)),)))
            new[dst].append(len(sends) - 1)
        got = new
    intra(got)
    return sends


def hierarchical_all_to_all_schedule(d: int, k: int, b: float, chunks: int = 16) -> list[Send]:
    """All-to-all over ``k`` switched domains of ``d`` chips the way DeepEP's normal kernels run it: each
    chip sends its ``b / n`` shares for its own domain over the switch ports, and the shares for another
    domain's ``d`` chips in ``chunks`` pieces over its NIC to the same-rank chip there (rail-optimized),
    which forwards each piece's shares over its switch ports as the piece arrives (so the NIC stream and
    the forwarding overlap: the closed form's max)."""
    n, share = d * k, b / (d * k)
    sends: list[Send] = []
    for s in range(1, d):  # the own domain's shares, posted at once
        for i in range(n):
            r, j = divmod(i, d)
            dst = r * d + (j + s) % d
            sends.append(Send(i, dst, share, (), ((("out", i), ("in", dst)),)))
    for c in range(chunks):
        for off in range(1, k):
            arrived = []
            for i in range(n):
                r, j = divmod(i, d)
                p = ((r + off) % k) * d + j
                sends.append(Send(i, p, d * share / chunks, (), ((("nic_out", i), ("nic_in", p)),)))
                arrived.append((p, len(sends) - 1))
            for s in range(1, d):  # round s: rank j forwards to rank j + s (no two hit one receiver)
                for p, idx in arrived:
                    r, j = divmod(p, d)
                    dst = r * d + (j + s) % d
                    sends.append(Send(p, dst, share / chunks, (idx,), ((("out", p), ("in", dst)),)))
        del c
    return sends
