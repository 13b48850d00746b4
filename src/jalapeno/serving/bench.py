"""MLPerf-style benchmark scenarios on the serving simulator: offline, server, interactive and fixed.

Public API (stable: ``jalapeno calibrate`` fits against it):

``bench(scenario, lengths, oracle, *, replicas=1, chips_per_replica=1, limits=None, requests=None, seed=0,
concurrency=None, rel_tol=REL_TOL, max_num_seqs=BENCH_MAX_NUM_SEQS, **sim_options) -> BenchResult``

* ``lengths``: anything with ``requests(n, seed) -> tuple[Request, ...]`` (all at t=0) and ``len()``,
  e.g. ``jalapeno.workload.benchsets.load_set("mlperf-llama2-70b")`` or ``benchsets.fixed(isl, osl)``.
* ``oracle``: the step oracle of one replica (``tp`` = ``chips_per_replica`` chips).
* ``offline``: every request is there at t=0 (MLPerf Offline); throughput = tokens / (last completion -
  0). ``requests`` defaults to the whole set (24,576 for Llama-2-70B), at least ``OFFLINE_MIN_PER_SLOT``
  requests per running slot so the ramp-up and drain are a small part of the run.
* ``server`` / ``interactive``: the highest Poisson arrival rate (req/s) whose p99 TTFT and p99 TPOT meet
  ``limits`` (MLPerf Server, and its "interactive" variant's tighter limits) with nothing dropped. The
  arrivals are one seeded unit-rate Poisson sequence scaled to each rate (common random numbers, so the
  latencies move smoothly with the rate). The search brackets the rate between 0 and the offline
  capacity (the completion rate with an unlimited queue: no higher rate is sustainable, however short
  the run), then bisects until ``hi - lo <= rel_tol * hi``: the reported rate passes and ``hi`` (at
  most ``1/(1 - rel_tol)`` times it) failed; if the capacity itself passes, it is the rate. The run
  holds ``requests`` requests (default: ``SERVER_DURATION_S`` seconds at the offline capacity, clamped
  to [``SERVER_MIN_REQUESTS``, ``SERVER_MAX_REQUESTS``]); MLPerf runs at least 600 s, so a shorter run
  can pass a rate whose queue would still be growing after it ends: a documented optimism.
* ``fixed``: fixed ISL/OSL (``lengths = fixed(isl, osl)``), as the TensorRT-LLM and ROCm performance
  tables report: with ``concurrency`` C, a closed loop of C requests in flight (all queued at t=0, at
  most C running); without it, the maximum throughput (offline with fixed lengths).

Throughput is output tokens per second (MLPerf's LLM metric) and prompt + output tokens per second, for
the fleet and per chip (fleet / (replicas x chips_per_replica)). Offline and fixed: tokens / duration
of the run, as MLPerf Offline. Server/interactive: the found rate x the mean tokens per request, the
throughput the fleet sustains at that rate (what MLPerf's >= 600 s runs converge to); a short run's
tokens / duration would also count its drain, when the rate has stopped (``measured_*`` keeps it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from jalapeno.errors import JalapenoError
from jalapeno.serving.metrics import SimResult
from jalapeno.serving.oracle import StepOracle
from jalapeno.serving.simulate import simulate

SCENARIOS = ("offline", "server", "interactive", "fixed")
REL_TOL = 0.02  # bisection stops when the bracket is within 2% of its upper end
BENCH_MAX_NUM_SEQS = 1024  # running requests per replica (MLPerf submissions run large batches)
OFFLINE_MIN_PER_SLOT = 8  # offline/fixed: at least this many requests per running slot
SERVER_DURATION_S = 120.0  # server: default run length at the offline capacity
SERVER_MIN_REQUESTS = 1_000
SERVER_MAX_REQUESTS = 20_000
MAX_BISECTIONS = 30
MIN_RATE_FRACTION = 1e-4  # server: give up (rate 0) below this fraction of the offline capacity


class LengthSource(Protocol):
    @property
    def name(self) -> str: ...

    def __len__(self) -> int: ...

    def requests(self, n: int, seed: int = 0) -> tuple[Any, ...]: ...


@dataclass(frozen=True)
class Limits:
    """Latency limits of a server scenario: p99 TTFT and p99 TPOT, seconds, with their source."""

    ttft_s: float
    tpot_s: float
    source: str

    def __post_init__(self) -> None:
        for name, v in (("ttft_s", self.ttft_s), ("tpot_s", self.tpot_s)):
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise JalapenoError(f"must be > 0, got {v!r}", field=f"limits.{name}")

    def met(self, res: SimResult) -> bool:
        ttft, tpot = res.ttft_s.p99, res.tpot_s.p99
        return (
            not res.dropped
            and res.completed == res.requests
            and ttft is not None
            and ttft <= self.ttft_s
            and (tpot is None or tpot <= self.tpot_s)
        )

    def to_dict(self) -> dict[str, Any]:
        return {"ttft_p99_s": self.ttft_s, "tpot_p99_s": self.tpot_s, "source": self.source}


_CONF = (
    "mlcommons/inference loadgen/mlperf.conf (https://github.com/mlcommons/inference/blob/master/"
    "loadgen/mlperf.conf), key {}.Server.ttft_latency / tpot_latency"
)
# (MLPerf benchmark, scenario) -> (TTFT ms, TPOT ms), MLPerf Inference v5.x
_MLPERF_MS = {
    ("llama2-70b", "server"): (2000, 200),
    ("llama2-70b", "interactive"): (450, 40),
    ("llama3_1-405b", "server"): (6000, 175),
    ("llama3_1-405b", "interactive"): (4500, 80),
    ("llama3_1-8b", "server"): (2000, 100),
    ("llama3_1-8b", "interactive"): (500, 30),
    ("mixtral-8x7b", "server"): (2000, 200),
    ("deepseek-r1", "server"): (2000, 80),
    ("deepseek-r1", "interactive"): (1500, 15),
    ("gpt-oss-120b", "server"): (3000, 80),
    ("gpt-oss-120b", "interactive"): (2000, 15),
}
# bundled model alias -> MLPerf benchmark (DeepSeek-R1 is a fine-tune of the DeepSeek-V3 architecture)
MLPERF_BENCHMARK = {
    "llama-2-70b": "llama2-70b",
    "llama-3.1-405b": "llama3_1-405b",
    "llama-3.1-8b": "llama3_1-8b",
    "mixtral-8x7b": "mixtral-8x7b",
    "deepseek-v3": "deepseek-r1",
    "gpt-oss-120b": "gpt-oss-120b",
}
MLPERF_LIMITS: dict[tuple[str, str], Limits] = {
    (bm, sc): Limits(t / 1000, p / 1000, _CONF.format(bm + ("-interactive" if sc == "interactive" else "")))
    for (bm, sc), (t, p) in _MLPERF_MS.items()
}


def limits_for(model_name: str, scenario: str) -> Limits | None:
    """MLPerf's limits for a bundled model alias (or MLPerf benchmark name) and scenario, else None."""
    bm = MLPERF_BENCHMARK.get(model_name, model_name)
    return MLPERF_LIMITS.get((bm, scenario))


