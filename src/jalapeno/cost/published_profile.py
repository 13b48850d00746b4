"""SGLang's published prefill kernel breakdown against the model's step, category by category.

SGLang's blog (https://lmsys.org/blog/2025-05-05-large-scale-ep/, *Profile Results, Detail Breakdown*, figure
``profile-prefill.png``, "Prefill Time Breakdown") gives, for its EP32 prefill at 16,384 tokens a GPU and 4K
prompts, the "Scaled Mean Time (ms) per Layer" of each kernel category on the computation stream (MoE,
Attention Core, GEMM, Other Kernels, Comp Stream Bubble) and on the communication stream (Dispatch/Combine
Barrier and Core, Comm Stream Bubble), for DeepSeek's profile, SGLang with its default EPLB, SGLang with
simulated perfect EPLB, and DeepEP/DeepGEMM unit tests. ``PREFILL_BREAKDOWN_MS`` holds the bars as read off
the figure's pixels (the blog does not print the numbers; reading error about 0.1 ms). "Overall" is the step
over the model's 61 layers: 8 x 16,384 / published tok/s a node / 61 = 34.3 / 42.7 / 36.2 ms against 34.6 /
42.9 / 36.3 read, and each stream's categories add up to it within 2% (tests/test_published_profile.py).

``model_breakdown`` prices the same row's step (``cost.published_moe``) and sorts the hottest rank's ops into
the figure's categories: attention ops; FP8 linear layers (``matmul`` and ``lm_head`` ops); the routed experts
(``ep_experts``); everything else (norms, RoPE, router, activations, residual adds, the combine's weighted
sum). The compute categories are stretched by the power cap as the step is; dispatch and combine are the
all-to-alls' NIC/NVLink time, which the model overlaps with the computation.
"""

from __future__ import annotations

from typing import Any

from jalapeno.cost import published_moe as pm
from jalapeno.cost.expert import combine_bytes, ep_all_to_all_s, ep_step
from jalapeno.cost.published_glue import sglang_moe_glue
from jalapeno.cost.published_kernels import bf16_attention
from jalapeno.graph.batch import Batch
from jalapeno.graph.builder import build_graph
from jalapeno.hardware.network import network_of
from jalapeno.models import resolve_model

PROFILE_FIGURE = "https://lmsys.org/images/blog/large_scale_ep/profile-prefill.png"
TBO_FIGURE = "https://lmsys.org/images/blog/large_scale_ep/tbo-breakdown-prefill.png"
CATEGORIES = (
    "overall",
    "dispatch_barrier",
    "dispatch_core",
    "combine_barrier",
    "combine_core",
    "moe",
    "attention",
    "gemm",
    "other",
    "comp_bubble",
    "comm_bubble",
)
COMPUTE = ("moe", "attention", "gemm", "other", "comp_bubble")
COMMUNICATION = ("dispatch_barrier", "dispatch_core", "combine_barrier", "combine_core", "comm_bubble")


def _bars(*ms: float) -> dict[str, float]:
    return dict(zip(CATEGORIES, ms, strict=True))


# ms per layer (both micro-batches of 16,384 tokens a GPU), in CATEGORIES order
PREFILL_BREAKDOWN_MS: dict[str, dict[str, float]] = {
    "deepseek-profile": _bars(34.6, 2.1, 9.5, 2.0, 17.3, 12.4, 5.6, 8.4, 5.1, 2.5, 3.6),
    "sglang-default": _bars(42.9, 2.7, 16.7, 2.2, 20.0, 10.5, 5.7, 8.8, 6.2, 11.3, 0.9),
    "sglang-perfect-eplb": _bars(36.3, 3.2, 10.8, 1.6, 15.0, 12.3, 6.5, 9.5, 6.6, 1.2, 5.5),
}
UNIT_TEST_MS = {"dispatch_core": 7.3, "combine_core": 14.3, "moe": 11.1}  # the figure's "Unit Test" bars
# The blog's TBO ablation (figure tbo-breakdown-prefill.png, same scaling): the computation kernels (MoE,
# attention, GEMM, other) without overlap at 8k tokens a GPU, and with it at 16k (two micro-batches of 8k):
# "the no-TBO 8k case outperforms the TBO 16k case in per-kernel speed ... may stem from reduced streaming
# multiprocessors (SMs) with TBO, potential noisy neighbor effects during overlap, or kernel incompatibility"
TBO_ABLATION_COMPUTE_MS = {
    "no-tbo-8k": {"moe": 9.7, "attention": 4.5, "gemm": 5.9, "other": 5.6},
    "tbo-16k": {"moe": 10.5, "attention": 5.7, "gemm": 8.9, "other": 6.2},
}
ROW_PROFILE = {
    "deepseek-profile-prefill": "deepseek-profile",
    "sglang-prefill-4k": "sglang-default",
    "sglang-prefill-4k-perfect-eplb": "sglang-perfect-eplb",
}


