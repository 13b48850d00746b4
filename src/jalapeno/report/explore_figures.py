"""The report's figures, from a ``explore.study.Study``: each function returns one SVG document."""

from __future__ import annotations

import math
from typing import Any

from jalapeno.report.charts import Points, bars_svg, roofline_svg, scatter_svg
from jalapeno.report.plots import PALETTE, Series, cdf_series, downsample, line_svg, vline

NAMES = {"jalapeno-1": "Jalapeño-1", "h100-sxm": "H100", "h200-sxm": "H200", "b200": "B200"}
COLORS = {"jalapeno-1": "#D55E00", "h100-sxm": "#56B4E9", "h200-sxm": "#0072B2", "b200": "#009E73"}
PER_KW = 1e3  # goodput per watt is stored in req/s/W; figures print req/s per kW


def chip_label(chip: str) -> str:
    return NAMES.get(chip, chip)


def pareto_svg(study: Any) -> str:
    """The search's trials in goodput/W vs $/Mtoken, the Pareto set joined, each chip's best deployment."""
    res = study.search
    ok = res.feasible
    par = res.pareto()
    series = [
        Points(
            "feasible trials",
            tuple(t.evaluation.objectives["usd_per_mtok"] for t in ok),
            tuple(t.evaluation.objectives["goodput_per_watt"] * PER_KW for t in ok),
            "#BBBBBB",
            3.0,
        ),
        Points(
            "Pareto set of this search",
            tuple(t.evaluation.objectives["usd_per_mtok"] for t in par),
            tuple(t.evaluation.objectives["goodput_per_watt"] * PER_KW for t in par),
            "#CC79A7",
            4.0,
        ),
    ]
    for chip, run in study.runs[study.main].items():
        ev = run.evaluation
        if ev is None or "goodput_per_watt" not in ev.objectives:
            continue
        mark = "" if ev.feasible else " (misses SLO)"
        series.append(
            Points(
                f"{chip_label(chip)} best fleet{mark}",
                (ev.objectives["usd_per_mtok"],),
                (ev.objectives["goodput_per_watt"] * PER_KW,),
                COLORS.get(chip),
                6.0,
                names=(chip_label(chip),),
            )
        )
    return scatter_svg(
        series,
        title=f"Search on {study.main}: goodput per watt vs cost",
        xlabel="$ per million tokens (log)",
        ylabel="goodput (req/s) per kW of fleet power",
        logx=True,
        ylim=(0.0, None),
    )


def roofline(study: Any, chips: tuple[str, ...] = ("jalapeno-1", "h200-sxm")) -> str:
    roofs, points = [], []
    prec = study.workloads[study.main].precision()
    chips = tuple(c for c in chips if c in study.chips) or tuple(study.chips)[:2]
    for chip in chips:
        c = study.chips[chip]
        roofs.append(
            (
                f"{chip_label(chip)} roof ({prec.compute})",
                c.peak_flops(prec.compute),
                c.memory_bandwidth_bytes_per_s,
            )
        )
        for phase in ("decode", "prefill"):
            sc = study.steps[chip][phase]
            xs, ys, names = [], [], []
            for oc in sc.ops:
                op, t = oc.op, oc.time.time_s
                if op.flops > 0 and op.bytes > 0 and t > 0:
                    xs.append(op.flops / op.bytes)
                    ys.append(op.flops / t)
                    names.append(op.name)
            points.append(
                Points(f"{chip_label(chip)} {phase} ops", tuple(xs), tuple(ys), None, 4.0, names=())
            )
    s = study.steps[chips[0]]
    return roofline_svg(
        roofs,
        points,
        title=f"Roofline: {study.workloads[study.main].model} operators "
        f"(decode {s['batch']} x {s['context']}, prefill {s['prompt']})",
    )


def _op_class(op: Any) -> str:
    if op.kind in ("matmul", "lm_head", "router", "moe"):
        return "matmuls"
    if op.kind == "attention":
        return "attention"
    return "elementwise, norms"


def time_breakdown(study: Any) -> str:
    rows: list[str] = []
    parts: dict[str, list[float]] = {
        "matmuls": [],
        "attention": [],
        "elementwise, norms": [],
        "launch, comm, other": [],
    }
    for chip in study.steps:
        for phase in ("decode", "prefill"):
            sc = study.steps[chip][phase]
            acc = dict.fromkeys(parts, 0.0)
            for oc in sc.ops:
                acc[_op_class(oc.op)] += oc.total_s
            acc["launch, comm, other"] = max(0.0, sc.time_s - sum(acc.values()))
            rows.append(f"{chip_label(chip)} {phase}")
            for k, col in parts.items():
                col.append(acc[k] * 1e3)
    s = next(iter(study.steps.values()))
    return bars_svg(
        rows,
        list(parts.items()),
        title=f"Step time by operator class (decode {s['batch']} x {s['context']}, "
        f"prefill {s['prompt']} tokens)",
        xlabel="milliseconds per step",
    )


