"""Bad input, big input, one answer everywhere (issue 13): every case the issue lists, each a regression test.

The contract: bad input gives exactly one ``error:`` line naming the field and what is valid, exit 2, no
traceback, and nothing is lost (output paths are checked before the work starts).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from cli_harness import run, strict_json
from short_workload import write_tiny_workload

from jalapeno.cli import COMMANDS

HOSTILE = Path(__file__).parent / "data" / "hostile"


def refused(*argv: str, field: str | None = None, says: str = "") -> str:
    r = run(*argv)
    assert r.one_error_line, (argv, r.code, r.err[-2000:])
    line = r.err.strip().splitlines()[-1]
    if field is not None:
        assert line.startswith(f"error: {field}"), line
    assert says in line, line
    assert r.out == "", r.out[:500]  # nothing half-written on stdout
    return line


# ---------------------------------------------------------------- click's usage errors, every command
SUBCOMMANDS = {
    "chip": ["show", "plan", "map", "list", "table"],
    "models": ["show"],
    "hardware": ["show", "list"],
    "traces": ["show"],
}


def _command_paths() -> list[list[str]]:
    paths = [[c] for c in COMMANDS]
    return paths + [[c, s] for c, subs in SUBCOMMANDS.items() for s in subs]


@pytest.mark.parametrize("path", _command_paths(), ids=" ".join)
def test_unknown_option_is_one_line_for_every_command(path: list[str]) -> None:
    line = refused(*path, "--no-such-option")
    assert "--no-such-option" in line and "--help" in line


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["estimate", "-m", "llama-3.2-1b", "--batch", "x"], "--batch"),
        (["graph", "-m", "llama-3.2-1b", "--context", "1.5"], "--context"),
        (["estimate"], "--model"),
        (["models", "show"], "NAME"),
        (["serve", "-m", "llama-3.2-1b", "--engine", "turbo"], "--engine"),
        (["explore", "--trials", "many"], "--trials"),
    ],
)
def test_bad_values_and_missing_options_name_the_option(argv: list[str], field: str) -> None:
    refused(*argv, field=field)


def test_unknown_command_is_one_line() -> None:
    refused("nosuchcommand", says="No such command")


def test_new_commands_inherit_one_line_usage_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """The handling lives in cli.main, not in each command: a command registered later gets it too."""
    import click

    import jalapeno.commands.traces as traces

    @click.command(name="late")
    @click.option("--n", type=int)
    def late(n: int) -> None:
        click.echo(n)

    monkeypatch.setitem(COMMANDS, "late", ("jalapeno.commands.traces", "late"))
    monkeypatch.setattr(traces, "command", late)
    refused("late", "--n", "x", field="--n")


# ---------------------------------------------------------------- output paths, before the work
def test_validate_doc_in_a_missing_directory(tmp_path: Path) -> None:
    refused("validate", "--doc", str(tmp_path / "no" / "v.md"), field="--doc", says="does not exist")


def test_explore_db_in_a_missing_directory(tmp_path: Path) -> None:
    refused("explore", "-n", "1", "--db", str(tmp_path / "no" / "s.db"), field="--db", says="does not exist")


def test_explore_db_lock_that_cannot_be_written(tmp_path: Path) -> None:
    (tmp_path / "s.db.lock").mkdir()  # the lock path is taken by a directory
    refused("explore", "-n", "1", "--db", str(tmp_path / "s.db"), field="--db", says="directory")


@pytest.mark.parametrize("where", ["missing", "directory", "svg-blocked"])
def test_report_out_is_checked_before_the_study(tmp_path: Path, where: str) -> None:
    out = {"missing": tmp_path / "no" / "r.html", "directory": tmp_path, "svg-blocked": tmp_path / "r.html"}[
        where
    ]
    if where == "svg-blocked":
        (tmp_path / "r-summary.svg").mkdir()  # the page could be written, its summary could not
    import time

    t0 = time.perf_counter()
    refused("report", "--quick", "--out", str(out), field="--out")
    assert time.perf_counter() - t0 < 5  # refused at once, not after the study (72 s before the fix)


# ------------------------------------------------------------ bounds on numbers that exhaust memory or time
@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["serve", "-m", "llama-3.2-1b", "--replicas", "10000000", "--limit", "5"], "--replicas"),
        (["serve", "-m", "llama-3.2-1b", "--start-s", "1e308"], "--start-s"),
        (["serve", "-m", "llama-3.2-1b", "--duration-s", "inf"], "--duration-s"),
        (["serve", "-m", "llama-3.2-1b", "--rate", "1e-300", "--limit", "10"], "--rate"),
        (["serve", "-m", "llama-3.2-1b", "--rate", "0.000001"], "--rate"),
        (["serve", "-m", "llama-3.2-1b", "--rate", "nan"], "--rate"),
        (
            [
                "serve",
                "-m",
                "llama-3.2-1b",
                "--topology",
                "disagg",
                "--kv-link-gbps",
                "1e-300",
                "--limit",
                "5",
            ],
            "--kv-link-gbps",
        ),
        (["serve", "-m", "llama-3.2-1b", "--tp", "100000"], "--tp"),
        (["serve", "-m", "llama-3.2-1b", "--speculative", "1000000", "--acceptance", "0.5"], "--speculative"),
        (["graph", "-m", "llama-3.2-1b", "-b", "1000000000000"], "--batch"),
        (["estimate", "-m", "llama-3.2-1b", "-b", "1000000000000"], "--batch"),
        (["chip", "plan", "-m", "llama-3.2-1b", "-H", "h100", "--max-chips", "0"], "--max-chips"),
        (["chip", "plan", "-m", "llama-3.2-1b", "-H", "h100", "--max-chips", "10000000"], "--max-chips"),
        (["report", "--workers", "0"], "--workers"),
        (["explore", "--workers", "0"], "--workers"),
        (["explore", "--trials", "1000000000"], "--trials"),
        # found by probing the commands the first fuzz runs left out (bench, compare, calibrate, measure)
        (["bench", "-m", "llama-3.2-1b", "--requests", "1000000000000"], "--requests"),  # ran forever
        (["bench", "-m", "llama-3.2-1b", "--replicas", "100000000"], "--replicas"),  # ran forever
        (
            [
                "bench",
                "-s",
                "fixed",
                "-m",
                "llama-3.2-1b",
                "--isl",
                "8",
                "--osl",
                "8",
                "--concurrency",
                "10000000000",
            ],
            "--concurrency",
        ),  # ran forever
        (["bench", "-m", "llama-3.2-1b", "--tp", "100000"], "--tp"),
        (
            ["compare", "-w", "azure-code", "--chips", "h200", "--samples", "100000"],
            "--samples",
        ),  # hours of work
        (
            ["compare", "-w", "azure-code", "--chips", "h200", "--seed", "-1"],
            "--seed",
        ),  # refused after the sweep
        (
            ["measure", "ops", "--out", "/tmp/jalapeno-m.json", "--energy-s", "inf", "--device", "cpu"],
            "--energy-s",
        ),
        (
            ["measure", "ops", "--out", "/tmp/jalapeno-m.json", "--energy-s", "nan", "--device", "cpu"],
            "--energy-s",
        ),
        (
            ["measure", "ops", "--out", "/tmp/jalapeno-m.json", "--budget-s", "nan", "--device", "cpu"],
            "--budget-s",
        ),
    ],
)
def test_numbers_beyond_their_bound_are_refused_naming_the_option(argv: list[str], field: str) -> None:
    refused(*argv, field=field)


def test_a_chip_too_slow_to_finish_is_refused_not_a_traceback(tmp_path: Path) -> None:
    """A chip at 1 kB/s needs years a step: the simulator stops at its horizon with one error line
    (before: MemoryError, or 'simulation ended with 2 requests unfinished')."""
    preset = Path(__file__).parents[1] / "src" / "jalapeno" / "hardware" / "presets" / "h100-sxm.yaml"
    text = preset.read_text(encoding="utf-8").replace(
        "bandwidth_bytes_per_s: {value: 3.35e12", "bandwidth_bytes_per_s: {value: 1e3", 1
    )
    chip = tmp_path / "slow.yaml"
    chip.write_text(text.replace("name: h100-sxm", "name: slow-h100", 1), encoding="utf-8")
    refused(
        "serve",
        "-m",
        "llama-3.2-1b",
        "-H",
        str(chip),
        "--limit",
        "2",
        "--json",
        field="simulation",
        says="horizon",
    )


# ---------------------------------------------------------------- hostile files
@pytest.mark.parametrize(
    "name",
    [
        "huge_int.json",
        "deep.json",
        "nan.json",
        "not_json.json",
        "array.json",
        "wrong_types.json",
        "empty.json",
        "binary.bin",
    ],
)
def test_hostile_config_json(name: str) -> None:
    refused("models", "show", str(HOSTILE / name))


def test_models_show_dev_zero() -> None:
    refused("models", "show", "/dev/zero", says="not a regular file")


def test_validate_measurements_given_a_json_array() -> None:
    refused(
        "validate",
        "--measurements",
        str(HOSTILE / "measurements_array.json"),
        field="--measurements",
        says="object",
    )


def test_validate_measurements_with_wrong_types() -> None:
    refused("validate", "--measurements", str(HOSTILE / "measurements_wrong.json"), field="--measurements")


@pytest.mark.parametrize("name", ["not_json.json", "binary.bin", "array.json", "serve_replay_wrong.json"])
def test_validate_serve_given_a_non_replay(name: str) -> None:
    refused("validate", "--serve", str(HOSTILE / name), field="--serve")


# ---------------------------------------------------------------- no NaN or inf in any output
def test_emit_json_writes_null_for_non_finite(capsys: pytest.CaptureFixture[str]) -> None:
    from jalapeno.commands.options import emit_json

    emit_json({"a": math.nan, "b": [math.inf, -math.inf, 1.5], "c": {"d": 2}})
    assert json.loads(capsys.readouterr().out) == {
        "schema": "jalapeno.unknown/2",  # no click context here
        "a": None,
        "b": [None, None, 1.5],
        "c": {"d": 2},
    }


@pytest.mark.parametrize(
    "argv",
    [
        ["estimate", "-m", "llama-3.2-1b", "-p", "1", "--json"],
        ["estimate", "-m", "llama-3.2-1b", "-c", "1", "-p", "100", "--cached", "99", "--json"],
        ["estimate", "-m", "qwen3-coder-30b-a3b", "-H", "b200", "-b", "64", "--json"],
        ["graph", "-m", "deepseek-v3", "-b", "0", "-p", "1", "--json"],
    ],
)
def test_json_outputs_are_strict(argv: list[str]) -> None:
    r = run(*argv)
    assert r.code == 0, r.err
    strict_json(r.out)


# ---------------------------------------------------------------- names are not rich markup
def _chip_named(tmp_path: Path, name: str) -> Path:
    preset = Path(__file__).parents[1] / "src" / "jalapeno" / "hardware" / "presets" / "h100-sxm.yaml"
    path = tmp_path / "acc.yaml"
    path.write_text(
        preset.read_text(encoding="utf-8").replace("name: h100-sxm", f'name: "{name}"', 1), encoding="utf-8"
    )
    return path


@pytest.mark.parametrize("argv", [["hardware", "show"], ["estimate", "-m", "llama-3.2-1b", "-H"]])
def test_bracketed_names_print_as_written(tmp_path: Path, argv: list[str]) -> None:
    r = run(*argv, str(_chip_named(tmp_path, "acc [v2] [/]")))
    assert r.code == 0, r.err
    assert "acc [v2] [/]" in r.out


# ---------------------------------------------------------------- context beyond the model's maximum
@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["estimate", "-m", "qwen2.5-coder-32b", "-H", "b200", "-c", "200000"], "--context"),
        (["estimate", "-m", "llama-3.2-1b", "-p", "131000", "--cached", "1000"], "--prompt"),
        (["graph", "-m", "qwen2.5-coder-32b", "-c", "200000"], "--context"),
        (["chip", "plan", "-m", "qwen2.5-coder-32b", "-H", "h100", "-c", "200000"], "--context"),
        (["chip", "map", "-m", "qwen2.5-coder-32b", "-H", "jalapeno-1", "-p", "200000"], "--prompt"),
        (["serve", "-m", "qwen2.5-coder-32b", "--max-model-len", "200000"], "--max-model-len"),
        # bench: before, every request was dropped and it answered throughput 0 with exit 0
        (["bench", "-s", "fixed", "-m", "llama-3.2-1b", "--isl", "1000000000", "--osl", "8"], "--isl"),
        (["bench", "-s", "fixed", "-m", "llama-3.2-1b", "--isl", "131000", "--osl", "1000"], "--isl"),
    ],
)
def test_context_beyond_the_model_is_refused(argv: list[str], field: str) -> None:
    refused(*argv, field=field, says="context of")


def test_serve_drops_requests_beyond_the_context_and_counts_them(tmp_path: Path) -> None:
    """A 4,096-token model (the bundled Llama-3.2-1B config with its context cut) on three requests of
    which two are longer: those two are dropped with the reason, counted, and never served."""
    cfg = json.loads(
        (
            Path(__file__).parents[1] / "src" / "jalapeno" / "models" / "configs" / "llama-3.2-1b.json"
        ).read_text(encoding="utf-8")
    )
    cfg["max_position_embeddings"] = 4096
    (tmp_path / "small").mkdir()
    (tmp_path / "small" / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    trace = tmp_path / "t.jsonl"
    rows = [(0, 1000, 10), (1000, 5000, 10), (2000, 4000, 97)]  # prompt + output: 1,010, 5,010, 4,097
    trace.write_text(
        "".join(
            json.dumps({"timestamp": t, "input_length": i, "output_length": o, "hash_ids": [k]}) + "\n"
            for k, (t, i, o) in enumerate(rows)
        ),
        encoding="utf-8",
    )
    r = run("serve", "-m", str(tmp_path / "small"), "-t", str(trace), "--json", "--quiet", "--no-timings")
    assert r.code == 0, r.err
    doc = strict_json(r.out)
    assert (
        doc["requests"] == 3 and doc["completed"] == 1 and doc["dropped"] == 2 == len(doc["dropped_requests"])
    )
    assert doc["dropped_reasons"][0]["count"] == 2 and "4096" in doc["dropped_reasons"][0]["reason"]
    assert doc["deployment"]["model_source"] == str(tmp_path / "small" / "config.json")


# ---------------------------------------------------------------- a path that exists wins over a bundled name
def test_local_model_folder_wins_over_the_bundled_alias(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = json.loads(
        (
            Path(__file__).parents[1] / "src" / "jalapeno" / "models" / "configs" / "llama-3.2-1b.json"
        ).read_text(encoding="utf-8")
    )
    cfg["num_hidden_layers"] = 4  # the bundled one has 16
    (tmp_path / "Llama-3.2-1B").mkdir()
    (tmp_path / "Llama-3.2-1B" / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    r = run("models", "show", "Llama-3.2-1B", "--json")
    assert json.loads(r.out)["config"]["num_layers"] == 4
    r = run("estimate", "-m", "Llama-3.2-1B")
    assert r.code == 0 and "model config: Llama-3.2-1B/config.json" in r.out, r.err
    assert (
        json.loads(run("estimate", "-m", "Llama-3.2-1B", "--json").out)["model_source"]
        == "Llama-3.2-1B/config.json"
    )


def test_local_trace_file_wins_over_the_bundled_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conversation_trace.jsonl").write_text(
        "".join(
            json.dumps({"timestamp": 100 * k, "input_length": 100, "output_length": 5, "hash_ids": [k]})
            + "\n"
            for k in range(3)
        ),
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    r = run("serve", "-m", "llama-3.2-1b", "-t", "conversation_trace.jsonl", "--json", "--quiet")
    doc = json.loads(r.out)
    assert (
        doc["requests"] == 3 and doc["workload_stats"]["source"] == "conversation_trace.jsonl"
    )  # bundled: 1,000s
    assert (
        "(file conversation_trace.jsonl)"
        in run("serve", "-m", "llama-3.2-1b", "-t", "conversation_trace.jsonl", "-q").out
    )


# ---------------------------------------------------------------- tp and dtype
@pytest.mark.parametrize(
    "cmd", [["estimate"], ["serve", "--limit", "3"], ["bench", "-s", "fixed", "--isl", "8", "--osl", "8"]]
)  # bench: exit 0 before
def test_tp_must_split_the_heads(cmd: list[str]) -> None:
    line = refused(cmd[0], "-m", "qwen2.5-coder-32b", "-H", "h100", "--tp", "3", *cmd[1:], field="--tp")
    assert "valid: 1, 2, 4, 5, 8, 10, 20, 40" in line


def test_dtype_accepts_exactly_what_its_help_lists() -> None:
    from jalapeno.dtypes import DTYPES

    help_text = " ".join(run("estimate", "--help").out.split())
    assert f"Weight dtype: {', '.join(DTYPES)}." in help_text
    for bad in ("BF16", "float16", "fp8 ", "bfloat16"):
        refused("estimate", "-m", "llama-3.2-1b", "--dtype", bad, field="--dtype")
    for good in ("fp16", "fp4"):
        assert run("estimate", "-m", "llama-3.2-1b", "--dtype", good, "--json").code == 0


# ---------------------------------------------------------------- power
@pytest.mark.parametrize("limit", ["1", "5", "40"])
def test_average_power_never_exceeds_peak(limit: str) -> None:
    """Short traces: the busiest full window was below the run's mean when the last, partial window was
    the busiest (and by one ulp on single-window runs)."""
    doc = json.loads(run("serve", "-m", "llama-3.2-1b", "--limit", limit, "--json", "-q").out)
    assert 0 < doc["avg_power_w"] <= doc["peak_power_w"]


# ---------------------------------------------------------------- progress off a terminal, --quiet
def test_progress_lines_off_a_terminal() -> None:
    from jalapeno.report.console import LogProgress

    now, lines = [0.0], []
    p = LogProgress("simulating", 5.0, clock=lambda: now[0], write=lines.append)
    for t, done in ((1.0, 10), (5.0, 50), (6.0, 60), (10.0, 100)):
        now[0] = t
        p(done, 200)
    # one line every 5 s at most; the ETA at the rate so far: 50 done in 5 s, 150 to go -> 15 s
    assert lines == [
        "simulating: 50/200 (25%), 5 s elapsed, ETA 15 s",
        "simulating: 100/200 (50%), 10 s elapsed, ETA 10 s",
    ]


def test_serve_reports_progress_on_stderr_with_json_and_quiet_silences_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import jalapeno.report.console as console

    monkeypatch.setattr(console.LogProgress, "__init__", _every_call(console.LogProgress.__init__))
    r = run("serve", "-m", "llama-3.2-1b", "--limit", "30", "--json")
    assert r.code == 0 and "simulating: " in r.err and "/30" in r.err
    json.loads(r.out)  # stdout stays pure JSON
    assert run("serve", "-m", "llama-3.2-1b", "--limit", "30", "--json", "--quiet").err == ""


def _every_call(init):  # type: ignore[no-untyped-def]
    def patched(self, description, every_s, clock=None, write=None):  # type: ignore[no-untyped-def]
        init(self, description, 0.0, clock, write)

    return patched


# ---------------------------------------------------------------- repeatability
def test_serve_json_is_byte_identical_without_timings() -> None:
    argv = ("serve", "-m", "llama-3.2-1b", "--limit", "20", "--json", "-q")
    a, b = run(*argv, "--no-timings").out, run(*argv, "--no-timings").out
    assert a == b and "timings" not in a and "wall_s" not in a
    assert set(json.loads(run(*argv).out)["timings"]) == {
        "load_s",
        "oracle_s",
        "simulate_s",
        "output_s",
        "event_loop_s",
        "total_s",
    }


def test_explore_trials_do_not_depend_on_the_worker_count(tmp_path: Path) -> None:
    """Same seed, 1 and 4 workers: identical trials, byte for byte (before: the searcher was told results
    in completion order and asked as many designs as there were workers)."""
    argv = (
        "explore",
        "-w",
        str(write_tiny_workload(tmp_path)),
        "-n",
        "12",
        "--seed",
        "5",
        "--json",
        "-q",
        "--no-timings",
    )
    one, four = run(*argv, "--workers", "1"), run(*argv, "--workers", "4")
    assert one.code == four.code == 0, (one.err, four.err)
    assert one.out == four.out
    assert len(json.loads(one.out)["all"]) == 12


def test_version_works_from_a_source_tree() -> None:
    """``--version`` read the installed package's metadata and raised a RuntimeError when run from a tree."""
    from jalapeno import __version__

    r = run("--version")
    assert r.code == 0 and r.out.strip() == f"jalapeno, version {__version__}"


