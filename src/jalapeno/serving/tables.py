"""A serving run as two tables (``serve --out-dir``): one row per request of the trace (completed or dropped,
so rows = requests) and one row per step or decode run of every replica (the ``on_step`` observer)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from jalapeno.serving.metrics import SimResult
from jalapeno.serving.replica import StepRecord

REQUEST_COLUMNS = (
    "request_id",
    "arrival_s",
    "prompt_tokens",
    "output_tokens",
    "status",
    "ttft_s",
    "tpot_s",
    "e2e_s",
    "queue_s",
    "hit_tokens",
    "preemptions",
    "replica",
    "drop_reason",
)
STEP_COLUMNS = (
    "replica",
    "role",
    "start_s",
    "end_s",
    "steps",
    "tokens",
    "decode_seqs",
    "prefill_seqs",
    "prefill_tokens",
    "kv_blocks_used",
    "kv_blocks",
    "energy_j",
)


def request_table(res: SimResult, requests: Sequence[Any]) -> dict[str, list[Any]]:
    """Every request (``workload.Request``s) in trace order: its measured latencies when completed, its reason
    when dropped."""
    cols = res.per_request
    done = {int(rid): i for i, rid in enumerate(cols["request_id"])}
    reasons = {d.request_id: d.reason for d in res.dropped}
    out: dict[str, list[Any]] = {k: [] for k in REQUEST_COLUMNS}
    for r in requests:
        i = done.get(r.request_id)
        row = {
            "request_id": r.request_id,
            "arrival_s": r.arrival_s,
            "prompt_tokens": r.prompt_tokens,
            "output_tokens": r.output_tokens,
            "status": "completed" if i is not None else "dropped",
            "drop_reason": reasons.get(r.request_id),
        }
        for k in ("ttft_s", "tpot_s", "e2e_s", "queue_s", "hit_tokens", "preemptions", "replica"):
            row[k] = _plain(cols[k][i]) if i is not None else None
        for k in REQUEST_COLUMNS:
            out[k].append(row[k])
    return out


def _plain(v: Any) -> Any:
    v = v.item() if hasattr(v, "item") else v
    return None if isinstance(v, float) and math.isnan(v) else v


class StepTable:
    """Collects ``StepRecord``s (pass ``on_step=table.on_step`` to ``simulate``) as columns."""

    def __init__(self) -> None:
        self.cols: dict[str, list[Any]] = {k: [] for k in STEP_COLUMNS}

    def on_step(self, rec: StepRecord) -> None:
        s = rec.shape
        row = (
            rec.replica,
            rec.role,
            rec.start_s,
            rec.end_s,
            rec.steps,
            s.tokens,
            s.decode_seqs,
            s.prefill_seqs,
            s.prefill_tokens,
            rec.kv_used_blocks,
            rec.kv_blocks,
            rec.energy_j,
        )
        for k, v in zip(STEP_COLUMNS, row, strict=True):
            self.cols[k].append(v)
