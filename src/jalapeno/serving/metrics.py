"""Serving metrics and the ``SimResult`` value.

Definitions (times in seconds; "duration" is first arrival to last completion):
- TTFT: first output token time - arrival. The first token is sampled by the step that completes the
  prefill (in a disaggregated deployment, on the prefill replica: the KV transfer is not in TTFT).
- TPOT: (last token time - first token time) / (output_tokens - 1), the mean gap after the first
  token; requests with one output token have none and are left out of TPOT statistics.
- E2E: last token time - arrival. Queueing delay: first scheduling - arrival.
- SLO attainment: the fraction of all requests (dropped ones count as misses) with TTFT <= ttft_s and
  TPOT <= tpot_s. Goodput: requests meeting the SLO per second of duration.
  "Goodput at 90% attainment" (DistServe's definition) is the highest request rate whose attainment is
  still >= 90%; ``simulate.max_rate_at_attainment`` finds it by scaling the trace's arrival rate.
- Throughput: output tokens (``throughput_tokens_per_s``) and prompt + output tokens
  (``throughput_total_tokens_per_s``) of completed requests per second of duration.
- Energy: every step's oracle energy plus each replica's idle power times its idle time (swap stalls
  are idle). ``joules_per_token.output`` divides by output tokens, ``.total`` by prompt + output tokens.
  Average power: energy / duration. Peak power: the highest fleet power over windows of
  ``power_window_s`` (a step's energy is spread evenly over its duration); the last, partial window
  counts only when the run is shorter than one window.
- Cost: ``dollars_per_replica_hour`` x replicas x duration, per million output / total tokens
  (``usd_per_mtok_replica_hour``; the commands price fleets by the TCO rule, ``usd_per_mtok``, instead).
- KV utilization: blocks held by requests over blocks in the pool, time-averaged over the duration
  and pooled over replicas (mean), and the highest of any replica at any step start (peak).
- Prefix hit rate: tokens found in the prefix cache (HBM or lower tier) over tokens looked up at each
  admission (a re-admission after a preemption looks up again).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from jalapeno.errors import JalapenoError


@dataclass(frozen=True)
class SLO:
    ttft_s: float = 1.0
    tpot_s: float = 0.025

    def __post_init__(self) -> None:
        if not self.ttft_s > 0:
            raise JalapenoError(f"must be > 0, got {self.ttft_s}", field="slo.ttft_s")
        if not self.tpot_s > 0:
            raise JalapenoError(f"must be > 0, got {self.tpot_s}", field="slo.tpot_s")


@dataclass(frozen=True)
class Stats:
    p50: float | None
    p90: float | None
    p99: float | None
    mean: float | None

    @classmethod
    def of(cls, values: np.ndarray) -> Stats:
        if values.size == 0:
            return cls(None, None, None, None)
        p50, p90, p99 = np.percentile(values, [50, 90, 99])
        return cls(float(p50), float(p90), float(p99), float(values.mean()))


@dataclass(frozen=True)
class PerToken:
    output: float | None  # per output token
    total: float | None  # per prompt + output token


@dataclass(frozen=True)
class Dropped:
    request_id: int
    reason: str


MAX_POWER_WINDOWS = 10_000_000  # ~116 days of 1 s windows (~160 MB); a simulation past it is refused


class PowerTrace:
    """Fleet energy in fixed windows from ``t0``: step energies, and idle power weighted by busy time."""

    __slots__ = ("busy_idle_j", "step_j", "t0", "window_s")

    def __init__(self, window_s: float, t0: float) -> None:
        self.window_s = window_s
        self.t0 = t0
        self.step_j: list[float] = []
        self.busy_idle_j: list[float] = []  # idle power a busy replica does not draw: idle_w * busy time

    def add(self, start: float, end: float, energy: float, idle_w: float) -> None:
        w, t0 = self.window_s, self.t0
        span = (end - t0) / w
        if not span < MAX_POWER_WINDOWS:  # also NaN/inf times
            raise JalapenoError(
                f"simulated time reached {end - t0:.3g} s, past the horizon of {MAX_POWER_WINDOWS:,} "
                f"power windows of {w:g} s: the chip is too slow for this workload or the trace too "
                "long; slice the trace or give a faster chip",
                field="simulation",
            )
        b0, b1 = int((start - t0) / w), int(span)
        if b1 >= len(self.step_j):
            grow = b1 + 1 - len(self.step_j)
            self.step_j.extend([0.0] * grow)
            self.busy_idle_j.extend([0.0] * grow)
        if b0 == b1 or end <= start:
            self.step_j[b1] += energy
            self.busy_idle_j[b1] += idle_w * (end - start)
            return
        power = energy / (end - start)
        for b in range(b0, b1 + 1):
            lo, hi = max(start, t0 + b * w), min(end, t0 + (b + 1) * w)
            if hi > lo:
                self.step_j[b] += power * (hi - lo)
                self.busy_idle_j[b] += idle_w * (hi - lo)

    def series(self, end: float, idle_w_total: float) -> list[tuple[float, float]]:
        """(window start, average fleet power in W) for every window up to ``end``."""
        w, t0 = self.window_s, self.t0
        n = max(1, math.ceil((end - t0) / w - 1e-12))
        out = []
        for b in range(n):
            length = min(w, end - (t0 + b * w))
            if length <= 0:
                break
            step = self.step_j[b] if b < len(self.step_j) else 0.0
            busy = self.busy_idle_j[b] if b < len(self.busy_idle_j) else 0.0
            out.append((t0 + b * w, (step + idle_w_total * length - busy) / length))
        return out

    def peak(self, end: float, idle_w_total: float, series: list[tuple[float, float]] | None = None) -> float:
        """Highest full-window power; ``series`` is ``self.series(end, idle_w_total)`` when already built."""
        if series is None:
            series = self.series(end, idle_w_total)
        full = [p for (t, p) in series if t + self.window_s <= end + 1e-12] or [p for _, p in series]
        return max(full) if full else 0.0


@dataclass(frozen=True)
class SimResult:
    requests: int
    completed: int
    dropped: tuple[Dropped, ...]
    ttft_s: Stats
    tpot_s: Stats
    e2e_s: Stats
    queue_s: Stats
    slo: SLO
    goodput_rps: float
    slo_attainment: float
    throughput_tokens_per_s: float
    throughput_total_tokens_per_s: float
    output_tokens: int
    prompt_tokens: int
    energy_j: float
    joules_per_token: PerToken
    avg_power_w: float
    peak_power_w: float
    power_window_s: float
    usd_per_mtok_replica_hour: PerToken | None
    prefix_hit_rate: float
    prefix_cache: dict[str, int]
    kv_utilization: dict[str, float]
    preemptions: dict[str, int]
    replicas: int
    duration_s: float
    steps: int
    step_events: int
    sim_events: int
    sim_wall_s: float
    per_request: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    power_series: tuple[tuple[float, float], ...] = field(default=(), repr=False, compare=False)

    def to_dict(self, *, include_wall: bool = False, per_request: bool = False) -> dict[str, Any]:
        """The JSON form, in the commands' vocabulary (docs/json.md)."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            if name in ("per_request", "power_series") or (name == "sim_wall_s" and not include_wall):
                continue
            out[RENAMED.get(name, name)] = _plain(getattr(self, name))
        # one key, one meaning (docs/json.md): `ttft_s` is the latency's stats, the SLO's bound is
        # `ttft_limit_s`
        out["slo"] = {"ttft_limit_s": self.slo.ttft_s, "tpot_limit_s": self.slo.tpot_s}
        out["dropped"] = len(self.dropped)  # a count, as in every table and command (docs/json.md)
        out["dropped_requests"] = [{"request_id": d.request_id, "reason": d.reason} for d in self.dropped]
        if per_request:
            out["per_request"] = {k: _plain(v.tolist()) for k, v in self.per_request.items()}
        return out

    def to_json(
        self, *, include_wall: bool = False, per_request: bool = False, indent: int | None = None
    ) -> str:
        """Deterministic JSON: sorted keys; ``sim_wall_s`` (a wall-clock time) only when asked for."""
        return json.dumps(
            self.to_dict(include_wall=include_wall, per_request=per_request),
            sort_keys=True,
            indent=indent,
            allow_nan=False,
        )


