"""The HTML report: a small real study rendered, self-contained, and opened in headless Chromium."""

from __future__ import annotations

import re
import subprocess

import pytest
from test_explore_helpers import write_files

from jalapeno.commands.report import find_browser, headless_args
from jalapeno.explore.compare import Sweep
from jalapeno.explore.study import run_study
from jalapeno.report.charts import Points, bars_svg, roofline_svg, scatter_svg
from jalapeno.report.explore_figures import summary_svg
from jalapeno.report.explore_report import render
from jalapeno.report.html import Section, page, table


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    s, w = write_files(tmp)
    sweep = Sweep(tps=(1,), schedules=(("sarathi", 512, 0.5),), replicas=(1, 2), after_feasible=0)
    study = run_study(
        quick=True,
        trials=4,
        workers=1,
        workloads=(str(w),),
        chips=("jalapeno-1", "h200-sxm"),
        sweep=sweep,
        space=str(s),
    )
    html = render(study)
    path = tmp / "report.html"
    path.write_text(html, encoding="utf-8")
    return study, html, path


def test_report_is_self_contained(report):
    _, html, _ = report
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html and "<link" not in html and not re.search(r'\s(src|href)="https?:', html)
    assert html.count("<svg") >= 6  # Pareto, roofline, time, energy, and per workload latency CDFs and power
    for title in (
        "Headline",
        "Co-design search",
        "Roofline",
        "Jalapeño-1 spec sheet",
        "Sources of every number",
    ):
        assert title in html
    assert "Goodput per watt = SLO-meeting requests per second" in html


def test_report_is_deterministic_given_the_study(report):
    study, html, _ = report
    assert render(study) == html
    assert summary_svg(study).startswith("<svg")


def test_report_renders_in_headless_chromium(report, tmp_path):
    browser = find_browser()
    if browser is None:
        pytest.skip("no chromium (apt-get install -y chromium)")
    _, html, path = report
    out = subprocess.run(
        [*headless_args(browser), f"--user-data-dir={tmp_path}", "--dump-dom", path.as_uri()],
        check=False,
        capture_output=True,
        timeout=120,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    dom, log = out.stdout, out.stderr
    assert dom.count("<svg") == html.count("<svg") >= 6 and "<circle" in dom and "<path" in dom
    console = [ln for ln in log.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
    assert not console, console


def test_charts_escape_and_handle_empty_input():
    svg = scatter_svg(
        [Points("a<b", (1.0, 2.0), (3.0, float("nan")), names=("x&y", ""))],
        title="t<",
        xlabel="x",
        ylabel="y",
    )
    assert "a&lt;b" in svg and "x&amp;y" in svg and "t&lt;" in svg
    assert "<svg" in roofline_svg([("roof", 1e15, 1e12)], [Points("ops", (), ())], title="r")
    b = bars_svg(["r1", "r2"], [("p", [1.0, 0.0]), ("q", [0.5, 2.0])], title="b", xlabel="x")
    assert b.count("<rect") >= 4


def test_page_escapes_text():
    html = page("a & b", [Section("s<1>", [table(["h"], [["<i>"]])])])
    assert "a &amp; b" in html and "&lt;i&gt;" in html and "<i>" not in html