# ------------------------------------------------------ schema 2 audit: bench, compare, calibrate, measure
@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["compare", "-w", "zzz", "--chips", "h200"], "--workload"),  # was "workload:"
        (["compare", "-w", "azure-code", "--chips", "h200,zzz"], "--chips"),  # was "chip:"
        (["chip", "show", "zzz"], "NAME_OR_PATH"),  # was "arch:"
        (["chip", "map", "-m", "llama-3.2-1b", "-H", "zzz"], "--hardware"),  # was "arch:"
        (
            ["measure", "ops", "--out", "/tmp/jalapeno-m.json", "--budget-s", "-1", "--device", "cpu"],
            "--budget-s",
        ),
        (
            ["measure", "serve", "--out", "/tmp/jalapeno-m.json", "--max-num-seqs", "0", "--device", "cpu"],
            "--max-num-seqs",
        ),  # were "budget-s:", "max-num-seqs:"
    ],
)
def test_every_error_names_the_option_as_typed(argv: list[str], field: str) -> None:
    refused(*argv, field=field)


@pytest.mark.parametrize(
    "name", ["/dev/zero", str(HOSTILE / "binary.bin"), str(HOSTILE / "nan.json"), str(HOSTILE / "nan.csv")]
)
def test_calibrate_published_hostile_files(name: str) -> None:
    """`/dev/zero` was read forever; a JSON file was taken for an empty CSV and answered with exit 0."""
    refused("calibrate", "--chip", "h200-sxm", "--published", name, field="--published")


def test_calibrate_doc_and_measure_out_are_checked_before_the_work(tmp_path: Path) -> None:
    refused("calibrate", "--chip", "h200-sxm", "--doc", str(tmp_path / "no" / "x.md"), field="--doc")
    refused("measure", "ops", "--out", str(tmp_path / "no" / "x.json"), "--device", "cpu", field="--out")


def test_explore_dask_address_without_a_port() -> None:
    """A traceback (distributed's ValueError) before."""
    refused("explore", "--dask", "zzz", "-q", field="--dask")
