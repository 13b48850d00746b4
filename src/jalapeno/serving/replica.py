"""One replica: its queues, its KV cache, and the step loop that runs its scheduler's plans.

A step is priced through the oracle from the plan's aggregates (``StepShape``). The loop is event
driven: a step schedules its own end; arrivals and ready loads ``kick`` the replica.

**Decode runs.** When a step is all decodes and nothing can change the batch (no admission, no
preemption, no prefill, no load in flight), the replica plans a run of ``m`` identical-batch decode
steps as one event: ``m`` stops at the first completion, at ``max_decode_run``, and where the free KV
blocks run out. The run is priced by the oracle at its first and last step; steps in between are
linear in context (decode cost is affine in ``decode_context`` for a fixed batch), so the run costs
``m * t0 + dt * m (m - 1) / 2``. That is exact for oracles affine in context and within the oracle's
bucket step otherwise; ``max_decode_run=1`` prices every step. An arrival that could join the batch
cuts the run short at the first step boundary after it, exactly where a step-by-step loop would let
it in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import floor
from typing import Any, Literal, NamedTuple

from jalapeno.serving.events import PRIO_READY, PRIO_STEP, Event
from jalapeno.serving.kv_cache import KVCacheManager
from jalapeno.serving.metrics import PowerTrace
from jalapeno.serving.oracle import StepOracle, StepShape
from jalapeno.serving.request_state import FINISHED, LOADING, RUNNING, TRANSFER, RequestState
from jalapeno.serving.schedulers.base import PreemptionMode, Scheduler
from jalapeno.serving.schedulers.priorities import WaitingQueue
from jalapeno.serving.speculative import Speculative, emitted, steps_to_emit

Role = Literal["unified", "prefill", "decode"]


class StepRecord(NamedTuple):
    """What observers (tests, the timeline exporter) see of each step or decode run."""

    replica: int
    role: str
    start_s: float  # compute start (after any swap stall)
    end_s: float
    steps: int  # > 1 for a decode run
    shape: StepShape  # the first step's shape
    plan: dict[int, int]  # {request_id: tokens} of the first step
    kv_used_blocks: int  # at the step start, after allocation (the most during the step)
    kv_blocks: int
    energy_j: float


Observer = Callable[[StepRecord], Any]


@dataclass(frozen=True)
class ReplicaHooks:
    """What a replica reports to its owner, passed in so that the replica never reaches back into it."""

    power: PowerTrace  # the fleet's power trace: each step adds its energy
    observers: Sequence[Observer]  # called with every StepRecord
    on_finish: Callable[[RequestState, float], None]  # a request is done (all its tokens)
    on_handoff: Callable[[Replica, RequestState, float], list[Event]] | None = None  # prefill role: KV leaves
    # disagg, a pool whose all-to-alls cross the NICs: seconds in [start, end] that KV transfers hold the
    # replica's NICs (``serving.disagg.KVHandoff.nic_busy_s``)
    nic_busy: Callable[[Replica, float, float], float] | None = None


class Replica:
    __slots__ = (
        "busy",
        "busy_s",
        "decodes_only",
        "draft_factor",
        "energy_j",
        "gen",
        "idle_w",
        "index",
        "kv",
        "max_run",
        "nic_busy",
        "observers",
        "on_finish",
        "on_handoff",
        "oracle",
        "outstanding",
        "pad",
        "plan",
        "plan_states",
        "power",
        "preempt_recompute",
        "preempt_swap",
        "preemption",
        "role",
        "running",
        "scheduler",
        "spec_rate",
        "spec_tokens",
        "st_de",
        "st_dt",
        "st_e0",
        "st_kv",
        "st_m",
        "st_shape",
        "st_stall",
        "st_start",
        "st_t0",
        "st_u",
        "step_events",
        "steps",
        "waiting",
    )

    def __init__(
        self,
        index: int,
        role: Role,
        hooks: ReplicaHooks,
        oracle: StepOracle,
        kv: KVCacheManager,
        scheduler: Scheduler,
        waiting: WaitingQueue,
        *,
        preemption: PreemptionMode = "recompute",
        speculative: Speculative | None = None,
        max_decode_run: int = 256,
    ) -> None:
        self.index, self.role, self.oracle, self.kv = index, role, oracle, kv
        self.power, self.observers = hooks.power, hooks.observers
        self.on_finish, self.on_handoff = hooks.on_finish, hooks.on_handoff
        self.nic_busy = hooks.nic_busy
        if role == "prefill" and hooks.on_handoff is None:
            raise ValueError("a prefill replica needs hooks.on_handoff")
        self.scheduler, self.waiting, self.preemption = scheduler, waiting, preemption
        self.running: list[RequestState] = []
        self.spec_tokens = speculative.k if speculative else 0
        self.spec_rate = speculative.tokens_per_step if speculative else 1.0
        self.draft_factor = speculative.k * speculative.draft_cost if speculative else 0.0
        self.max_run = max_decode_run
        # engines that pad decode steps (CUDA-graph buckets) price the padded shape, one step at a time
        self.pad = scheduler.pad_decode
        self.idle_w = float(oracle.idle_power_w)
        self.busy = False
        self.gen = 0
        self.plan: dict[int, int] = {}
        self.plan_states: list[RequestState] = []
        self.decodes_only = False  # the plan is one-token decodes only (no prefill, no speculation)
        self.st_start = self.st_stall = self.st_t0 = self.st_dt = self.st_e0 = self.st_de = 0.0
        self.st_u = 0.0  # the running step's all-to-all seconds on the NICs per second (nic_busy only)
        self.st_m = self.st_kv = 0
        self.st_shape = StepShape()
        self.outstanding = 0  # tokens of work routed here and not yet computed (the routers' load)
        self.busy_s = self.energy_j = 0.0
        self.steps = self.step_events = self.preempt_recompute = self.preempt_swap = 0

    # --- entry points -------------------------------------------------------------------------------
    def enqueue(self, st: RequestState, now: float, work: int) -> list[Event] | None:
        st.replica = self.index
        self.waiting.add(st)
        self.outstanding += work
        return self.kick(now)

    def kick(self, now: float, force: bool = False) -> list[Event] | None:
        """New work may be schedulable: start a step, or cut a decode run short so it can join."""
        if not self.busy:
            self.kv.advance(now)
            return self._start_step(now)
        if self.st_m > 1 and (force or self.scheduler.admits_more(self)):
            return self._truncate(now)
        return None

    def release(self, st: RequestState, now: float) -> list[Event] | None:
        """A handed-off request's KV has left (disaggregated prefill): free its blocks."""
        self.kv.advance(now)
        self.kv.free(st)
        return self.kick(now)

    def on_ready(self, now: float, st: RequestState) -> list[Event] | None:
        if st.status == LOADING and st.ready_s <= now:
            st.status = RUNNING
            return self.kick(now, force=True)
        return None

    # --- steps --------------------------------------------------------------------------------------
    def _start_step(self, now: float) -> list[Event]:
        """Plan and price the next step or decode run (KV use already integrated up to ``now``)."""
        plan = self.scheduler.schedule(self, now)
        events: list[Event] = (
            [(st.ready_s, PRIO_READY, self.on_ready, st) for st in plan.loading] if plan.loading else []
        )
        tokens = plan.tokens
        if not tokens:
            self.busy = False
            return events
        nd = dctx = ps = pt = pc = pk = 0
        for st in plan.states:  # hot: decodes need no token count (one each), prefills look theirs up
            c, g = st.computed, st.generated
            if g and st.prompt + g - c == 1:
                nd += 1
                dctx += c
            else:
                n = tokens[st.rid]
                ps += 1
                pt += n
                pc += c * n + n * (n + 1) // 2
                pk += c + n
        pad: tuple[int, int] | None = None
        if self.pad is not None and nd and not ps:  # all decodes: padded to the longest context
            pad = self.pad(nd, max(st.computed for st in plan.states))
        t0, e0, self.st_shape = self._price(*(pad or (nd, dctx)), ps, pt, pc, pk)
        m, dt, de = 1, 0.0, 0.0
        if (
            ps == 0
            and self.max_run > 1
            and not plan.admitted
            and not plan.preempted
            and len(tokens) == len(self.running)
            and pad is None
        ):
            m, dt, de = self._plan_run(plan.states, nd, dctx, t0, e0)
        self.plan = tokens
        self.plan_states = plan.states
        self.decodes_only = ps == 0 and not self.spec_tokens
        stall = plan.stall_s
        if self.nic_busy is not None:
            stall += self._nic_wait(now + stall, m * t0 + dt * (m * (m - 1) / 2), m)
        self.st_start, self.st_stall, self.st_m = now, stall, m
        self.st_t0, self.st_dt, self.st_e0, self.st_de = t0, dt, e0, de
        if self.observers:
            self.st_kv = self.kv.used_blocks
        self.busy = True
        self.gen += 1
        end = now + stall + m * t0 + dt * (m * (m - 1) / 2)
        events.append((end, PRIO_STEP, self._on_step_end, self.gen))
        return events

    def _nic_wait(self, start: float, run_s: float, m: int) -> float:
        """The all-to-all's share of the step's time that KV transfers already hold its NICs: those
        all-to-all bytes wait for the KV (spread evenly over the step: ``st_u`` of its time)."""
        assert self.nic_busy is not None
        a2a = getattr(self.oracle, "all_to_all_s", None)
        self.st_u = m * a2a(self.st_shape) / run_s if a2a is not None and run_s > 0 else 0.0
        return self.st_u * self.nic_busy(self, start, start + run_s) if self.st_u else 0.0

    def nic_delay(self, now: float, kv_start: float, kv_end: float) -> list[Event]:
        """A KV transfer holds the NICs over [kv_start, kv_end]: the running step's all-to-all bytes in
        that window wait for it, so the step ends ``st_u`` x the overlap later (its end rescheduled)."""
        if not self.busy or not self.st_u:
            return []
        start = self.st_start + self.st_stall
        end = start + self._duration(self.st_m)
        extra = self.st_u * max(0.0, min(end, kv_end) - max(now, start, kv_start))
        if extra <= 0:
            return []
        self.st_stall += extra
        self.gen += 1
        return [(end + extra, PRIO_STEP, self._on_step_end, self.gen)]

    def _price(
        self, nd: int, dctx: int, ps: int, pt: int, pc: int, pk: int
    ) -> tuple[float, float, StepShape]:
        k1 = self.spec_tokens + 1
        draft = None
        if k1 > 1 and nd and self.draft_factor:
            draft = StepShape(nd, dctx)
        # a verify step is a decode step of k + 1 query tokens a sequence (``graph.verify``)
        shape = StepShape(nd, dctx, ps, pt, pc, pk, k1 if nd else 1)
        cost = self.oracle.step(shape)
        if draft is None:
            return cost.time_s, cost.energy_j, shape
        d = self.oracle.step(draft)
        f = self.draft_factor
        return cost.time_s + f * d.time_s, cost.energy_j + f * d.energy_j, shape

    def _plan_run(
        self, states: list[RequestState], nd: int, dctx: int, t0: float, e0: float
    ) -> tuple[int, float, float]:
        """Steps of the decode run starting now (KV reserved for all of them) and its per-step slopes."""
        rate = self.spec_rate
        m = self.max_run
        if self.spec_tokens:
            m = min(m, min(steps_to_emit(st.spec_credit, rate, st.output - st.generated) for st in states))
        else:
            m = min(m, min([st.output - st.generated for st in states]))
        if m <= 1:
            return 1, 0.0, 0.0
        m = self._reserve_run(states, m)
        if m <= 1:
            return 1, 0.0, 0.0
        if self.spec_tokens:
            ctx = sum(
                st.computed + emitted(st.spec_credit, m - 1, rate, st.output - st.generated) for st in states
            )
        else:
            ctx = dctx + nd * (m - 1)
        t1, e1, _ = self._price(nd, ctx, 0, 0, 0, 0)
        return m, (t1 - t0) / (m - 1), (e1 - e0) / (m - 1)

    def _run_tokens(self, st: RequestState, m: int) -> int:
        """KV tokens beyond ``computed`` that ``m`` decode steps of ``st`` write."""
        if not self.spec_tokens:
            return m
        return emitted(st.spec_credit, m - 1, self.spec_rate, st.output - st.generated) + self.spec_tokens + 1

    def _extra_blocks(self, states: list[RequestState], m: int) -> list[int]:
        """Blocks each request needs beyond those it holds to write ``m`` decode steps (<= 0: none)."""
        bs = self.kv.block_size
        if not self.spec_tokens:  # one token a step (hot: no per-request call)
            return [-(-(st.computed + m) // bs) - st.held_blocks for st in states]
        run_tokens = self._run_tokens
        return [-(-(st.computed + run_tokens(st, m)) // bs) - st.held_blocks for st in states]

    def _reserve_run(self, states: list[RequestState], m: int) -> int:
        """Shorten ``m`` to what the free blocks allow, and take the blocks for all ``m`` steps."""
        kv = self.kv
        avail = kv.available_blocks
        extra = self._extra_blocks(states, m)
        if sum(x for x in extra if x > 0) > avail:
            lo, hi = 1, m  # the first step is already allocated
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if sum(x for x in self._extra_blocks(states, mid) if x > 0) <= avail:
                    lo = mid
                else:
                    hi = mid - 1
            m = lo
            extra = self._extra_blocks(states, m)
        kv.reserve_ahead(states, extra)
        return m

    def _duration(self, s: int) -> float:
        return s * self.st_t0 + self.st_dt * (s * (s - 1) / 2)

    def _truncate(self, now: float) -> list[Event] | None:
        elapsed = now - self.st_start - self.st_stall
        lo, hi = 1, self.st_m
        while lo < hi:  # first step boundary at or after now
            mid = (lo + hi) // 2
            if self._duration(mid) >= elapsed:
                hi = mid
            else:
                lo = mid + 1
        if lo >= self.st_m:
            return None
        self.st_m = lo
        self.gen += 1
        end = self.st_start + self.st_stall + self._duration(lo)
        return [(max(now, end), PRIO_STEP, self._on_step_end, self.gen)]  # no rounding into the past

    def _on_step_end(self, now: float, gen: int) -> list[Event] | None:
        if gen != self.gen:
            return None  # cancelled: the run was cut short and rescheduled
        self.kv.advance(now)
        s = self.st_m
        start = self.st_start + self.st_stall
        energy = s * self.st_e0 + self.st_de * (s * (s - 1) / 2)
        self.busy_s += now - start
        self.energy_j += energy
        self.steps += s
        self.step_events += 1
        self.power.add(start, now, energy, self.idle_w)
        if self.observers:
            rec = StepRecord(
                self.index,
                self.role,
                start,
                now,
                s,
                self.st_shape,
                self.plan,
                self.st_kv,
                self.kv.num_blocks,
                energy,
            )
            for observe in self.observers:
                observe(rec)
        events = self._apply_decodes(now, s) if self.decodes_only else self._apply(now, s)
        more = self._start_step(now)
        if events:
            events.extend(more)
            return events
        return more

    def _apply(self, now: float, s: int) -> list[Event]:
        """Advance every planned request by the tokens of ``s`` steps; finish or hand off the done ones."""
        kv, rate, spec, bs = self.kv, self.spec_rate, self.spec_tokens, self.kv.block_size
        events: list[Event] = []
        leaving: list[RequestState] = []  # finished or handed off: they leave ``running``
        processed = 0
        for st in self.plan_states:
            c, g = st.computed, st.generated
            if not (g and st.prompt + g - c == 1):
                n = self.plan[st.rid]
                processed += n
                if self._advance_prefill(st, n, now, events):
                    leaving.append(st)
                continue
            if spec:  # decode steps (hot: inline)
                x = st.spec_credit + s * rate
                em = min(st.output - g, floor(x))
                st.spec_credit = x - floor(x)
            else:
                em = s
            st.computed = c + em
            st.generated = g + em
            st.decode_tokens += em
            st.last_token_s = now
            processed += em
            if g + em >= st.output:
                self._finish(st, now)
                leaving.append(st)
            elif st.held_blocks > -(-(c + em) // bs):
                kv.trim(st)
        self.outstanding -= processed
        for st in leaving:  # a C-level scan each: usually one or none leaves a long running list
            self.running.remove(st)
        return events

    def _apply_decodes(self, now: float, s: int) -> list[Event]:
        """``_apply`` for the most common plan, one-token decodes only: no per-request classification."""
        bs = self.kv.block_size
        leaving: list[RequestState] = []
        for st in self.plan_states:
            c = st.computed + s
            g = st.generated + s
            st.computed = c
            st.generated = g
            st.decode_tokens += s
            st.last_token_s = now
            if g >= st.output:
                self._finish(st, now)
                leaving.append(st)
            elif st.held_blocks > -(-c // bs):
                self.kv.trim(st)
        self.outstanding -= s * len(self.plan_states)
        for st in leaving:
            self.running.remove(st)
        return []

    def _advance_prefill(self, st: RequestState, n: int, now: float, events: list[Event]) -> int:
        """A prefill chunk is done; returns 1 when the request leaves this replica."""
        st.computed += n
        st.prefill_tokens += n
        if self.kv.prefix_cache:
            self.kv.commit(st)
        if st.computed < st.prompt + st.generated:
            return 0  # more chunks to go
        st.generated += 1  # the chunk completed the context: sample a token
        st.last_token_s = now
        if st.generated == 1:
            st.first_token_s = now
        if st.generated >= st.output:
            self._finish(st, now)
            return 1
        if self.on_handoff is not None:  # a prefill replica: the decode pool takes it from here
            st.status = TRANSFER
            events.extend(self.on_handoff(self, st, now))
            return 1
        return 0

    def _finish(self, st: RequestState, now: float) -> None:
        self.kv.free(st)
        st.status = FINISHED
        st.finish_s = now
        self.on_finish(st, now)
