"""What a scheduler is, and the steps all of them share: decodes first, preemption, admission.

A scheduler turns a replica's queues into a **step plan**, vLLM's ``{request_id: num_tokens}``: a
prefill, a prefill chunk, a decode (1 token, or ``k + 1`` with speculative decoding) are all "tokens
this step". It asks the KV-cache manager for blocks and never touches the block pool.

Preemption happens when a running request needs a block and none is left: the queue policy names a
victim (``priorities.py``), which is either **recomputed** (its KV dropped, it re-prefills prompt and
generated tokens later) or **swapped** to the lower tier (its blocks copied out over the tier link: the
step waits for the copy; it is copied back before it runs again). Swap falls back to recompute when
there is no tier or no room in it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol

from jalapeno.registry import Registry
from jalapeno.serving.kv_cache import KVCacheManager, Match
from jalapeno.serving.request_state import LOADING, RUNNING, SWAPPED, WAITING, RequestState
from jalapeno.serving.schedulers.priorities import WaitingQueue

PreemptionMode = Literal["recompute", "swap"]


class StepPlan:
    """One step's plan: ``tokens`` is ``{request_id: num_tokens}``; ``states`` the same requests, in order."""

    __slots__ = ("admitted", "loading", "preempted", "stall_s", "states", "tokens")

    def __init__(self) -> None:
        self.tokens: dict[int, int] = {}
        self.states: list[RequestState] = []
        self.admitted = 0  # requests taken from the waiting queue this step
        self.preempted = 0
        self.stall_s = 0.0  # the step starts after this (swap-out copies)
        self.loading: list[RequestState] = []  # admitted requests whose KV comes from the tier first


class ReplicaView(Protocol):
    """What schedulers see of a replica."""

    running: list[RequestState]
    waiting: WaitingQueue
    kv: KVCacheManager
    spec_tokens: int  # draft tokens per decode step (0 without speculative decoding)
    preemption: PreemptionMode
    outstanding: int  # tokens of work routed here and not yet done
    preempt_recompute: int
    preempt_swap: int


PadDecode = Callable[
    [int, int], "tuple[int, int] | None"
]  # (seqs, longest context) -> (rows, summed context)


class Scheduler(Protocol):
    """What a scheduler provides: its limits, its plans, and whether it pads decode steps."""

    @property
    def max_num_seqs(self) -> int: ...

    @property
    def max_num_batched_tokens(self) -> int: ...

    @property
    def pad_decode(self) -> PadDecode | None:
        """None, or what a decode step really computes when the engine pads it (CUDA-graph buckets):
        the replica then prices that shape, one step at a time."""
        ...

    def schedule(self, rep: ReplicaView, now: float) -> StepPlan:
        """Plan the next step (an empty plan when nothing can run)."""
        ...

    def admits_more(self, rep: ReplicaView) -> bool:
        """Could a new arrival join now (decides whether it cuts a multi-step decode run short)?"""
        ...


class SchedulerFactory(Protocol):
    """What a registered scheduler is: a factory from the deployment's limits (None: its own default)."""

    def __call__(self, *, max_num_seqs: int, max_num_batched_tokens: int | None) -> Scheduler: ...


# Every module of ``jalapeno.serving.schedulers`` is imported on the first lookup, so a new scheduler is one
# module there that decorates its factory with ``@SCHEDULERS.register(name, summary)`` (docs/extending.md).
SCHEDULERS: Registry[SchedulerFactory] = Registry(
    "scheduler", field="scheduler", package="jalapeno.serving.schedulers"
)


def make_scheduler(name: str, *, max_num_seqs: int, max_num_batched_tokens: int | None) -> Scheduler:
    return SCHEDULERS.get(name)(max_num_seqs=max_num_seqs, max_num_batched_tokens=max_num_batched_tokens)


def preempt(rep: ReplicaView, st: RequestState, plan: StepPlan, now: float) -> int:
    """Preempt ``st``; returns the tokens it gives back to this step's budget."""
    rep.running.remove(st)
    given_back = plan.tokens.pop(st.rid, 0)
    if given_back:
        plan.states.remove(st)
    plan.preempted += 1
    st.preemptions += 1
    st.spec_credit = 0.0
    done = rep.kv.swap_out(st, now) if rep.preemption == "swap" and st.status == RUNNING else None
    if done is not None:
        st.status = SWAPPED
        plan.stall_s = max(plan.stall_s, done - now)
        rep.preempt_swap += 1
    else:
        lost = st.computed
        rep.kv.free(st)
        st.discarded_tokens += lost
        st.computed = 0
        st.units_seen = 0
        st.status = WAITING
        rep.outstanding += lost
        rep.preempt_recompute += 1
    rep.waiting.add_front(st)
    return given_back


def reserve(rep: ReplicaView, st: RequestState, n: int, plan: StepPlan, now: float) -> tuple[bool, int]:
    """Blocks for ``n`` tokens of a running request, preempting others as needed.

    Returns (granted, budget given back by preempted requests that were already in the plan).
    """
    back = 0
    while not rep.kv.allocate(st, n):
        victim = rep.waiting.victim(rep.running, st)
        if victim is None:
            return False, back + preempt(rep, st, plan, now)
        back += preempt(rep, victim, plan, now)
    return True, back


