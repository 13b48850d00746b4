"""Seeded synthetic traffic, returned as ``Trace`` values (same seed, same trace, on every machine).

* ``poisson``: exponential inter-arrivals at a mean rate.
* ``gamma``: gamma inter-arrivals with a chosen coefficient of variation (CV 1 is Poisson; the Azure code
  trace has CV 13, i.e. bursts).
* ``sessions``: multi-turn sessions with think time: each turn's prompt is the previous prompt plus the
  previous output plus new user (or tool-result) tokens, and its prefix blocks repeat the previous
  turn's, the agentic-coding pattern of long, mostly cached contexts and short outputs.

Token lengths come from an ``IntDist`` (``Constant``, ``Empirical`` resampling, ``LogNormal``), a plain
int, or, for ``poisson``/``gamma``, (prompt, output) pairs resampled jointly from a real trace.
The first request arrives at time 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from jalapeno.errors import JalapenoError
from jalapeno.workload.request import DEFAULT_BLOCK_TOKENS, Request, Trace, chain_blocks


class IntDist(Protocol):
    """A distribution of positive integers (token counts) sampled with a numpy Generator."""

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray: ...


@dataclass(frozen=True)
class Constant:
    value: int

    def __post_init__(self) -> None:
        _check(
            isinstance(self.value, int) and not isinstance(self.value, bool) and self.value >= 0,
            "Constant.value",
            "an integer >= 0",
            self.value,
        )

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.value, dtype=np.int64)


@dataclass(frozen=True)
class Empirical:
    """Uniform resampling (with replacement) of observed values, e.g. a trace's prompt lengths."""

    values: tuple[int, ...]

    def __post_init__(self) -> None:
        _check(len(self.values) > 0, "Empirical.values", "at least one value", self.values)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.asarray(self.values, dtype=np.int64)[rng.integers(0, len(self.values), n)]


@dataclass(frozen=True)
class LogNormal:
    """Log-normal with the given mean and CV, rounded to integers of at least ``minimum``."""

    mean: float
    cv: float = 1.0
    minimum: int = 1

    def __post_init__(self) -> None:
        _check(math.isfinite(self.mean) and self.mean > 0, "LogNormal.mean", "a number > 0", self.mean)
        _check(math.isfinite(self.cv) and self.cv >= 0, "LogNormal.cv", "a number >= 0", self.cv)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        sigma2 = math.log1p(self.cv**2)
        x = rng.lognormal(math.log(self.mean) - sigma2 / 2, math.sqrt(sigma2), n)
        return np.maximum(self.minimum, np.rint(x)).astype(np.int64)


def _check(ok: bool, name: str, expected: str, got: object) -> None:
    if not ok:
        raise JalapenoError(f"expected {expected}, got {got!r}", field=name)


def _dist(value: IntDist | int, name: str) -> IntDist:
    if isinstance(value, bool):
        _check(False, name, "an integer or an IntDist", value)
    return Constant(value) if isinstance(value, int) else value


def _count_or_duration(count: int | None, duration_s: float | None) -> None:
    _check(
        (count is None) != (duration_s is None),
        "count/duration_s",
        "exactly one of them",
        (count, duration_s),
    )
    if count is not None:
        _check(
            isinstance(count, int) and not isinstance(count, bool) and count >= 1,
            "count",
            "an integer >= 1",
            count,
        )
    if duration_s is not None:
        _check(math.isfinite(duration_s) and duration_s > 0, "duration_s", "a number > 0", duration_s)


def _gaps(rng: np.random.Generator, rate: float, cv: float, n: int) -> np.ndarray:
    shape = 1.0 / cv**2  # gamma with mean 1/rate and CV cv; shape 1 is the exponential
    return rng.gamma(shape, 1.0 / (rate * shape), n)


