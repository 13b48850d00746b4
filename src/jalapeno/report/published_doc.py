"""docs/validation-published.md: published results against predictions, every number from one command."""

from __future__ import annotations

from typing import Any, Sequence

from jalapeno.cost.published import LIMITS_SOURCE, WORKLOADS
from jalapeno.cost.published_checks import (MAX_TARGET, MEDIAN_TARGET, RATIO_TARGET, error_summary,
                                            holdout_breakdown, isl_sensitivity, order_checks, power_checks,
                                            ratio_checks)
from jalapeno.cost.published_fit import ChipFit
from jalapeno.report.markdown import apct, pct, table


def _num(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}"


def _opt(x: float | None, f: Any = apct) -> str:
    return "-" if x is None else f(x)


def _params_line(f: ChipFit) -> str:
    p = f.params
    dts = sorted({c.row.precision for c in f.checked})
    eff = ", ".join(f"matmul {d} {p.eff({'fp4': 'fp4', 'mxfp4': 'fp4'}.get(d, d)):.3f}" for d in dts)
    knobs = ", ".join(f"{k} {v:.4g}" for k, v in f.knobs.items()) or "none"
    return (f"knobs: {knobs}; {eff}; weight streaming fp8 {p.mem_eff('fp8'):.3f}; attention prefill "
            f"{p.attn_prefill_eff:.3f}; step overhead {p.step_overhead_s * 1e3:.2f} ms")


def summary_table(fits: Sequence[ChipFit]) -> str:
    rows = []
    for f in fits:
        s = error_summary(f)
        h, band = s["held_out"], f.band
        rows.append([f.chip, f.provenance, str(s["fit"]["n"]), str(h["n"]), _opt(h["median_abs_error"]),
                     _opt(h["max_abs_error"]), f"{band.lo:.2f}-{band.hi:.2f}" if band else "-",
                     "no held-out rows" if s["meets_target"] is None else
                     "met" if s["meets_target"] else "**missed**"])
    return table(["chip", "parameters", "fit rows", "held-out rows", "held-out median |err|", "held-out max |err|",
                  "band (published / predicted)", f"target (median <= {MEDIAN_TARGET:.0%}, max <= {MAX_TARGET:.0%})"],
                 rows, "llrrrrrl")


def chip_table(f: ChipFit) -> str:
    rows = [[c.row.round, c.row.model, c.row.scenario, f"{c.row.n_chips}x", c.row.precision,
             c.row.software[:24], _num(c.row.per_chip), "-" if c.predicted is None else _num(c.predicted),
             _opt(c.error, pct), "fit" if c.fitted else "held-out", f"[{c.row.submitter}]({c.row.url})"]
            for c in sorted(f.checked, key=lambda c: (c.row.model, c.row.scenario, c.row.round, c.row.n_chips))]
    return table(["round", "model", "scenario", "GPUs", "precision", "software", "published tok/s/GPU",
                  "predicted", "error", "set", "source"], rows, "llllllrrrll")


def order_table(fits: Sequence[ChipFit]) -> str:
    rows = [[o["round"], o["model"], o["scenario"], " > ".join(o["published_order"]),
             " > ".join(o["predicted_order"]), "yes" if o["match"] else "**no**",
             "held-out" if o["held_out_only"] else "includes fit rows"] for o in order_checks(fits)]
    return table(["round", "model", "scenario", "published order (per GPU)", "predicted order", "match", "rows"],
                 rows, "lllllll")


def ratio_table(fits: Sequence[ChipFit]) -> str:
    rows = [[r["chip"], r["round"], r["model"], f"{r['n_chips']}x", f"{r['published']:.3f}", f"{r['predicted']:.3f}",
             pct(r["error"]), "met" if abs(r["error"]) <= RATIO_TARGET else "**missed**",
             "held-out" if r["held_out"] else "fit"] for r in ratio_checks(fits)]
    return table(["chip", "round", "model", "GPUs", "published interactive/offline", "predicted", "error",
                  f"within {RATIO_TARGET:.0%}", "rows"], rows, "llllrrrll")


def breakdown_table(fits: Sequence[ChipFit]) -> str:
    rows = [[b["kind"], str(b["n"]), apct(b["median_abs_error"]), apct(b["max_abs_error"])]
            for b in holdout_breakdown(fits)]
    return table(["held out because", "rows", "median |err|", "max |err|"], rows, "lrrr")


def power_table(fits: Sequence[ChipFit]) -> str:
    rows = [[p["key"], f"{p['wall_w_per_chip']:,.0f}", "-" if p["predicted_chip_w"] is None else
             f"{p['predicted_chip_w']:,.0f}", f"{p['tdp_w']:,.0f}", "-" if p["share"] is None else f"{p['share']:.2f}"]
            for p in power_checks(fits)]
    return table(["power run", "wall W per GPU (published)", "predicted GPU W", "GPU TDP W", "predicted / wall"],
                 rows, "lrrrr")