RENAMED = {"prefix_cache": "prefix_cache_stats"}  # `prefix_cache` is the on/off switch of a deployment


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(getattr(value, k)) for k in value.__dataclass_fields__}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def request_columns(states: Sequence[Any]) -> dict[str, np.ndarray]:
    """Per-request arrays (NaN where undefined) of completed requests."""
    done = [s for s in states if s.finish_s >= 0]
    arrival = np.array([s.arrival_s for s in done], dtype=np.float64)
    first = np.array([s.first_token_s for s in done], dtype=np.float64)
    last = np.array([s.last_token_s for s in done], dtype=np.float64)
    out = np.array([s.output for s in done], dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        tpot = np.where(out > 1, (last - first) / np.maximum(out - 1, 1), np.nan)
    return {
        "request_id": np.array([s.rid for s in done], dtype=np.int64),
        "arrival_s": arrival,
        "ttft_s": first - arrival,
        "tpot_s": tpot,
        "e2e_s": last - arrival,
        "queue_s": np.array([s.scheduled_s for s in done], dtype=np.float64) - arrival,
        "prompt_tokens": np.array([s.prompt for s in done], dtype=np.int64),
        "output_tokens": out,
        "hit_tokens": np.array([s.hit_tokens + s.loaded_tokens for s in done], dtype=np.int64),
        "preemptions": np.array([s.preemptions for s in done], dtype=np.int64),
        "replica": np.array([s.replica for s in done], dtype=np.int64),
    }


def slo_met(cols: dict[str, np.ndarray], slo: SLO) -> np.ndarray:
    tpot_ok = np.isnan(cols["tpot_s"]) | (cols["tpot_s"] <= slo.tpot_s)
    met: np.ndarray = (cols["ttft_s"] <= slo.ttft_s) & tpot_ok
    return met
