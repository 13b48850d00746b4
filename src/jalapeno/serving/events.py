"""A tiny deterministic event core: a heap of ``(time, priority, seq)`` keys.

Ties are broken in the key, never by object identity: equal times run in ``priority`` order (lower
first), then in the order they were scheduled (``seq``, a per-loop counter). A handler is called as
``handler(now, payload)`` and returns the events it causes (or None); the loop schedules them. An event
that should no longer fire is not removed from the heap: its handler checks a generation number in its
payload and returns nothing (lazy cancellation, O(log n) per event in all cases).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from math import inf
from typing import Any

Handler = Callable[[float, Any], "Iterable[Event] | None"]
Event = tuple[float, int, Handler, Any]  # (time_s, priority, handler, payload)

# Priorities at one instant: arrivals first (so a step that ends at the same time sees them), then
# transfers and loads that make requests ready, then step ends.
PRIO_ARRIVAL = 0
PRIO_READY = 1
PRIO_STEP = 2


class EventLoop:
    """Runs handlers in ``(time, priority, seq)`` order; time never goes backwards."""

    __slots__ = ("_heap", "_seq", "now", "processed")

    def __init__(self, start_s: float = 0.0) -> None:
        self.now = start_s
        self.processed = 0
        self._heap: list[tuple[float, int, int, Handler, Any]] = []
        self._seq = 0

    def __len__(self) -> int:
        return len(self._heap)

    def schedule(self, time_s: float, priority: int, handler: Handler, payload: Any = None) -> None:
        if time_s < self.now:
            raise ValueError(f"event at {time_s} is before now={self.now}")
        self._seq += 1
        heapq.heappush(self._heap, (time_s, priority, self._seq, handler, payload))

    def schedule_all(self, events: Iterable[Event] | None) -> None:
        if events:
            for time_s, priority, handler, payload in events:
                self.schedule(time_s, priority, handler, payload)

    def peek(self) -> float:
        """Time of the next event, or ``inf`` when none is left."""
        return self._heap[0][0] if self._heap else inf

    def step(self) -> bool:
        """Run one event; False when none is left."""
        if not self._heap:
            return False
        time_s, _, _, handler, payload = heapq.heappop(self._heap)
        self.now = time_s
        self.processed += 1
        self.schedule_all(handler(time_s, payload))
        return True

    def run(self, until: float = inf) -> None:
        """Run events with time <= ``until``; ``now`` ends at ``until`` when that is finite."""
        heap, pop, push = self._heap, heapq.heappop, heapq.heappush
        while heap and heap[0][0] <= until:
            time_s, _, _, handler, payload = pop(heap)
            self.now = time_s
            self.processed += 1
            events = handler(time_s, payload)
            if events:
                for t, prio, h, p in events:
                    if t < time_s:
                        raise ValueError(f"event at {t} is before now={time_s}")
                    self._seq += 1
                    push(heap, (t, prio, self._seq, h, p))
        if until < inf and until > self.now:
            self.now = until
