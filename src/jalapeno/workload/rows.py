"""What every loader shares: field checks with file:line errors, and rows -> ``Trace``.

Parsers fill a ``Rows`` (parallel int64 arrays, nanosecond times, one entry per data row in file order);
``build_trace`` sorts by time (numpy), applies the window and limit, and only then creates ``Request``
objects, so a short window of a week-long file costs little time and memory.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from jalapeno.errors import JalapenoError
from jalapeno.workload.request import Request, Trace
from jalapeno.workload.timestamps import NS_PER_S

MAX_TOKENS = 1 << 40  # far above any context length; keeps statistics inside int64/float64


def row_error(file: str, line: int, column: str, expected: str, got: object) -> JalapenoError:
    shown = repr(got)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    return JalapenoError(f"{file}:{line}: {column}: expected {expected}, got {shown}")


def token_count(text: str, file: str, line: int, column: str) -> int:
    """A CSV cell holding a token count."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_TOKENS:
        raise row_error(file, line, column, "a non-negative integer", text)
    return value


def json_count(obj: dict[str, Any], key: str, file: str, line: int) -> int:
    """A JSON field holding a token count (an integer, not a bool or a float)."""
    if key not in obj:
        raise JalapenoError(f"{file}:{line}: {key}: missing; expected a non-negative integer")
    value = obj[key]
    if type(value) is not int or not 0 <= value <= MAX_TOKENS:
        raise row_error(file, line, key, "a non-negative integer", value)
    return value


MAX_SECONDS = 9e9  # 285 years: any time in ns fits in int64


def time_to_ns(value: float, ns_per_unit: int, file: str, line: int, column: str, raw: object) -> int:
    """A non-negative, finite time given in units of ``ns_per_unit`` nanoseconds, as integer nanoseconds."""
    try:
        seconds = float(value) * ns_per_unit / NS_PER_S
    except OverflowError:
        seconds = math.inf
    if not (math.isfinite(seconds) and 0 <= seconds <= MAX_SECONDS):
        unit = {NS_PER_S: "seconds", NS_PER_S // 1000: "milliseconds"}.get(ns_per_unit, "time units")
        raise row_error(
            file, line, column, f"a non-negative number of {unit} (at most {MAX_SECONDS:.0e} s)", raw
        )
    return value * ns_per_unit if isinstance(value, int) else round(value * ns_per_unit)


def _int64s() -> array[int]:
    return array("q")


@dataclass
class Rows:
    """Parsed rows of one file, in file order, as compact int64 arrays (a week of Azure traffic is
    17 M rows). Times are nanoseconds on any fixed clock; ``extras[i]`` holds further ``Request`` fields.
    """

    file: str
    times_ns: array[int] = field(default_factory=_int64s)
    prompts: array[int] = field(default_factory=_int64s)
    outputs: array[int] = field(default_factory=_int64s)
    ids: array[int] = field(default_factory=_int64s)  # data row in the file (kept when rows are dropped)
    extras: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class Window:
    """Which requests to keep: arrivals in ``[start_s, start_s + duration_s)``, then the first ``limit``."""

    start_s: float | None = None
    duration_s: float | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.start_s is not None and not (math.isfinite(self.start_s) and self.start_s >= 0):
            raise JalapenoError(f"expected a finite number >= 0, got {self.start_s!r}", field="start_s")
        if self.duration_s is not None and not (math.isfinite(self.duration_s) and self.duration_s > 0):
            raise JalapenoError(f"expected a finite number > 0, got {self.duration_s!r}", field="duration_s")
        if self.limit is not None and (
            isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1
        ):
            raise JalapenoError(f"expected a positive integer, got {self.limit!r}", field="limit")

    def describe(self) -> str:
        parts = [
            f"{k}={v}"
            for k, v in (("start_s", self.start_s), ("duration_s", self.duration_s), ("limit", self.limit))
            if v is not None
        ]
        return ", ".join(parts)


def _clamp(ns: int) -> int:
    return max(-(2**63), min(2**63 - 1, ns))


def _select(rows: Rows, window: Window) -> tuple[list[int], int, int]:
    """Indices of the kept rows in arrival order (ties in file order), the trace start and window start."""
    times = np.frombuffer(rows.times_ns, dtype=np.int64)
    order = np.argsort(times, kind="stable")
    ordered = times[order]
    t0 = int(ordered[0])
    start = _clamp(t0 + round((window.start_s or 0.0) * NS_PER_S))
    lo = int(np.searchsorted(ordered, start, side="left"))
    hi = len(ordered)
    if window.duration_s is not None:
        hi = int(np.searchsorted(ordered, _clamp(start + round(window.duration_s * NS_PER_S)), side="left"))
    if window.limit is not None:
        hi = min(hi, lo + window.limit)
    return order[lo:hi].tolist(), t0, start


def build_trace(rows: Rows, name: str, source: str, attribution: str, window: Window) -> Trace:
    """Sort rows by arrival (ties keep file order), keep the window, and make the ``Trace``.

    Arrivals are measured from the window start (the trace start when there is no window).
    """
    if not rows.times_ns:
        raise JalapenoError(f"{rows.file}: no requests in the file; expected at least one data row")
    kept, t0, start = _select(rows, window)
    if not kept:
        span = (max(rows.times_ns) - t0) / NS_PER_S
        raise JalapenoError(
            f"{rows.file}: no requests in the window ({window.describe()}); the trace spans 0 to {span:.3f} s"
        )
    times, prompts, outputs, ids, extras = rows.times_ns, rows.prompts, rows.outputs, rows.ids, rows.extras
    requests = tuple(
        Request(
            ids[i], (times[i] - start) / NS_PER_S, prompts[i], outputs[i], **(extras[i] if extras else {})
        )
        for i in kept
    )
    return Trace(name, requests, source, attribution)
