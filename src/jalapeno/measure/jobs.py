"""The unit of work: a ``Job`` measures one point and returns rows for one section of the record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jalapeno.measure.shapes import Grid

Rows = list[dict[str, Any]]


class Skip(Exception):
    """A point that is not measured, with the reason (memory cap, unsupported dtype, ...)."""

    def __init__(self, why: str) -> None:
        self.why = why
        super().__init__(why)


@dataclass
class Ctx:
    """What every job needs: the torch device, the grid, NVML, and the sustained-energy duration."""

    device: Any
    grid: Grid
    nvml: Any
    energy_s: float
    l2_bytes: int = 64 << 20
    notes: list[tuple[str, str]] = field(default_factory=list)  # (what, why) to add to "skipped"


@dataclass
class Job:
    """``run`` returns (rows, one-line summary) or raises ``Skip``.

    ``section``: which list of the record the rows go to (None: setup/teardown, no rows).
    ``error_row``: for ``steps``, the identifying keys of the row written when ``run`` fails.
    ``always``: runs even after the budget is spent (teardown).
    """

    what: str
    section: str | None
    run: Callable[[], tuple[Rows, str]]
    error_row: dict[str, Any] | None = None
    always: bool = False


def fmt_s(s: float) -> str:
    if s >= 1:
        return f"{s:.3f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3f} ms"
    return f"{s * 1e6:.1f} us"


def skip_job(what: str, why: str) -> Job:
    def run() -> tuple[Rows, str]:
        raise Skip(why)

    return Job(what, None, run)
