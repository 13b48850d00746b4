"""Run a measurement plan under a wall budget, writing the JSON record after every point.

Order: operators (copy, GEMM, attention, elementwise), then the models in the order given (by default the
7B and 8B first, then 32B, then 1.5B). ``engine`` (not part of ``all``) runs the serving replay's own steps
taken apart (``serve_steps``: jobs ``serve-decode`` and ``serve-prefill-host``) into an extra ``engine``
section. Every point is isolated: a failure is recorded and the run goes on;
once the budget is spent no new point starts (teardown still runs) and the record says what was left.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from jalapeno.measure.device import Nvml, device_info, pick_device, release, require_torch
from jalapeno.measure.jobs import Ctx, Job, Skip
from jalapeno.measure.ops import ops_jobs
from jalapeno.measure.serve_steps import SECTION as ENGINE_SECTION
from jalapeno.measure.serve_steps import serve_jobs
from jalapeno.measure.shapes import DEFAULT_MODELS, FULL, QUICK
from jalapeno.measure.steps import model_jobs

What = Literal["ops", "model", "all", "engine"]
SECTIONS = ("copy", "gemm", "attention", "elementwise", "steps")  # in every record
EXTRA_SECTIONS: dict[str, tuple[str, ...]] = {"engine": (ENGINE_SECTION,)}  # only in records of that ``what``


def _clean(x: Any) -> Any:
    """JSON-safe: non-finite floats become null."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    return x


class Record:
    """The output file's content; ``write`` replaces the file atomically (tmp + os.replace)."""

    def __init__(
        self,
        out: Path,
        device: dict[str, Any],
        torch_version: str,
        idle_power_w: float | None,
        t0: float,
        extra_sections: tuple[str, ...] = (),
    ) -> None:
        self.out, self.t0 = out, t0
        self.sections = (*SECTIONS, *extra_sections)
        self.data: dict[str, Any] = {
            "schema": 1,
            "measured": datetime.date.today().isoformat(),
            "device": device,
            "torch": torch_version,
            "idle_power_W": idle_power_w,
            **{s: [] for s in self.sections},
            "skipped": [],
            "wall_s": 0.0,
        }

    def add(self, section: str, rows: list[dict[str, Any]]) -> None:
        self.data[section].extend(rows)

    def skip(self, what: str, why: str) -> None:
        self.data["skipped"].append({"what": what, "why": why})

    def write(self) -> None:
        self.data["wall_s"] = time.perf_counter() - self.t0
        self.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.out.with_name(self.out.name + ".tmp")
        tmp.write_text(json.dumps(_clean(self.data), indent=1) + "\n")
        os.replace(tmp, self.out)


def _error(e: BaseException) -> str:
    first = (str(e).splitlines() or [""])[0]
    return f"{type(e).__name__}: {first}"[:300]


def run_jobs(
    jobs: Sequence[Job], rec: Record, ctx: Ctx, budget_s: float | None, echo: Callable[[str], None]
) -> None:
    """Run each job (or skip it once the budget is spent), record its rows, write the file, print a line."""
    over = 0
    for job in jobs:
        elapsed = time.perf_counter() - rec.t0
        if budget_s is not None and elapsed > budget_s and not job.always:
            if job.section is not None or over == 0:
                rec.skip(job.what, f"budget of {budget_s:g} s spent")
            over += 1
            continue
        line = _run_one(job, rec, ctx)
        for what, why in ctx.notes:
            rec.skip(what, why)
        ctx.notes.clear()
        rec.write()
        echo(f"[{time.perf_counter() - rec.t0:7.1f}s] {job.what}: {line}")
    if over:
        rec.write()
        echo(
            f"[{time.perf_counter() - rec.t0:7.1f}s] budget of {budget_s:g} s spent: {over} jobs not started"
        )


def _run_one(job: Job, rec: Record, ctx: Ctx) -> str:
    try:
        rows, line = job.run()
    except Skip as s:
        rec.skip(job.what, s.why)
        return f"skipped ({s.why})"
    except Exception as e:
        release(ctx.device)
        if job.error_row is not None:
            rec.add(job.section or "steps", [{**job.error_row, "error": _error(e)}])
        else:
            rec.skip(job.what, f"error: {_error(e)}")
        return f"ERROR {_error(e)}"
    if job.section is not None:
        rec.add(job.section, rows)
    return line


def plan(what: What, ctx: Ctx, models: Sequence[str]) -> list[Job]:
    jobs: list[Job] = []
    if what in ("ops", "all"):
        jobs += ops_jobs(ctx)
    if what in ("model", "all"):
        for name in models:
            jobs += model_jobs(name, ctx)
    if what == "engine":
        for name in models:
            jobs += serve_jobs(name, ctx)
    return jobs


def run_measure(
    what: What,
    out: Path,
    *,
    models: Sequence[str] = DEFAULT_MODELS,
    budget_s: float | None = None,
    device: str = "cuda",
    quick: bool = False,
    energy_s: float = 1.0,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Measure and write ``out``; returns the record. Raises JalapenoError for bad input or no torch/GPU."""
    t0 = time.perf_counter()
    torch = require_torch()
    dev = pick_device(device)
    nvml = Nvml(dev)
    info = device_info(dev, nvml)
    ctx = Ctx(device=dev, grid=QUICK if quick else FULL, nvml=nvml, energy_s=energy_s)
    if dev.type == "cuda":
        ctx.l2_bytes = int((info["l2_mb"] or 64) * 1e6)
    jobs = plan(what, ctx, models)  # resolves every model first: a bad name fails before any work
    idle = nvml.idle_power_w()
    rec = Record(out, info, torch.__version__, idle, t0, EXTRA_SECTIONS.get(what, ()))
    rec.write()
    echo(
        f"measure {what} on {info['name']} (torch {torch.__version__}, cuda {info['cuda']}, "
        f"driver {info['driver']}), idle {idle if idle is None else round(idle, 1)} W, {len(jobs)} jobs, "
        f"budget {budget_s if budget_s is not None else 'none'} s -> {out}"
    )
    with torch.inference_mode():
        run_jobs(jobs, rec, ctx, budget_s, echo)
    rec.write()
    counts = ", ".join(f"{len(rec.data[s])} {s}" for s in rec.sections)
    echo(f"done in {rec.data['wall_s']:.1f} s: {counts}, {len(rec.data['skipped'])} skipped -> {out}")
    return rec.data