@dataclass(frozen=True)
class BenchResult:
    """One scenario's outcome. ``sim`` is the run at the reported rate (None when no rate passed)."""

    scenario: str
    dataset: str
    replicas: int
    chips: int
    requests: int
    rate_per_s: float  # server: the found arrival rate; offline/fixed: completed requests / duration
    output_tokens_per_s: float
    total_tokens_per_s: float
    ttft_p99_s: float | None
    tpot_p99_s: float | None
    limits: Limits | None
    concurrency: int | None
    rel_tol: float | None
    evaluations: int  # simulations run (bisection included)
    bracket_per_s: tuple[float, float] | None  # server: (passing, failing) rates at the end
    sim: SimResult | None
    measured_output_tokens_per_s: float | None = None  # output tokens / duration of the reported run

    @property
    def output_tokens_per_s_per_chip(self) -> float:
        return self.output_tokens_per_s / self.chips

    @property
    def total_tokens_per_s_per_chip(self) -> float:
        return self.total_tokens_per_s / self.chips

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "dataset": self.dataset,
            "replicas": self.replicas,
            "chips": self.chips,
            "requests": self.requests,
            "concurrency": self.concurrency,
            "rate_per_s": self.rate_per_s,
            "throughput_tokens_per_s": self.output_tokens_per_s,  # output tokens, as in serve and explore
            "throughput_total_tokens_per_s": self.total_tokens_per_s,
            "throughput_tokens_per_s_per_chip": self.output_tokens_per_s_per_chip,
            "throughput_total_tokens_per_s_per_chip": self.total_tokens_per_s_per_chip,
            "ttft_p99_s": self.ttft_p99_s,
            "tpot_p99_s": self.tpot_p99_s,
            "limits": self.limits.to_dict() if self.limits else None,
            "rel_tol": self.rel_tol,
            "bracket_per_s": list(self.bracket_per_s) if self.bracket_per_s else None,
            "evaluations": self.evaluations,
            "measured_output_tokens_per_s": self.measured_output_tokens_per_s,
            "duration_s": self.sim.duration_s if self.sim else None,
        }


