"""``round_robin``: replicas in turn, blind to load."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from jalapeno.serving.request_state import RequestState
from jalapeno.serving.routers.base import ROUTERS, Loaded


@ROUTERS.register("round_robin", "replicas in turn, blind to load")
@dataclass
class RoundRobin:
    _next: int = 0

    def choose(self, st: RequestState, replicas: Sequence[Loaded]) -> int:
        i = self._next % len(replicas)
        self._next = i + 1
        return i
