"""The Jalapeño report page: ``render(study) -> html`` (sections, tables with sources, inline SVG figures)."""

from __future__ import annotations

import re
from typing import Any

from jalapeno.report import explore_figures as fig
from jalapeno.report.html import Section, bullets, figure, note, page, para, table

PER_KW = fig.PER_KW


def _f(v: Any, digits: int = 3) -> str:
    from jalapeno.report.fmt import si

    if not fig.finite(v):
        return "-"
    if abs(v) >= 1e6:
        return si(v, "", digits)
    return f"{v:,.{digits}g}" if abs(v) < 1e4 else f"{v:,.0f}"


def short(source: str) -> str:
    """A source without this machine's checkout path (files named from the package root)."""
    return re.sub(r"\S*/src/jalapeno/", "jalapeno/", source)


def calibration(study: Any, chip: str) -> str:
    from jalapeno.cost.params import setup_for

    prm, _ = setup_for(study.chips[chip], "fused")
    if chip == "jalapeno-1":
        return "derived architecture: energies from the technology library (estimates), timed by the mapper"
    if prm.calibrated and "published rows" in prm.source:
        return "fitted on published MLPerf results (docs/validation-published.md)"
    return (
        "calibrated on H200 measurements"
        if prm.calibrated and "transferred" not in prm.source
        else "H200 calibration transferred (same GH100 die)"
        if prm.calibrated
        else "uncalibrated defaults"
    )


def comparison_rows(study: Any, workload: str) -> tuple[list[list[str]], list[int]]:
    runs = study.runs[workload]
    ref = runs.get("h200-sxm")
    ref_ok = ref is not None and ref.feasible
    ro = ref.evaluation.objectives if ref_ok else {}
    rows, hl = [], []
    for i, (chip, run) in enumerate(runs.items()):
        ev = run.evaluation
        if ev is None:
            rows.append(
                [fig.chip_label(chip), "no deployment fits"] + ["-"] * 10 + [calibration(study, chip)]
            )
            continue
        o, m = ev.objectives, ev.metrics
        g, u = o.get("goodput_per_watt"), o.get("usd_per_mtok")
        ratio = (
            g / ro["goodput_per_watt"] if ref_ok and fig.finite(g) and ro["goodput_per_watt"] > 0 else None
        )
        uratio = u / ro["usd_per_mtok"] if ref_ok and fig.finite(u) else None
        status = "meets SLO" if ev.feasible else "misses: " + "; ".join(ev.reasons)
        rg = getattr(study, "ranges", {}).get(chip, {}) if workload == getattr(study, "main", None) else {}
        rows.append(
            [
                fig.chip_label(chip),
                run.best.label() if run.best else "-",
                str(m.get("chips", "-")),
                _f(g * PER_KW if fig.finite(g) else None),
                f"{ratio:.2f}x" if ratio else "-",
                _band(rg.get("ratio_goodput_per_watt")),
                _f(u),
                f"{uratio:.2f}x" if uratio else "-",
                _band(rg.get("ratio_usd_per_mtok")),
                _f(o.get("ttft_p99_s")),
                _f(m.get("slo_attainment")),
                _f(m.get("avg_power_w")),
                status + "; " + calibration(study, chip) + _published_band(chip),
            ]
        )
        if chip == "jalapeno-1":
            hl.append(i)
    return rows, hl


COMPARE_HEADER = [
    "chip",
    "best fleet (same sweep for all)",
    "chips",
    "goodput/W (req/s/kW)",
    "vs H200",
    "vs H200 p10 / p50 / p90",
    "$/Mtok",
    "vs H200",
    "vs H200 p10 / p50 / p90",
    "p99 TTFT s",
    "SLO attainment",
    "avg fleet W",
    "status; cost model",
]
SOURCE_COL = len(COMPARE_HEADER) - 1


def _band(q: Any) -> str:
    """p10 / p50 / p90 of a ratio over the Monte Carlo draws ('-' without draws)."""
    if not q:
        return "-"
    return " / ".join(f"{q[k]:.2f}x" for k in ("p10", "p50", "p90"))