def bench(
    scenario: str,
    lengths: LengthSource,
    oracle: StepOracle,
    *,
    replicas: int = 1,
    chips_per_replica: int = 1,
    limits: Limits | None = None,
    requests: int | None = None,
    seed: int = 0,
    concurrency: int | None = None,
    rel_tol: float = REL_TOL,
    max_num_seqs: int = BENCH_MAX_NUM_SEQS,
    **sim_options: Any,
) -> BenchResult:
    """Run one scenario (module docstring); ``sim_options`` go to ``simulate`` (scheduler, policy, ...)."""
    check_args(scenario, replicas, chips_per_replica, requests, concurrency, rel_tol, max_num_seqs)
    if concurrency is not None:
        max_num_seqs = concurrency
    opts = {"replicas": replicas, "max_num_seqs": max_num_seqs, **sim_options}
    chips = replicas * chips_per_replica
    if scenario in ("offline", "fixed"):
        slots = max_num_seqs * replicas
        n = requests or max(len(lengths), OFFLINE_MIN_PER_SLOT * slots)
        return _offline(scenario, lengths, oracle, n, seed, chips, concurrency, opts)
    if limits is None:
        raise JalapenoError(
            f"the {scenario} scenario needs latency limits (no MLPerf limits for this model); "
            "give --ttft-limit and --tpot-limit",
            field="limits",
        )
    return max_rate(
        scenario,
        lengths,
        oracle,
        limits,
        requests=requests,
        seed=seed,
        chips=chips,
        rel_tol=rel_tol,
        sim_options=opts,
    )


def check_args(
    scenario: str,
    replicas: int,
    tp: int,
    requests: int | None,
    concurrency: int | None,
    rel_tol: float,
    max_num_seqs: int,
) -> None:
    """``bench``'s arguments, checked before any work: one ``JalapenoError`` naming the flag."""
    if scenario not in SCENARIOS:
        raise JalapenoError(f"must be one of {', '.join(SCENARIOS)}; got {scenario!r}", field="--scenario")
    for flag, v in (
        ("--replicas", replicas),
        ("--tp", tp),
        ("--requests", requests),
        ("--concurrency", concurrency),
        ("--max-num-seqs", max_num_seqs),
    ):
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
            raise JalapenoError(f"must be an integer >= 1, got {v!r}", field=flag)
    if not (0 < rel_tol < 1):
        raise JalapenoError(f"must be in (0, 1), got {rel_tol!r}", field="--rel-tol")
    if concurrency is not None and scenario != "fixed":
        raise JalapenoError("only with the fixed scenario", field="--concurrency")


