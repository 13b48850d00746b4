"""Published wide-EP DeepSeek-V3 serving throughputs against the model (docs/validation-moe.md).

Usage: python scripts/validate_moe.py [--json]
Rows and predictor: src/jalapeno/cost/published_moe.py. The decode expert-rank factor is fitted on the
SGLang blog's decode row and held out on every other source; prefill rows fit nothing.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from unittest import mock

from jalapeno.cost import published_moe as pm
from jalapeno.cost.expert import ep_step
from jalapeno.cost.params import setup_for
from jalapeno.cost.published_kernels import COMM_SMS_RANGE, DEEPGEMM_H800, gemm_factors
from jalapeno.cost.published_moe import ROWS
from jalapeno.cost.published_moe_table import table
from jalapeno.cost.published_profile import UNIT_TEST_MS, comparison
from jalapeno.graph.batch import Batch
from jalapeno.graph.builder import build_graph
from jalapeno.hardware.registry import resolve_chip
from jalapeno.models import resolve_model


def markdown(t: dict) -> str:
    head = ("| row | source | chip | phase | EP (nodes) | per GPU | length | published tok/s/node | predicted | error "
            "| predicted, fitted | error, fitted | split |")
    lines = [head, "|" + " --- |" * 13]
    for r in t["rows"]:
        per = f"{r['per_gpu']:,} {'tok' if r['phase'] == 'prefill' else 'seq'}"
        lines.append(f"| {r['id']} | [{r['source']}]({r['url']}) | {r['chip']} | {r['phase']} | {r['ep']} ({r['nodes']}) "
                     f"| {per} | {r['length']:,} | {r['published']:,.0f} | {r['predicted']:,.0f} | {r['error']:+.1%} "
                     f"| {r['predicted_fitted']:,.0f} | {r['error_fitted']:+.1%} | {r['split']} |")
    lines.append("")
    lines.append(f"decode expert-rank factor fitted on {t['fit_source']}: {t['decode_ep_factor']}")
    sbs = t["step_by_step"]
    errs = ", ".join(f"{k} {v:+.1%}" for k, v in sbs["error_fitted"].items())
    lines.append(f"overlapping step by step instead of the published schedules (refit): factor {sbs['factor']}; "
                 f"fitted decode errors {errs}")
    lines += ["", *mechanism_lines(t), "", *kernel_lines(t), "", *breakdown_lines(t), "", *day6_lines(t)]
    return "\n".join(lines)


def mechanism_lines(t: dict) -> list[str]:
    """Per row: the DeepEP kernels (per-node or per-expert dispatch) and the slowest attention rank's load."""
    head = ("| row | dispatch (DeepEP kernels) | NIC bytes over the send buffer, per node / per expert "
            "| error with per-expert dispatch "
            "| attention imbalance | fitted error: KV cv at the range's ends / every rank at the mean |")
    out = [head, "|" + " --- |" * 6]
    for r in t["rows"]:
        kern = "per node (normal)" if r["dispatch"] == "per_node" else "per expert (low-latency)"
        per_expert = (r["ep"] - 8) / r["ep"]
        nic = f"{r['nic_fraction']:.4f} / {per_expert:.4f}" if "nic_fraction" in r else "-"
        pe = f"{r['error_per_expert']:+.1%}" if "error_per_expert" in r else "-"
        rng = " / ".join(f"{e:+.1%}" for e in r.get("error_fitted_cv_range", []))
        bal = f"{r['error_fitted_balanced']:+.1%}" if "error_fitted_balanced" in r else "-"
        alt = f"{rng} / {bal}" if rng else bal
        out.append(f"| {r['id']} | {kern} | {nic} | {pe} | {r['attn_imbalance']:.4f} | {alt} |")
    return out


