"""Published wide-EP DeepSeek-V3 serving throughputs against the model (docs/validation-moe.md).

Usage: python scripts/validate_moe.py [--json]
Rows and predictor: src/jalapeno/cost/published_moe.py. The decode expert-rank factor is fitted on the
SGLang blog's decode row and held out on every other source; prefill rows fit nothing.
"""

from __future__ import annotations

import json
import sys

from jalapeno.cost.published_moe import table


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
    lines += ["", *mechanism_lines(t), "", *day6_lines(t)]
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


def main(argv: list[str]) -> int:
    t = table()
    print(json.dumps(t, indent=1, sort_keys=True) if "--json" in argv else markdown(t))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
