"""Trace loaders: exact values of the bundled files, formats, windows and error messages."""

from __future__ import annotations

import functools
import json
from itertools import pairwise
from pathlib import Path

import pytest

from jalapeno.errors import JalapenoError
from jalapeno.workload import (
    BUNDLED,
    Trace,
    detect_format,
    load_burstgpt,
    load_trace,
)
from jalapeno.workload.bundled import TRACES_DIR

SHARED = Path("/work/shared/data/traces")


@functools.cache
def bundled(name: str) -> Trace:
    return load_trace(name)


# --- bundled files ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("azure-code", 8819),
        ("azure-conv", 19366),
        ("mooncake-conversation", 12031),
        ("mooncake-synthetic", 3993),
        ("tracelab-rounds", 19),
    ],
)
def test_bundled_counts_and_monotone_arrivals(name: str, count: int) -> None:
    trace = bundled(name)
    assert len(trace) == trace.stats.count == count
    arrivals = [r.arrival_s for r in trace]
    assert arrivals[0] == 0.0
    assert all(a <= b for a, b in pairwise(arrivals))
    assert sorted(r.request_id for r in trace) == list(range(count))


def test_bundled_files_are_unmodified_copies_with_licences() -> None:
    for entry in BUNDLED:
        if SHARED.is_dir():
            assert entry.path.read_bytes() == (SHARED / entry.file).read_bytes()
        assert entry.attribution
    licences = {p.name for p in (TRACES_DIR / "licenses").iterdir()}
    assert {
        "CC-BY-4.0_AzurePublicDataset_LICENSE.txt",
        "Apache-2.0_Mooncake_LICENSE-APACHE.txt",
        "Apache-2.0_TraceLab_LICENSE.txt",
        "TraceLab_NOTICE.txt",
        "TraceLab_LICENSE-DATASET.md",
    } <= licences
    assert "CC BY 4.0" in (TRACES_DIR / "README.md").read_text()
    assert sum(p.stat().st_size for p in TRACES_DIR.rglob("*") if p.is_file()) < 8_000_000


def test_azure_code_first_rows() -> None:
    first, second = bundled("azure-code").requests[:2]
    assert (first.request_id, first.arrival_s, first.prompt_tokens, first.output_tokens) == (0, 0.0, 4808, 10)
    assert (second.request_id, second.arrival_s, second.prompt_tokens, second.output_tokens) == (
        1,
        0.052,
        3180,
        8,
    )
    assert first.block_hashes == () and first.session_id is None and first.cached_tokens_hint == 0
    last = bundled("azure-code").requests[-1]  # 2023-11-16 19:14:19.9280160, 549, 173 (no final newline)
    assert (last.prompt_tokens, last.output_tokens) == (549, 173)
    assert last.arrival_s == pytest.approx(3435.948056, abs=1e-9)


def test_azure_conv_first_rows() -> None:
    first, second = bundled("azure-conv").requests[:2]
    assert (first.arrival_s, first.prompt_tokens, first.output_tokens) == (0.0, 374, 44)
    assert (second.arrival_s, second.prompt_tokens, second.output_tokens) == (4.314579, 396, 109)


def test_mooncake_first_rows() -> None:
    first, second = bundled("mooncake-conversation").requests[:2]
    assert (first.arrival_s, first.prompt_tokens, first.output_tokens) == (0.0, 6758, 500)
    assert first.block_hashes == tuple(range(14)) and first.block_tokens == 512
    assert second.block_hashes == (0, *range(14, 28))
    synthetic = bundled("mooncake-synthetic").requests[0]
    assert (synthetic.prompt_tokens, synthetic.output_tokens, len(synthetic.block_hashes)) == (40160, 6, 79)


@pytest.mark.parametrize(
    ("name", "in_mean", "in_p50", "out_mean", "out_p50", "rate", "cv"),
    [
        ("azure-code", 2048, 1469, 28, 13, 2.57, 13.2),
        ("azure-conv", 1155, 1020, 211, 129, 5.53, 1.09),
        ("mooncake-conversation", 12035, 6909, 343, 350, 3.40, None),
        ("mooncake-synthetic", 15326, 11587, 149, 69, 3.91, None),
        ("tracelab-rounds", 27053, 32272, 597, 273, None, None),
    ],
)
def test_bundled_stats_match_readme(
    name: str,
    in_mean: float,
    in_p50: float,
    out_mean: float,
    out_p50: float,
    rate: float | None,
    cv: float | None,
) -> None:
    s = bundled(name).stats  # README rounding: mooncake-synthetic's input mean 15,325.48 is printed 15,326
    assert s.input_mean == pytest.approx(in_mean, abs=1) and s.input_p50 == in_p50
    assert s.output_mean == pytest.approx(out_mean, abs=0.5) and s.output_p50 == out_p50
    if rate is not None:
        assert round(s.mean_rate_per_s, 2) == rate
    if cv is not None:
        assert s.interarrival_cv == pytest.approx(cv, abs=0.05)


