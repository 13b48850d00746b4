"""What a router is, the load it reads, and the registry of routers.

A replica's load is its **outstanding tokens**: prompt and output tokens routed to it and not yet
computed (prefix hits count as done at admission; recomputation after a preemption adds work back).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from jalapeno.registry import Registry
from jalapeno.serving.request_state import RequestState


class Loaded(Protocol):
    outstanding: int


class Router(Protocol):
    def choose(self, st: RequestState, replicas: Sequence[Loaded]) -> int:
        """Index into ``replicas`` of the one that gets ``st``."""
        ...


# A registered router is a factory of fresh router state (one per pool and simulation).
ROUTERS: Registry[Callable[[], Router]] = Registry(
    "router", field="router", package="jalapeno.serving.routers"
)


def least_loaded(replicas: Sequence[Loaded]) -> int:
    best, best_load = 0, replicas[0].outstanding
    for i in range(1, len(replicas)):
        load = replicas[i].outstanding
        if load < best_load:
            best, best_load = i, load
    return best


def make_router(name: str | Router) -> Router:
    if not isinstance(name, str):
        return name
    return ROUTERS.get(name)()
