"""Every command's ``--json`` (issue 13, item 3): real outputs on tiny inputs validate against the command's
JSON Schema (src/jalapeno/schemas/, docs/json.md); ``schema`` is the first key and names that file; one
vocabulary (the same key is the same quantity in the same unit in every command)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import jsonschema
import pytest
from cli_harness import run
from short_workload import TINY_WORKLOAD

from jalapeno import schemas

M = "llama-3.2-1b"

# schema name -> a tiny command line (well under a second or two each); {w} is the tiny workload file, {d} its
# directory
ARGV: dict[str, tuple[str, ...]] = {
    "hardware": ("hardware", "--json"),
    "hardware.show": ("hardware", "show", "h100", "--json"),
    "models": ("models", "--json"),
    "models.show": ("models", "show", "deepseek-v3", "--json"),
    "traces": ("traces", "--json"),
    "traces.show": ("traces", "show", "azure-code", "--rows", "2", "--json"),
    "traces.export": ("traces", "export", "azure-code", "--limit", "3", "-o", "{d}/t.csv", "--json"),
    "graph": ("graph", "-m", M, "-b", "1", "-c", "16", "--json"),
    "estimate": ("estimate", "-m", M, "-p", "16", "--json"),
    "serve": ("serve", "-m", M, "--limit", "5", "-q", "--out-dir", "{d}/serve", "--json"),
    "chip.list": ("chip", "list", "--json"),
    "chip.show": ("chip", "show", "jalapeno-1", "--json"),
    "chip.table": ("chip", "table", "--json"),
    "chip.map": ("chip", "map", "-m", M, "-H", "jalapeno-1", "-b", "1", "--json"),
    "chip.plan": ("chip", "plan", "-m", M, "-H", "h100", "--max-chips", "2", "--json"),
    "bench": ("bench", "-s", "fixed", "-m", M, "--isl", "8", "--osl", "8", "--json"),
    "calibrate": ("calibrate", "--chip", "h200-sxm", "--fit-sources", "v9.9/none/offline", "--json"),
    "validate": ("validate", "--json"),
    "explore": ("explore", "-w", "{w}", "--trials", "2", "--workers", "1", "--seed", "1", "-q", "--json"),
    "compare": (
        "compare",
        "-w",
        "{w}",
        "--chips",
        "h200,jalapeno-1",
        "--samples",
        "2",
        "--quick",
        "--workers",
        "1",
        "--json",
    ),
}
# keys that said the same thing another way before one vocabulary; none may come back
RETIRED = {
    "dollars_per_million_tokens": "usd_per_mtok",
    "params_source": "cost_params",
    "throughput_output_tokens_per_s": "throughput_tokens_per_s",
}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    w = tmp_path_factory.mktemp("w") / "tiny.yaml"
    w.write_text(TINY_WORKLOAD, encoding="utf-8")
    docs = {}
    for name, argv in ARGV.items():
        r = run(*(a.replace("{w}", str(w)).replace("{d}", str(w.parent)) for a in argv))
        assert r.code == 0, (name, r.err[-2000:])
        docs[name] = json.loads(r.out)
    return docs


def test_every_schema_file_has_a_command_and_is_a_valid_schema() -> None:
    assert set(ARGV) | {"report", *MEASURE_STUBS} == set(schemas.names())
    for name in schemas.names():
        sch = schemas.load(name)
        jsonschema.Draft202012Validator.check_schema(sch)
        assert sch["$id"] == f"jalapeno.{name}/2" and sch["properties"]["schema"] == {"const": sch["$id"]}


@pytest.mark.parametrize("name", list(ARGV))
def test_real_output_validates_against_its_schema(outputs: dict[str, dict[str, Any]], name: str) -> None:
    doc = outputs[name]
    assert next(iter(doc)) == "schema" and doc["schema"] == f"jalapeno.{name}/2"
    jsonschema.validate(doc, schemas.load(doc["schema"]))


def test_schemas_catch_a_wrong_shape(outputs: dict[str, dict[str, Any]]) -> None:
    """The schemas are not vacuous: the old shapes fail them."""
    serve = copy.deepcopy(outputs["serve"])
    serve["dropped"] = serve["dropped_requests"]  # a list, as before one vocabulary
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(serve, schemas.load("serve"))
    models = {"schema": "jalapeno.models/2", "models": outputs["models"]["models"][0]}  # not a list
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(models, schemas.load("models"))
    est = {k: v for k, v in outputs["estimate"].items() if k != "cost_params"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(est, schemas.load("estimate"))
    with pytest.raises(jsonschema.ValidationError):  # another command's document
        jsonschema.validate(outputs["graph"], schemas.load("estimate"))


def _items(x: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    if isinstance(x, dict):
        for k, v in x.items():
            yield path, k, v
            yield from _items(v, f"{path}.{k}")
    elif isinstance(x, list):
        for v in x:
            yield from _items(v, f"{path}[]")


def test_one_vocabulary_across_commands(outputs: dict[str, dict[str, Any]]) -> None:
    for name, doc in outputs.items():
        for path, key, value in _items(doc):
            where = f"{name}{path}.{key}"
            assert key not in RETIRED, f"{where}: use {RETIRED[key]}"
            if key == "dropped":  # a count in every table and command
                assert isinstance(value, int) and not isinstance(value, bool) and value >= 0, where
            if key in ("usd_per_mtok", "usd_per_mtok_output", "usd_per_mtok_capex", "usd_per_mtok_energy"):
                assert value is None or (isinstance(value, (int, float)) and value >= 0), where
            if (
                key in ("tp", "pp", "replicas", "chips") and value is not None
            ):  # counts, never a list (schema 2)
                assert isinstance(value, int) and not isinstance(value, bool) and value >= 1, where
            if key == "hardware":  # the chip a command ran on, never the list of presets (that is `presets`)
                assert isinstance(value, str), where
    # the same quantity, the same key: serve, bench and explore all name output-token throughput alike
    assert outputs["serve"]["throughput_tokens_per_s"] > 0 and outputs["bench"]["throughput_tokens_per_s"] > 0
    assert outputs["estimate"]["cost_params"] and outputs["bench"]["cost_params"]
    assert outputs["serve"]["deployment"]["hardware"] == outputs["estimate"]["hardware"] == "h200-sxm"
    assert outputs["bench"]["hardware"] == "h200-sxm"


def test_list_and_show_share_one_shape(outputs: dict[str, dict[str, Any]]) -> None:
    """`models --json` rows and `models show --json` (same for hardware) carry the same keys and values."""
    row = next(r for r in outputs["models"]["models"] if r["name"] == "deepseek-v3")
    shown = outputs["models.show"]
    assert {k: shown[k] for k in row} == row and "config" in shown
    row = next(r for r in outputs["hardware"]["presets"] if r["name"] == "h100-sxm")
    assert {k: outputs["hardware.show"][k] for k in row} == row


def test_minus_n_means_replicas_and_the_old_spelling_still_works(tmp_path: Path) -> None:
    w = tmp_path / "tiny.yaml"
    w.write_text(TINY_WORKLOAD, encoding="utf-8")
    assert "-n" not in run("explore", "--help").out.split() and "-n," in run("serve", "--help").out
    old = run("explore", "-w", str(w), "-n", "1", "--workers", "1", "-q", "--json", "--no-timings")
    new = run("explore", "-w", str(w), "--trials", "1", "--workers", "1", "-q", "--json", "--no-timings")
    assert old.code == 0 and old.out == new.out and "deprecated" in old.err and "--trials" in old.err
    assert json.loads(old.out)["trials"] == 1


def test_report_json_has_a_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`report --json` without the minutes of study: the study and the renderers stubbed."""
    import jalapeno.explore.study as study
    import jalapeno.report.explore_figures as figures
    import jalapeno.report.explore_report as page

    class Study:
        timings: ClassVar[dict[str, float]] = {"total_s": 1.5}

    monkeypatch.setattr(study, "run_study", lambda **kw: Study())
    monkeypatch.setattr(page, "render", lambda s: "<html></html>")
    monkeypatch.setattr(figures, "summary_svg", lambda s: "<svg/>")
    r = run("report", "--out", str(tmp_path / "r.html"), "--no-png", "-q", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    jsonschema.validate(doc, schemas.load(doc["schema"]))
    assert doc["files"] == [str(tmp_path / "r.html"), str(tmp_path / "r-summary.svg")] and doc["notes"] == []
    assert doc["timings"] == {"total_s": 1.5}


# ---------------------------------------------------------------- measure --json, without torch
MEASUREMENTS = Path(__file__).resolve().parents[1] / "src" / "jalapeno" / "data" / "measurements"
# schema -> (the entry point the command calls, the recorded H200 run the stub returns, a command line)
MEASURE_STUBS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "measure": ("runner.run_measure", "h200-measure-2026-11-26.json", ("measure", "all")),
    "measure.serve": ("serve_replay.run_serve", "h200-serve-2026-11-26.json", ("measure", "serve")),
}


