"""Waiting-queue order and preemption victims: first come first served, or by request priority.

``fcfs``: arrival order; a preempted request goes back to the front (vLLM). The victim of a
preemption is the most recently admitted running request.
``priority``: lower ``priority`` first, then arrival; a request's priority is the attribute
``priority`` of its trace record (0 when it has none). The victim is the running request with the
highest (priority, arrival) key, so urgent work is preempted last.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import Literal, Protocol

from jalapeno.serving.request_state import RequestState

PolicyName = Literal["fcfs", "priority"]


class WaitingQueue(Protocol):
    def __len__(self) -> int: ...
    def add(self, st: RequestState) -> None: ...
    def add_front(self, st: RequestState) -> None: ...
    def peek(self) -> RequestState: ...
    def pop(self) -> RequestState: ...
    def victim(self, running: list[RequestState], keep: RequestState) -> RequestState | None: ...


class FCFSQueue:
    __slots__ = ("_q",)

    def __init__(self) -> None:
        self._q: deque[RequestState] = deque()

    def __len__(self) -> int:
        return len(self._q)

    def add(self, st: RequestState) -> None:
        self._q.append(st)

    def add_front(self, st: RequestState) -> None:
        self._q.appendleft(st)

    def peek(self) -> RequestState:
        return self._q[0]

    def pop(self) -> RequestState:
        return self._q.popleft()

    def victim(self, running: list[RequestState], keep: RequestState) -> RequestState | None:
        last = running[-1] if running else None
        return None if last is keep else last  # vLLM: when ``keep`` is the newest, it goes itself


class PriorityQueue:
    """Heap keyed by ``(priority, arrival_s, request_id)``: a preempted request regains its place."""

    __slots__ = ("_h",)

    def __init__(self) -> None:
        self._h: list[tuple[int, float, int, RequestState]] = []

    def __len__(self) -> int:
        return len(self._h)

    def add(self, st: RequestState) -> None:
        heapq.heappush(self._h, (st.priority, st.arrival_s, st.rid, st))

    add_front = add

    def peek(self) -> RequestState:
        return self._h[0][3]

    def pop(self) -> RequestState:
        return heapq.heappop(self._h)[3]

    def victim(self, running: list[RequestState], keep: RequestState) -> RequestState | None:
        others = [st for st in running if st is not keep]
        if not others:
            return None
        worst = max(others, key=lambda s: (s.priority, s.arrival_s, s.rid))
        if (worst.priority, worst.arrival_s, worst.rid) < (keep.priority, keep.arrival_s, keep.rid):
            return None  # everyone else is more urgent: preempt ``keep`` itself
        return worst


def make_queue(policy: PolicyName) -> WaitingQueue:
    return PriorityQueue() if policy == "priority" else FCFSQueue()
