"""Mutable per-request state inside the simulator (``__slots__``: one object per request, hot fields).

Token bookkeeping follows vLLM: a request has ``num_tokens = prompt + generated`` tokens, of which
``computed`` have KV in the cache. A step gives it ``n`` tokens to compute; when ``computed`` reaches
``num_tokens`` the step samples one new token (``generated += 1``). So a prefill of the whole prompt
emits the first output token, and a decode step is simply a step with ``n == 1``.

Counters that the invariants check (for a completed request, with speculative decoding too)::

    hit_tokens + loaded_tokens + prefill_tokens + decode_tokens - discarded_tokens == prompt + output - 1
"""

from __future__ import annotations

from typing import Any

# status values
WAITING = 0
RUNNING = 1
LOADING = 2  # blocks allocated, KV arriving from the lower tier (prefix hit or swap-in)
SWAPPED = 3  # preempted to the lower tier, waiting to come back
TRANSFER = 4  # disaggregated: KV on its way from the prefill pool to the decode pool
FINISHED = 5
DROPPED = 6


class RequestState:
    __slots__ = (
        "arrival_s",
        "computed",
        "decode_tokens",
        "discarded_tokens",
        "drop_reason",
        "finish_s",
        "first_token_s",
        "generated",
        "held_blocks",
        "hit_tokens",
        "last_token_s",
        "loaded_tokens",
        "output",
        "own_blocks",
        "preemptions",
        "prefill_tokens",
        "priority",
        "prompt",
        "ready_s",
        "replica",
        "request",
        "rid",
        "scheduled_s",
        "spec_credit",
        "status",
        "swapped_blocks",
        "unit_hashes",
        "unit_tokens",
        "units",
        "units_seen",
    )

    def __init__(self, request: Any, arrival_s: float, priority: int = 0) -> None:
        self.request = request
        self.rid: int = request.request_id
        self.arrival_s = arrival_s
        self.prompt: int = request.prompt_tokens
        self.output: int = request.output_tokens
        self.priority = priority
        self.status = WAITING
        self.computed = 0
        self.generated = 0
        self.held_blocks = 0  # blocks this request holds in its replica's pool (own + shared units)
        self.own_blocks = 0  # of which private (not a registered prefix unit)
        self.units: list[Any] = []  # prefix units it holds a reference to, prompt order
        self.unit_hashes: tuple[int, ...] | None = None  # chained hashes of its full prefix units
        self.unit_tokens = 0
        self.units_seen = 0  # prefix units already matched or registered
        self.swapped_blocks = 0
        self.ready_s = 0.0
        self.spec_credit = 0.0
        self.replica = -1
        self.hit_tokens = 0
        self.loaded_tokens = 0
        self.prefill_tokens = 0
        self.decode_tokens = 0
        self.discarded_tokens = 0
        self.preemptions = 0
        self.scheduled_s = -1.0
        self.first_token_s = -1.0
        self.last_token_s = -1.0
        self.finish_s = -1.0
        self.drop_reason = ""

    @property
    def num_tokens(self) -> int:
        return self.prompt + self.generated

    @property
    def remaining(self) -> int:
        """Tokens to compute before the next token is sampled (1 in the decode phase)."""
        return self.prompt + self.generated - self.computed

    def __repr__(self) -> str:
        return (
            f"RequestState(rid={self.rid}, status={self.status}, computed={self.computed}, "
            f"generated={self.generated}/{self.output}, held={self.held_blocks})"
        )