def test_tracelab_rounds_mapping() -> None:
    trace = bundled("tracelab-rounds")
    claude = sorted(
        (r for r in trace if str(r.session_id).startswith("claude")), key=lambda r: r.round_index or 0
    )
    assert [r.round_index for r in claude] == list(range(10))
    r0, r1, r2 = claude[:3]
    assert (r0.prompt_tokens, r0.cached_tokens_hint, r0.output_tokens, r0.arrival_s) == (
        32272,
        27217,
        931,
        0.0,
    )
    # Round 1 waits for both tool results: the last arrives at 05:40:50.938, 30.787 s after 05:40:20.151;
    # its think time is the WebSearch tool's 19.291 s after round 0's last event (05:40:31.647).
    assert r1.arrival_s == pytest.approx(30.787, abs=1e-9)
    assert r1.think_time_s == pytest.approx(19.291, abs=1e-9)
    # Prefix sharing: round 1 reuses 29380 // 512 = 57 of round 0's blocks, round 2 35738 // 512 = 69.
    assert len(r0.block_hashes) == 64 and len(r1.block_hashes) == 70  # ceil(32272/512), ceil(35740/512)
    assert r1.block_hashes[:57] == r0.block_hashes[:57] and r1.block_hashes[57] not in r0.block_hashes
    assert r2.block_hashes[:69] == r1.block_hashes[:69] and r2.block_hashes[69] not in r1.block_hashes
    codex = [r for r in trace if str(r.session_id).startswith("codex")]
    assert not set(codex[0].block_hashes) & set(r0.block_hashes)  # sessions share nothing


def test_tracelab_absolute_time_spans_both_sessions() -> None:
    trace = load_trace("tracelab", align_sessions=False)
    assert str(trace.requests[0].session_id).startswith("codex")  # recorded 2026-03-21, claude 2026-06-01
    assert trace.stats.span_s > 70 * 86400


# --- windows and names -----------------------------------------------------------------------------


def test_window_and_limit() -> None:
    window = load_trace("azure-code", start_s=600, duration_s=60)
    full = [r for r in bundled("azure-code") if 600 <= r.arrival_s < 660]
    assert [r.request_id for r in window] == [r.request_id for r in full]
    assert window.requests[0].arrival_s == pytest.approx(full[0].arrival_s - 600, abs=1e-9)
    limited = load_trace("azure-code", limit=5)
    assert [r.request_id for r in limited] == [0, 1, 2, 3, 4]
    with pytest.raises(JalapenoError, match="no requests in the window"):
        load_trace("azure-code", start_s=1e6)
    with pytest.raises(JalapenoError, match="limit"):
        load_trace("azure-code", limit=0)


def test_aliases_paths_and_unknown_names() -> None:
    assert load_trace("AzureLLMInferenceTrace_code.csv", limit=3).name == "azure-code"
    assert load_trace("mooncake-conv", limit=1).name == "mooncake-conversation"
    by_path = load_trace(TRACES_DIR / "round_trace.jsonl")
    assert by_path.name == "round_trace" and by_path.requests == bundled("tracelab-rounds").requests
    with pytest.raises(JalapenoError, match="azure-code, azure-conv"):
        load_trace("no-such-trace")


# --- other formats ---------------------------------------------------------------------------------


def test_azure_2024_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "AzureLLMInferenceTrace_code_1week.csv"
    path.write_text(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n"
        "2024-05-10 00:00:00.009930+00:00,4808,10\n"
        "2024-05-10 00:00:01+00:00,1,2\n"
        "2024-05-10T02:00:02.5+02:00,3,4\n"
        "2024-05-11 00:00:00Z,5,6\n"
    )
    trace = load_trace(path)
    assert detect_format(path) == "azure"
    assert [r.arrival_s for r in trace] == [0.0, 0.99007, 2.49007, 86399.99007]
    assert [r.request_id for r in trace] == [0, 1, 2, 3]


def test_unsorted_rows_are_sorted_stably(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:05.0,1,1\n"
        "2023-11-16 18:00:00.0,2,2\n2023-11-16 18:00:05.0,3,3\n\n"
    )
    assert [(r.request_id, r.arrival_s) for r in load_trace(path)] == [(1, 0.0), (0, 5.0), (2, 5.0)]


