"""What ``jalapeno serve`` prints and plots: the run table, the TCO line, the latency CDF and power SVGs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jalapeno.serving import SimResult


POWER_PLOT_POINTS = 1500


def write_plots(plot_dir: Path, res: SimResult, title: str) -> list[Path]:
    """``latency_cdf.svg`` and ``power.svg`` in ``plot_dir``."""
    paths = [plot_dir / "latency_cdf.svg", plot_dir / "power.svg"]
    for path, svg in zip(paths, (latency_cdf_svg(res, title), power_svg(res, title)), strict=True):
        path.write_text(svg, encoding="utf-8")
    return paths


def latency_cdf_svg(res: SimResult, title: str) -> str:
    """TTFT and TPOT CDFs of the completed requests on a log axis, the SLO thresholds dashed."""
    from jalapeno.report.plots import PALETTE, cdf_series, line_svg, vline

    cols, slo = res.per_request, res.slo
    series = [
        cdf_series(cols.get("ttft_s", ()), "TTFT", color=PALETTE[0]),
        cdf_series(cols.get("tpot_s", ()), "TPOT", color=PALETTE[1]),
        vline(slo.ttft_s, f"TTFT SLO {slo.ttft_s:g} s", color=PALETTE[0]),
        vline(slo.tpot_s, f"TPOT SLO {slo.tpot_s:g} s", color=PALETTE[1]),
    ]
    return line_svg(
        series,
        title=f"Latency CDF, {res.completed:,} completed requests: {title}",
        xlabel="latency (s)",
        ylabel="fraction of requests",
        logx=True,
        ylim=(0.0, 1.0),
        width=760,
    )


def power_svg(res: SimResult, title: str) -> str:
    """Fleet power per window (bucket means beyond POWER_PLOT_POINTS points) and its average."""
    from jalapeno.report.plots import PALETTE, Series, downsample, hline, line_svg

    pts = res.power_series
    t0 = pts[0][0] if pts else 0.0
    span = pts[-1][0] - t0 if pts else 0.0
    unit, div = ("h", 3600.0) if span > 3 * 3600 else ("min", 60.0) if span > 1200 else ("s", 1.0)
    xs, ys, k = downsample([(t - t0) / div for t, _ in pts], [w for _, w in pts], POWER_PLOT_POINTS)
    series = [
        Series(f"fleet power ({k * res.power_window_s:g} s windows)", tuple(xs), tuple(ys), PALETTE[0]),
        hline(
            res.avg_power_w,
            f"average {res.avg_power_w:,.0f} W",
            x=(0.0, xs[-1] if xs else 1.0),
            color=PALETTE[1],
        ),
    ]
    return line_svg(
        series,
        title=f"Fleet power: {title}",
        xlabel=f"time ({unit})",
        ylabel="power (W)",
        ylim=(0.0, None),
        width=760,
    )


def print_run(doc: dict[str, Any], files: list[str]) -> None:
    from rich.console import Console
    from rich.markup import escape

    from jalapeno.report.console import serving_table

    d = {k: escape(v) if isinstance(v, str) else v for k, v in doc["deployment"].items()}
    w = {k: escape(v) if isinstance(v, str) else v for k, v in doc["workload_stats"].items()}
    con = Console()
    pools = (
        f"{d['prefill_replicas']} prefill + {d['decode_replicas']} decode replicas"
        if d["topology"] == "disagg"
        else f"{d['replicas']} replica{'s' * (d['replicas'] != 1)}"
    )
    decode = f" (decode on {d['decode_hardware']})" if d["decode_hardware"] else ""
    if d["topology"] == "disagg" and doc["deployment"]["decode_parallel"] != doc["deployment"]["parallel"]:
        dchip = d["decode_hardware"] or d["hardware"]
        decode = f" (decode on {d['decode_chips_per_replica']} x {dchip}; {d['chips']} chips in all)"
    con.print(
        f"[bold]{d['model']}[/] on [bold]{d['chips_per_replica']} x {d['hardware']}[/]{decode} "
        f"({d['precision']}), {pools}, {d['scheduler']}, {d['router']}"
        + (", prefix cache" if d["prefix_cache"] else "")
    )
    if not str(doc["deployment"]["model_source"]).startswith("bundled:"):
        con.print(f"model config: {d['model_source']}")
    origin = "" if str(doc["workload_stats"]["source"]).startswith("jalapeno/") else f" (file {w['source']})"
    con.print(
        f"trace {w['name']}{origin}: {w['requests']:,} requests over {w['span_s']:,.0f} s "
        f"({w['mean_rate_per_s']:.3g} req/s); cost parameters: {d['cost_params']}"
    )
    con.print(serving_table(doc))
    con.print(tco_line(doc))
    for f in files:
        con.print(f"wrote {escape(f)}")


def tco_line(doc: dict[str, Any]) -> str:
    """One line on what the $/Mtok figure is made of, and what the other price rules give."""
    t, rule = doc["tco"], doc["deployment"]["price_rule"]
    others = ", ".join(
        f"{r} ${v:.3g}" if v is not None else f"{r} -"
        for r, v in doc["usd_per_mtok_by_rule"].items()
        if r != rule
    )
    if t is None:
        return f"no $/Mtok: {doc['usd_per_mtok_missing']} (other rules: {others})"
    n = t["chips"]
    return (
        f"$/Mtok ({rule} price rule, docs/tco.md): {n} x ${t['price_usd'] / n:,.0f} chip + "
        f"${t['system_usd'] / n:,.0f} host and network each; {t['board_power_w']:,.0f} W board + "
        f"{t['host_power_w']:,.0f} W host x PUE = {t['wall_power_w']:,.0f} W at the wall; "
        f"other rules: {others}"
    )