def schedule_running(rep: ReplicaView, plan: StepPlan, budget: int, now: float, chunked: bool) -> int:
    """Decodes first, then running prefills (whole, or chunks when ``chunked``); returns the budget left.

    Hot path: a decode whose blocks already cover its next token is planned inline; decodes that need a
    block (and may preempt) and prefills go through ``reserve`` afterwards, in running order.
    """
    n_dec = 1 + rep.spec_tokens
    bs = rep.kv.block_size
    ahead = n_dec + bs - 1  # (computed + ahead) // bs: blocks after this step's tokens
    tokens, states = plan.tokens, plan.states
    grow: list[RequestState] = []
    prefills: list[RequestState] = []
    for st in rep.running:
        if st.status != RUNNING:
            if st.status != LOADING or st.ready_s > now:
                continue
            st.status = RUNNING
        g, c = st.generated, st.computed
        if g and st.prompt + g - c == 1:
            if (c + ahead) // bs > st.held_blocks:
                grow.append(st)
            elif budget >= n_dec:
                tokens[st.rid] = n_dec
                states.append(st)
                budget -= n_dec
        else:
            prefills.append(st)
    for st in grow:
        if budget < n_dec:
            break
        if st.status == RUNNING:  # not preempted as a victim earlier in this pass
            budget = _reserve_into(rep, st, n_dec, plan, now, budget)
    for st in prefills:
        if budget <= 0:
            break
        if st.status != RUNNING:
            continue
        rem = st.prompt + st.generated - st.computed
        if chunked:
            budget = _reserve_into(rep, st, min(rem, budget), plan, now, budget)
        elif rem <= budget or not _holds_prefill(plan):
            budget = _reserve_into(rep, st, rem, plan, now, budget)
    return budget


def _holds_prefill(plan: StepPlan) -> bool:
    """Does the plan hold a prefill (not only decodes)? A whole prompt larger than the token budget runs
    as the only prefill of its step, beside the running decodes: vLLM without chunked prefill requires
    ``max_num_batched_tokens >= max_model_len``, so such a prompt never waits there for the batch to drain."""
    return any(not (st.generated and st.prompt + st.generated - st.computed == 1) for st in plan.states)


def _reserve_into(rep: ReplicaView, st: RequestState, n: int, plan: StepPlan, now: float, budget: int) -> int:
    ok, back = reserve(rep, st, n, plan, now)
    if ok:
        plan.tokens[st.rid] = n
        plan.states.append(st)
        return budget + back - n
    return budget + back


def admit_waiting(
    rep: ReplicaView, plan: StepPlan, budget: int, now: float, chunked: bool, max_num_seqs: int
) -> None:
    """Admit from the head of the waiting queue while requests, tokens and blocks allow.

    Admission never preempts, and a step that preempted admits nothing (its freed blocks are for the
    running requests). The queue head blocks the ones behind it (no overtaking).
    """
    if plan.preempted:
        return
    waiting, kv, running = rep.waiting, rep.kv, rep.running
    while waiting and len(running) < max_num_seqs and budget > 0:
        st = waiting.peek()
        if st.status == SWAPPED:
            ready = kv.swap_in(st, now)
            if ready is None:
                return
            _admitted(rep, plan, waiting.pop(), now, ready)
            continue
        match = kv.match(st) if st.computed == 0 else None
        n = _first_tokens(rep, st, match, budget, chunked, plan)
        before = st.computed
        if n < 0 or not kv.allocate(st, n, match):
            return
        waiting.pop()
        rep.outstanding -= st.computed - before  # prefix hits are work already done
        if n == 0:
            _admitted(rep, plan, st, now, kv.load_time(now, st, match))
        else:
            _admitted(rep, plan, st, now, now)
            plan.tokens[st.rid] = n
            plan.states.append(st)
            budget -= n


def _first_tokens(
    rep: ReplicaView, st: RequestState, match: Match | None, budget: int, chunked: bool, plan: StepPlan
) -> int:
    """Tokens of the admitted request's first step: 0 when it loads from the tier first, -1: not now."""
    if match and any(isinstance(u, int) for u in match):
        return 0
    hit = len(match) * st.unit_tokens if match else 0
    rem = st.prompt + st.generated - st.computed - hit
    if rem == 1 and st.generated:  # a decode arriving from a prefill replica
        n = 1 + rep.spec_tokens
        return n if n <= budget else -1
    if chunked:
        return min(rem, budget)
    return rem if (rem <= budget or not _holds_prefill(plan)) else -1


def _admitted(rep: ReplicaView, plan: StepPlan, st: RequestState, now: float, ready_s: float) -> None:
    rep.running.append(st)
    plan.admitted += 1
    if st.scheduled_s < 0:
        st.scheduled_s = now
    if ready_s > now:
        st.status = LOADING
        st.ready_s = ready_s
        plan.loading.append(st)
    else:
        st.status = RUNNING
