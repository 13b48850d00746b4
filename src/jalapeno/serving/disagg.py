"""The disaggregated topology (Splitwise, DistServe): a prefill and a decode pool, KV sent over a link.

This is a deployment topology (``topology="disagg"``), not a scheduler: prefill replicas run the
configured scheduler (``scheduler``) and emit the first token; the request's KV (its computed
tokens x ``kv_bytes_per_token`` of the prefill oracle) then crosses the prefill replica's link, FIFO
(transfers from one replica queue behind each other), and the request joins the waiting queue of the
decode replica the router picked at hand-off. The prefill replica frees the KV when the transfer is
done. The decode pool runs continuous batching (``vllm``); its requests arrive in the decode phase.

Each pool may run its own parallel plan (``decode_parallel``, priced by ``decode_oracle``). The KV sent
is the model's, ``kv_bytes_per_token`` per token, whatever either side's sharding: resharding (a TP8
prefill replica's heads regrouped onto TP4 decode chips) moves the same bytes over the same link, and
the link's bandwidth is the caller's figure (``serve``: the NICs of the smaller of the two replicas).
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
    link_bandwidth_bytes_per_s: float = LINK_BANDWIDTH_BYTES_PER_S
    link_latency_s: float = LINK_LATENCY_S

    def __post_init__(self) -> None:
        for name in ("prefill_replicas", "decode_replicas"):
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
        self._link_free: dict[int, float] = {}

    def send(self, src: Replica, st: RequestState, now: float) -> list[Event]:
        dst = self.decode_pool[self.router.choose(st, self.decode_pool)]
        dst.outstanding += st.output - 1  # routed now, so the next choice sees it
        nbytes = st.computed * float(src.oracle.kv_bytes_per_token)
        start = max(now, self._link_free.get(src.index, now))
        free = start + nbytes / self.spec.link_bandwidth_bytes_per_s
        self._link_free[src.index] = free
        done = free + self.spec.link_latency_s
        self.transfer_s += done - now
        return [(done, PRIO_READY, self._arrive, (src, dst, st))]

    def _arrive(self, now: float, payload: tuple[Replica, Replica, RequestState]) -> list[Event]:
        src, dst, st = payload
        events = list(src.release(st, now) or ())
        st.status = WAITING
        events.extend(dst.enqueue(st, now, 0) or ())
        return events