def _offline(
    scenario: str,
    lengths: LengthSource,
    oracle: StepOracle,
    n: int,
    seed: int,
    chips: int,
    concurrency: int | None,
    opts: dict[str, Any],
) -> BenchResult:
    reqs = lengths.requests(n, seed)
    res = simulate(reqs, oracle, **opts)
    rate = res.completed / res.duration_s if res.duration_s > 0 else 0.0
    return BenchResult(
        scenario,
        lengths.name,
        opts["replicas"],
        chips,
        n,
        rate,
        res.throughput_tokens_per_s,
        res.throughput_total_tokens_per_s,
        res.ttft_s.p99,
        res.tpot_s.p99,
        None,
        concurrency,
        None,
        1,
        None,
        res,
        res.throughput_tokens_per_s,
    )


def unit_poisson(reqs: Sequence[Any], seed: int) -> tuple[Any, ...]:
    """``reqs`` with seeded Poisson arrivals at 1 request/s (first at 0); ``rate_scale`` sets the rate."""
    gaps = np.random.default_rng(seed).exponential(1.0, max(0, len(reqs) - 1))
    times = np.concatenate(([0.0], np.cumsum(gaps)))
    return tuple(replace(q, arrival_s=float(t)) for q, t in zip(reqs, times, strict=True))


def max_rate(
    scenario: str,
    lengths: LengthSource,
    oracle: StepOracle,
    limits: Limits,
    *,
    requests: int | None,
    seed: int,
    chips: int,
    rel_tol: float,
    sim_options: dict[str, Any],
) -> BenchResult:
    """The highest Poisson rate meeting ``limits`` (module docstring: bracket, bisection, tolerance)."""
    probe_n = requests or min(len(lengths), SERVER_MAX_REQUESTS)
    cap = _offline("offline", lengths, oracle, probe_n, seed, chips, None, sim_options).rate_per_s
    n = requests or int(
        min(SERVER_MAX_REQUESTS, max(SERVER_MIN_REQUESTS, math.ceil(cap * SERVER_DURATION_S)))
    )
    arrivals = unit_poisson(lengths.requests(n, seed), seed)
    evals = [1]

    def run(rate: float) -> SimResult:
        evals[0] += 1
        return simulate(arrivals, oracle, rate_scale=rate, **sim_options)

    lo, hi, best = 0.0, cap, None
    res_hi = run(hi)
    if limits.met(res_hi):  # the offline capacity itself passes: no sustainable rate is higher
        lo, best = hi, res_hi
    for _ in range(MAX_BISECTIONS):
        if hi - lo <= rel_tol * hi or best is res_hi or hi < cap * MIN_RATE_FRACTION:
            break
        mid = (lo + hi) / 2
        res = run(mid)
        if limits.met(res):
            lo, best = mid, res
        else:
            hi = mid
    if best is None:
        return BenchResult(
            scenario,
            lengths.name,
            sim_options["replicas"],
            chips,
            n,
            0.0,
            0.0,
            0.0,
            None,
            None,
            limits,
            None,
            rel_tol,
            evals[0],
            (0.0, hi),
            None,
        )
    out_per_req = best.output_tokens / best.completed
    total_per_req = (best.output_tokens + best.prompt_tokens) / best.completed
    return BenchResult(
        scenario,
        lengths.name,
        sim_options["replicas"],
        chips,
        n,
        lo,
        lo * out_per_req,
        lo * total_per_req,
        best.ttft_s.p99,
        best.tpot_s.p99,
        limits,
        None,
        rel_tol,
        evals[0],
        (lo, hi),
        best,
        best.throughput_tokens_per_s,
    )