def isl_table(fits: Sequence[ChipFit]) -> str:
    def r(x: float | None) -> str:
        return "-" if x is None else f"{x:.2f}"
    rows = [[i["key"], f"{i['isl_range'][0]}-{i['isl_range'][1]}", r(i["ratio"]), r(i["ratio_at_ends"][0]),
             r(i["ratio_at_ends"][1])] for i in isl_sensitivity(fits)]
    return table(["row", "ISL range", "predicted / published", "at low ISL", "at high ISL"], rows, "lrrrr")


def workloads_table() -> str:
    rows = [[w.model, str(w.isl), f"{w.isl_range[0]}-{w.isl_range[1]}", str(w.osl), w.osl_source,
             "; ".join(f"{s}: TTFT {t:g} s, TPOT {p * 1e3:g} ms" for s, (t, p) in w.limits_s.items())]
            for w in WORKLOADS.values()]
    return table(["model", "mean ISL (estimate)", "ISL range", "mean OSL", "OSL from", "p99 limits"], rows, "lrrrll")


def render(fits: Sequence[ChipFit], skipped: Sequence[str], command: str, n_rows: int, predictor: str) -> str:
    parts = [
        "# Validation against published results",
        "",
        f"Every number on this page comes from `{command}` ({predictor} predictor). Published rows are "
        f"bundled in `src/jalapeno/data/published/` ({n_rows} rows; MLPerf rows generated by "
        "`python scripts/published_mlperf.py V41_REPO V51_REPO [--power]` from "
        "github.com/mlcommons/inference_results_v4.1 and _v5.1; vendor rows copied from the TensorRT-LLM "
        "performance overview at a pinned commit). Throughput is output tokens/s per GPU (system result / GPUs "
        "in the system).",
        "",
        "How a chip gets its parameters: **measured** (the H200: `jalapeno validate`, docs/validation.md; "
        "its efficiencies stay measured, only the submissions' serving step overhead is fitted), **transferred** "
        "(the H100: the H200's fractions of peak and fitted overhead), **fitted** "
        "(two knobs on the family prior, fitted on the rows the split names; every other row of the chip is "
        "held out and only predicted) or **family prior** (no fit rows: the family's fractions of peak on the "
        "chip's own datasheet peaks). The default split fits each chip on the newest MLPerf round's "
        "Llama-2-70B offline and interactive rows; the server scenario, the other models and older rounds "
        "are held out. The error band is the range of published / predicted over the held-out rows; a "
        "family-prior chip takes its family's band widened x1.25 on each side (an assumption). The fitted "
        "step overhead belongs to the submissions' serving engine (TensorRT-LLM, vLLM harness): it is applied "
        "to published rows only and kept out of the chip's calibration file, so chips compare on one engine.",
        "",
        "## Summary",
        "",
        summary_table(fits),
        "",
    ]
    if skipped:
        parts += [f"Published rows name chips without a bundled preset, not calibrated: {', '.join(skipped)}.", ""]
    parts += ["## Held-out error by why a row is held out", "", breakdown_table(fits), "",
              "## Per-GPU order within each published round, model and scenario", "", order_table(fits), "",
              "## Interactive / offline throughput ratio", "", ratio_table(fits), "",
              "## Power: MLPerf Power runs against the energy model", "",
              "Wall power holds host CPUs, memory, NICs, fans and supply losses as well as the GPUs, so predicted "
              "GPU power must stay below the wall power per GPU; the share is what the model leaves for the rest. "
              "No energy parameter is fitted to these (too few rows, and wall power does not separate the GPU's); "
              "fitted chips carry their family's measured energies moved by datasheet ratios "
              "(`energy_prior` in cost/published_fit.py).", "", power_table(fits), "",
              "## Per chip", ""]
    for f in fits:
        parts += [f"### {f.chip}", "", f"{f.provenance}. {_params_line(f)}.", "", chip_table(f), ""]
    parts += ["## Rows whose prompt length is an estimate", "",
              "Mixtral's and Llama-3.1-8B's MLPerf prompt lengths are not bundled; the error of these rows is "
              "unresolved wherever published / predicted falls inside the spread below.", "", isl_table(fits), "",
              "## Known gaps", "",
              "- Llama-3.1-405B server and interactive are over-predicted on every chip: the closed-form model "
              "spreads 9.4k-token prefills evenly over decode steps (plus a Poisson p99 term); the serving "
              "simulator (`jalapeno bench`) is the place to resolve it.",
              "- The H100 has no MLPerf interactive row: it takes the H200's fitted serving overhead; its v4.1 "
              "rows ran older TensorRT-LLM (9.3, 10.2) and are over-predicted, while the newer TensorRT-LLM "
              "vendor rows match to a few percent.",
              "- MI355X (open division, mxfp4), GB200 and GB300 rows are bundled, but those chips have no "
              "preset here; B300 has no public MLPerf row in the rounds read (v4.1, v5.1).",
              "- MLPerf v4.0 and v5.0 results are not bundled (their repositories were too large to read here); "
              "no AMD vendor table rows yet.",
              "- Energies are not fitted (see the power section).", "",
              "## Benchmark workloads assumed", "", workloads_table(), "",
              f"Latency limits: {LIMITS_SOURCE}. Mean ISLs are estimates (the results do not publish prompt "
              "statistics); their ranges are guesses, and the Mixtral and Llama-3.1-405B prompt lengths are the "
              "least certain.", ""]
    return "\n".join(parts)
