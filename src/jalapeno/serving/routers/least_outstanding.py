"""``least_outstanding``: the replica with the fewest outstanding tokens (lowest index on ties)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from jalapeno.serving.request_state import RequestState
from jalapeno.serving.routers.base import ROUTERS, Loaded, least_loaded


@ROUTERS.register("least_outstanding", "the replica with the fewest outstanding tokens")
@dataclass
class LeastOutstanding:
    def choose(self, st: RequestState, replicas: Sequence[Loaded]) -> int:
        return least_loaded(replicas)