def prefill_parts(r) -> list[float]:
    """The prefill row's expert-parallel step as ``predict_prefill`` prices it (before the hits' KV load):
    seconds, and the compute and all-to-all seconds over both halves (the compute before the power cap)."""
    cfg = resolve_model("deepseek-v3")
    new = round(r.length * (1.0 - r.cached_fraction))
    seqs = max(1, round(r.per_gpu / new / 2))
    g = pm.bf16_attention(build_graph(cfg, Batch.prefill(new, r.length - new, batch=seqs), pm._precision()))
    par = pm._plan(r, None)
    g = pm.sglang_moe_glue(g, cfg, par, r.moe_glue)
    micro = [(g, seqs * new * r.ep)] * 2
    sc, x = ep_step(pm._estimator(r), cfg, par, micro, cuda_graph=False, schedule=pm._schedule(r))
    return [round(sc.time_s, 3), round(x.compute_s, 3), round(x.all_to_all_s, 3)]


def kernel_rows() -> list[dict]:
    """Per prefill row: its kernels (comm SMs, DeepGEMM release and factors), its error over their ranges
    (comm SMs at 20 and 24, the other DeepGEMM release) and with each kernel property taken out alone."""
    out = []
    for r in (x for x in ROWS if x.phase == "prefill"):
        chip = resolve_chip(r.chip)
        other = next(g for g in DEEPGEMM_H800 if g != r.gemm_release)
        dense, grouped = gemm_factors(chip, setup_for(chip, "fused")[0], r.gemm_release)

        def err(row=r, **kw) -> float:
            return round(pm.predict_prefill(replace(row, **kw)) / row.published - 1.0, 4)

        with mock.patch.object(pm, "bf16_attention", lambda g: g):
            no_bf16 = err()
        with mock.patch.object(pm, "kernel_params", lambda c, p, g: p):
            no_gemm = err()
        out.append({"id": r.id, "step_compute_all_to_all_s": prefill_parts(r), "comm_sms": r.comm_sms,
                    "gemm_release": r.gemm_release,
                    "gemm_factors": [round(dense, 4), round(grouped, 4)],
                    "error_comm_sms_range": [err(comm_sms=c) for c in COMM_SMS_RANGE],
                    "error_other_release": err(gemm_release=other), "error_without_comm_sms": err(comm_sms=0),
                    "error_without_bf16_attention": no_bf16, "error_without_deepgemm": no_gemm,
                    "error_without_moe_glue": err(moe_glue=False), "deepep_nic": r.deepep_nic,
                    "error_without_tbo_stages": err(tbo_stages=False), "error_nominal_nic": err(deepep_nic=1.0)})
    return out


def kernel_lines(t: dict) -> list[str]:
    head = ("| prefill row | comm SMs (of 132) | DeepGEMM release: dense / grouped factor | error | "
            "at 20 / 24 comm SMs | with the other release "
            "| without: comm SMs / BF16 attention / DeepGEMM / MoE glue "
            "| DeepEP NIC share: error at the nominal NIC | error overlapping step by step, not as published "
            "| step s: all / compute / all-to-all (both halves) |")
    out = [head, "|" + " --- |" * 10]
    err = {r["id"]: r["error"] for r in t["rows"]}
    for k in t["kernels"]:
        f = k["gemm_factors"]
        lo, hi = k["error_comm_sms_range"]
        out.append(f"| {k['id']} | {k['comm_sms']} | {k['gemm_release']}: {f[0]:.3f} / {f[1]:.3f} | "
                   f"{err[k['id']]:+.1%} | {lo:+.1%} / {hi:+.1%} | {k['error_other_release']:+.1%} | "
                   f"{k['error_without_comm_sms']:+.1%} / {k['error_without_bf16_attention']:+.1%} / "
                   f"{k['error_without_deepgemm']:+.1%} / {k['error_without_moe_glue']:+.1%} | "
                   f"{k['deepep_nic']:.3f}: {k['error_nominal_nic']:+.1%} | {k['error_without_tbo_stages']:+.1%} | "
                   "{:.3f} / {:.3f} / {:.3f} |".format(*k["step_compute_all_to_all_s"]))
    return out


