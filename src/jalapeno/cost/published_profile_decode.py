"""SGLang's published decode kernel breakdown against the model's decode step, category by category.

SGLang's blog (https://lmsys.org/blog/2025-05-05-large-scale-ep/, *Profile Results, Detail Breakdown*, figure
``profile-decode.png``, "Decode Time Breakdown") gives the "Scaled Mean Time (ms) per Layer" of each kernel
category of a decode step (Dispatch, Combine, MoE, Attention Core, GEMM, Other Kernels, Launch Overhead, and
Overall) for DeepSeek's profile (EP128, 128 sequences a GPU at KV 4,096, MTP: 256 tokens a GPU), SGLang's
default decode (EP72, 256 sequences at KV ~2,000) and SGLang with simulated MTP (128 sequences, attention
slowed to DeepSeek's time), plus DeepEP/DeepGEMM unit tests. Its TBO ablation (``tbo-breakdown-decode.png``)
gives the same categories for SGLang with and without two-batch overlap. In decode the low-latency all-to-all
kernels run on the computation stream (they hold no SMs while the data flies, profile-data README), so the
categories of one run add up to its overall time (tests/test_published_profile_decode.py: within 1.5%), and
Dispatch and Combine include the time they wait for data ("SGLang's combine operation appears 2x slower than
DeepSeek's due to shorter attention computation, causing communication kernels to busy-wait").

``DECODE_BREAKDOWN_MS`` holds the bars as read off the figures' pixels (the blog prints no numbers): the bars
end on whole pixels (no anti-aliasing), 482.9 px a ms in the profile figure (gridlines 0.2 ms and 96.6 px
apart) and 340 px a ms in the TBO figure, so a bar reads to +-0.002 / +-0.003 ms. "Overall" is the step over
the layers: SGLang's row 8 x 256 / 22,282 / 61 = 1.507 ms against 1.488 read (-1.3%); its simulated MTP
8 x 128 x 1.6 / 17,373 / 61 = 1.546 against 1.550 ("we conservatively assume a 60% acceptance rate under
MTP"); DeepSeek's profile 8 x 128 x 1.6 / 18,598 / 62 = 1.421 against 1.422: SGLang derived the profile's
18,598 tok/s a node from its per-layer time over 61 layers plus the MTP layer at 1.6 tokens a step. Read as
both verified tokens (2 a step, a 110 ms step) the bar would be 1.805 ms, 27% longer than drawn.

``model_breakdown`` prices the same row's step (``cost.published_moe``) and sorts the hottest rank's ops into
the figure's categories (``cost.published_profile.category``; DeepEP's low-latency kernels, when the row
runs them, as dispatch and combine); "exposed" is the step less its kernels and their launch gaps: the
all-to-all the overlap left showing, which the published dispatch and combine bars hold as waiting; its
launch overhead is ``graph_launch_s`` a replayed kernel
(``cost.published_decode_kernels.launch_gap_s`` for rows with ``launch_gap``).
"""

from __future__ import annotations

from typing import Any

from jalapeno.cost import published_moe as pm
from jalapeno.cost.expert import ep_step
from jalapeno.cost.pipeline import ceil_div
from jalapeno.cost.published_profile import category
from jalapeno.models import resolve_model

DECODE_FIGURE = "https://lmsys.org/images/blog/large_scale_ep/profile-decode.png"
TBO_DECODE_FIGURE = "https://lmsys.org/images/blog/large_scale_ep/tbo-breakdown-decode.png"
CATEGORIES = ("overall", "dispatch", "combine", "moe", "attention", "gemm", "other", "launch")
KERNELS = ("moe", "attention", "gemm", "other")


def _bars(*ms: float) -> dict[str, float]:
    return dict(zip(CATEGORIES, ms, strict=True))


