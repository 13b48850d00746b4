"""Routers: which replica of a pool gets an arriving request.

A replica's load is its **outstanding tokens**: prompt and output tokens routed to it and not yet
computed (prefix hits count as done at admission; recomputation after a preemption adds work back).

- ``round_robin``: replicas in turn, blind to load.
- ``least_outstanding``: the replica with the fewest outstanding tokens (lowest index on ties).
- ``prefix_affinity``: requests whose first ``affinity_blocks`` prefix-block hashes agree go to the
  same replica (``hash(first hashes) mod replicas``), so its prefix cache sees their shared prefix.
  Only full blocks count (a prompt's last, partial block changes from one turn to the next).
  Requests without a full hashed block, and requests whose affine replica is overloaded (outstanding more than
  ``max_imbalance`` times the least loaded replica's, plus this request's tokens), go to the least
  loaded replica instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from jalapeno.serving.request_state import RequestState

RouterName = Literal["round_robin", "least_outstanding", "prefix_affinity"]


class Loaded(Protocol):
    outstanding: int


class Router(Protocol):
    def choose(self, st: RequestState, replicas: Sequence[Loaded]) -> int: ...


@dataclass
class RoundRobin:
    _next: int = 0

    def choose(self, st: RequestState, replicas: Sequence[Loaded]) -> int:
        i = self._next % len(replicas)
        self._next = i + 1
        return i


def least_loaded(replicas: Sequence[Loaded]) -> int:
    best, best_load = 0, replicas[0].outstanding
    for i in range(1, len(replicas)):
        load = replicas[i].outstanding
        if load < best_load:
            best, best_load = i, load
    return best


@dataclass
class LeastOutstanding:
    def choose(self, st: RequestState, replicas: Sequence[Loaded]) -> int:
        return least_loaded(replicas)


@dataclass
class PrefixAffinity:
    affinity_blocks: int = 4
    max_imbalance: float = 2.0
    hits: int = field(default=0)  # requests sent to their affine replica
    fallbacks: int = field(default=0)

    def choose(self, st: RequestState, replicas: Sequence[Loaded]) -> int:
        req = st.request
        full = min(self.affinity_blocks, st.prompt // (getattr(req, "block_tokens", 512) or 512))
        hashes = tuple(req.block_hashes[:full]) if full > 0 else ()
        low = least_loaded(replicas)
        if not hashes:
            self.fallbacks += 1
            return low
        i = hash(hashes) % len(replicas)
        if replicas[i].outstanding > self.max_imbalance * replicas[low].outstanding + st.prompt + st.output:
            self.fallbacks += 1
            return low
        self.hits += 1
        return i


def make_router(name: RouterName | Router) -> Router:
    if not isinstance(name, str):
        return name
    if name == "round_robin":
        return RoundRobin()
    if name == "least_outstanding":
        return LeastOutstanding()
    if name == "prefix_affinity":
        return PrefixAffinity()
    raise ValueError(f"unknown router {name!r}")
