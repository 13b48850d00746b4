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
             "; ".join(f"{w['faster']} > {w['slower']} by {w['published_gap']:.1%}" for w in o["swapped"]) or "-",
             "held-out" if o["held_out_only"] else "includes fit rows"] for o in order_checks(fits)]
    return table(["round", "model", "scenario", "published order (per GPU)", "predicted order", "match",
                  "swapped pairs (published gap)", "rows"], rows, "llllllll")


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
    return table(["model", "mean ISL", "ISL range", "mean OSL", "OSL from", "p99 limits"], rows, "lrrrll")


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
    isl = isl_table(fits) if isl_sensitivity(fits) else ""
    if isl:
        parts += ["## Rows whose prompt length is an estimate", "",
                  "The error of these rows is unresolved wherever published / predicted falls inside the spread "
                  "below.", "", isl, ""]
    parts += ["## Serving mechanics in the scenario model", "",
              "Server and interactive rows are the largest batch meeting three p99 limits (cost/scenario.py): "
              "(1) TPOT: a request's decode steps carry the prefills admitted meanwhile; MLPerf's TPOT is per "
              "request, so a short answer averages few steps, and the p99 over requests mixes the dataset's "
              "output lengths; (2) TTFT: prompts queue for the prefill as an M/G/1 queue (Poisson arrivals, "
              "load = the prefill share of the cycle) whose p99 wait is Kingman's exponential tail, which binds "
              "long prompts (Llama-3.1-405B's 9.4k tokens) far below the TPOT limit; (3) the batch cap (KV "
              "cache or batch limit) holds the p99 of the Poisson number of decoding requests "
              "(B + 2.33 sqrt(B) <= cap).", "",
              "## Known gaps", "",
              "- Llama-3.1-405B on B200 and GB200 (NVFP4, TensorRT 10.11) is over-predicted about 30% already "
              "offline, where prefill dominates (9.4k-token prompts) and no latency limit applies, while the "
              "H200 (fp8) matches within 5% in all three scenarios and MI355X within 4%; the gap is the 4-bit "
              "prefill rate of a 405B model, which the Llama-2-70B fit rows (222-token prompts, decode-bound) "
              "cannot see. Server and interactive inherit it and add to it (a slower prefill loads the TTFT "
              "queue). The MI355X row is AMD's open-division pruned 405B, priced here as the full model.",
              "- The H100's MLPerf v4.1 Llama-2-70B rows are over-predicted (+17% to +47%) while the H200's "
              "v4.1 Llama-2-70B rows on the same TensorRT 10.2.0 match within 2% and the H100's newer "
              "TensorRT-LLM vendor rows within 3%. Not the batch: NVIDIA's v4.1 config runs "
              "the H100 at TP2 with batch 896 (configs/llama2-70b/Offline), and capping the model there moves "
              "it 3,560 -> 3,508 tok/s/GPU. The model puts large-batch Llama-2-70B decode on both chips "
              "compute-bound (same SM, same clock), so per GPU it sees the H100 at 0.92-0.96 of the H200 where "
              "the round shows 0.74-0.78; not resolved. The H100 Llama-3.1-8B rows are vLLM 0.10 (RedHat), "
              "whose serving overhead is not the TensorRT-LLM one fitted on the H200.",
              "- Mixtral-8x7B is over-predicted on every chip by a similar amount (H200 +17% to +24%, H100 +23% "
              "to +29%, MI300X/MI325X +9% to +25%), now with the dataset's own prompt lengths: a shared MoE "
              "gap (expert GEMM efficiency, routing imbalance), not a chip's.",
              "- MI355X (open division, mxfp4), GB200 and GB300 rows are bundled, but those chips have no "
              "preset here; B300 has no public MLPerf row in the rounds read (v4.1, v5.1).",
              "- MLPerf v4.0 and v5.0 results are not bundled (their repositories were too large to read here); "
              "no AMD vendor table rows yet.",
              "- Energies are not fitted (see the power section).", "",
              "## Benchmark workloads assumed", "", workloads_table(), "",
              f"Latency limits: {LIMITS_SOURCE}. Mean ISLs are the means of the bundled MLPerf length sets "
              "(workload/benchsets: per-sample token counts of the MLCommons datasets, traces/README.md); the "
              "output-length distributions of the same sets shape the p99 TPOT term.", ""]
    return "\n".join(parts)