def breakdown_lines(t: dict) -> list[str]:
    """SGLang's published prefill breakdown (its blog's profile-prefill.png, ms per layer) against the
    model's step in the same categories (cost.published_profile)."""
    head = ("| prefill row, ms per layer: published / model | overall | MoE | attention | GEMM "
            "| other kernels | comp bubble | dispatch barrier + core | combine barrier + core "
            "| comm bubble |")
    out = [head, "|" + " --- |" * 10]
    for c in t["breakdown"]:
        p, m = c["published"], c["model"]
        cells = [f"{p[k]:.1f} / {m[k]:.1f}" for k in ("overall", "moe", "attention", "gemm", "other")]
        cells += [f"{p['comp_bubble']:.1f} / {m['comp_bubble']:.1f}",
                  f"{p['dispatch_barrier']:.1f} + {p['dispatch_core']:.1f} / {m['dispatch']:.1f}",
                  f"{p['combine_barrier']:.1f} + {p['combine_core']:.1f} / {m['combine']:.1f}",
                  f"{p['comm_bubble']:.1f} / -"]
        out.append(f"| {c['id']} ({c['profile']}) | " + " | ".join(cells) + " |")
    u = UNIT_TEST_MS
    out.append(f"| DeepEP / DeepGEMM unit tests (published) | - | {u['moe']:.1f} | - | - | - | - | "
               f"{u['dispatch_core']:.1f} | {u['combine_core']:.1f} | - |")
    return out


def day6_lines(t: dict) -> list[str]:
    """The production rows' operating point: occupancy, MTP, per-user speed (fitted factor)."""
    occ, m = t["day6_occupancy"], t["mtp"]
    out = [f"Day-6 occupancy: {occ['prefill_nodes']} prefill + {occ['decode_nodes']} decode nodes = {occ['sum']} "
           f"(published average {occ['published_average']}, peak {occ['published_peak']:.0f}); mean decode "
           f"concurrency {occ['decode_seqs_per_gpu']} sequences a GPU; derived mean prompt {t['day6_prompt']:,} "
           f"tokens. MTP: {m['tokens_verified']} tokens verified a step, acceptance {m['acceptance']} "
           f"({m['range'][0]}-{m['range'][1]}), draft {m['draft_cost']} of a plain step.", ""]
    for r in t["rows"]:
        op = r.get("operating_point")
        if not op:
            continue
        lo, hi = r["error_fitted_acceptance_range"]
        a = op["at_user_rate"]
        out += ["| decode operating point (fitted factor) | value |", "| --- | --- |",
                f"| step at {r['per_gpu']} sequences a GPU: model / implied by {r['published']:,.0f} tok/s "
                f"and 21 tok/s a user | {op['step_s'] * 1e3:.1f} ms / {op['implied_step_s'] * 1e3:.1f} ms |",
                f"| per-user speed: model / published | {op['predicted_user_rate']} / "
                f"{op['published_user_rate'][0]:.0f}-{op['published_user_rate'][1]:.0f} tok/s |",
                f"| error over acceptance {m['range'][0]}-{m['range'][1]} | {lo:+.1%} .. {hi:+.1%} |"]
        out += [f"| error at {x['user_rate']:.0f} tok/s a user ({x['per_gpu']} sequences a GPU) | "
                f"{x['predicted']:,.0f} tok/s/node, {x['error']:+.1%} |" for x in op["rate_range"]]
        out.append(f"| batch whose step gives 21 tok/s a user (KV cap {a['kv_capacity_per_gpu']}) | "
                   f"{a['per_gpu']} sequences a GPU, {a['tokens_per_s_node']:,.0f} tok/s/node, "
                   f"{a['tokens_per_s_node'] / r['published'] - 1:+.1%} |")
    return out


def step_by_step() -> dict:
    """The decode fit and its held-out rows with the two micro-batches overlapping step by step
    (``cost.expert.overlap``) instead of the published schedules (``cost.tbo_stages``)."""
    rows = tuple(replace(r, tbo_stages=False) for r in ROWS)
    t = table(rows)
    return {"factor": t["decode_ep_factor"],
            "error_fitted": {r["id"]: r["error_fitted"] for r in t["rows"] if r["phase"] == "decode"}}


def main(argv: list[str]) -> int:
    t = {**table(), "kernels": kernel_rows(), "breakdown": comparison(), "step_by_step": step_by_step()}
    print(json.dumps(t, indent=1, sort_keys=True) if "--json" in argv else markdown(t))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
