"""TraceLab coding-agent rounds (``round_trace.jsonl``): one LLM call ("round") a line.

Field mapping, per round:

| Request field | from |
|---|---|
| ``prompt_tokens`` | ``input_tokens_total`` (= ``prefix_tokens`` + ``newly_append_tokens``) |
| ``output_tokens`` | ``output_tokens`` (reasoning tokens included, as the providers count them) |
| ``cached_tokens_hint`` | ``prefix_tokens``: tokens the provider served from its prompt cache |
| ``session_id``, ``round_index`` | same names |
| ``arrival_s`` | the round's last input event (``user_message``/``tool_result``): the call cannot be sent |
|  | before every tool result is in; a round without input events uses its first event |
| ``think_time_s`` | arrival minus the previous round's last event (tool wall time, user typing); 0 for a |
|  | session's first round |
| ``block_hashes`` | synthesized, ``block_tokens`` (512) tokens a block: the first ``prefix_tokens // 512`` |
|  | blocks reuse the previous round's hashes, the rest are fresh (see ``chain_blocks``); a session's |
|  | first round is all fresh, so a cold cache misses the provider-cached system prompt |

The two bundled sessions were recorded 72 days apart, so by default (``align_sessions=True``) each
session's clock starts at its own first arrival: the sessions run side by side from time 0. With
``align_sessions=False`` arrivals are measured from the earliest round of the file.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from jalapeno.errors import JalapenoError
from jalapeno.workload.request import chain_blocks
from jalapeno.workload.rows import Rows, json_count, row_error
from jalapeno.workload.timestamps import FORMAT_HINT, NS_PER_S, parse_timestamp_ns

INPUT_EVENTS = frozenset({"user_message", "tool_result"})


@dataclass(frozen=True)
class _Round:
    index: int  # data row in the file
    line: int
    session: str
    round_index: int
    prompt: int
    prefix: int
    output: int
    arrival_ns: int
    end_ns: int  # last timing event of the round


def _events(obj: dict[str, Any], file: str, line: int, minutes: dict[str, int]) -> tuple[int, int]:
    """(arrival, end) in ns from ``timing_events``."""
    events = obj.get("timing_events")
    if not isinstance(events, list) or not events or not all(isinstance(e, dict) for e in events):
        raise row_error(
            file, line, "timing_events", "a non-empty list of {event_type, timestamp} objects", events
        )
    stamps, inputs = [], []
    for event in events:
        text = event.get("timestamp")
        try:
            ns = parse_timestamp_ns(text, minutes) if isinstance(text, str) else None
        except ValueError:
            ns = None
        if ns is None:
            raise row_error(file, line, "timing_events.timestamp", FORMAT_HINT, text)
        stamps.append(ns)
        kind = event.get("event_type")
        if isinstance(kind, str) and kind in INPUT_EVENTS:
            inputs.append(ns)
    return (max(inputs) if inputs else min(stamps)), max(stamps)


def _round(index: int, line: int, obj: dict[str, Any], file: str, minutes: dict[str, int]) -> _Round:
    session = obj.get("session_id")
    if not isinstance(session, str) or not session:
        raise row_error(file, line, "session_id", "a non-empty string", session)
    round_index = json_count(obj, "round_index", file, line)
    prompt = json_count(obj, "input_tokens_total", file, line)
    prefix = json_count(obj, "prefix_tokens", file, line)
    if prefix > prompt:
        raise row_error(file, line, "prefix_tokens", f"at most input_tokens_total ({prompt})", prefix)
    output = json_count(obj, "output_tokens", file, line)
    arrival, end = _events(obj, file, line, minutes)
    if not 0 <= arrival < _MAX_NS:
        raise row_error(
            file,
            line,
            "timing_events",
            "timestamps between 1970 and 2262 (nanoseconds since the Unix epoch must fit 64 bits)",
            arrival,
        )
    return _Round(index, line, session, round_index, prompt, prefix, output, arrival, end)


_MAX_NS = 2**63 - 1


def _sessions(rounds: list[_Round], file: str) -> dict[str, list[_Round]]:
    """Rounds grouped by session (in order of first appearance), each sorted by round_index."""
    groups: dict[str, list[_Round]] = {}
    for r in rounds:
        groups.setdefault(r.session, []).append(r)
    for session, group in groups.items():
        group.sort(key=lambda r: r.round_index)
        for a, b in pairwise(group):
            if a.round_index == b.round_index:
                raise JalapenoError(
                    f"{file}:{b.line}: round_index: round {b.round_index} of session {session!r} "
                    f"appears twice (also line {a.line}); expected one line per round"
                )
    return groups


def _session_extras(
    group: list[_Round], block_tokens: int, next_hash: int, extras: dict[int, dict[str, Any]]
) -> int:
    previous: tuple[int, ...] = ()
    previous_round: _Round | None = None
    for r in group:
        shared = min(r.prefix, previous_round.prompt) if previous_round else 0
        hashes, next_hash = chain_blocks(previous, shared, r.prompt, block_tokens, next_hash)
        think_ns = max(0, r.arrival_ns - previous_round.end_ns) if previous_round else 0
        extras[r.index] = {
            "block_hashes": hashes,
            "block_tokens": block_tokens,
            "session_id": r.session,
            "round_index": r.round_index,
            "cached_tokens_hint": r.prefix,
            "think_time_s": think_ns / NS_PER_S,
        }
        previous, previous_round = hashes, r
    return next_hash


def parse_tracelab(
    lines: Iterable[tuple[int, dict[str, Any]]], file: str, block_tokens: int, align_sessions: bool
) -> Rows:
    """Rows of a TraceLab rounds file, from ``(line number, object)`` pairs."""
    minutes: dict[str, int] = {}
    rounds = [_round(i, line, obj, file, minutes) for i, (line, obj) in enumerate(lines)]
    extras: dict[int, dict[str, Any]] = {}
    next_hash = 0
    offsets: dict[str, int] = {}
    for session, group in _sessions(rounds, file).items():
        next_hash = _session_extras(group, block_tokens, next_hash, extras)
        offsets[session] = min(r.arrival_ns for r in group) if align_sessions else 0
    return Rows(
        file,
        array("q", [r.arrival_ns - offsets[r.session] for r in rounds]),
        array("q", [r.prompt for r in rounds]),
        array("q", [r.output for r in rounds]),
        array("q", [r.index for r in rounds]),
        [extras[r.index] for r in rounds],
    )