def _published_band(chip: str) -> str:
    """The chip's model-error band (docs/validation-published.md; for a chip with no published rows and no
    calibrated family, the band of what it runs on, docs/compare.md), where it has one."""
    from jalapeno.cost.params import chip_band, error_band_basis
    from jalapeno.hardware.registry import list_presets, resolve_chip

    b = chip_band(resolve_chip(chip)) if chip in list_presets() else error_band_basis(chip)
    if b is None:
        return ""
    on = "held-out rows"
    if b[2].startswith(("unseen-chip band", "defaults band")):
        on = "chips the model was not fitted on"
    return f"; published / predicted throughput on {on} x{b[0]:.2f}-x{b[1]:.2f}"


def headline(study: Any) -> Section:
    w = study.workloads[study.main]
    rows, hl = comparison_rows(study, study.main)
    runs = study.runs[study.main]
    j1, h200 = runs.get("jalapeno-1"), runs.get("h200-sxm")
    blocks = [para(w.describe()), table(COMPARE_HEADER, rows, highlight=hl, source_cols=[SOURCE_COL])]
    if j1 and h200 and j1.feasible and h200.feasible:
        r = j1.evaluation.objectives["goodput_per_watt"] / h200.evaluation.objectives["goodput_per_watt"]
        c = j1.evaluation.objectives["usd_per_mtok"] / h200.evaluation.objectives["usd_per_mtok"]
        rg = study.ranges.get("jalapeno-1", {})
        g, u = rg.get("ratio_goodput_per_watt"), rg.get("ratio_usd_per_mtok")
        spread = (
            f" Over {study.range_samples} draws of every estimated constant (seed 0) the goodput-per-watt "
            f"ratio spans {g['p10']:.2f}x-{g['p90']:.2f}x (p10-p90, median {g['p50']:.2f}x) and the cost "
            f"ratio {u['p10']:.2f}x-{u['p90']:.2f}x."
            if g and u
            else ""
        )
        blocks.insert(
            0,
            para(
                f"Jalapeño-1 serves {study.main} at the SLO with {r:.2f}x the goodput per watt "
                f"of the calibrated H200 at {c:.2f}x its cost per million tokens.{spread}",
                cls="big",
            ),
        )
    blocks.append(note(ranges_note(study)))
    blocks.append(note(definitions()))
    return Section(f"Headline: {study.main}", blocks, "headline")


def ranges_note(study: Any) -> str:
    return (
        f"Ranges: every constant that is estimated rather than measured (technology-library energies and the "
        "library-to-silicon factor, board and idle power, static-schedule costs, TCO constants, chip costs) "
        f"is drawn from its documented range, {study.range_samples} seeded draws shared by every chip, and "
        "each chip's ratio to the H200 at its best fleet is re-priced or re-simulated per draw "
        "(`jalapeno compare --workload " + study.main + " --chips h200,...` gives the same with more draws; "
        "docs/compare.md). GPU rows also state their held-out error band on published results, where fitted."
    )


def definitions() -> str:
    return (
        "Goodput per watt = SLO-meeting requests per second / average fleet power (W), i.e. SLO-meeting "
        "requests per joule of fleet energy, idle power of every chip included (the serving simulator's "
        "energy: every step's energy plus idle power while waiting); printed per kW. "
        + tco_definition()
        + " A fleet "
        "meets the SLO when at least 90% of requests have TTFT <= 1 s and TPOT <= 25 ms."
    )


def tco_definition() -> str:
    """The $/Mtok rule in words, with the constants it runs on (hardware/tco.py, docs/tco.md)."""
    from jalapeno.hardware.tco import value

    return (
        f"$/Mtok = (fleet chips at (manufacturing cost + NRE / volume) / (1 - {value('margin'):.0%} margin), "
        f"the same rule for every chip, + ${value('system.host_usd') + value('system.network_usd'):,.0f} of "
        f"host and network per chip, over {value('lifetime_years'):g} years) + (simulated average fleet "
        f"power + {value('host_power_w'):g} W host per chip) x PUE {value('pue'):g} x "
        f"${value('usd_per_kwh'):g}/kWh, "
        "per million prompt + output tokens served (constants and their ranges: docs/tco.md)."
    )