def _arrivals(
    rng: np.random.Generator, rate: float, cv: float, count: int | None, duration_s: float | None
) -> np.ndarray:
    """Arrival times from 0 with ``count`` arrivals, or all arrivals before ``duration_s``."""
    _check(math.isfinite(rate) and rate > 0, "rate_per_s", "a number > 0", rate)
    _check(math.isfinite(cv) and cv > 0, "cv", "a number > 0", cv)
    _count_or_duration(count, duration_s)
    if count is not None:
        return np.concatenate(([0.0], np.cumsum(_gaps(rng, rate, cv, count - 1))))
    assert duration_s is not None
    chunk = int(rate * duration_s * 1.1) + 16
    times = np.concatenate(([0.0], np.cumsum(_gaps(rng, rate, cv, chunk))))
    while times[-1] < duration_s:
        times = np.concatenate((times, times[-1] + np.cumsum(_gaps(rng, rate, cv, chunk))))
    return times[times < duration_s]


def _lengths(
    rng: np.random.Generator,
    n: int,
    prompt_tokens: IntDist | int,
    output_tokens: IntDist | int,
    lengths_from: Trace | None,
) -> tuple[list[int], list[int]]:
    if lengths_from is not None:
        _check(len(lengths_from) > 0, "lengths_from", "a trace with requests", lengths_from.name)
        picks = rng.integers(0, len(lengths_from), n).tolist()
        reqs = lengths_from.requests
        return [reqs[i].prompt_tokens for i in picks], [reqs[i].output_tokens for i in picks]
    prompts = _dist(prompt_tokens, "prompt_tokens").sample(rng, n)
    outputs = _dist(output_tokens, "output_tokens").sample(rng, n)
    return prompts.tolist(), outputs.tolist()


def gamma(
    rate_per_s: float,
    cv: float,
    *,
    count: int | None = None,
    duration_s: float | None = None,
    prompt_tokens: IntDist | int = 1024,
    output_tokens: IntDist | int = 128,
    lengths_from: Trace | None = None,
    seed: int = 0,
    name: str | None = None,
) -> Trace:
    """Gamma inter-arrivals: mean rate ``rate_per_s``, coefficient of variation ``cv`` (bursty above 1).

    Give ``count`` (requests) or ``duration_s``. ``lengths_from`` resamples (prompt, output) pairs from a
    trace (keeping their correlation) instead of ``prompt_tokens``/``output_tokens``.
    """
    rng = np.random.default_rng(seed)
    arrivals = _arrivals(rng, rate_per_s, cv, count, duration_s).tolist()
    prompts, outputs = _lengths(rng, len(arrivals), prompt_tokens, output_tokens, lengths_from)
    requests = tuple(
        Request(i, a, p, o) for i, (a, p, o) in enumerate(zip(arrivals, prompts, outputs, strict=True))
    )
    what = f"gamma(rate_per_s={rate_per_s:g}, cv={cv:g}, count={count}, duration_s={duration_s}, seed={seed})"
    credit = f"token lengths from {lengths_from.name}: {lengths_from.attribution}" if lengths_from else ""
    return Trace(name or ("poisson" if cv == 1 else "gamma"), requests, f"synthetic: {what}", credit)


def poisson(
    rate_per_s: float,
    *,
    count: int | None = None,
    duration_s: float | None = None,
    prompt_tokens: IntDist | int = 1024,
    output_tokens: IntDist | int = 128,
    lengths_from: Trace | None = None,
    seed: int = 0,
    name: str | None = None,
) -> Trace:
    """Poisson arrivals (exponential inter-arrivals, CV 1) at ``rate_per_s``; see ``gamma``."""
    return gamma(
        rate_per_s,
        1.0,
        count=count,
        duration_s=duration_s,
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
        lengths_from=lengths_from,
        seed=seed,
        name=name or "poisson",
    )


@dataclass(frozen=True)
class _SessionShape:
    turns: IntDist
    first_prompt: IntDist
    user: IntDist
    output: IntDist
    think_time_s: float
    max_prompt_tokens: int
    block_tokens: int


