"""The decode step by category: SGLang's published decode breakdown against the model, and what each
sourced decode mechanism does to the decode rows and the fitted factor (docs/validation-moe.md,
"Decode step by category").

Usage: python scripts/decode_breakdown.py [--json]
Figure and model categories: src/jalapeno/cost/published_profile_decode.py; the mechanisms:
src/jalapeno/cost/published_decode_kernels.py, published_glue_decode.py, published_moe.py.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace

from jalapeno.cost import published_moe as pm
from jalapeno.cost import published_profile_decode as ppd

DECODE = ("sglang-decode-ep72", "deepseek-profile-decode", "deepseek-day6-decode")
# each mechanism and the MoeRow fields that switch it off (cumulative, in this order)
MECHANISMS = (
    (
        "profile row counted at SGLang's 1.6 tokens a step",
        {"counted_acceptance": 0.0, "counts_verified": True},
    ),
    ("experts at DeepGEMM's masked-layout rate", {"masked_moe": False}),
    ("attention at FlashMLA's published rate (DeepSeek rows)", {"flashmla": ""}),
    ("SGLang's decode glue kernels (its row)", {"moe_glue": False}),
    ("CUDA-graph gaps at SGLang's launch bar", {"launch_gap": False}),
    ("DeepEP low-latency kernels' own time", {"ll_kernels": False}),
    ("DeepEP low-latency transfers at its README rate", {"ll_nic": False}),
    ("sourced expert-rank imbalance (EPLB at 72 GPUs; balanced profile)", {"ep_imbalance": 0.0}),
)


def rows_with(n: int) -> tuple[pm.MoeRow, ...]:
    """pm.ROWS with the first ``n`` mechanisms on and the rest off (decode rows only)."""
    off: dict = {}
    for _, kw in MECHANISMS[n:]:
        off.update(kw)

    def row_off(r: pm.MoeRow) -> pm.MoeRow:
        kw = dict(off)
        if not r.counted_acceptance:  # the 1.6-token reading concerns the profile row only
            kw.pop("counts_verified", None)
        return replace(r, **kw)

    return tuple(row_off(r) if r.phase == "decode" else r for r in pm.ROWS)


def ladder() -> list[dict]:
    """Each cumulative step: the refitted factor and every decode row's error unfitted and fitted."""
    out = []
    for n in range(len(MECHANISMS) + 1):
        rows = rows_with(n)
        g = pm.fit_gamma(rows)
        dec = {r.id: r for r in rows if r.id in DECODE}
        errs = {
            k: [
                round(pm.predict_decode(r) / r.published - 1, 4),
                round(pm.predict_decode(r, g) / r.published - 1, 4),
            ]
            for k, r in dec.items()
        }
        out.append({"added": MECHANISMS[n - 1][0] if n else "before (none)", "factor": g, "errors": errs})
    return out


def day6_imbalance_range() -> dict:
    """Day 6's errors (unfitted, fitted) at its imbalance range's ends: the uniform floor, 1 / 0.800."""
    g, r = pm.fit_gamma(), next(r for r in pm.ROWS if r.id == "deepseek-day6-decode")
    out = {}
    for name, imb in (("uniform floor", 0.0), ("1 / 0.800", 1.25)):
        x = replace(r, ep_imbalance=imb)
        out[name] = [
            round(pm.predict_decode(x) / r.published - 1, 4),
            round(pm.predict_decode(x, g) / r.published - 1, 4),
        ]
    return out


def breakdown() -> dict:
    g = pm.fit_gamma()
    bars = {
        k: {
            "bars": v,
            "implied": round(ppd.implied_layer_ms(k), 4),
            "sum": round(sum(x for c, x in v.items() if c != "overall"), 4),
        }
        for k, v in ppd.DECODE_BREAKDOWN_MS.items()
    }
    day6 = next(r for r in pm.ROWS if r.id == "deepseek-day6-decode")
    return {
        "figure": ppd.DECODE_FIGURE,
        "factor": g,
        "published": bars,
        "unit_test": ppd.UNIT_TEST_DECODE_MS,
        "tbo_ablation": ppd.TBO_DECODE_ABLATION_MS,
        "unfitted": ppd.comparison(None),
        "fitted": ppd.comparison(g),
        "day6": {
            "unfitted": ppd.model_breakdown(day6),
            "fitted": ppd.model_breakdown(day6, g),
            "implied": round(pm.decode_tokens_per_step(day6) / day6.user_rate / 61 * 1e3, 4),
        },
        "day6_imbalance_range": day6_imbalance_range(),
    }


COLS = ("overall", "moe", "attention", "gemm", "other", "launch", "dispatch", "combine", "exposed")


def markdown(b: dict, lad: list[dict]) -> str:
    out = [
        "| figure series | overall read | implied by its throughput | categories' sum |",
        "|" + " --- |" * 4,
    ]
    for k, v in b["published"].items():
        out.append(f"| {k} | {v['bars']['overall']:.3f} | {v['implied']:.3f} | {v['sum']:.3f} |")
    out += ["", "| decode row, ms a layer | " + " | ".join(COLS) + " |", "|" + " --- |" * (len(COLS) + 1)]
    for u, f in zip(b["unfitted"], b["fitted"], strict=True):
        pub = {**f["published"], "exposed": None}
        out.append(
            f"| {u['id']}: published ({u['profile']}) | "
            + " | ".join("-" if pub.get(c) is None else f"{pub[c]:.3f}" for c in COLS)
            + " |"
        )
        for name, m in (("model, unfitted", u["model"]), (f"model, fitted x{b['factor']}", f["model"])):
            out.append(f"| {u['id']}: {name} | " + " | ".join(f"{m[c] + 0.0:.3f}" for c in COLS) + " |")
    d6 = b["day6"]
    out.append(
        f"| deepseek-day6-decode: implied (1.875 tokens / 21 tok/s / 61, draft incl.) | {d6['implied']:.3f} |"
        + " - |" * (len(COLS) - 1)
    )
    for name in ("unfitted", "fitted"):
        out.append(
            f"| deepseek-day6-decode: model, {name} | "
            + " | ".join(f"{abs(d6[name][c]):.3f}" for c in COLS)
            + " |"
        )
    out += [
        "",
        "| mechanism added (cumulative) | factor | "
        + " | ".join(f"{k}: unfitted / fitted" for k in DECODE)
        + " |",
        "|" + " --- |" * (2 + len(DECODE)),
    ]
    for s in lad:
        e = s["errors"]
        out.append(
            f"| {s['added']} | {s['factor']} | "
            + " | ".join(f"{e[k][0]:+.1%} / {e[k][1]:+.1%}" for k in DECODE)
            + " |"
        )
    rng = " ; ".join(f"{k}: {v[0]:+.1%} / {v[1]:+.1%}" for k, v in b["day6_imbalance_range"].items())
    out += ["", f"deepseek-day6-decode at the ends of its imbalance range (unfitted / fitted): {rng}"]
    return "\n".join(out)


if __name__ == "__main__":
    b, lad = breakdown(), ladder()
    print(json.dumps({"breakdown": b, "ladder": lad}, indent=1) if "--json" in sys.argv else markdown(b, lad))
