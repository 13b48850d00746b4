"""Public entry: replay requests through a fleet of replicas and measure it (``simulate``).

The simulation owns the event loop, the replicas (one pool, or a prefill and a decode pool), the
routers and the fleet power trace. Arrivals enter one at a time (each arrival schedules the next),
so the heap holds O(replicas) events whatever the trace length.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from jalapeno.serving.config import ServingConfig
from jalapeno.serving.disagg import KVHandoff
from jalapeno.serving.events import PRIO_ARRIVAL, Event, EventLoop
from jalapeno.serving.kv_cache import KVCacheManager
from jalapeno.serving.metrics import SLO, PowerTrace, SimResult
from jalapeno.serving.oracle import StepOracle
from jalapeno.serving.replica import Observer, Replica, ReplicaHooks, Role
from jalapeno.serving.request_state import DROPPED, FINISHED, RequestState
from jalapeno.serving.result import build_result
from jalapeno.serving.routers.base import Router, make_router
from jalapeno.serving.schedulers.base import Scheduler, make_scheduler
from jalapeno.serving.schedulers.priorities import make_queue

if TYPE_CHECKING:
    from jalapeno.serving.trace_export import TimelineRecorder

Progress = Callable[[int, int], Any]  # (requests finished or dropped, total)
DEFAULT_SLO = SLO()  # TTFT <= 1 s, TPOT <= 25 ms


def scheduler_of(name: str | Scheduler, cfg: ServingConfig) -> Scheduler:
    """A registered scheduler by name, built with the configuration's limits (or a scheduler as given)."""
    if not isinstance(name, str):
        return name
    return make_scheduler(
        name, max_num_seqs=cfg.max_num_seqs, max_num_batched_tokens=cfg.max_num_batched_tokens
    )


