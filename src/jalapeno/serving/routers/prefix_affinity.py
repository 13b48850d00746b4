"""``prefix_affinity``: requests that share a prompt prefix go to the same replica, so its cache sees it.

Requests whose first ``affinity_blocks`` prefix-block hashes agree go to the same replica
(``hash(first hashes) mod replicas``). Only full blocks count (a prompt's last, partial block changes
from one turn to the next). Requests without a full hashed block, and requests whose affine replica is
overloaded (outstanding more than ``max_imbalance`` times the least loaded replica's, plus this
request's tokens), go to the least loaded replica instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from jalapeno.serving.request_state import RequestState
from jalapeno.serving.routers.base import ROUTERS, Loaded, least_loaded


@ROUTERS.register("prefix_affinity", "requests sharing a prompt prefix go to one replica (its prefix cache)")
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