def other_workloads(study: Any) -> Section:
    blocks = []
    for w in study.runs:
        if w == study.main:
            continue
        rows, hl = comparison_rows(study, w)
        blocks += [
            f"<h3>{w}</h3>",
            para(study.workloads[w].describe()),
            table(COMPARE_HEADER, rows, highlight=hl, source_cols=[SOURCE_COL]),
        ]
    return Section("Mooncake traffic and agentic-coding sessions", blocks, "other-workloads")


def search_section(study: Any) -> Section:
    from jalapeno.explore.pareto import hypervolume_2d
    from jalapeno.explore.study import jalapeno1_design

    s = study.search
    ref = {"goodput_per_watt": 0.0, "usd_per_mtok": 1.0}
    rows = []
    for name, r in (("nsga2 + surrogate screening", s), ("random (baseline)", study.baseline)):
        if r is None:
            continue
        b = r.best()
        rows.append(
            [
                name,
                str(len(r.trials)),
                str(len(r.feasible)),
                str(r.screened),
                _f(b.evaluation.objectives["goodput_per_watt"] * PER_KW) if b else "-",
                _f(hypervolume_2d([t.evaluation.objectives for t in r.feasible], ref) * PER_KW),
                _f(r.wall_s),
            ]
        )
    j = jalapeno1_design()
    blocks = [
        para(
            f"A small search of the {study.space.name} space (processor and fleet) on {study.main}, run by "
            "this report; feasible trials in grey, its Pareto set joined, each chip's best fleet marked."
        ),
        figure(
            fig.pareto_svg(study),
            "Goodput per watt (higher is better) against $/Mtoken (lower is better). The "
            "Pareto set is over three objectives (p99 TTFT too), so some of its "
            "members look dominated in this projection.",
        ),
        table(
            [
                "searcher",
                "trials",
                "feasible",
                "screened out",
                "best goodput/W (req/s/kW)",
                "hypervolume (goodput/W x $/Mtok, ref 0 and $1)",
                "wall s",
            ],
            rows,
        ),
        note(f"Jalapeño-1 itself came from a longer search: {j.get('provenance', '')}"),
    ]
    imp = getattr(s, "importance", None)
    if imp is not None:  # optuna's parameter importance over this search (explore/importance.py)
        blocks.insert(
            -1,
            para(
                f"What decides goodput per watt in this search (optuna {imp.evaluator} over "
                f"its {imp.trials} trials; infeasible trials count as 0; importances sum to 1): "
                + ", ".join(f"{k} {v:.2f}" for k, v in imp.top())
            ),
        )
    return Section("Co-design search", blocks, "search")


def where_time_goes(study: Any) -> Section:
    s = next(iter(study.steps.values()))
    return Section(
        "Where the time and the energy go",
        [
            figure(
                fig.roofline(study),
                "Each operator of a decode step and a prefill on Jalapeño-1 and H200: arithmetic "
                "intensity against attained FLOP/s, under each chip's roof (peak and main-memory "
                "bandwidth).",
            ),
            figure(
                fig.time_breakdown(study),
                "Step time by operator class, one chip each (tp 1), from the cost model "
                "(mapper for Jalapeño-1, calibrated roofline model for the GPUs).",
            ),
            figure(
                fig.energy_breakdown(study),
                f"Energy per token of the same steps (decode {s['batch']} sequences, prefill "
                f"{s['prompt']} tokens): static power over the step, FLOPs, main-memory bytes.",
            ),
        ],
        "breakdown",
    )


def traffic_section(study: Any) -> Section:
    blocks = []
    for w in study.runs:
        blocks.append(
            figure(fig.latency_cdfs(study, w), f"TTFT (solid) and TPOT (dashed) of every request on {w}.")
        )
        blocks.append(
            figure(fig.power_over_time(study, w), f"Fleet power (1 s windows) on {w}: bursts and idle.")
        )
    return Section("Latency and fleet power over time", blocks, "traffic")