class Simulation:
    def __init__(
        self,
        requests: Iterable[Any],
        oracle: StepOracle,
        cfg: ServingConfig,
        *,
        progress: Progress | None = None,
        observers: Sequence[Observer] = (),
    ) -> None:
        self.cfg = cfg
        self.requests = sorted(
            requests, key=lambda r: (r.arrival_s, r.request_id)
        )  # input order is irrelevant
        self.t0 = self.requests[0].arrival_s if self.requests else 0.0
        self.loop = EventLoop(self.t0)
        self.power = PowerTrace(cfg.power_window_s, self.t0)
        self.observers = list(observers)
        self.progress = progress
        self.states: list[RequestState] = []
        self.done = 0
        self._every = max(1, len(self.requests) // 200)
        self.kv_link: KVHandoff | None = None
        spec = cfg.speculative
        self.spec_tokens = spec.k if spec else 0
        if cfg.is_disagg:
            d = cfg.pools
            self.kv_link = KVHandoff(d, [], make_router(cfg.router))
            self.decode_pool = self._build(
                "decode",
                d.decode_replicas,
                d.decode_oracle or oracle,
                scheduler_of("vllm", cfg),
                first=d.prefill_replicas,
            )
            self.kv_link.decode_pool = self.decode_pool
            self.pool = self._build("prefill", d.prefill_replicas, oracle, scheduler_of(cfg.scheduler, cfg))
        else:
            self.pool = self._build("unified", cfg.replicas, oracle, scheduler_of(cfg.scheduler, cfg))
            self.decode_pool = []
        self.router = make_router(cfg.router)

    def _build(
        self, role: Role, count: int, oracle: StepOracle, scheduler: Scheduler, first: int = 0
    ) -> list[Replica]:
        cfg = self.cfg
        hooks = ReplicaHooks(
            self.power,
            self.observers,
            self.finish,
            self.kv_link.send if role == "prefill" and self.kv_link is not None else None,
            # the all-to-alls share the NICs with the KV transfers only where they cross them
            self.kv_link.nic_busy_s
            if self.kv_link is not None and getattr(oracle, "all_to_all_on_nics", False)
            else None,
        )
        out = []
        for i in range(count):
            kv = KVCacheManager(
                int(oracle.kv_capacity_tokens),
                cfg.block_size,
                prefix_cache=cfg.prefix_cache and role != "decode",
                tier=cfg.tier,
                kv_bytes_per_token=float(oracle.kv_bytes_per_token),
            )
            out.append(
                Replica(
                    first + i,
                    role,
                    hooks,
                    oracle,
                    kv,
                    scheduler,
                    make_queue(cfg.policy),
                    preemption=cfg.preemption,
                    speculative=cfg.speculative,
                    max_decode_run=cfg.max_decode_run,
                )
            )
        return out

    @property
    def replicas(self) -> list[Replica]:
        return self.pool + self.decode_pool

    # --- run ------------------------------------------------------------------------------------------
    def run(self) -> None:
        if self.requests:
            self.loop.schedule(self._arrival_time(0), PRIO_ARRIVAL, self._on_arrival, 0)
        self.loop.run()
        stuck = [st for st in self.states if st.finish_s < 0 and st.status != DROPPED]
        if stuck or len(self.states) != len(self.requests):
            raise RuntimeError(f"simulation ended with {len(stuck)} requests unfinished, e.g. {stuck[:3]}")
        if self.progress is not None:
            self.progress(len(self.requests), len(self.requests))

    def check_invariants(self) -> None:
        """Assert conservation after a run: every request finished (all its tokens) or dropped with a
        reason; its KV tokens add up; every replica drained (no blocks held, no outstanding work)."""
        for st in self.states:
            if st.status == DROPPED:
                assert st.drop_reason and st.finish_s < 0, st
                continue
            assert st.status == FINISHED and st.generated == st.output, st
            filled = (
                st.hit_tokens + st.loaded_tokens + st.prefill_tokens + st.decode_tokens - st.discarded_tokens
            )
            assert filled == st.computed == st.prompt + st.output - 1, (st, filled)
            assert st.held_blocks == 0 and st.own_blocks == 0 and not st.units, st
            assert st.arrival_s <= st.scheduled_s <= st.first_token_s <= st.last_token_s == st.finish_s, st
        for rep in self.replicas:
            assert not rep.running and not rep.waiting and not rep.busy, rep.index
            assert rep.outstanding == 0, (rep.index, rep.outstanding)
            assert rep.kv.used_blocks == 0, (rep.index, rep.kv.used_blocks)
            if rep.kv.tier is not None:
                assert rep.kv.tier.reserved_blocks == 0

    def _arrival_time(self, i: int) -> float:
        arrival_s: float = self.requests[i].arrival_s
        return self.t0 + (arrival_s - self.t0) / self.cfg.rate_scale

    def _on_arrival(self, now: float, i: int) -> list[Event]:
        req = self.requests[i]
        st = RequestState(req, now, int(getattr(req, "priority", 0) or 0))
        self.states.append(st)
        events: list[Event] = []
        if i + 1 < len(self.requests):
            events.append((self._arrival_time(i + 1), PRIO_ARRIVAL, self._on_arrival, i + 1))
        reason = self._drop_reason(st)
        if reason:
            st.status, st.drop_reason = DROPPED, reason
            self._count()
            return events
        rep = self.pool[self.router.choose(st, self.pool)]
        work = st.prompt if self.decode_pool else st.prompt + st.output - 1
        more = rep.enqueue(st, now, work)
        if more:
            events.extend(more)
        return events

    def _drop_reason(self, st: RequestState) -> str:
        if st.prompt < 1 or st.output < 1:
            return "prompt_tokens and output_tokens must be >= 1"
        limit = self.cfg.max_model_len
        if limit is not None and st.prompt + st.output > limit:
            return f"prompt + output tokens ({st.prompt + st.output}) exceed max_model_len ({limit})"
        kv_tokens = st.prompt + st.output - 1 + self.spec_tokens
        if self.decode_pool:
            prefill_kv = self.pool[0].kv
            if prefill_kv.blocks_for(st.prompt) > prefill_kv.num_blocks:
                return (
                    f"prompt ({st.prompt} tokens) exceeds the prefill replica's KV capacity "
                    f"({prefill_kv.num_blocks * prefill_kv.block_size} tokens)"
                )
            kv = self.decode_pool[0].kv
        else:
            kv = self.pool[0].kv
        if kv.blocks_for(kv_tokens) > kv.num_blocks:
            return (
                f"needs {kv_tokens} KV tokens, more than a replica holds "
                f"({kv.num_blocks * kv.block_size} tokens)"
            )
        return ""

    # --- callbacks from replicas ----------------------------------------------------------------------
    def finish(self, st: RequestState, now: float) -> None:
        self._count()

    def _count(self) -> None:
        self.done += 1
        if self.progress is not None and self.done % self._every == 0:
            self.progress(self.done, len(self.requests))


def simulate(
    requests: Iterable[Any],
    oracle: StepOracle,
    *,
    replicas: int = 1,
    scheduler: str | Scheduler = "vllm",
    router: str | Router = "round_robin",
    topology: str = "colocated",
    prefix_cache: bool = False,
    slo: SLO = DEFAULT_SLO,
    progress: Progress | None = None,
    on_step: Observer | None = None,
    timeline: TimelineRecorder | None = None,
    **options: Any,
) -> SimResult:
    """Serve ``requests`` (objects with ``request_id, arrival_s, prompt_tokens, output_tokens`` and
    optionally ``block_hashes, block_tokens, priority``) on replicas priced by ``oracle``.

    ``topology="disagg"`` splits the fleet into a prefill and a decode pool (``disagg=Disagg(...)`` sizes
    them; ``scheduler`` is then the prefill pool's). ``options`` are the other ``ServingConfig`` fields:
    ``block_size, max_num_seqs, max_num_batched_tokens, max_model_len, policy, preemption, tier, disagg,
    speculative, max_decode_run, dollars_per_replica_hour, power_window_s, rate_scale``.
    ``progress(done, total)`` is called about 200 times; ``on_step(StepRecord)`` after every step.
    """
    # scheduler and router may be any name here: ServingConfig checks them against its lists
    cfg = ServingConfig(
        replicas=replicas,
        scheduler=scheduler,
        router=router,
        topology=topology,  # type: ignore[arg-type]
        prefix_cache=prefix_cache,
        slo=slo,
        **options,
    )
    return run_config(requests, oracle, cfg, progress=progress, on_step=on_step, timeline=timeline)


def run_config(
    requests: Iterable[Any],
    oracle: StepOracle,
    cfg: ServingConfig,
    *,
    progress: Progress | None = None,
    on_step: Observer | None = None,
    timeline: TimelineRecorder | None = None,
) -> SimResult:
    wall = time.perf_counter()
    observers = [f for f in (on_step, timeline.on_step if timeline is not None else None) if f is not None]
    sim = Simulation(requests, oracle, cfg, progress=progress, observers=observers)
    sim.run()
    result = build_result(sim, time.perf_counter() - wall)
    if timeline is not None:
        timeline.finish(sim.states, result.power_series)
    return result


def max_rate_at_attainment(
    requests: Sequence[Any],
    oracle: StepOracle,
    *,
    target: float = 0.9,
    lo: float = 0.125,
    hi: float = 8.0,
    iterations: int = 10,
    **kwargs: Any,
) -> tuple[float, SimResult | None]:
    """Goodput at ``target`` attainment: the highest arrival rate (req/s) whose SLO attainment >= target.

    Bisects the trace's rate scale (``rate_scale``) in log space between ``lo`` and ``hi``; returns the
    rate and the result at that rate (0 and None when even ``lo`` misses the target).
    """
    import math

    span = max(r.arrival_s for r in requests) - min(r.arrival_s for r in requests)
    base_rate = (len(requests) - 1) / span if span > 0 else float(len(requests))
    best: tuple[float, SimResult | None] = (0.0, None)
    a, b = math.log(lo), math.log(hi)
    first = simulate(requests, oracle, rate_scale=lo, **kwargs)
    if first.slo_attainment < target:
        return best
    best = (base_rate * lo, first)
    for _ in range(iterations):
        mid = (a + b) / 2
        res = simulate(requests, oracle, rate_scale=math.exp(mid), **kwargs)
        if res.slo_attainment >= target:
            a, best = mid, (base_rate * math.exp(mid), res)
        else:
            b = mid
    return best
