"""The seam between serving and cost: what one engine step costs, asked in aggregate form.

The serving loop never sees chips or operators: it describes a step by a few sums and gets back time
and energy. Aggregates (not per-sequence lists) keep the hot loop allocation-free; the cost side
buckets and memoizes them (``jalapeno.cost.oracle``). Both sides import these types from here, so cost
never imports serving (``jalapeno.serving.oracle`` re-exports them for the simulator's callers).
"""

from __future__ import annotations

from typing import NamedTuple, Protocol


class StepShape(NamedTuple):
    """One step of one replica (immutable and hashable; a named tuple because the simulator builds one
    per step and oracles key memos on it: both cost a fraction of a frozen dataclass's).

    decode_seqs: decoding sequences; decode_context: sum of their cached tokens.
    prefill_seqs: sequences processing a prefill chunk; prefill_tokens: sum of the chunk lengths;
    prefill_context: sum over chunks of (cached tokens before the chunk) * (chunk length), plus
    chunk_length * (chunk_length + 1) / 2 -- the number of (query, key) pairs attention computes.
    prefill_kv_tokens: sum over chunks of (cached + chunk length): KV the chunks read.
    decode_queries: query tokens each decoding sequence computes this step: 1 for plain decoding, ``k + 1``
    for a speculative verify step (its own token and ``k`` drafts; ``graph.verify``: every token goes through
    every layer, attention reads each sequence's cache once).
    """

    decode_seqs: int = 0
    decode_context: int = 0
    prefill_seqs: int = 0
    prefill_tokens: int = 0
    prefill_context: int = 0
    prefill_kv_tokens: int = 0
    decode_queries: int = 1

    @property
    def tokens(self) -> int:
        return self.decode_seqs * self.decode_queries + self.prefill_tokens

    def split(self, n: int) -> StepShape:
        """One of ``n`` equal parts (each aggregate divided by ``n``, rounded up: the largest part); the
        queries a sequence computes do not divide."""
        nd, dc, ps, pt, pc, pk = (-(-v // n) for v in self[:6])
        return StepShape(nd, dc, ps, pt, pc, pk, self.decode_queries)


class StepCost(NamedTuple):
    """What a step costs the replica: its duration and the energy of all its chips."""

    time_s: float
    energy_j: float


class StepOracle(Protocol):
    """Prices steps of one replica (all its chips together: tensor parallel included)."""

    def step(self, shape: StepShape) -> StepCost: ...

    @property
    def kv_capacity_tokens(self) -> int:
        """KV-cache tokens that fit in the replica's memory after weights and activations."""
        ...

    @property
    def kv_bytes_per_token(self) -> float: ...

    @property
    def idle_power_w(self) -> float:
        """Power of the replica's chips when no step runs (for fleet energy between steps)."""
        ...
