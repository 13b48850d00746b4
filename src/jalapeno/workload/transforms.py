"""Reshape a trace in time: ``rescale`` to another request rate, ``slice_trace`` to a window.

Both keep request order, ids, token counts and prefix blocks; only ``arrival_s`` changes.
"""

from __future__ import annotations

import math
from dataclasses import replace

from jalapeno.errors import JalapenoError
from jalapeno.workload.request import Trace


def _positive(value: float, name: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (math.isfinite(value) and value > 0)
    ):
        raise JalapenoError(f"expected a finite number > 0, got {value!r}", field=name)
    return float(value)


def rescale(trace: Trace, *, rate: float | None = None, factor: float | None = None) -> Trace:
    """The trace with its time axis compressed so its mean rate becomes ``rate`` requests/s.

    ``factor`` multiplies the rate instead (``factor=2``: twice the load, every inter-arrival halved).
    Give exactly one. Arrivals are divided by the factor, so ``stats.mean_rate_per_s`` (count - 1 over
    span) scales exactly; ``think_time_s`` (a client property) is left as it is.
    """
    if (rate is None) == (factor is None):
        raise JalapenoError(
            "give exactly one of rate (requests/s) or factor (rate multiplier)", field="rescale"
        )
    if rate is not None:
        current = trace.stats.mean_rate_per_s
        if current <= 0:
            raise JalapenoError(
                f"trace {trace.name!r} has no rate to rescale (it needs two arrivals "
                "at different times); use factor= or a longer trace",
                field="rate",
            )
        factor = _positive(rate, "rate") / current
    scale = _positive(factor, "factor")  # type: ignore[arg-type]
    requests = tuple(replace(r, arrival_s=r.arrival_s / scale) for r in trace.requests)
    return Trace(f"{trace.name} x{scale:.4g}", requests, trace.source, trace.attribution)


def slice_trace(trace: Trace, start_s: float, duration_s: float | None = None) -> Trace:
    """Requests arriving in ``[start_s, start_s + duration_s)``, with arrivals measured from ``start_s``.

    ``duration_s=None`` keeps everything after ``start_s``. The result may be empty.
    """
    if (
        isinstance(start_s, bool)
        or not isinstance(start_s, int | float)
        or not (math.isfinite(start_s) and start_s >= 0)
    ):
        raise JalapenoError(f"expected a finite number >= 0, got {start_s!r}", field="start_s")
    end = math.inf if duration_s is None else start_s + _positive(duration_s, "duration_s")
    requests = tuple(
        replace(r, arrival_s=r.arrival_s - start_s) for r in trace.requests if start_s <= r.arrival_s < end
    )
    label = f"[{start_s:g}, {end:g}) s"
    return Trace(f"{trace.name} {label}", requests, trace.source, trace.attribution)
