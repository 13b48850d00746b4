"""The published wide-EP MoE validation table: every row predicted as shipped and with the decode factor
fitted on one source, with the mechanisms behind each row (DeepEP kernels, attention imbalance) and the Day-6
decode operating point. Rows and predictor: ``cost.published_moe``; run by ``scripts/validate_moe.py``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from jalapeno.cost.expert import node_fraction
from jalapeno.cost.published_moe import (
    DAY6_USER_RATE,
    FIT_SOURCE,
    GPUS_PER_NODE,
    KV_CV,
    KV_CV_RANGE,
    MTP_ACCEPTANCE,
    MTP_ACCEPTANCE_RANGE,
    MTP_DRAFT_COST,
    MTP_TOKENS,
    PRECISION,
    ROWS,
    MoeRow,
    _plan,
    day6_occupancy,
    day6_prompt,
    decode_tokens_per_step,
    fit_gamma,
    mtp_step_s,
    plain_step_s,
    predict,
    predict_decode,
    predict_prefill,
    slo_operating_point,
)
from jalapeno.models import resolve_model


def table(rows: tuple[MoeRow, ...] = ROWS, source: str = FIT_SOURCE) -> dict[str, Any]:
    """Every row predicted as shipped and with the decode factor fitted on ``source`` (``split``)."""
    gamma = fit_gamma(rows, source)
    out = []
    for r in rows:
        base = predict(r)
        fitted = predict_decode(r, gamma) if r.phase == "decode" else base
        split = "fit" if (r.source == source and r.phase == "decode") else "held-out"
        row = {
            "id": r.id,
            "source": r.source,
            "url": r.url,
            "where": r.where,
            "date": r.date,
            "software": r.software,
            "chip": r.chip,
            "phase": r.phase,
            "ep": r.ep,
            "dp": r.ep,
            "redundant_experts": r.redundant,
            "tbo": r.tbo,
            "nodes": r.ep // GPUS_PER_NODE,
            "per_gpu": r.per_gpu,
            "length": r.length,
            "cached_fraction": r.cached_fraction,
            "mtp": r.mtp,
            "precision": "w:{} a:{} kv:{}".format(*PRECISION),
            "published": r.published,
            "predicted": round(base, 1),
            "error": round(base / r.published - 1.0, 4),
            "predicted_fitted": round(fitted, 1),
            "error_fitted": round(fitted / r.published - 1.0, 4),
            "split": split,
            "note": r.note,
        }
        if r.mtp and not r.counts_verified and not r.counted_acceptance:
            row["error_fitted_acceptance_range"] = [
                round(predict_decode(r, gamma, a) / r.published - 1.0, 4) for a in MTP_ACCEPTANCE_RANGE
            ]
        if r.user_rate:
            row["operating_point"] = operating_point(r, gamma)
        out.append({**row, **mechanisms(r, gamma)})
    return {
        "model": "deepseek-v3",
        "engine": "fused",
        "fit_source": source,
        "decode_ep_factor": gamma,
        "mtp": {
            "tokens_verified": MTP_TOKENS,
            "acceptance": MTP_ACCEPTANCE,
            "range": list(MTP_ACCEPTANCE_RANGE),
            "draft_cost": round(MTP_DRAFT_COST, 5),
        },
        "day6_occupancy": day6_occupancy(),
        "day6_prompt": day6_prompt(),
        "goal": "within 25% of the published per-node throughput",
        "rows": out,
    }


def mechanisms(r: MoeRow, gamma: float) -> dict[str, Any]:
    """The row's DeepEP kernels and attention imbalance, and what the row predicts without them: prefill
    with per-expert dispatch; decode at the ends of the KV-length cv range and with every rank at the mean."""
    out: dict[str, Any] = {"dispatch": r.dispatch, "attn_imbalance": round(_plan(r, None).attn_imbalance, 4)}
    if r.dispatch == "per_node":
        cfg = resolve_model("deepseek-v3")
        out["nic_fraction"] = round(node_fraction(cfg, _plan(r, None), GPUS_PER_NODE), 4)
        pe = predict_prefill(replace(r, dispatch="per_expert"))
        out["predicted_per_expert"], out["error_per_expert"] = round(pe, 1), round(pe / r.published - 1.0, 4)
    if r.kv_cv > 0 and r.phase == "decode":
        cvs = (*KV_CV_RANGE, 0.0) if r.kv_cv == KV_CV else (0.0,)
        errs = [round(predict_decode(replace(r, kv_cv=c), gamma) / r.published - 1.0, 4) for c in cvs]
        out["error_fitted_balanced"] = errs[-1]
        if len(errs) > 1:
            out["error_fitted_cv_range"] = errs[:2]
    return out


def operating_point(r: MoeRow, gamma: float) -> dict[str, Any]:
    """A decode row with a published per-user speed, two ways (fitted factor): (1) at the mean concurrency
    that speed implies (published / 8 / rate sequences a GPU), the per-user speed the model predicts, over
    the published 20-22 tok/s; (2) the batch whose step gives the published speed (KV-capped) and a
    saturated node's throughput there."""
    tps = decode_tokens_per_step(r)
    lo_hi = []
    for u in DAY6_USER_RATE:
        b = round(r.published / GPUS_PER_NODE / u)
        pred = b * tps * GPUS_PER_NODE / mtp_step_s(r, gamma, b)
        lo_hi.append(
            {
                "user_rate": u,
                "per_gpu": b,
                "predicted": round(pred, 1),
                "error": round(pred / r.published - 1.0, 4),
            }
        )
    step = mtp_step_s(r, gamma) if r.mtp else plain_step_s(r, gamma)
    return {
        "step_s": round(step, 5),
        "implied_step_s": round(tps / r.user_rate, 5),
        "predicted_user_rate": round(tps / step, 2),
        "published_user_rate": list(DAY6_USER_RATE),
        "rate_range": lo_hi,
        "at_user_rate": slo_operating_point(r, gamma),
    }