def test_burstgpt(tmp_path: Path) -> None:
    path = tmp_path / "BurstGPT_1.csv"
    path.write_text(
        "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
        "5,ChatGPT,472,18,490,Conversation log\n"
        "45,ChatGPT,1087,230,1317,Conversation log\n"
        "118.5,GPT-4,417,0,417,API log\n"
    )
    assert detect_format(path) == "burstgpt"
    trace = load_trace(path)
    assert [(r.arrival_s, r.prompt_tokens, r.output_tokens) for r in trace] == [
        (0.0, 472, 18),
        (40.0, 1087, 230),
        (113.5, 417, 0),
    ]
    assert len(load_trace(path, drop_failed=True)) == 2
    session_path = tmp_path / "BurstGPT_3.csv"
    session_path.write_text(
        "Timestamp,Session ID,Elapsed time,Model,Request tokens,Response tokens,"
        "Total tokens,Log Type\n1.5,abc,0,GPT-4,10,20,30,Conversation log\n"
    )
    assert load_burstgpt(session_path).requests[0].session_id == "abc"


# --- errors ----------------------------------------------------------------------------------------

AZURE_HEADER = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
GOOD_ROW = "2023-11-16 18:17:03.9799600,4808,10\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            AZURE_HEADER + GOOD_ROW * 15 + "2023-11-16 18:17:04.0,3180,x\n",
            "t.csv:17: GeneratedTokens: expected a non-negative integer, got 'x'",
        ),
        (
            AZURE_HEADER + "2023-11-16 18:17:04.0,-3,1\n",
            "t.csv:2: ContextTokens: expected a non-negative integer",
        ),
        (AZURE_HEADER + "16/11/2023 18:17,3,1\n", "t.csv:2: TIMESTAMP: expected a time like 2023-11-16"),
        (AZURE_HEADER + "2023-02-30 18:17:04.0,3,1\n", "t.csv:2: TIMESTAMP"),
        (AZURE_HEADER + "9999-12-31 18:17:04.0,3,1\n", "t.csv:2: TIMESTAMP: expected a time like"),
        (AZURE_HEADER + "2023-11-16 18:17:04.0,3\n", "t.csv:2: row: expected 3 columns"),
        ("TIMESTAMP,ContextTokens\n", "missing column 'GeneratedTokens'"),
        (AZURE_HEADER, "t.csv: no requests in the file"),
        ("", "t.csv: empty file"),
        ("\n\n", "t.csv: empty file"),
        ("a,b,c\n1,2,3\n", "unknown trace format"),
    ],
)
def test_csv_errors_name_line_and_column(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(JalapenoError) as info:
        load_trace(path)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"timestamp": 0, "input_length": 5, "output_length": 1, "hash_ids": [0]}\n{"timestamp": 1,',
            "t.jsonl:2: expected one JSON object per line",
        ),
        (
            '{"timestamp": 0, "input_length": 5.5, "output_length": 1}\n',
            "t.jsonl:1: input_length: expected a non-negative",
        ),
        (
            '{"timestamp": -3, "input_length": 5, "output_length": 1}\n',
            "t.jsonl:1: timestamp: expected a non-negative",
        ),
        ('{"timestamp": 0, "input_length": 5, "output_length": true}\n', "t.jsonl:1: output_length"),
        ('{"timestamp": 0, "input_length": 5, "output_length": 1, "hash_ids": "x"}\n', "t.jsonl:1: hash_ids"),
        ('{"timestamp": 0, "input_length": 5}\n', "t.jsonl:1: output_length: missing"),
        (
            '{"timestamp": 0, "input_length": 5, "output_length": 1}\n[1]\n',
            "t.jsonl:2: expected a JSON object",
        ),
    ],
)
def test_jsonl_errors_name_line_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(text)
    with pytest.raises(JalapenoError) as info:
        load_trace(path)
    assert message in str(info.value)


def _round_line(
    session: str = "s", index: int = 0, prefix: int = 0, stamp: str = "2026-01-01T00:00:00Z"
) -> str:
    event = {"event_type": "user_message", "timestamp": stamp}
    return (
        json.dumps(
            {
                "session_id": session,
                "round_index": index,
                "input_tokens_total": 100,
                "prefix_tokens": prefix,
                "output_tokens": 5,
                "timing_events": [event],
            }
        )
        + "\n"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            _round_line() + _round_line(prefix=200),
            "t.jsonl:2: prefix_tokens: expected at most input_tokens_total",
        ),
        (_round_line() + _round_line(), "t.jsonl:2: round_index: round 0 of session 's' appears twice"),
        (_round_line(stamp="yesterday"), "t.jsonl:1: timing_events.timestamp: expected a time like"),
        (_round_line().replace('"s"', '""'), "t.jsonl:1: session_id: expected a non-empty string"),
    ],
)
def test_tracelab_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(text)
    with pytest.raises(JalapenoError) as info:
        load_trace(path)
    assert message in str(info.value)


def test_unreadable_bytes_are_a_jalapeno_error(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(AZURE_HEADER.encode() + b"\xff\xfe,1,2\n")
    with pytest.raises(JalapenoError, match="not UTF-8"):
        load_trace(path)
