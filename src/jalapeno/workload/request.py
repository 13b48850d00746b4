"""Requests and traces as frozen values: what the serving simulator replays.

A ``Request`` is one LLM call: when it arrives, how many tokens it reads and writes, and which KV-cache
prefix blocks it could reuse. A ``Trace`` is a named, time-ordered tuple of requests with its source
and licence, and summary statistics computed on first use.

Prefix blocks follow Mooncake: ``block_hashes[k]`` names the k-th block of ``block_tokens`` prompt
tokens (the last block may be partial); two requests whose hashes agree at positions ``0..k`` share that
prefix, so its KV cache can be reused. ``chain_blocks`` synthesizes such hashes for multi-turn sessions.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise

import numpy as np

DEFAULT_BLOCK_TOKENS = 512  # Mooncake's hash_ids block size


@dataclass(frozen=True, slots=True)
class Request:
    """One LLM request. Times are seconds from the start of its trace."""

    request_id: int
    arrival_s: float
    prompt_tokens: int  # total input, cached prefix included
    output_tokens: int
    block_hashes: tuple[int, ...] = ()  # prefix-block hashes; empty when the trace has none
    block_tokens: int = DEFAULT_BLOCK_TOKENS
    session_id: str | None = None
    round_index: int | None = None
    cached_tokens_hint: int = 0  # tokens the original provider served from its prompt cache (TraceLab)
    think_time_s: float = 0.0  # client-side gap before this round (tool calls, user typing)


@dataclass(frozen=True)
class TraceStats:
    """Summary of a trace. Rates use the span between the first and last arrival."""

    count: int
    span_s: float  # last arrival - first arrival
    mean_rate_per_s: float  # (count - 1) / span_s: the inverse of the mean inter-arrival time
    interarrival_cv: float  # std / mean of inter-arrival times (1 for Poisson)
    input_mean: float
    input_p50: float
    input_p99: float
    output_mean: float
    output_p50: float
    output_p99: float
    sessions: int  # distinct session ids (0 when the trace has none)

    def as_dict(self) -> dict[str, float | int]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class Trace:
    """A named request trace; ``requests`` are sorted by arrival (ties keep file order)."""

    name: str
    requests: tuple[Request, ...]
    source: str  # file path, or a description of the generator and its seed
    attribution: str = ""  # licence and credit for the data; empty for synthetic traces

    def __post_init__(self) -> None:
        arrivals = [r.arrival_s for r in self.requests]
        if any(b < a for a, b in pairwise(arrivals)):
            raise ValueError(f"trace {self.name!r}: requests must be sorted by arrival_s")

    def __len__(self) -> int:
        return len(self.requests)

    def __iter__(self) -> Iterator[Request]:
        return iter(self.requests)

    @cached_property
    def stats(self) -> TraceStats:
        return compute_stats(self.requests)


def _percentile(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if values.size else 0.0


def compute_stats(requests: Sequence[Request]) -> TraceStats:
    arrivals = np.array([r.arrival_s for r in requests], dtype=np.float64)
    inputs = np.array([r.prompt_tokens for r in requests], dtype=np.float64)
    outputs = np.array([r.output_tokens for r in requests], dtype=np.float64)
    span = float(arrivals[-1] - arrivals[0]) if arrivals.size else 0.0
    gaps = np.diff(arrivals)
    mean_gap = float(gaps.mean()) if gaps.size else 0.0
    return TraceStats(
        count=len(requests),
        span_s=span,
        mean_rate_per_s=(len(requests) - 1) / span if span > 0 else 0.0,
        interarrival_cv=float(gaps.std()) / mean_gap if mean_gap > 0 else 0.0,
        input_mean=float(inputs.mean()) if inputs.size else 0.0,
        input_p50=_percentile(inputs, 50),
        input_p99=_percentile(inputs, 99),
        output_mean=float(outputs.mean()) if outputs.size else 0.0,
        output_p50=_percentile(outputs, 50),
        output_p99=_percentile(outputs, 99),
        sessions=len({r.session_id for r in requests if r.session_id is not None}),
    )


def num_blocks(tokens: int, block_tokens: int) -> int:
    """Blocks covering ``tokens`` prompt tokens, the last one possibly partial (Mooncake counts so)."""
    return -(-tokens // block_tokens)


def chain_blocks(
    previous: tuple[int, ...], shared_tokens: int, prompt_tokens: int, block_tokens: int, next_hash: int
) -> tuple[tuple[int, ...], int]:
    """Block hashes for a turn that reuses ``shared_tokens`` of the previous turn's prompt.

    The first ``shared_tokens // block_tokens`` full blocks (at most as many as ``previous`` has) keep the
    previous turn's hashes; every further block gets a fresh hash ``next_hash, next_hash + 1, ...``.
    Returns the hashes and the next unused hash. A block that was partial in the previous turn is never
    shared, because it holds different tokens once the prompt grows.
    """
    keep = min(len(previous), shared_tokens // block_tokens, num_blocks(prompt_tokens, block_tokens))
    fresh = num_blocks(prompt_tokens, block_tokens) - keep
    return previous[:keep] + tuple(range(next_hash, next_hash + fresh)), next_hash + fresh
