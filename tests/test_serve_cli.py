"""`jalapeno serve` end to end on short trace slices, and the SVG plotting it uses (report/plots.py)."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from jalapeno.cli import main
from jalapeno.hardware import resolve_chip
from jalapeno.hardware.tco import chip_price, pools_tco
from jalapeno.report.plots import (
    Series,
    cdf_series,
    downsample,
    escape,
    line_svg,
    log_ticks,
    nice_ticks,
    tick_label,
    vline,
)

AZURE_60S = ["--trace", "azure-code", "--model", "llama-3.1-8b", "--hardware", "h200", "--duration-s", "60"]
MOONCAKE_60S = ["--trace", "mooncake-synthetic", "--model", "llama-3.1-8b", "--duration-s", "60"]
SVG = "{http://www.w3.org/2000/svg}"


def serve_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["serve", *args, "--json"]) == 0
    out = capsys.readouterr().out
    return json.loads(out)  # stdout holds the JSON document and nothing else


def check_consistent(doc: dict[str, Any]) -> None:
    assert doc["completed"] + doc["dropped"] == doc["requests"] > 0 and doc["dropped"] == len(
        doc["dropped_requests"]
    )
    for key in ("ttft_s", "tpot_s", "e2e_s", "queue_s"):
        s = doc[key]
        assert 0 <= s["p50"] <= s["p90"] <= s["p99"], (key, s)
    assert 0 <= doc["slo_attainment"] <= 1
    assert doc["goodput_rps"] <= doc["requests"] / doc["duration_s"] + 1e-9


def test_json_azure_slice(capsys: pytest.CaptureFixture[str]) -> None:
    doc = serve_json(capsys, *AZURE_60S)
    for key in (
        "requests",
        "completed",
        "ttft_s",
        "tpot_s",
        "goodput_rps",
        "throughput_tokens_per_s",
        "joules_per_token",
        "avg_power_w",
        "peak_power_w",
        "timings",
        "slo_attainment",
        "dropped",
        "prefix_hit_rate",
        "kv_utilization",
        "preemptions",
        "usd_per_mtok",
        "usd_per_mtok_output",
        "tco",
        "deployment",
    ):
        assert key in doc, key
    check_consistent(doc)
    assert doc["requests"] == doc["workload_stats"]["requests"] == 63
    d = doc["deployment"]
    assert (d["model"], d["hardware"], d["tp"], d["replicas"], d["scheduler"], d["trace"], d["rate"]) == (
        "llama-3.1-8b",
        "h200-sxm",
        1,
        1,
        "vllm",
        "azure-code",
        None,
    )
    assert doc["slo"] == {"ttft_limit_s": 1.0, "tpot_limit_s": 0.025}
    assert doc["joules_per_token"]["output"] > 0 and doc["avg_power_w"] > 0
    assert (
        "dollars_per_million_tokens" not in doc and "usd_per_mtok_replica_hour" not in doc
    )  # one key for the figure in every command: usd_per_mtok
    t = doc["tco"]
    assert (d["price_rule"], t["rule"], t["chips"]) == ("margin", "margin", 1)
    assert t["board_power_w"] == doc["avg_power_w"]  # priced from the simulated power, not TDP
    assert t["tokens_per_s"] == doc["throughput_total_tokens_per_s"]
    assert doc["usd_per_mtok"] == t["usd_per_mtok"] == doc["usd_per_mtok_by_rule"]["margin"] > 0
    # per output token costs more than per token processed (prompt + output) by their ratio
    assert math.isclose(
        doc["usd_per_mtok_output"] / doc["usd_per_mtok"],
        doc["throughput_total_tokens_per_s"] / doc["throughput_tokens_per_s"],
    )
    by = doc["usd_per_mtok_by_rule"]
    assert (
        by["cost"] < by["margin"] < by["street"]
    )  # H200: $5.0k at cost < $20.1k at 75% margin < $35k street


def test_json_is_deterministic_apart_from_wall_times(capsys: pytest.CaptureFixture[str]) -> None:
    a, b = (serve_json(capsys, *AZURE_60S, "--ttft-slo", "0.5", "--tpot-slo", "0.05") for _ in range(2))
    for doc in (a, b):
        del doc["timings"]
    assert a == b
    assert a["slo"] == {"ttft_limit_s": 0.5, "tpot_limit_s": 0.05}


def test_rate_rescales_the_trace(capsys: pytest.CaptureFixture[str]) -> None:
    doc = serve_json(capsys, *AZURE_60S, "--rate", "4")
    assert math.isclose(doc["workload_stats"]["mean_rate_per_s"], 4.0)
    assert doc["deployment"]["rate"] == 4.0
    check_consistent(doc)


def test_poisson_arrivals_follow_the_seed(capsys: pytest.CaptureFixture[str]) -> None:
    a = serve_json(capsys, *AZURE_60S, "--arrivals", "poisson", "--seed", "1")
    b = serve_json(capsys, *AZURE_60S, "--arrivals", "poisson", "--seed", "2")
    assert a["requests"] == b["requests"] == 63 and a["output_tokens"] == b["output_tokens"]
    assert a["workload_stats"]["span_s"] != b["workload_stats"]["span_s"]


def test_timeline_and_plots(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    timeline, plots = tmp_path / "timeline.json", tmp_path / "plots" / "run1"
    doc = serve_json(
        capsys, *AZURE_60S, "--trace-out", str(timeline), "--plot-dir", str(plots), "--trace-events", "500"
    )
    check_consistent(doc)
    events = json.loads(timeline.read_text())
    assert len(events["traceEvents"]) <= 500 + 10  # the cap, plus process-name metadata
    assert {e["ph"] for e in events["traceEvents"]} >= {"M", "X", "b", "e", "C"}
    for name in ("latency_cdf.svg", "power.svg"):
        root = ET.fromstring((plots / name).read_text())
        assert root.tag == f"{SVG}svg"
        assert root.findall(f".//{SVG}path") or root.findall(f".//{SVG}polyline")
        texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
        assert "llama-3.1-8b" in texts
    legend = " ".join(t.text or "" for t in ET.parse(plots / "latency_cdf.svg").iter(f"{SVG}text"))
    assert "TTFT" in legend and "TPOT" in legend and "TTFT SLO 1 s" in legend


def test_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", *AZURE_60S]) == 0
    out = capsys.readouterr().out
    assert "$/Mtok (margin price rule, docs/tco.md)" in out and "other rules: cost $" in out
    for word in (
        "TTFT",
        "TPOT",
        "E2E",
        "goodput",
        "SLO attainment",
        "J/tok",
        "power avg / peak",
        "prefix hit rate",
        "KV utilization",
        "preemptions",
        "$ / Mtok",
        "sim wall time",
    ):
        assert word in out, word


@pytest.mark.parametrize(
    "args",
    [
        ("--scheduler", "sarathi"),
        ("--prefix-cache", "--replicas", "2", "--router", "prefix_affinity"),
        ("--topology", "disagg", "--prefill-replicas", "2", "--decode-replicas", "1", "--prefix-cache"),
        (
            "--speculative",
            "3",
            "--acceptance",
            "0.7",
            "--prefix-cache",
            "--tier-gb",
            "50",
            "--preemption",
            "swap",
        ),
    ],
)
def test_policies_on_mooncake(capsys: pytest.CaptureFixture[str], args: tuple[str, ...]) -> None:
    doc = serve_json(capsys, *MOONCAKE_60S, *args)
    check_consistent(doc)
    if "--prefix-cache" in args:
        assert doc["prefix_hit_rate"] > 0
    if "disagg" in args:
        d = doc["deployment"]
        assert (d["replicas"], d["prefill_replicas"], d["decode_replicas"], doc["replicas"]) == (3, 2, 1, 3)


def test_disagg_decode_on_another_chip(capsys: pytest.CaptureFixture[str]) -> None:
    doc = serve_json(
        capsys,
        *MOONCAKE_60S,
        "--limit",
        "40",
        "--topology",
        "disagg",
        "--decode-hardware",
        "h100",
        "--kv-link-gbps",
        "200",
    )
    check_consistent(doc)
    d = doc["deployment"]
    assert (d["decode_hardware"], d["kv_link_gbps"]) == ("h100-sxm", 200.0)
    # one H200 prefill chip and one H100 decode chip, each at its own price
    prices = [p["price_usd_by_rule"]["margin"] for p in doc["tco"]["chip_prices"]]
    assert doc["tco"]["price_usd"] == pytest.approx(sum(prices))
    assert prices == pytest.approx([chip_price(resolve_chip(c)).margin_usd for c in ("h200", "h100")])


def test_tpu_is_priced_from_its_derived_cost_and_an_unpriced_chip_says_why(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """tpu-v5e has no street price but a derived manufacturing cost: priced by margin and cost, street falls
    back to margin. A chip file with neither has no $/Mtok and the JSON says why."""
    doc = serve_json(
        capsys, "--trace", "azure-code", "--model", "llama-3.2-1b", "--hardware", "tpu-v5e", "--limit", "5"
    )
    by = doc["usd_per_mtok_by_rule"]
    assert (
        doc["usd_per_mtok_missing"] is None
        and doc["usd_per_mtok"] == by["margin"] == by["street"] > by["cost"] > 0
    )
    assert doc["tco"]["price_usd"] == pytest.approx(chip_price(resolve_chip("tpu-v5e")).margin_usd)
    from jalapeno.hardware.loader import chip_to_dict

    d = chip_to_dict(resolve_chip("tpu-v5e"))
    del d["extra"]["cost.total_usd"]
    (tmp_path / "c.yaml").write_text(json.dumps(d), encoding="utf-8")
    assert pools_tco([(resolve_chip(str(tmp_path / "c.yaml")), 1)], 100.0, 1e3, 1e2) is None
    doc = serve_json(
        capsys,
        "--trace",
        "azure-code",
        "--model",
        "llama-3.2-1b",
        "--hardware",
        str(tmp_path / "c.yaml"),
        "--limit",
        "5",
    )
    assert doc["usd_per_mtok"] is None and doc["tco"] is None
    assert doc["usd_per_mtok_by_rule"] == {"margin": None, "cost": None, "street": None}
    assert "tpu-v5e has no manufacturing cost" in doc["usd_per_mtok_missing"]


def test_price_rule_street(capsys: pytest.CaptureFixture[str]) -> None:
    doc = serve_json(capsys, *AZURE_60S, "--limit", "10", "--price-rule", "street")
    assert doc["tco"]["price_usd"] == 35000.0  # the H200 preset's street price
    assert doc["usd_per_mtok"] == doc["usd_per_mtok_by_rule"]["street"]


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (("--trace", "no-such-trace"), "--trace"),
        (("--model", "no-such-model"), "--model"),
        (("--hardware", "no-such-chip"), "--hardware"),
        (("--replicas", "-1"), "--replicas"),
        (("--replicas", "two"), "--replicas"),
        (("--rate", "-3"), "--rate"),
        (("--tp", "0"), "--tp"),
        (("--ttft-slo", "0"), "--ttft-slo"),
        (("--duration-s", "-60"), "--duration-s"),
        (("--scheduler", "fifo"), "--scheduler"),
        (("--router", "random"), "--router"),
        (("--price-rule", "list"), "--price-rule"),
        (("--acceptance", "0.5"), "--acceptance"),
        (("--decode-hardware", "h100"), "--decode-hardware"),
        (("--topology", "disagg", "--replicas", "2"), "--replicas"),
        (("--topology", "ring"), "--topology"),
        (("--model", "llama-3.1-70b"), "memory"),
        (("--trace-out", "/no/such/dir/t.json"), "--trace-out"),
    ],
)
def test_bad_input_is_one_error_line(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], flag: str
) -> None:
    argv = ["serve", "--model", "llama-3.1-8b", "--limit", "5", *args, "--json"]
    assert main(argv) == 2
    cap = capsys.readouterr()
    assert cap.out == ""
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {flag}:"), cap.err


# --- report/plots.py ------------------------------------------------------------------------------------
def test_nice_ticks() -> None:
    assert nice_ticks(0, 1) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0.013, 0.87) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0, 3439) == [0.0, 1000.0, 2000.0, 3000.0, 4000.0]
    assert nice_ticks(-0.3, 0.7) == [-0.4, -0.2, 0.0, 0.2, 0.4, 0.6, 0.8]
    assert nice_ticks(5, 5) == [4.4, 4.6, 4.8, 5.0, 5.2, 5.4, 5.6]  # a point: widened by 10% each side
    assert nice_ticks(0.1, 0.3) == [0.1, 0.15, 0.2, 0.25, 0.3]  # no 0.30000000000000004


def test_log_ticks_and_labels() -> None:
    assert log_ticks(0.004, 12.5) == [0.001, 0.01, 0.1, 1.0, 10.0, 100.0]
    assert log_ticks(0.2, 3) == [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0]
    assert log_ticks(1e-6, 1e6)[:3] == [1e-6, 1e-4, 1e-2]
    assert [tick_label(v) for v in (0, 0.25, 40, 2000, 1e5, 2.5e-4, -3e9)] == [
        "0",
        "0.25",
        "40",
        "2000",
        "1e5",
        "2.5e-4",
        "-3e9",
    ]


def test_text_is_escaped() -> None:
    assert escape('<a & "b">\x00\x07') == "&lt;a &amp; &quot;b&quot;&gt;"
    evil = '</text><script>alert("x")</script> & \x01'
    svg = line_svg([Series(evil, (1, 2, 3), (1, 4, 9))], title=evil, xlabel=evil, ylabel="y")
    root = ET.fromstring(svg)
    assert not list(root.iter("script")) and not list(root.iter(f"{SVG}script"))
    assert root.find(f"{SVG}title").text == evil.replace("\x01", "")  # type: ignore[union-attr]


def test_cdf_downsample_and_lines() -> None:
    s = cdf_series([3.0, 1.0, float("nan"), 2.0, float("inf")], "x")
    assert (s.x, s.y) == ((1.0, 2.0, 3.0), (1 / 3, 2 / 3, 1.0))
    big = cdf_series(range(1, 10_001), "big", max_points=100)
    assert len(big.x) == 100 and big.x[0] == 1 and big.x[-1] == 10_000 and big.y[-1] == 1.0
    xs, ys, k = downsample(list(range(10)), [1.0] * 5 + [3.0] * 5, 5)
    assert (xs, ys, k) == ([0.5, 2.5, 4.5, 6.5, 8.5], [1.0, 1.0, 2.0, 3.0, 3.0], 2)
    with pytest.raises(ValueError, match="2 x values but 1 y values"):
        Series("bad", (1, 2), (1,))
    gap = Series("gap", (1, 2, 3), (1, float("nan"), 2))
    svg = line_svg(
        [cdf_series([0.01, 0.1, 1.0], "a"), vline(0.5, "slo"), gap],
        title="t",
        xlabel="x",
        ylabel="y",
        logx=True,
        ylim=(0, 1),
    )
    paths = ET.fromstring(svg).findall(f".//{SVG}path")
    assert len(paths) == 3 and paths[2].get("d", "").count("M") == 2  # the NaN breaks the line
    empty = ET.fromstring(line_svg([], title="t", xlabel="x", ylabel="y"))
    assert "no data" in [t.text for t in empty.iter(f"{SVG}text")]


def test_scheduler_disagg_is_a_deprecated_alias_of_topology_disagg(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """For one release, ``--scheduler disagg`` still runs the disaggregated topology with the sarathi prefill
    pool it meant, warns on stderr, and gives the same numbers as ``--topology disagg``."""
    args = (*MOONCAKE_60S, "--limit", "30", "--prefill-replicas", "2", "--no-timings")
    old = serve_json(capsys, *args, "--scheduler", "disagg")
    assert main(["serve", *args, "--topology", "disagg", "--json"]) == 0
    captured = capsys.readouterr()
    assert "deprecated" not in captured.err
    assert json.loads(captured.out) == old
    assert (old["deployment"]["topology"], old["deployment"]["scheduler"]) == ("disagg", "sarathi")
    assert main(["serve", *args, "--scheduler", "disagg", "--json"]) == 0
    assert "use --topology disagg" in capsys.readouterr().err
