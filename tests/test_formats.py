"""Results the field's tools read (issue 13, item 4): plain and Vidur trace CSVs in and out (round trips),
``serve --out-dir`` per-request and per-step tables (rows = requests, conservation against the JSON), and
``explore --out-dir`` trials as one table."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from cli_harness import run
from hypothesis import given, settings
from hypothesis import strategies as st
from short_workload import write_tiny_workload

from jalapeno.errors import JalapenoError
from jalapeno.workload import Request, Trace, load_trace
from jalapeno.workload.export import write_trace
from jalapeno.workload.loaders import detect_format


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _same(a: Trace, b: Trace, *, hashes: bool = True) -> None:
    assert len(a) == len(b)
    for x, y in zip(a.requests, b.requests, strict=True):
        assert y.arrival_s == pytest.approx(x.arrival_s, abs=2e-9)  # the loaders keep integer nanoseconds
        assert (y.prompt_tokens, y.output_tokens) == (x.prompt_tokens, x.output_tokens)
        if hashes:
            assert y.block_hashes == x.block_hashes


def test_plain_csv_round_trip_keeps_prefix_hashes(tmp_path: Path) -> None:
    src = load_trace("mooncake-conversation", limit=50)
    assert any(r.block_hashes for r in src.requests)
    out = tmp_path / "m.csv"
    assert write_trace(src, out) == 50
    assert detect_format(out) == "plain"
    assert list(_rows(out)[0]) == ["arrival_s", "prompt_tokens", "output_tokens", "hash_ids"]
    back = load_trace(out)
    _same(src, back)
    assert back.stats.input_mean == src.stats.input_mean and back.stats.span_s == pytest.approx(
        src.stats.span_s
    )


def test_vidur_csv_round_trip(tmp_path: Path) -> None:
    src = load_trace("azure-code", limit=40)
    out = tmp_path / "v.csv"
    write_trace(src, out, "vidur")
    rows = _rows(out)
    assert list(rows[0]) == ["arrived_at", "num_prefill_tokens", "num_decode_tokens"] and len(rows) == 40
    assert int(rows[0]["num_prefill_tokens"]) == src.requests[0].prompt_tokens
    assert detect_format(out) == "vidur"
    _same(src, load_trace(out), hashes=False)


def test_vidur_csv_written_by_hand_is_read() -> None:
    """A Vidur-style file with columns in another order and an extra column: arrivals from the earliest."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "vidur_trace.csv"
        p.write_text("num_decode_tokens,arrived_at,num_prefill_tokens,extra\n7,2.5,100,x\n3,1.0,50,y\n")
        tr = load_trace(p)
    assert [(r.arrival_s, r.prompt_tokens, r.output_tokens) for r in tr.requests] == [
        (0.0, 50, 3),
        (1.5, 100, 7),
    ]
    assert [r.request_id for r in tr.requests] == [1, 0]  # numbered by data row


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0, 1e5, allow_nan=False),
            st.integers(0, 1 << 20),
            st.integers(0, 1 << 16),
            st.lists(st.integers(-(1 << 62), 1 << 62), max_size=4),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_plain_csv_round_trip_property(reqs: list[tuple[float, int, int, list[int]]]) -> None:
    import tempfile

    arrivals = sorted(a for a, *_ in reqs)
    arrivals = [a - arrivals[0] for a in arrivals]  # loaders measure from the earliest request
    tr = Trace(
        "t",
        tuple(
            Request(i, t, p, o, tuple(h))
            for i, (t, (_, p, o, h)) in enumerate(zip(arrivals, reqs, strict=True))
        ),
        "hypothesis",
    )
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "t.csv"
        write_trace(tr, out)
        _same(tr, load_trace(out), hashes=True)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("arrival_s,prompt_tokens,output_tokens,hash_ids\n0,10,5,1 x\n", "t.csv:2: hash_ids"),
        ("arrival_s,prompt_tokens,output_tokens\n-1,10,5\n", "t.csv:2: arrival_s"),
        ("arrival_s,prompt_tokens,output_tokens\nnan,10,5\n", "t.csv:2: arrival_s"),
        ("arrival_s,prompt_tokens,output_tokens\n0,1.5,5\n", "t.csv:2: prompt_tokens"),
        ("arrived_at,num_prefill_tokens\n0,10\n", "missing column 'num_decode_tokens'"),
    ],
)
def test_bad_plain_and_vidur_rows_name_file_line_and_column(tmp_path: Path, text: str, says: str) -> None:
    p = tmp_path / "t.csv"
    p.write_text(text)
    with pytest.raises(JalapenoError, match=says):
        load_trace(p)
    r = run("serve", "-m", "llama-3.2-1b", "-t", str(p), "-q")
    assert r.one_error_line and says.split(":")[0] in r.err


