"""Property tests of the trace parsers: junk gives a Trace or a JalapenoError, never another exception;
valid rows written to a file come back exactly."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jalapeno.errors import JalapenoError
from jalapeno.workload import Trace, load_azure, load_burstgpt, load_mooncake, load_trace, load_tracelab

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ROUND_TRIP = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

AZURE_HEADER = "TIMESTAMP,ContextTokens,GeneratedTokens"
BURST_HEADER = "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type"
text_chars = st.characters(codec="utf-8")  # any text a file can hold


_DIR = tempfile.TemporaryDirectory(prefix="jalapeno-fuzz-")  # removed when the test process exits


def _write(name: str, data: str | bytes) -> Path:
    path = Path(_DIR.name) / name
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


def _trace_or_error(load: Callable[[Path], Trace], path: Path) -> Trace | None:
    try:
        trace = load(path)
    except JalapenoError:
        return None
    assert isinstance(trace, Trace)
    arrivals = [r.arrival_s for r in trace]
    assert arrivals and arrivals[0] == 0.0 and arrivals == sorted(arrivals)
    return trace


# --- junk in ---------------------------------------------------------------------------------------

junk_cell = st.one_of(
    st.text(text_chars, max_size=12),
    st.integers(-5, 10**6).map(str),
    st.sampled_from(
        [
            "nan",
            "1e400",
            "",
            "-0",
            "\x00",
            '"',
            "2023-02-30 00:00:00",
            "1.5",
            "0001-01-01 00:00:00",
            "9999-12-31 23:59:59.9-23:59",
        ]
    ),
)
stamp_cell = st.sampled_from(
    [
        "2023-11-16 18:17:03.9799600",
        "2024-05-10 00:00:00.00993+00:00",
        "2023-11-16T18:17:59Z",
        "2023-11-16 18:17:60.1",
    ]
)
count_cell = st.integers(0, 10**6).map(str)
seconds_cell = st.floats(0, 1e6).map(str)
word_cell = st.sampled_from(["ChatGPT", "GPT-4", "Conversation log", ""])


def _rows(columns: list[st.SearchStrategy[str]]) -> st.SearchStrategy[list[list[str]]]:
    """Well-formed rows, half the time with one bad row (random cells, or one cell replaced) inserted."""
    well_formed = st.lists(st.tuples(*columns).map(list), max_size=5)
    bad = st.lists(junk_cell, max_size=len(columns) + 1) | st.tuples(
        st.tuples(*columns).map(list), st.integers(0, len(columns) - 1), junk_cell
    ).map(lambda t: [*t[0][: t[1]], t[2], *t[0][t[1] + 1 :]])
    insert = st.none() | st.tuples(st.integers(0, 5), bad)
    return st.tuples(well_formed, insert).map(
        lambda t: t[0] if t[1] is None else [*t[0][: t[1][0]], t[1][1], *t[0][t[1][0] :]]
    )


@FUZZ
@given(_rows([stamp_cell, count_cell, count_cell]), st.booleans())
def test_azure_junk_rows(rows: list[list[str]], header: bool) -> None:
    body = "\n".join(",".join(row) for row in rows)
    _trace_or_error(load_azure, _write("t.csv", (AZURE_HEADER + "\n" if header else "") + body))


@FUZZ
@given(_rows([seconds_cell, word_cell, count_cell, count_cell, count_cell, word_cell]), st.booleans())
def test_burstgpt_junk_rows(rows: list[list[str]], drop_failed: bool) -> None:
    body = "\n".join(",".join(row) for row in rows)
    path = _write("t.csv", BURST_HEADER + "\n" + body)
    _trace_or_error(lambda p: load_burstgpt(p, drop_failed=drop_failed), path)


json_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats()
    | st.text(text_chars, max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(text_chars, max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def _objects(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Valid objects, or objects with one field junk, or with any subset of (valid or junk) fields."""
    mixed = {k: v | json_value for k, v in fields.items()}
    one_bad = st.tuples(st.fixed_dictionaries(fields), st.sampled_from(sorted(fields)), json_value).map(
        lambda t: {**t[0], t[1]: t[2]}
    )
    return st.fixed_dictionaries(fields) | one_bad | st.fixed_dictionaries({}, optional=mixed)


mooncake_like = _objects(
    {
        "timestamp": st.integers(0, 10**7) | st.floats(0, 1e7),
        "input_length": st.integers(0, 10**5),
        "output_length": st.integers(0, 10**4),
        "hash_ids": st.lists(st.integers(-(2**64), 2**64), max_size=4),
    }
)
event = _objects(
    {
        "event_type": st.sampled_from(["user_message", "tool_result", "text"]),
        "timestamp": st.sampled_from(
            [
                "2026-06-01T05:40:20.151Z",
                "2026-06-01T05:40:31Z",
                "1678-01-01T00:00:00+23:59",
                "2261-12-31T23:59:59-23:59",
            ]
        ),
    }
)
tracelab_like = _objects(
    {
        "session_id": st.sampled_from(["a", "b"]),
        "round_index": st.integers(0, 10**6),
        "input_tokens_total": st.integers(5000, 9000),
        "prefix_tokens": st.integers(0, 5000),
        "output_tokens": st.integers(0, 500),
        "timing_events": st.lists(event, min_size=1, max_size=3),
    }
)