def spec_sheet(study: Any) -> Section:
    from jalapeno.hardware.arch import sheet

    chip = study.chips["jalapeno-1"]
    sh = sheet(chip.arch)
    a = chip.arch
    engines = (
        f"{a.cores.count.value:g} cores x {a.cores.matrix.engines.value:g} systolic "
        f"{a.cores.matrix.rows.value:g}x{a.cores.matrix.cols.value:g} arrays, "
        f"{', '.join(a.cores.matrix.rates)}"
    )
    summary = [
        ["matrix engines", engines],
        ["peak", ", ".join(f"{d} {p.value / 1e15:.2f} PFLOP/s" for d, p in sh.matrix_flops.items())],
        ["clock, voltage, node", f"{a.clock_hz.value / 1e9:g} GHz, {a.voltage_v.value:g} V, {a.node.value}"],
        [
            "memory",
            ", ".join(
                f"{m.name} {m.capacity_bytes.value / 1e9:.3g} GB at "
                f"{m.bandwidth_bytes_per_s.value / 1e12:.3g} TB/s"
                for m in chip.memory
            ),
        ],
        [
            "links",
            f"{a.links.count.value:g} x {a.links.lanes.value:g} lanes x "
            f"{a.links.lane_rate_bps.value / 1e9:g} Gb/s "
            f"({chip.interconnect.bandwidth_bytes_per_s.value / 1e9:.0f} GB/s per direction)"
            if a.links
            else "none",
        ],
        ["die area", f"{chip.die_area_mm2.value:,.0f} mm2"],
        ["TDP", f"{chip.tdp_w.value:,.0f} W"],
        ["idle", f"{chip.idle_w.value:,.0f} W"],
        ["manufacturing cost", f"${sh.cost['total'].value:,.0f}"],
        ["price (the margin rule of docs/tco.md)", f"${sh.price_usd:,.0f}"],
    ]
    parts = [table(["", "Jalapeño-1"], summary)]
    for title, d, unit in (("die area", sh.area, "mm2"), ("TDP", sh.power, "W"), ("cost", sh.cost, "USD")):
        parts.append(f"<h3>{title}</h3>")
        parts.append(
            table(
                ["part", unit, "formula"],
                [[k, _f(p.value, 4), p.formula] for k, p in d.items()],
                source_cols=[2],
            )
        )
    parts.append(
        para(
            "Every figure of the architecture file with its source: "
            "jalapeno chip show jalapeno-1 --json; the file is hardware/presets/arch/jalapeno-1.yaml."
        )
    )
    return Section("Jalapeño-1 spec sheet", parts, "spec")


def sensitivity_section(study: Any) -> Section:
    if not study.sensitivity:
        return Section(
            "Sensitivity",
            [para("Skipped in --quick mode; see docs/jalapeno-1.md for the full sweep.")],
            "sensitivity",
        )
    base = next((r for r in study.sensitivity if r["param"] == "(jalapeno-1)"), None)
    g0 = base["objectives"].get("goodput_per_watt") if base else None
    rows = []
    for r in study.sensitivity:
        g = r["objectives"].get("goodput_per_watt")
        d = f"{(g / g0 - 1) * 100:+.0f}%" if fig.finite(g) and g0 and r["status"] == "ok" else "-"
        rows.append(
            [
                r["param"],
                str(r["value"]),
                r["status"] + (": " + "; ".join(r["reasons"]) if r["reasons"] else ""),
                _f(g * PER_KW if fig.finite(g) else None),
                d,
                _f(r["objectives"].get("usd_per_mtok")),
                _f(r["objectives"].get("ttft_p99_s")),
            ]
        )
    return Section(
        "Sensitivity: one parameter at a time around Jalapeño-1",
        [
            para(
                "Each row moves one parameter of Jalapeño-1's design point (chip and fleet) to another value "
                f"of its range, everything else fixed, on {study.main}."
            ),
            table(
                [
                    "parameter",
                    "value",
                    "status",
                    "goodput/W (req/s/kW)",
                    "vs Jalapeño-1",
                    "$/Mtok",
                    "p99 TTFT s",
                ],
                rows,
                source_cols=[2],
            ),
        ],
        "sensitivity",
    )