def _session(
    rng: np.random.Generator, shape: _SessionShape, sid: str, start_s: float, next_hash: int
) -> tuple[list[Request], int]:
    """One session's turns (request ids filled in later) and the next unused block hash."""
    n = max(1, int(shape.turns.sample(rng, 1)[0]))
    users, outputs = shape.user.sample(rng, n).tolist(), shape.output.sample(rng, n).tolist()
    thinks = rng.exponential(shape.think_time_s, n).tolist() if shape.think_time_s > 0 else [0.0] * n
    prompt, previous_prompt, cached, arrival = int(shape.first_prompt.sample(rng, 1)[0]), 0, 0, start_s
    hashes: tuple[int, ...] = ()
    turns: list[Request] = []
    for k in range(n):
        if k:
            cached = prompt + outputs[k - 1]
            if cached + users[k] > shape.max_prompt_tokens:
                break
            previous_prompt, prompt, arrival = prompt, cached + users[k], arrival + thinks[k]
        hashes, next_hash = chain_blocks(hashes, previous_prompt, prompt, shape.block_tokens, next_hash)
        turns.append(
            Request(
                -1,
                arrival,
                prompt,
                outputs[k],
                hashes,
                shape.block_tokens,
                sid,
                k,
                cached,
                thinks[k] if k else 0.0,
            )
        )
    return turns, next_hash


def sessions(
    num_sessions: int,
    *,
    session_rate_per_s: float = 0.1,
    turns: IntDist | int = 10,
    first_prompt_tokens: IntDist | int = LogNormal(20_000, 0.5),
    user_tokens: IntDist | int = LogNormal(1_500, 1.0),
    output_tokens: IntDist | int = LogNormal(400, 1.0),
    think_time_s: float = 5.0,
    max_prompt_tokens: int = 131_072,
    block_tokens: int = DEFAULT_BLOCK_TOKENS,
    seed: int = 0,
    name: str = "sessions",
) -> Trace:
    """Multi-turn sessions (defaults: agentic coding, after TraceLab's rounds).

    Sessions start as a Poisson process at ``session_rate_per_s`` (the first at 0). Turn k > 0 has
    ``prompt = prompt[k-1] + output[k-1] + user_tokens`` and ``cached_tokens_hint = prompt[k-1] +
    output[k-1]`` (what an ideal provider cache holds); its blocks repeat turn k-1's full prompt blocks
    (``prompt[k-1] // block_tokens`` of them) and are fresh after that, since the trace cannot name the
    hashes of generated tokens. Think times are exponential with mean ``think_time_s`` and are added to
    the previous turn's arrival (open loop, as if service took no time); a closed-loop simulator should
    instead start turn k ``think_time_s`` after turn k-1 completes. A session ends early when its prompt
    would exceed ``max_prompt_tokens``. Request ids follow arrival order.
    """
    _check(
        isinstance(num_sessions, int) and num_sessions >= 1, "num_sessions", "an integer >= 1", num_sessions
    )
    _check(math.isfinite(think_time_s) and think_time_s >= 0, "think_time_s", "a number >= 0", think_time_s)
    _check(
        isinstance(block_tokens, int) and block_tokens >= 1, "block_tokens", "an integer >= 1", block_tokens
    )
    shape = _SessionShape(
        _dist(turns, "turns"),
        _dist(first_prompt_tokens, "first_prompt_tokens"),
        _dist(user_tokens, "user_tokens"),
        _dist(output_tokens, "output_tokens"),
        think_time_s,
        max_prompt_tokens,
        block_tokens,
    )
    rng = np.random.default_rng(seed)
    starts = _arrivals(rng, session_rate_per_s, 1.0, num_sessions, None).tolist()
    keyed: list[tuple[float, int, int, Request]] = []
    next_hash = 0
    for s, start in enumerate(starts):
        session_turns, next_hash = _session(rng, shape, f"s{s}", start, next_hash)
        keyed.extend((r.arrival_s, s, k, r) for k, r in enumerate(session_turns))
    keyed.sort(key=lambda item: item[:3])
    requests = tuple(replace(item[3], request_id=i) for i, item in enumerate(keyed))
    what = f"sessions(num_sessions={num_sessions}, session_rate_per_s={session_rate_per_s:g}, seed={seed})"
    return Trace(name, requests, f"synthetic: {what}")