def _recorded(name: str) -> dict[str, Any]:
    return json.loads((MEASUREMENTS / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", list(MEASURE_STUBS))
def test_measure_json_has_a_schema(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`measure ... --json` without torch or a GPU: the run stubbed by one that echoes a progress line and
    returns a recorded H200 run; the real command wiring, document and schema. Progress goes to stderr, so
    stdout is exactly one JSON document; --no-timings drops the wall times. (tests/test_measure_cpu.py and
    test_measure_serve.py run the real thing on a CPU where torch is installed.)"""
    import jalapeno.measure.runner as runner
    import jalapeno.measure.serve_replay as serve_replay

    entry, recorded, argv = MEASURE_STUBS[name]
    mod, fn = entry.split(".")

    def stub(*args: Any, echo: Any, **kw: Any) -> dict[str, Any]:
        echo("progress line")
        return _recorded(recorded)

    monkeypatch.setattr({"runner": runner, "serve_replay": serve_replay}[mod], fn, stub)
    out = str(tmp_path / "m.json")
    r = run(*argv, "--out", out, "--device", "cpu", "--json")
    assert r.code == 0, r.err
    assert r.err.strip() == "progress line"
    doc = json.loads(r.out)
    assert next(iter(doc)) == "schema" and doc["schema"] == f"jalapeno.{name}/2"
    jsonschema.validate(doc, schemas.load(doc["schema"]))
    assert doc["file"] == out and doc["device"]["name"] == "NVIDIA H200" and doc["timings"]["wall_s"] > 0
    quiet = json.loads(run(*argv, "--out", out, "--device", "cpu", "--json", "--no-timings").out)
    assert quiet == {k: v for k, v in doc.items() if k != "timings"}
    plain = run(*argv, "--out", out, "--device", "cpu")  # a person's run: progress on stdout, no document
    assert plain.code == 0 and plain.out.strip() == "progress line" and plain.err == ""


def test_measure_json_counts_the_recorded_run() -> None:
    """The document's counts on the recorded H200 sweep, against the file's own lists: 1 copy + 380 GEMM +
    21 attention + 12 elementwise + 73 step rows = 487 points, 20 skipped; a row with an error is a failed
    point, still a point."""
    from jalapeno.measure.run_doc import measure_doc

    rec = _recorded("h200-measure-2026-11-26.json")
    kw: dict[str, Any] = {"out": "m.json", "models": ["llama-3.1-8b"], "quick": False, "budget_s": None}
    doc = measure_doc(rec, what="all", energy_s=1.0, **kw)
    sections = ("copy", "gemm", "attention", "elementwise", "steps")
    assert doc["points_by_section"] == dict(zip(sections, (1, 380, 21, 12, 73), strict=True))
    assert doc["points"] == 487 == sum(len(rec[s]) for s in sections)
    assert doc["skipped"] == 20 == len(doc["skipped_points"]) and doc["failed_points"] == 0
    assert doc["skipped_points"][0] == {
        "what": "gemm fp8 M=1 (all shapes)",
        "why": "torch._scaled_mm needs M a multiple of 16",
    }
    assert doc["idle_power_w"] == 78.3 and doc["file_format"] == 1 and doc["measured_on"] == "2026-11-26"
    rec["steps"].append({"model": "x", "phase": "decode", "batch": 1, "error": "OutOfMemoryError: ..."})
    rec["engine"] = [{"job": "serve-decode"}]  # measure engine's extra section is counted under its name
    doc = measure_doc(rec, what="engine", energy_s=0.0, **kw)
    assert doc["failed_points"] == 1 and doc["points"] == 489 and doc["points_by_section"]["engine"] == 1
    assert measure_doc(rec, what="ops", energy_s=0.0, **kw)["models"] == []  # ops sweeps no model


def test_measure_serve_json_counts_the_recorded_replay() -> None:
    """The recorded H200 replay: 228 requests, one prefill each, every decode step graphed; the percentiles
    are numpy's over the finished requests, as `serve --json` computes its own."""
    import numpy as np

    from jalapeno.measure.run_doc import serve_doc

    rec = _recorded("h200-serve-2026-11-26.json")
    doc = serve_doc(rec, out="s.json")
    assert doc["requests"] == 228 == doc["completed"] + doc["unfinished"] and doc["unfinished"] == 0
    assert doc["steps"] == 2891 == doc["prefill_steps"] + doc["decode_steps"] and doc["prefill_steps"] == 228
    assert doc["graph_steps"] == doc["decode_steps"] == 2663 and doc["cuda_graph"] is True
    assert doc["prompt_tokens"] == sum(r["prompt_tokens"] for r in rec["requests"])
    assert doc["output_tokens"] == sum(r["generated"] for r in rec["requests"])
    ttft = [r["ttft_s"] for r in rec["requests"]]
    assert doc["ttft_s"]["p50"] == pytest.approx(float(np.median(ttft)))
    assert doc["ttft_s"]["p50"] <= doc["ttft_s"]["p90"] <= doc["ttft_s"]["p99"] <= max(ttft)
    rec["requests"][0] = {**rec["requests"][0], "finish_s": None, "ttft_s": None, "tpot_s": None}
    assert serve_doc(rec, out="s.json")["unfinished"] == 1
    rec["requests"] = []  # nothing finished: null percentiles, never NaN
    assert serve_doc(rec, out="s.json")["ttft_s"] == {"p50": None, "p90": None, "p99": None, "mean": None}


def test_measure_json_error_is_one_line_and_no_document(tmp_path: Path) -> None:
    """A bad option under --json: one `error:` line on stderr, nothing on stdout (before torch is needed)."""
    for argv in (
        ("measure", "ops", "--out", str(tmp_path / "no" / "x.json")),
        ("measure", "all", "--out", str(tmp_path / "x.json"), "--budget-s", "-1"),
        ("measure", "serve", "--out", str(tmp_path / "no" / "x.json")),
    ):
        r = run(*argv, "--device", "cpu", "--json")
        assert r.one_error_line and r.out == "", (argv, r.err)


def _leaves(cmd: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every command a user runs: leaves, and groups that run alone (`hardware`, `models`, `traces`)."""
    import click

    if not isinstance(cmd, click.Group) or cmd.invoke_without_command:
        yield path, cmd
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            yield from _leaves(sub, f"{path} {name}")


def test_every_command_has_json() -> None:
    """House rule: every command has --json (issue 13). No exceptions: `measure` was the last without it."""
    import importlib

    from jalapeno.cli import COMMANDS

    found = [
        (path, cmd)
        for name, (mod, _) in COMMANDS.items()
        for path, cmd in _leaves(importlib.import_module(mod).command, name)
    ]
    missing = [p for p, c in found if not any("--json" in getattr(o, "opts", ()) for o in c.params)]
    assert not missing, f"commands without --json: {missing}"
    assert len(found) >= 27 and "measure serve" in dict(found) and "hardware" in dict(found)


# ---------------------------------------------------------------- one key, one type, in every schema
def _kind(s: dict[str, Any]) -> str:
    """A property's JSON type set, null dropped (a figure that may be missing is still the same quantity) and
    integer folded into number; a schema without a type is a hole in the contract and reported as such."""
    if "const" in s or "enum" in s:
        vals = [s["const"]] if "const" in s else s["enum"]
        types = {type(v).__name__ for v in vals}
    elif "type" in s:
        types = set([s["type"]] if isinstance(s["type"], str) else s["type"])
    elif "anyOf" in s or "oneOf" in s:
        return "|".join(sorted({_kind(x) for x in s.get("anyOf", s.get("oneOf", []))}))
    else:
        return "untyped"
    m = {"integer": "number", "int": "number", "float": "number", "str": "string", "bool": "boolean"}
    return "|".join(sorted({m.get(t, t) for t in types} - {"null", "NoneType"})) or "null"


def _properties(s: Any, where: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, key, schema) of every named property, at any depth (items, maps and unions included); the keys
    of a map (``additionalProperties``: chip names, term names) are data, not vocabulary, and are not
    listed."""
    if not isinstance(s, dict):
        return
    for k, v in s.get("properties", {}).items():
        yield where, k, v
        yield from _properties(v, f"{where}.{k}")
    for key, tail in (("items", "[]"), ("additionalProperties", ".*")):
        yield from _properties(s.get(key), where + tail)
    for key in ("anyOf", "oneOf", "allOf"):
        for x in s.get(key, []):
            yield from _properties(x, where)


def schema_key_types() -> dict[str, dict[str, list[str]]]:
    """key -> its type set -> where it has it, over every schema file."""
    seen: dict[str, dict[str, list[str]]] = {}
    for name in schemas.names():
        for path, key, sch in _properties(schemas.load(name), name):
            seen.setdefault(key, {}).setdefault(_kind(sch), []).append(f"{path}.{key}")
    return seen


def test_every_key_has_one_type_in_every_schema() -> None:
    """The same key is the same quantity in every command (issue 13, item 3): `chips` is a count everywhere,
    never a list here and a number there; a key with two types in two places fails, naming both."""
    seen = schema_key_types()
    conflicts = {k: kinds for k, kinds in seen.items() if len(kinds) > 1}
    assert not conflicts, "\n".join(
        f"{k}: " + "; ".join(f"{t} at {w[:3]}" for t, w in kinds.items())
        for k, kinds in sorted(conflicts.items())
    )
    untyped = sorted(w for kinds in seen.values() for w in kinds.get("untyped", []))
    assert not untyped, f"properties without a type: {untyped}"
    # the keys the issue named, pinned
    assert set(seen["chips"]) == {"number"} and set(seen["hardware"]) == {"string"}
    assert set(seen["dropped"]) == {"number"} and set(seen["value"]) == {"number"}


def test_the_type_scan_catches_a_conflict(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not vacuous: schema 1's `chips` (a list in compare, a count in estimate) is reported."""
    real = schemas.load

    def old(name: str) -> dict[str, Any]:
        s = copy.deepcopy(real(name))
        if name == "compare":
            s["properties"]["chips"] = {"type": "array"}
        return s

    monkeypatch.setattr(schemas, "load", old)
    kinds = schema_key_types()["chips"]
    assert set(kinds) == {"number", "array"} and kinds["array"] == ["compare.chips"]


# ---------------------------------------------------------------- files a command writes: measure --out


@pytest.mark.parametrize(
    ("name", "recorded"),
    [("measure", "h200-measure-2026-11-26.json"), ("measure.serve", "h200-serve-2026-11-26.json")],
)
def test_measure_files_validate_against_their_schema(name: str, recorded: str) -> None:
    """`measure`'s product is the `--out` file (format 1), the input of validate and calibrate (its `--json`
    prints a summary of it). The recorded H200 runs validate (tests/test_measure_cpu.py validates a fresh CPU
    run where torch is installed); a step without its time, or the wrong format number, fails."""
    sch = schemas.file_schema(name)
    jsonschema.Draft202012Validator.check_schema(sch)
    doc = json.loads((MEASUREMENTS / recorded).read_text(encoding="utf-8"))
    jsonschema.validate(doc, sch)
    bad = copy.deepcopy(doc)
    del bad["steps"][0]["s" if name == "measure" else "kind"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, sch)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**doc, "schema": 2}, sch)