def energy_breakdown(study: Any) -> str:
    """Energy per token of a step: static power x time, matrix/vector FLOPs, main-memory bytes."""
    rows: list[str] = []
    parts: dict[str, list[float]] = {"static (idle + active)": [], "FLOPs": [], "memory bytes": []}
    for chip in study.steps:
        d = study.steps[chip]
        prm = d["params"]
        est_idle = (
            study.chips[chip].idle_w.value
            if study.chips[chip].idle_w
            else 0.1 * study.chips[chip].tdp_w.value
        )
        for phase, tokens in (("decode", d["batch"]), ("prefill", d["prompt"])):
            sc = d[phase]
            static = (est_idle + prm.active_static_w) * sc.time_s
            flops = sum(oc.op.flops * oc.op.repeat * prm.pj_flop(oc.op.dtype) for oc in sc.ops) * 1e-12
            mem = sum(oc.op.bytes * oc.op.repeat * prm.pj_per_byte_mem for oc in sc.ops) * 1e-12
            dyn = max(sc.energy_j - static, 0.0)
            scale = dyn / (flops + mem) if flops + mem > 0 else 0.0
            rows.append(f"{chip_label(chip)} {phase}")
            for k, v in zip(parts, (static, flops * scale, mem * scale), strict=True):
                parts[k].append(v / tokens * 1e3)
    return bars_svg(
        rows,
        list(parts.items()),
        title="Energy per token of a step, by what it pays for",
        xlabel="millijoules per token",
    )


def latency_cdfs(study: Any, workload: str) -> str:
    series, slo = [], study.workloads[workload]
    for chip in study.runs[workload]:
        res = study.sims.get((workload, chip))
        if res is None:
            continue
        c = COLORS.get(chip)
        series.append(cdf_series(res.per_request["ttft_s"], f"{chip_label(chip)} TTFT", color=c))
        series.append(cdf_series(res.per_request["tpot_s"], f"{chip_label(chip)} TPOT", color=c, dashed=True))
    series += [
        vline(slo.slo_ttft_s, "TTFT SLO", color="#000000"),
        vline(slo.slo_tpot_s, "TPOT SLO", color="#666666"),
    ]
    return line_svg(
        series,
        title=f"Latency CDFs on {workload} (each chip at its best fleet)",
        xlabel="seconds (log)",
        ylabel="fraction of requests",
        logx=True,
        ylim=(0.0, 1.0),
        width=860,
        height=400,
    )


def power_over_time(study: Any, workload: str) -> str:
    series = []
    for chip in study.runs[workload]:
        res = study.sims.get((workload, chip))
        if res is None or not res.power_series:
            continue
        t0 = res.power_series[0][0]
        xs, ys, _ = downsample([t - t0 for t, _ in res.power_series], [w for _, w in res.power_series], 600)
        series.append(
            Series(
                f"{chip_label(chip)} ({res.avg_power_w:,.0f} W mean)", tuple(xs), tuple(ys), COLORS.get(chip)
            )
        )
    return line_svg(
        series,
        title=f"Fleet power over time on {workload}",
        xlabel="seconds",
        ylabel="watts",
        ylim=(0.0, None),
        width=860,
        height=380,
    )


def summary_svg(study: Any) -> str:
    """The README picture: goodput per watt relative to H200, per workload, and $/Mtoken on azure-code."""
    rows, vals = [], []
    for w, runs in study.runs.items():
        ref = runs.get("h200-sxm")
        base = (
            ref.evaluation.objectives.get("goodput_per_watt")
            if ref and ref.evaluation and ref.feasible
            else None
        )
        for chip, run in runs.items():
            ev = run.evaluation
            g = ev.objectives.get("goodput_per_watt", 0.0) if ev is not None and run.feasible else 0.0
            rows.append(f"{w}: {chip_label(chip)}")
            vals.append(g / base if base else 0.0)
    return bars_svg(
        rows,
        [("goodput per watt / H200's (0 = no fleet meets the SLO)", vals)],
        title="Jalapeño-1 vs GPUs: goodput per watt at the SLO, relative to H200",
        xlabel="x H200",
        fmt="{:.2f}x",
    )


def finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


__all__ = [
    "COLORS",
    "NAMES",
    "PALETTE",
    "chip_label",
    "energy_breakdown",
    "finite",
    "latency_cdfs",
    "pareto_svg",
    "power_over_time",
    "roofline",
    "summary_svg",
    "time_breakdown",
]
