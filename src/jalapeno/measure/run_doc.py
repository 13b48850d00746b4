"""The ``measure --json`` document: what one run measured, summarised from the record it wrote to ``--out``.

The record (format 1, ``schemas/files/``) keeps every point; this summary is what a script needs to check a
run without opening the file: the file, the device, counts of points by section, what was skipped and why.
Its keys follow the one vocabulary of docs/json.md (counts are integers, units in the key, wall times only
under ``timings``). Pure functions of the record, no torch, so they are testable on the recorded H200 runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from jalapeno.measure.runner import SECTIONS

SERVE_TIMINGS = ("wall_s", "replay_s", "warmup_s", "capture_s")  # seconds of this run, not repeatable


def measure_doc(
    record: dict[str, Any],
    *,
    what: str,
    out: str | Path,
    models: list[str],
    quick: bool,
    budget_s: float | None,
    energy_s: float,
) -> dict[str, Any]:
    """Summary of a ``measure ops|model|all|engine`` record; ``models`` is the sweep asked (none for ops)."""
    sections = [s for s in record if isinstance(record[s], list) and s != "skipped"]
    by_section = {s: len(record[s]) for s in (*SECTIONS, *(s for s in sections if s not in SECTIONS))}
    failed = sum("error" in row for s in by_section for row in record.get(s, []))
    return {
        "what": what,
        "file": str(out),
        "file_format": record["schema"],
        "measured_on": record["measured"],
        "device": record["device"],
        "torch": record["torch"],
        "models": [] if what == "ops" else list(models),
        "quick": quick,
        "budget_s": budget_s,
        "energy_s": energy_s,
        "idle_power_w": record.get("idle_power_W"),
        "points": sum(by_section.values()),
        "points_by_section": by_section,
        "failed_points": failed,
        "skipped": len(record["skipped"]),
        "skipped_points": [{"what": s["what"], "why": s["why"]} for s in record["skipped"]],
        "timings": {"wall_s": record["wall_s"]},
    }


def _stats(values: list[float]) -> dict[str, float | None]:
    """p50/p90/p99/mean as ``serve --json`` gives them (numpy's linear percentiles); nulls when empty."""
    if not values:
        return {"p50": None, "p90": None, "p99": None, "mean": None}
    a = np.asarray(values, dtype=float)
    p50, p90, p99 = np.percentile(a, [50, 90, 99])
    return {"p50": float(p50), "p90": float(p90), "p99": float(p99), "mean": float(a.mean())}


def serve_doc(record: dict[str, Any], *, out: str | Path) -> dict[str, Any]:
    """Summary of a ``measure serve`` record: the replay's requests, steps and latencies."""
    reqs = record["requests"]
    done = [r for r in reqs if r["finish_s"] is not None]
    kinds = [s["kind"] for s in record["steps"]]
    policy = record["policy"]
    return {
        "file": str(out),
        "file_format": record["schema"],
        "measured_on": record["measured"],
        "device": record["device"],
        "torch": record["torch"],
        "model": record["model"],
        "trace": record["trace"],
        "start_s": record["slice"]["start_s"],
        "duration_s": record["slice"]["duration_s"],
        "requests": len(reqs),
        "completed": len(done),
        "unfinished": len(reqs) - len(done),
        "prompt_tokens": sum(int(r["prompt_tokens"]) for r in reqs),
        "output_tokens": sum(int(r["generated"]) for r in reqs),
        "steps": len(kinds),
        "prefill_steps": kinds.count("prefill"),
        "decode_steps": kinds.count("decode"),
        "graph_steps": record["graph_steps"],
        "max_num_seqs": policy["max_num_seqs"],
        "cuda_graph": policy["cuda_graph"],
        "decode_attention": policy["decode_attention"],
        "ttft_s": _stats([r["ttft_s"] for r in done if r["ttft_s"] is not None]),
        "tpot_s": _stats([r["tpot_s"] for r in done if r["tpot_s"] is not None]),
        "budget_s": record["budget_s"],
        "budget_hit_s": record["budget_hit_s"],
        "complete": record["complete"],
        "timings": {k: record[k] for k in SERVE_TIMINGS if k in record},
    }
