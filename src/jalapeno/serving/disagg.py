"""The disaggregated topology (Splitwise, DistServe): a prefill and a decode pool, KV sent over a link.

This is a deployment topology (``topology="disagg"``), not a scheduler: prefill replicas run the
configured scheduler (``scheduler``) and emit the first token; the request's KV (its computed
tokens x ``kv_bytes_per_token`` of the prefill oracle) then crosses the link, and the request joins the
waiting queue of the decode replica the router picked at hand-off. The prefill replica frees the KV
when the transfer is done. The decode pool runs continuous batching (``vllm``); its requests arrive in
the decode phase.

The link: a transfer lasts ``bytes / link_bandwidth_bytes_per_s + link_latency_s``, the caller's
figures for one request (``serve`` prices them with ``cost.kv_transfer``: the resharding between the two
pools' plans, the busiest NIC's fan-in or fan-out). A request's KV sits on one attention replica (with
data-parallel attention a replica has ``prefill_groups`` / ``decode_groups`` of them, each on its own
NICs), so a transfer holds one NIC group at each end: the source's in turn (round robin, as a
data-parallel scheduler places requests), the destination's that frees first. Each group is a queue
(busy-until): transfers into one decode group from several prefill replicas wait for each other, as do
transfers out of one source group, so bytes are conserved on every NIC; a transfer holds both ends'
groups for its whole time (the slower end sets it).

Where a pool's expert-parallel all-to-alls cross the NICs (an EP group over several scale-up domains;
``Replica.nic_busy`` is set only then), KV bytes and all-to-all bytes share them, and the KV goes first
(its transfer was posted): a step that overlaps a transfer, one already posted when the step starts or one
posted while it runs, waits its all-to-all's share of the overlap (``Replica.nic_delay``: the step's
all-to-all NIC seconds per second, spread evenly over the step). Bytes are conserved: the all-to-all bytes
the KV displaced move after it. The transfer keeps its rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jalapeno.errors import JalapenoError
from jalapeno.serving.events import PRIO_READY, Event
from jalapeno.serving.oracle import StepOracle
from jalapeno.serving.request_state import WAITING, RequestState

if TYPE_CHECKING:
    from jalapeno.cost.pipeline import Parallel
    from jalapeno.serving.replica import Replica
    from jalapeno.serving.routers.base import Router

# Defaults of the KV link between the prefill and the decode pool: one 400 Gb/s NIC per GPU
# (InfiniBand NDR / ConnectX-7: 50 GB/s), and an assumed 10 us per transfer (RDMA setup and completion).
LINK_BANDWIDTH_BYTES_PER_S = 50e9
LINK_LATENCY_S = 10e-6


@dataclass(frozen=True)
class Disagg:
    """Pool sizes, the decode pool's oracle and the KV link (see the module docstring)."""

    prefill_replicas: int = 1
    decode_replicas: int = 1
    decode_oracle: StepOracle | None = None  # None: the same chip and model as the prefill pool
    # the decode pool's parallel plan when it differs from the prefill pool's (None: the same); its
    # decode_oracle is priced under it. For the record: the simulator sees the plan only through the oracle.
    decode_parallel: Parallel | None = None
    link_bandwidth_bytes_per_s: float = LINK_BANDWIDTH_BYTES_PER_S  # one request's KV drains at this rate
    link_latency_s: float = LINK_LATENCY_S  # a request
    prefill_groups: int = 1  # NIC groups (attention replicas) of a prefill replica
    decode_groups: int = 1  # ... of a decode replica

    def __post_init__(self) -> None:
        for name in ("prefill_replicas", "decode_replicas", "prefill_groups", "decode_groups"):
            if getattr(self, name) < 1:
                raise JalapenoError(f"must be >= 1, got {getattr(self, name)}", field=f"disagg.{name}")
        if self.link_bandwidth_bytes_per_s <= 0:
            raise JalapenoError("must be > 0", field="disagg.link_bandwidth_bytes_per_s")
        if self.link_latency_s < 0:
            raise JalapenoError("must be >= 0", field="disagg.link_latency_s")
        self._check_decode_plan()

    def _check_decode_plan(self) -> None:
        """A decode plan needs a decode oracle priced under that plan (an oracle that names its plan)."""
        if self.decode_parallel is None:
            return
        if self.decode_oracle is None:
            raise JalapenoError(
                "a decode plan needs the decode pool's oracle priced under it: give decode_oracle",
                field="disagg.decode_parallel",
            )
        priced = getattr(self.decode_oracle, "parallel", self.decode_parallel)
        if priced != self.decode_parallel:
            raise JalapenoError(
                f"the decode oracle is priced under {priced}, not {self.decode_parallel}",
                field="disagg.decode_parallel",
            )


class KVHandoff:
    """Moves prefilled requests from the prefill pool to the decode pool."""

    def __init__(self, spec: Disagg, decode_pool: Sequence[Replica], router: Router) -> None:
        self.spec = spec
        self.decode_pool = decode_pool
        self.router = router
        self.transfer_s = 0.0  # summed over requests, link queueing included
        self._free: dict[tuple[int, int], float] = {}  # (replica, NIC group) -> busy until
        self._turn: dict[int, int] = {}  # prefill replica -> its next source group
        self._busy: dict[int, list[tuple[float, float]]] = {}  # replica -> transfers on its NICs

    def send(self, src: Replica, st: RequestState, now: float) -> list[Event]:
        dst = self.decode_pool[self.router.choose(st, self.decode_pool)]
        dst.outstanding += st.output - 1  # routed now, so the next choice sees it
        nbytes = st.computed * float(src.oracle.kv_bytes_per_token)
        turn = self._turn.get(src.index, 0)
        self._turn[src.index] = (turn + 1) % self.spec.prefill_groups
        free = self._free
        ends = ((src.index, turn), self._first_free(dst.index, now))
        start = max(now, free.get(ends[0], now), free.get(ends[1], now))
        last_byte = start + nbytes / self.spec.link_bandwidth_bytes_per_s
        free[ends[0]] = free[ends[1]] = last_byte
        done = last_byte + self.spec.link_latency_s
        self.transfer_s += done - now
        events: list[Event] = [(done, PRIO_READY, self._arrive, (src, dst, st))]
        for rep in (src, dst):
            if rep.nic_busy is not None:  # its all-to-alls share these NICs
                self._busy.setdefault(rep.index, []).append((start, last_byte))
                events.extend(rep.nic_delay(now, start, last_byte))
        return events

    def nic_busy_s(self, replica: Replica, a: float, b: float) -> float:
        """Seconds of [a, b] in which KV transfers hold some of ``replica``'s NICs (their union)."""
        spans = self._busy.get(replica.index)
        if not spans:
            return 0.0
        spans[:] = [x for x in spans if x[1] > a]  # transfers done before the step matter no more
        t, reach = 0.0, a
        for lo, hi in sorted(spans):
            lo, hi = max(lo, reach), min(hi, b)
            if hi > lo:
                t += hi - lo
                reach = hi
        return t

    def _first_free(self, replica: int, now: float) -> tuple[int, int]:
        """The destination replica's NIC group that frees first (the lowest on a tie)."""
        keys = [(replica, g) for g in range(self.spec.decode_groups)]
        return min(keys, key=lambda k: (self._free.get(k, now), k[1]))

    def _arrive(self, now: float, payload: tuple[Replica, Replica, RequestState]) -> list[Event]:
        src, dst, st = payload
        events = list(src.release(st, now) or ())
        st.status = WAITING
        events.extend(dst.enqueue(st, now, 0) or ())
        return events
