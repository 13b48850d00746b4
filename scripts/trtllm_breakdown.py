"""DeepSeek-R1 on B200 with TensorRT-LLM, kernel by kernel: the rates NVIDIA's tech blogs print against the
model, and which category carries the MLPerf R1 rows' ~2x (docs/validation-moe.md, "DeepSeek-R1 on B200: the
step by kernel").

Usage: /work/bin/jpy scripts/trtllm_breakdown.py [--json]

1. MoE module (blog 24): one B200 rank of TP8 at ``num_tokens``; the model's router + routed experts + combine
   (per MoE layer, ``Estimator(b200, tp=8)``) against TRTLLM-Gen's and CUTLASS's published latency, and the
   weight-stream rate the published time implies (the experts' bytes over the published time less the model's
   router and combine), as a fraction of B200's HBM peak.
2. All-to-all (blog 18, EP8, BF16, GB200's NVLink 5): the model's dispatch + combine per MoE layer at the
   same tokens a rank (``ep_step``, TP1 DP8 EP8) against the published kernels.
3. The group step by category at the three operating points of scripts/deepseek_step_gap.py (MLPerf B200
   server by Little's law; TensorRT-LLM's max-throughput recipes), with the MoE and the all-to-all re-priced
   at the published rates: how much of the published step they account for.
4. Blog 1's one-request step without MTP against the model's TP8 batch-1 step.
5. Every R1 row's error (``jalapeno calibrate --all``'s ``ep_rows``) before and after the MoE weight stream
   at blog 24's rate on the Blackwell rows (a sensitivity, never applied; nothing fitted on the R1 rows;
   the dense rows' fit does not change since they have no routed experts).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from dataclasses import replace
from typing import Any

import jalapeno.cost.step as step_mod
from jalapeno.cost import published_ep as pe
from jalapeno.cost import published_trtllm_kernels as tk
from jalapeno.cost.expert import ep_step
from jalapeno.cost.op_time import op_time
from jalapeno.cost.params import fused_engine
from jalapeno.cost.pipeline import Parallel
from jalapeno.cost.published import load_published
from jalapeno.cost.published_fit import row_shape
from jalapeno.cost.published_profile import category
from jalapeno.cost.published_run import calibrate_all
from jalapeno.cost.step import Estimator
from jalapeno.cost.tbo_stages import EP_EXPERTS
from jalapeno.graph.batch import Batch
from jalapeno.graph.builder import build_graph
from jalapeno.graph.precision import Precision
from jalapeno.hardware.registry import resolve_chip
from jalapeno.models import resolve_model

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from deepseek_step_gap import points

CHIPS = ["h200-sxm", "b200", "gb200-nvl72", "gb300-nvl72"]
BLACKWELL = ("b200", "gb200-nvl72", "gb300-nvl72")
MODULE_OPS = ("router", "experts", "moe_combine")
RATE_TOKENS = (128, 192, 256, 336, 384)  # every expert shard busy (P(idle) <= 1.7% at 128): the plateau


def _graph(model: Any, seqs: int, ctx: int, kv: str = "fp8") -> Any:
    return build_graph(model, Batch.decode(seqs, ctx), Precision.of("nvfp4", "nvfp4", kv))


def moe_table(prm: Any) -> list[dict[str, float]]:
    """Blog 24's per-rank MoE module against the model's at the same TP8 shape (us a MoE layer)."""
    chip, model = resolve_chip("b200"), resolve_model("deepseek-r1")
    est = Estimator(chip, prm, tk.MOE_TP)
    bw = est.rates.mem_bw
    out = []
    for m, (dense, gen, cut) in tk.MOE_MODULE_US.items():
        costs, _, _, _ = est.price_ops(_graph(model, m, 2048))
        per = {c.op.name: c.total_s / c.op.repeat * 1e6 for c in costs if c.op.name in MODULE_OPS}
        xb = next(c.sharded.bytes for c in costs if c.op.name == "experts")
        mod = sum(per.values())
        stream = xb / ((gen - mod + per["experts"]) * 1e-6) / bw  # the experts' bytes over TRTLLM-Gen's time
        out.append({"num_tokens": m, "model_us": round(mod, 2), "experts_us": round(per["experts"], 2),
                    "trtllm_gen_us": gen, "cutlass_us": cut, "densegemm_us": dense,
                    "gen_over_model": round(gen / mod, 3), "expert_mb": round(xb / 1e6, 1),
                    "gen_stream_of_hbm": round(stream, 4)})  # fmt: skip
    return out


def stream_fraction(table: list[dict[str, float]]) -> tuple[float, float, float]:
    """(low, mid, high) of TRTLLM-Gen's weight stream as a fraction of HBM peak over the plateau."""
    v = sorted(r["gen_stream_of_hbm"] for r in table if r["num_tokens"] in RATE_TOKENS)
    return v[0], v[len(v) // 2], v[-1]


def _ep8(prm: Any, chip: str = "b200") -> tuple[Estimator, Parallel]:
    return Estimator(resolve_chip(chip), prm, 1), Parallel(tp=1, dp=8, ep=8)


def a2a_table(prm: Any) -> list[dict[str, float]]:
    """Blog 18's EP8 dispatch + combine against the model's all-to-all per MoE layer (us)."""
    model = resolve_model("deepseek-r1")
    est, par = _ep8(prm)
    out = []
    for b, (d_us, _, c_us, _) in tk.A2A_EP8_US.items():
        sc, x = ep_step(est, model, par, [(_graph(model, b, 2048), b * 8)], cuda_graph=True)
        n_moe = next(c.op.repeat for c in sc.ops if c.op.name == EP_EXPERTS)
        out.append({"batch": b, "published_us": round(d_us + c_us, 1), "dispatch_us": d_us,
                    "combine_us": c_us, "model_us": round(x.all_to_all_s / n_moe * 1e6, 1),
                    "model_bytes_per_layer": round(x.dispatch_bytes_per_chip)})  # fmt: skip
    return out


def step_split(prm: Any, rows: dict, frac: float) -> list[dict[str, Any]]:
    """The model's group step at each operating point by category (ms a step), and the same step with
    the MoE and the all-to-all at the published rates (``frac`` of HBM peak; blog 18 at the rank's batch)."""
    model = resolve_model("deepseek-r1")
    est, par = _ep8(prm)
    bw = est.rates.mem_bw
    out = []
    for name, per_rank, ctx, kv, pub_s in points(rows):
        sc, x = ep_step(est, model, par, [(_graph(model, per_rank, ctx, kv), per_rank * 8)], cuda_graph=True)
        cat: dict[str, float] = defaultdict(float)
        moe_pub = 0.0
        for c in sc.ops:
            cat[category(c.op.name, c.op.kind)] += c.total_s * 1e3
            if c.op.name == EP_EXPERTS:
                moe_pub += max(c.total_s, c.sharded.bytes * c.op.repeat / (frac * bw)) * 1e3
        n_moe = next(c.op.repeat for c in sc.ops if c.op.name == EP_EXPERTS)
        d_us, c_us = tk.a2a_ep8_us(per_rank)
        a2a_pub = (d_us + c_us) * n_moe / 1e3
        a2a = x.all_to_all_s * 1e3
        overhead = prm.step_overhead_s * 1e3
        rest = sc.time_s * 1e3 - sum(cat.values()) - a2a - overhead
        repriced = sc.time_s * 1e3 + (moe_pub - cat["moe"]) + (a2a_pub - a2a)
        out.append({"point": name, "per_rank": per_rank, "ctx": ctx, "published_ms": round(pub_s * 1e3, 1),
                    "model_ms": round(sc.time_s * 1e3, 1), **{k: round(v, 2) for k, v in cat.items()},
                    "all_to_all": round(a2a, 2), "step_overhead": round(overhead, 2),
                    "power_cap_and_rest": round(rest, 2), "moe_at_blog24": round(moe_pub, 2),
                    "a2a_at_blog18": round(a2a_pub, 2), "repriced_ms": round(repriced, 1),
                    "repriced_over_published": round(repriced / (pub_s * 1e3), 3)})  # fmt: skip
    return out


BLOG1_NO_MTP_TPS_USER = 111.0  # blog 1's MTP table, "Without MTP": 8 B200, one request, ISL 1K / OSL 2K


def batch1_step(prm: Any) -> dict[str, float]:
    """Blog 1's one-request step without MTP (1 / 111 tok/s) against the model's TP8 batch-1 step (KV 2,048,
    BF16 attention as blog 1 runs it): its kernels and all-reduces, and its fitted per-step overhead."""
    est = Estimator(resolve_chip("b200"), prm, 8)
    sc = est.step(_graph(resolve_model("deepseek-r1"), 1, 2048, "bf16"))
    return {"published_ms": round(1e3 / BLOG1_NO_MTP_TPS_USER, 2), "model_ms": round(sc.time_s * 1e3, 2),
            "kernels_and_allreduce_ms": round((sc.time_s - prm.step_overhead_s) * 1e3, 2),
            "step_overhead_ms": round(prm.step_overhead_s * 1e3, 2)}  # fmt: skip


def _stream_timer(frac: float):
    """``op_time`` with the routed experts streaming no faster than ``frac`` of HBM peak."""

    def timed(op: Any, rates: Any, prm: Any) -> Any:
        t = op_time(op, rates, prm)
        if op.name != EP_EXPERTS:
            return t
        return replace(t, time_s=max(t.time_s, op.bytes / (frac * rates.mem_bw)))

    return timed


def row_errors(fits: dict, fracs: tuple[float, float, float]) -> list[dict[str, Any]]:
    """Each expert-parallel row's error now and with the Blackwell R1 rows' experts at blog 24's stream
    rate (low / mid / high of its plateau); the H200 row and other models unchanged by construction."""
    out = []
    for f in fits.values():
        p = fused_engine(f.params)
        for c in f.ep_checked:
            r = c.row
            e = {"chip": f.chip, "row": r.key, "published": r.per_chip,
                 "before": round(c.error, 4) if c.error is not None else None}  # fmt: skip
            if f.chip in BLACKWELL and r.model == "deepseek-r1":
                m, ch = resolve_model(r.model), resolve_chip(r.chip)
                for label, fr in zip(("after_low", "after_mid", "after_high"), fracs, strict=True):
                    step_mod.op_time = _stream_timer(fr)  # type: ignore[assignment]
                    try:
                        res = pe.ep_result(r, m, ch, p, row_shape(r))
                    finally:
                        step_mod.op_time = op_time  # type: ignore[assignment]
                    e[label] = round(res.tokens_per_s_per_chip / r.per_chip - 1, 4) if res else None
            out.append(e)
    return out


def dense_errors(fits: dict) -> dict[str, float]:
    """The dense rows' errors (fit and held out): the sensitivity leaves them as they are."""
    out = {}
    for f in fits.values():
        for c in getattr(f, "checked", []):
            if c.error is not None:
                out[f"{f.chip}: {c.row.key}"] = round(c.error, 4)
    return out


def run() -> dict[str, Any]:
    rows = {r.id: r for r in load_published()}
    fits, _ = calibrate_all(list(rows.values()), CHIPS)
    prm = fused_engine(fits["b200"].params)
    moe = moe_table(prm)
    fr = stream_fraction(moe)
    return {"moe_module": moe, "stream_fraction": fr, "a2a_ep8": a2a_table(prm),
            "steps": step_split(prm, rows, fr[1]), "batch1": batch1_step(prm), "rows": row_errors(fits, fr),
            "dense_rows": dense_errors(fits)}  # fmt: skip


def _md(rows: list[dict[str, Any]], cols: tuple[str, ...]) -> str:
    out = ["| " + " | ".join(cols) + " |", "|" + " --- |" * len(cols)]
    out += ["| " + " | ".join(str(r.get(c, "-")) for c in cols) + " |" for r in rows]
    return "\n".join(out)


def markdown(b: dict[str, Any]) -> str:
    moe_cols = ("num_tokens", "model_us", "experts_us", "trtllm_gen_us", "cutlass_us", "densegemm_us",
                "gen_over_model", "expert_mb", "gen_stream_of_hbm")  # fmt: skip
    a2a_cols = ("batch", "model_us", "published_us", "dispatch_us", "combine_us", "model_bytes_per_layer")
    step_cols = ("point", "per_rank", "ctx", "published_ms", "model_ms", "attention", "moe", "gemm", "other",
                 "all_to_all", "step_overhead", "power_cap_and_rest", "moe_at_blog24", "a2a_at_blog18",
                 "repriced_ms", "repriced_over_published")  # fmt: skip
    row_cols = ("chip", "row", "published", "before", "after_low", "after_mid", "after_high")
    lo, mid, hi = b["stream_fraction"]
    return "\n\n".join(
        [
            "MoE module, one B200 rank of TP8, us a MoE layer (blog 24)\n" + _md(b["moe_module"], moe_cols),
            f"TRTLLM-Gen weight stream on the plateau: {lo:.3f} / {mid:.3f} / {hi:.3f} of HBM peak",
            "EP8 dispatch + combine, us a MoE layer (blog 18, BF16)\n" + _md(b["a2a_ep8"], a2a_cols),
            "Group step by category, ms a step\n" + _md(b["steps"], step_cols),
            "One request, blog 1 without MTP: " + json.dumps(b["batch1"]),
            "Expert-parallel rows: error before / with the experts at blog 24's stream (low / mid / high)\n"
            + _md(b["rows"], row_cols),
            "Dense rows (unchanged): " + json.dumps(b["dense_rows"]),
        ]
    )


if __name__ == "__main__":
    res = run()
    print(json.dumps(res, indent=1) if "--json" in sys.argv else markdown(res))