def sources_section(study: Any) -> Section:
    from jalapeno.cost.params import setup_for
    from jalapeno.hardware.tco import COST_KEY, constants

    rows = []
    for name, chip in study.chips.items():
        street = None if getattr(chip, "arch", None) is not None else chip.price_usd
        for label, f in (
            ("manufacturing cost", chip.extra.get(COST_KEY)),
            ("street price (reported only)", street),
            ("TDP", chip.tdp_w),
            ("idle power", chip.idle_w),
            ("die area", chip.die_area_mm2),
        ):
            if f is not None:
                rows.append([fig.chip_label(name), label, _f(f.value, 4), short(f.source)])
        prec = study.workloads[study.main].precision().compute
        if prec in chip.matrix_flops:
            f = chip.matrix_flops[prec]
            rows.append([fig.chip_label(name), f"peak {prec}", _f(f.value, 4), short(f.source)])
        mem = chip.memory[0]
        rows.append(
            [
                fig.chip_label(name),
                "main-memory bandwidth",
                _f(mem.bandwidth_bytes_per_s.value, 4),
                short(mem.bandwidth_bytes_per_s.source),
            ]
        )
        rows.append(
            [fig.chip_label(name), "cost-model parameters", "", short(setup_for(chip, "fused")[0].source)]
        )
    for k, c in constants().items():
        rows.append(["all chips", f"tco {k} [{_f(c.lo, 4)}, {_f(c.hi, 4)}]", _f(c.value, 4), c.source])
    rows.extend(["all chips", f"workload {w.name}", "", w.describe()] for w in study.workloads.values())
    return Section(
        "Sources of every number",
        [table(["chip", "figure", "value", "source"], rows, source_cols=[3])],
        "sources",
    )


LIMITS = (
    (
        "Jalapeño-1's energies and area come from the technology library (Horowitz ISSCC 2014 scaled by node "
        "and V^2, leakage per mm2, SRAM and PHY areas): estimates, not measurements; the GPUs' come from "
        "H200 measurements (H200, H100) or documented defaults (B200, uncalibrated)."
    ),
    (
        "The H200 calibration measured energy per FLOP in bf16 only; its fp8 value is derived from it and "
        "the datasheet (twice the rate within the same power limit: about half the bf16 energy per FLOP), "
        "not measured."
    ),
    (
        "Idle power of a derived chip is leakage only (no DRAM refresh or PHY idle power); a GPU's is "
        "measured (H200) or 10% of TDP."
    ),
    (
        "The searches and sweeps price steps with FastOracle (interpolated grid, under 1% from the exact "
        "oracle on tested designs; docs/explore.md); fleets are limited to 16 chips; traces are windows of "
        "the bundled ones."
    ),
)


def limits_section(study: Any) -> Section:
    return Section(
        "What this does not show",
        [
            bullets(LIMITS),
            para(
                f"Produced by `{study.command}` in {study.timings.get('total_s', 0):.0f} s "
                f"({', '.join(f'{k} {v:.0f} s' for k, v in study.timings.items() if k != 'total_s')})."
            ),
        ],
        "limits",
    )


def render(study: Any) -> str:
    sections = [
        headline(study),
        other_workloads(study),
        search_section(study),
        where_time_goes(study),
        traffic_section(study),
        spec_sheet(study),
        sensitivity_section(study),
        sources_section(study),
        limits_section(study),
    ]
    mode = "quick" if study.quick else "full"
    return page(
        "Jalapeño-1 against H100, H200 and B200",
        sections,
        subtitle=f"Co-design search and head-to-head serving simulation ({mode} run). Every number below "
        "comes from one run of the command at the bottom, on the same model, formats, traces and SLO.",
        footer="Jalapeño: open inference-chip co-design stack. Self-contained page: no scripts, no network.",
    )