# ms per layer (both micro-batches), in CATEGORIES order, read off profile-decode.png
DECODE_BREAKDOWN_MS: dict[str, dict[str, float]] = {
    "deepseek-profile": _bars(1.422, 0.173, 0.074, 0.244, 0.502, 0.291, 0.084, 0.047),
    "sglang": _bars(1.488, 0.169, 0.175, 0.302, 0.360, 0.287, 0.136, 0.053),
    "sglang-slow-attention": _bars(1.550, 0.165, 0.086, 0.302, 0.494, 0.299, 0.136, 0.059),
}
UNIT_TEST_DECODE_MS = {"dispatch": 0.061, "combine": 0.078, "moe": 0.194}  # the figure's "Unit Test" bars
# tbo-breakdown-decode.png: SGLang's decode with TBO at 256 tokens a GPU, without at 256 and at 128 (scaled to
# 256 tokens: "comparing cases with the same kernel batch size, only non-overlapped communication slows down")
TBO_DECODE_ABLATION_MS: dict[str, dict[str, float]] = {
    "tbo-256": _bars(1.494, 0.177, 0.194, 0.300, 0.332, 0.285, 0.135, 0.050),
    "no-tbo-256": _bars(1.932, 0.397, 0.709, 0.235, 0.285, 0.185, 0.094, 0.032),
    "no-tbo-128": _bars(2.244, 0.406, 0.738, 0.300, 0.309, 0.297, 0.147, 0.050),
}
# the step each figure series implies: (sequences a GPU, tokens counted a sequence and step, tok/s a node,
# layers the step is scaled over)
PUBLISHED_STEP = {
    "sglang": (256, 1.0, 22282.0, 61),
    "sglang-slow-attention": (128, 1.6, 17373.0, 61),
    "deepseek-profile": (128, 1.6, 18598.0, 62),  # 61 layers + the MTP layer
}
LL_CATEGORY = {"deepep_dispatch": "dispatch", "deepep_combine": "combine"}  # DeepEP's low-latency kernels
ROW_PROFILE = {"sglang-decode-ep72": "sglang", "deepseek-profile-decode": "deepseek-profile"}


def implied_layer_ms(series: str) -> float:
    """The published step of a series over its layers, ms: 8 x sequences x tokens / tok/s / layers."""
    seqs, tokens, tps, layers = PUBLISHED_STEP[series]
    return pm.GPUS_PER_NODE * seqs * tokens / tps / layers * 1e3


def _step(row: pm.MoeRow, gamma: float | None) -> tuple[Any, Any, Any]:
    """The row's decode step without the MTP draft (``pm.plain_step_s`` / ``pm.mtp_step_s``'s verify step):
    (StepCost, ExpertCost, estimator)."""
    cfg = resolve_model("deepseek-v3")
    b, par = row.per_gpu, pm._plan(row, gamma)
    half, q = ceil_div(b, 2 if row.tbo else 1), pm.MTP_TOKENS if row.mtp else 1
    g, gt = pm.decode_graph(row, par, half, q), half * row.ep * q
    est = pm._estimator(row)
    micro = [(g, gt)] * (2 if row.tbo else 1)
    sc, x = ep_step(est, cfg, par, micro, cuda_graph=True, schedule=pm._schedule(row))
    return sc, x, est


def model_breakdown(row: pm.MoeRow, gamma: float | None = None) -> dict[str, float]:
    """The model's decode step for ``row`` in the figure's categories, ms per layer (the verify step over the
    model's 61 layers): the hottest rank's kernels stretched by the power cap as the step is; "exposed" the
    step less those kernels (the all-to-all the overlap left showing); "all_to_all" the dispatch and combine
    transfers themselves (NIC time, hidden or not)."""
    sc, x, est = _step(row, gamma)
    layers = resolve_model("deepseek-v3").num_layers
    halves = x.micro_batches
    device = sc.time_s - est.params.step_overhead_s
    stretch = device / (x.compute_s + x.all_to_all_s - x.hidden_s)
    own = ("dispatch", "combine", "launch")
    out = dict.fromkeys((*KERNELS, *own), 0.0)
    per = halves * stretch / layers * 1e3
    for c in sc.ops:
        gap = est.params.graph_launch_s * c.time.kernels * c.op.repeat  # between replayed kernels
        cat = LL_CATEGORY.get(c.op.name) or category(c.op.name, c.op.kind)
        out[cat] += (c.total_s - gap) * per
        out["launch"] += gap * per
    out["overall"] = sc.time_s / layers * 1e3
    out["exposed"] = out["overall"] - sum(out[k] for k in (*KERNELS, *own))
    out["all_to_all"] = x.all_to_all_s / layers * 1e3
    out["imbalance"] = x.imbalance
    return {k: round(v, 4) for k, v in out.items()}


def comparison(gamma: float | None = None) -> list[dict[str, Any]]:
    """Per decode row with a published breakdown: the bars, the model's categories (``gamma``: the decode
    expert-rank factor, None for the unfitted model) and the implied step."""
    rows = []
    for r in pm.ROWS:
        if r.id in ROW_PROFILE:
            prof = ROW_PROFILE[r.id]
            pub, mod = DECODE_BREAKDOWN_MS[prof], model_breakdown(r, gamma)
            rows.append(
                {
                    "id": r.id,
                    "profile": prof,
                    "implied": round(implied_layer_ms(prof), 4),
                    "published": pub,
                    "model": mod,
                }
            )
    return rows