def category(name: str, kind: str) -> str:
    """The figure's computation category of one model op."""
    if name == "ep_experts":
        return "moe"
    if kind == "attention":
        return "attention"
    return "gemm" if kind in ("matmul", "lm_head") else "other"


def model_breakdown(row: pm.MoeRow) -> dict[str, Any]:
    """The model's prefill step for ``row`` in the figure's categories, ms per layer (the step over the
    model's layers): compute categories on the hottest rank, stretched by the power cap like the step;
    dispatch and combine from the all-to-all pricing (``cost.expert.ep_all_to_all_s``)."""
    cfg = resolve_model("deepseek-v3")
    assert cfg.moe is not None and row.phase == "prefill" and row.cached_fraction == 0.0
    halves = 2 if row.tbo else 1
    seqs = max(1, round(row.per_gpu / row.length / halves))
    g = bf16_attention(build_graph(cfg, Batch.prefill(row.length, 0, batch=seqs), pm._precision()))
    est, par = pm._estimator(row), pm._plan(row, None)
    g = sglang_moe_glue(g, cfg, par, row.moe_glue)
    tokens = seqs * row.length
    micro = [(g, tokens * row.ep)] * halves
    sc, x = ep_step(est, cfg, par, micro, cuda_graph=False, schedule=pm._schedule(row))
    device = x.compute_s + x.all_to_all_s - x.hidden_s
    stretch = (sc.time_s - est.params.step_overhead_s) / device
    layers = cfg.num_layers
    out = dict.fromkeys(("moe", "attention", "gemm", "other"), 0.0)
    for c in sc.ops:
        out[category(c.op.name, c.op.kind)] += c.total_s * halves * stretch / layers * 1e3
    ab = g.precision.activations.bytes_per_element
    b = x.imbalance * tokens * cfg.moe.experts_per_token * cfg.hidden_size * ab
    net = network_of(est.chip)  # the NIC at the rate DeepEP reached (published_kernels.deepep_nic)
    assert net is not None
    n_moe = sum(o.repeat for o in g.ops if o.name == "experts")
    per = n_moe * halves / layers * 1e3
    out["dispatch"] = ep_all_to_all_s(net, cfg, par, b)[0] * per
    out["combine"] = ep_all_to_all_s(net, cfg, par, b * combine_bytes(ab) / ab)[0] * per
    # the compute stream's waits for all-to-alls its stage could not hide (cost.tbo_stages)
    out["comp_bubble"] = (x.all_to_all_s - x.hidden_s) * stretch / layers * 1e3
    out["overall"] = sc.time_s / layers * 1e3
    out["power_stretch"] = stretch
    out["imbalance"] = x.imbalance
    return {k: round(v, 3) for k, v in out.items()}


def comparison() -> list[dict[str, Any]]:
    """Per profiled row: the published bars, the model's categories, and their ratio (model / published)."""
    rows = []
    for r in pm.ROWS:
        if r.id not in ROW_PROFILE:
            continue
        pub, mod = PREFILL_BREAKDOWN_MS[ROW_PROFILE[r.id]], model_breakdown(r)
        rows.append({"id": r.id, "profile": ROW_PROFILE[r.id], "published": pub, "model": mod})
    return rows