def _lines(objects: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[str]:
    """JSONL text: objects, half the time with one junk line (any JSON value or any text) inserted."""
    junk = json_value.map(json.dumps) | st.text(text_chars, max_size=20)
    insert = st.none() | st.tuples(st.integers(0, 5), junk)
    return st.tuples(st.lists(objects.map(json.dumps), max_size=5), insert).map(
        lambda t: "\n".join(t[0] if t[1] is None else [*t[0][: t[1][0]], t[1][1], *t[0][t[1][0] :]])
    )


@FUZZ
@given(_lines(mooncake_like))
def test_mooncake_junk_lines(text: str) -> None:
    path = _write("t.jsonl", text)
    _trace_or_error(load_mooncake, path)
    _trace_or_error(load_trace, path)


@FUZZ
@given(_lines(tracelab_like), st.booleans())
def test_tracelab_junk_lines(text: str, align: bool) -> None:
    path = _write("t.jsonl", text)
    _trace_or_error(lambda p: load_tracelab(p, align_sessions=align), path)
    _trace_or_error(load_trace, path)


@FUZZ
@given(st.binary(max_size=200), st.sampled_from(["t.csv", "t.jsonl", "t.txt"]))
def test_random_bytes(data: bytes, name: str) -> None:
    _trace_or_error(load_trace, _write(name, data))


# --- round trips -----------------------------------------------------------------------------------

BASE = dt.datetime(2023, 11, 16, 18, 0, 0)
ticks = st.integers(0, 3 * 86_400 * 10**7)  # 100 ns ticks over three days
tokens = st.integers(0, 200_000)


def _azure_stamp(tick: int) -> str:
    moment = BASE + dt.timedelta(microseconds=tick // 10)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f") + str(tick % 10)  # seven fraction digits, like Azure


def _expected(times_ns: list[int], rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    t0 = min(times_ns)
    order = sorted(range(len(rows)), key=times_ns.__getitem__)
    return [(i, (times_ns[i] - t0) / 1e9, *rows[i]) for i in order]


@ROUND_TRIP
@given(st.lists(st.tuples(ticks, tokens, tokens), min_size=1, max_size=30))
def test_azure_round_trip(rows: list[tuple[int, int, int]]) -> None:
    text = AZURE_HEADER + "\n" + "".join(f"{_azure_stamp(t)},{p},{o}\n" for t, p, o in rows)
    trace = load_azure(_write("t.csv", text))
    got = [(r.request_id, r.arrival_s, r.prompt_tokens, r.output_tokens) for r in trace]
    assert got == _expected([t * 100 for t, _, _ in rows], [(p, o) for _, p, o in rows])


@ROUND_TRIP
@given(st.lists(st.tuples(st.integers(0, 10**9), tokens, tokens), min_size=1, max_size=30))
def test_burstgpt_round_trip(rows: list[tuple[int, int, int]]) -> None:
    stamps = [f"{ms / 1000}" for ms, _, _ in rows]
    text = (
        BURST_HEADER
        + "\n"
        + "".join(
            f"{s},GPT-4,{p},{o},{p + o},Conversation log\n" for s, (_, p, o) in zip(stamps, rows, strict=True)
        )
    )
    trace = load_burstgpt(_write("t.csv", text))
    got = [(r.request_id, r.arrival_s, r.prompt_tokens, r.output_tokens) for r in trace]
    assert got == _expected([round(float(s) * 1e9) for s in stamps], [(p, o) for _, p, o in rows])


@ROUND_TRIP
@given(
    st.lists(
        st.tuples(st.integers(0, 10**10), tokens, tokens, st.lists(st.integers(0, 2**40), max_size=6)),
        min_size=1,
        max_size=30,
    )
)
def test_mooncake_round_trip(rows: list[tuple[int, int, int, list[int]]]) -> None:
    text = "\n".join(
        json.dumps({"timestamp": t, "input_length": p, "output_length": o, "hash_ids": h})
        for t, p, o, h in rows
    )
    trace = load_mooncake(_write("t.jsonl", text))
    got = [(r.request_id, r.arrival_s, r.prompt_tokens, r.output_tokens, r.block_hashes) for r in trace]
    assert got == _expected([t * 10**6 for t, *_ in rows], [(p, o, tuple(h)) for _, p, o, h in rows])


@ROUND_TRIP
@given(
    st.lists(
        st.tuples(
            st.integers(0, 2), st.integers(0, 10**6), st.integers(0, 60_000), st.integers(0, 60_000), tokens
        ),
        min_size=1,
        max_size=12,
        unique_by=lambda r: r[:2],
    )
)
def test_tracelab_round_trip(rows: list[tuple[int, int, int, int, int]]) -> None:
    lines = []
    for session, index, prompt, prefix, output in rows:
        prefix = min(prefix, prompt)
        stamp = (BASE + dt.timedelta(milliseconds=index)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        lines.append(
            json.dumps(
                {
                    "session_id": f"s{session}",
                    "round_index": index,
                    "input_tokens_total": prompt,
                    "prefix_tokens": prefix,
                    "output_tokens": output,
                    "timing_events": [{"event_type": "user_message", "timestamp": stamp}],
                }
            )
        )
    trace = load_tracelab(_write("t.jsonl", "\n".join(lines)), align_sessions=False)
    by_id = {r.request_id: r for r in trace}
    assert sorted(by_id) == list(range(len(rows)))
    for i, (session, index, prompt, prefix, output) in enumerate(rows):
        r = by_id[i]
        assert (r.session_id, r.round_index, r.prompt_tokens, r.output_tokens, r.cached_tokens_hint) == (
            f"s{session}",
            index,
            prompt,
            output,
            min(prefix, prompt),
        )
        assert r.arrival_s == (index - min(x[1] for x in rows)) / 1000
        assert len(r.block_hashes) == -(-prompt // 512)
