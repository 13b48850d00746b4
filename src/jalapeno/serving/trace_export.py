"""Timeline export in the Chrome trace event format (opens in Perfetto UI and chrome://tracing).

Tracks: one process per replica with its steps as complete events (``ph: X``; a decode run is one
event with ``steps > 1``; args: tokens, decode and prefill sequence counts, KV blocks in use, energy);
one process "requests" with each request's lifetime as a nestable async event (arrival to last token,
with an instant at its first token); one process "fleet" with a power counter (W per power window).
Timestamps are microseconds of simulated time. The file is bounded: at most ``max_events`` events,
half of them for steps (first come), the rest for requests and the power track; what did not fit is
counted in ``metadata.omitted_events``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jalapeno.serving.replica import StepRecord
from jalapeno.serving.request_state import RequestState

REQUESTS_PID = 0
FLEET_PID = 1
REPLICA_PID0 = 2


class TimelineRecorder:
    def __init__(self, max_events: int = 200_000) -> None:
        if max_events < 10:
            raise ValueError("max_events must be >= 10")
        self.max_events = max_events
        self.steps: list[dict[str, Any]] = []
        self.other: list[dict[str, Any]] = []
        self.replicas: dict[int, str] = {}
        self.omitted = 0

    def on_step(self, rec: StepRecord) -> None:
        self.replicas.setdefault(rec.replica, rec.role)
        if len(self.steps) >= self.max_events // 2:
            self.omitted += 1
            return
        shape = rec.shape
        self.steps.append(
            {
                "name": "decode run" if rec.steps > 1 else ("prefill" if shape.prefill_seqs else "decode"),
                "ph": "X",
                "pid": REPLICA_PID0 + rec.replica,
                "tid": 0,
                "ts": rec.start_s * 1e6,
                "dur": (rec.end_s - rec.start_s) * 1e6,
                "args": {
                    "steps": rec.steps,
                    "tokens": shape.tokens,
                    "decode_seqs": shape.decode_seqs,
                    "prefill_seqs": shape.prefill_seqs,
                    "prefill_tokens": shape.prefill_tokens,
                    "kv_blocks_used": rec.kv_used_blocks,
                    "kv_blocks": rec.kv_blocks,
                    "energy_j": rec.energy_j,
                },
            }
        )

    def finish(self, states: Sequence[RequestState], power_series: Sequence[tuple[float, float]]) -> None:
        """Add request lifetimes and the power counter (called by ``simulate`` at the end)."""
        room = self.max_events - len(self.steps)
        power = [
            {"name": "fleet power", "ph": "C", "pid": FLEET_PID, "tid": 0, "ts": t * 1e6, "args": {"W": w}}
            for t, w in power_series[: room // 2]
        ]
        self.omitted += max(0, len(power_series) - len(power))
        room -= len(power)
        for st in states:
            if st.finish_s < 0:
                continue
            if room < 3:
                self.omitted += 3
                continue
            room -= 3
            common = {"cat": "request", "id": st.rid, "pid": REQUESTS_PID, "tid": 0}
            self.other.append(
                {
                    **common,
                    "name": f"request {st.rid}",
                    "ph": "b",
                    "ts": st.arrival_s * 1e6,
                    "args": {
                        "prompt_tokens": st.prompt,
                        "output_tokens": st.output,
                        "prefix_hit_tokens": st.hit_tokens + st.loaded_tokens,
                        "replica": st.replica,
                        "preemptions": st.preemptions,
                    },
                }
            )
            self.other.append({**common, "name": "first token", "ph": "n", "ts": st.first_token_s * 1e6})
            self.other.append({**common, "name": f"request {st.rid}", "ph": "e", "ts": st.last_token_s * 1e6})
        self.other.extend(power)

    def to_dict(self) -> dict[str, Any]:
        meta = [_process_name(REQUESTS_PID, "requests"), _process_name(FLEET_PID, "fleet")]
        meta += [
            _process_name(REPLICA_PID0 + i, f"replica {i} ({role})")
            for i, role in sorted(self.replicas.items())
        ]
        return {
            "traceEvents": meta + self.steps + self.other,
            "displayTimeUnit": "ms",
            "metadata": {"omitted_events": self.omitted, "source": "jalapeno.serving"},
        }

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), separators=(",", ":")))


def _process_name(pid: int, name: str) -> dict[str, Any]:
    return {"name": "process_name", "ph": "M", "pid": pid, "tid": 0, "args": {"name": name}}