def test_traces_export_then_serve_reads_it(tmp_path: Path) -> None:
    out = tmp_path / "a.csv"
    r = run("traces", "export", "azure-code", "--limit", "12", "--format", "vidur", "-o", str(out), "--json")
    doc = json.loads(r.out)
    assert r.code == 0 and doc["requests"] == 12 == len(_rows(out))
    direct = json.loads(
        run("serve", "-m", "llama-3.2-1b", "--limit", "12", "-q", "--no-timings", "--json").out
    )
    replay = json.loads(
        run("serve", "-m", "llama-3.2-1b", "-t", str(out), "-q", "--no-timings", "--json").out
    )
    assert (
        replay["requests"] == 12
        and replay["prompt_tokens"] == direct["prompt_tokens"] == doc["prompt_tokens"]
    )
    assert replay["ttft_s"] == direct["ttft_s"]  # same requests, same arrivals: the same simulation
    assert run("traces", "export", "azure-code", "-o", str(tmp_path / "no" / "a.csv")).one_error_line


def test_serve_out_dir_tables_conserve_requests_steps_and_tokens(tmp_path: Path) -> None:
    d = tmp_path / "out"
    r = run(
        "serve",
        "-m",
        "llama-3.2-1b",
        "--limit",
        "40",
        "--max-model-len",
        "4096",
        "-q",
        "--no-timings",
        "--out-dir",
        str(d),
        "--json",
    )
    doc = json.loads(r.out)
    reqs, steps = _rows(d / "requests.csv"), _rows(d / "steps.csv")
    assert doc["files"][:2] == [str(d / "requests.csv"), str(d / "steps.csv")]
    assert list(reqs[0]) == [
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
    ]
    assert len(reqs) == doc["requests"] == 40  # rows = requests, dropped ones included
    done = [x for x in reqs if x["status"] == "completed"]
    dropped = [x for x in reqs if x["status"] == "dropped"]
    assert len(done) == doc["completed"] and len(dropped) == doc["dropped"] > 0  # --max-model-len drops some
    assert all(x["drop_reason"] and x["ttft_s"] == "" for x in dropped)
    assert all(int(x["prompt_tokens"]) + int(x["output_tokens"]) > 4096 for x in dropped)
    assert sum(int(x["output_tokens"]) for x in done) == doc["output_tokens"]
    assert sum(int(x["prompt_tokens"]) for x in done) == doc["prompt_tokens"]
    ttft = sorted(float(x["ttft_s"]) for x in done)
    assert sum(ttft) / len(ttft) == pytest.approx(doc["ttft_s"]["mean"], rel=1e-12)
    assert len(steps) == doc["step_events"] and sum(int(x["steps"]) for x in steps) == doc["steps"]
    step_j = sum(float(x["energy_j"]) for x in steps)
    assert 0 < step_j <= doc["energy_j"]  # the rest is idle power
    assert all(float(x["end_s"]) > float(x["start_s"]) >= 0 for x in steps)


def test_out_dir_that_cannot_be_made_is_refused_before_work(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("")
    for bad, says in ((tmp_path / "no" / "dir", "does not exist"), (f, "is a file")):
        r = run("serve", "-m", "llama-3.2-1b", "--limit", "5", "-q", "--out-dir", str(bad))
        assert r.one_error_line and "--out-dir" in r.err and says in r.err, r.err


def test_explore_out_dir_writes_one_row_a_trial(tmp_path: Path) -> None:
    w = write_tiny_workload(tmp_path)
    r = run(
        "explore",
        "-w",
        str(w),
        "--trials",
        "3",
        "--workers",
        "1",
        "--seed",
        "1",
        "-q",
        "--no-timings",
        "--out-dir",
        str(tmp_path / "e"),
        "--json",
    )
    doc = json.loads(r.out)
    rows = _rows(tmp_path / "e" / "trials.csv")
    assert len(rows) == len(doc["all"]) == 3
    assert [int(x["number"]) for x in rows] == [t["number"] for t in doc["all"]]
    assert {"status", "design.tp", "design.replicas", "pareto"} <= set(rows[0])
    assert sum(x["pareto"] == "true" for x in rows) == len(doc["pareto"])
    assert not any(k.startswith("timings") for k in rows[0])  # no wall times: the table is reproducible
    for x, t in zip(rows, doc["all"], strict=True):
        assert int(x["design.tp"]) == t["design"]["tp"] and x["status"] == t["status"]


def test_parquet_next_to_csv_when_pyarrow_is_installed(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    from jalapeno.tableio import write_table

    paths = write_table({"a": [1, 2], "b": [0.5, float("nan")]}, tmp_path / "t")
    assert [p.suffix for p in paths] == [".csv", ".parquet"]
    assert pq.read_table(paths[1]).to_pydict() == {"a": [1, 2], "b": [0.5, None]}


def test_csv_cells_read_back_exactly(tmp_path: Path) -> None:
    from jalapeno.tableio import columns, write_table

    x = 0.1 + 0.2
    cols = columns([{"n": 1, "v": x, "d": {"k": True}, "l": ["a", "b"]}, {"n": 2, "v": float("inf")}])
    assert list(cols) == ["n", "v", "d.k", "l"]
    (path,) = [p for p in write_table(cols, tmp_path / "t") if p.suffix == ".csv"]
    rows = _rows(path)
    assert (
        float(rows[0]["v"]) == x
        and rows[1]["v"] == ""
        and rows[0]["d.k"] == "true"
        and rows[0]["l"] == "a; b"
    )
    assert rows[1]["d.k"] == ""
