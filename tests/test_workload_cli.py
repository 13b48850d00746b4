"""`jalapeno traces` and `jalapeno traces show`."""

from __future__ import annotations

import json

from click.testing import CliRunner

from jalapeno.cli import cli, main


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, ["traces", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_list_json_counts() -> None:
    doc = json.loads(_run("--json"))
    counts = {t["name"]: t["stats"]["count"] for t in doc["traces"]}
    assert counts == {
        "azure-code": 8819,
        "azure-conv": 19366,
        "mooncake-conversation": 12031,
        "mooncake-synthetic": 3993,
        "tracelab-rounds": 19,
    }
    assert all("licenses/" in t["attribution"] for t in doc["traces"])


def test_list_table() -> None:
    out = _run()
    assert "azure-code" in out and "8,819" in out and "tracelab-rounds" in out


def test_show_json_first_rows_and_determinism() -> None:
    out = _run("show", "azure-code", "--json", "--rows", "2")
    doc = json.loads(out)
    assert doc["source"] == "jalapeno/workload/traces/AzureLLMInferenceTrace_code.csv"
    assert [(r["arrival_s"], r["prompt_tokens"], r["output_tokens"]) for r in doc["rows"]] == [
        (0.0, 4808, 10),
        (0.052, 3180, 8),
    ]
    assert out == _run("show", "azure-code", "--json", "--rows", "2")


def test_show_table() -> None:
    out = _run("show", "tracelab", "--rows", "3")
    assert "interarrival_cv" in out and "first 3 of 19 requests" in out and "Attribution" in out


def test_unknown_trace_is_one_error_line(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["traces", "show", "no-such-trace"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown trace 'no-such-trace'") and err.count("\n") == 1
