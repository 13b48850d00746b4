"""Published wide-EP MoE serving results (DeepSeek-V3/R1 on H800/H100 nodes) and the model's predictions.

Each row is one published per-node throughput with the deployment that produced it (expert/data-parallel
degrees, tokens or sequences a GPU, lengths, overlap); ``predict`` prices the same deployment with
``cost.estimate`` (decode) or ``cost.expert.ep_step`` (a prefill batch of whole prompts on every
attention replica) under the fused serving engine's parameters. One knob can be fitted: the decode
expert-rank factor (``Parallel.ep_imbalance``, the hottest rank's load over the mean), fitted on the
rows of one source (``FIT_SOURCE``) and applied to the decode rows of the others, which are held out;
prefill rows keep the statistical floor of uniform routing (nothing fitted). Run by
``scripts/validate_moe.py``; documented in docs/validation-moe.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jalapeno.cost.estimate import estimate
from jalapeno.cost.expert import ep_step
from jalapeno.cost.params import setup_for
from jalapeno.cost.pipeline import Parallel
from jalapeno.cost.step import Estimator
from jalapeno.graph.batch import Batch
from jalapeno.graph.builder import build_graph
from jalapeno.graph.precision import Precision
from jalapeno.hardware.registry import resolve_chip
from jalapeno.models import resolve_model

GPUS_PER_NODE = 8
DAY6 = ("https://github.com/deepseek-ai/open-infra-index/blob/main/202502OpenSourceWeek/"
        "day_6_one_more_thing_deepseekV3R1_inference_system_overview.md")
SGLANG = "https://lmsys.org/blog/2025-05-05-large-scale-ep/"
FIT_SOURCE = "sglang-blog"
# DeepSeek serves in FP8 (weights and GEMM activations; "precision consistent with training", Day 6) with
# its MLA cache in BF16 (FlashMLA); SGLang runs the same FP8 checkpoint with DeepGEMM.
PRECISION = ("fp8", "fp8", "bf16")


@dataclass(frozen=True)
class MoeRow:
    """One published per-node throughput and the deployment behind it."""

    id: str
    source: str  # fit/held-out split is by source
    url: str
    where: str  # section / table of the source
    date: str
    software: str
    chip: str
    phase: str  # "prefill" (input tokens/s a node) or "decode" (output tokens/s a node)
    ep: int
    redundant: int
    tbo: bool
    per_gpu: int  # prefill: new tokens a GPU per batch; decode: sequences a GPU
    length: int  # prefill: prompt length; decode: KV-cache length
    published: float  # tokens/s per node
    cached_fraction: float = 0.0  # prefill: share of the published input tokens that hit a prefix cache
    perfect_balance: bool = False  # the source simulated perfectly balanced experts
    note: str = ""


ROWS: tuple[MoeRow, ...] = (
    MoeRow("sglang-prefill-1k", "sglang-blog", SGLANG, "Evaluation, Performance Analysis of Prefill and Decode Phases",
           "2025-05-05", "SGLang + DeepEP/DeepGEMM, PD disaggregation, EPLB, TBO", "h100-sxm", "prefill", 32, 32,
           True, 16384, 1024, 57674.0, note="4 nodes; 16,384 tokens a GPU (stated for the 4K profile run)"),
    MoeRow("sglang-prefill-2k", "sglang-blog", SGLANG, "Evaluation, Performance Analysis of Prefill and Decode Phases",
           "2025-05-05", "SGLang + DeepEP/DeepGEMM, PD disaggregation, EPLB, TBO", "h100-sxm", "prefill", 32, 32,
           True, 16384, 2048, 54543.0, note="4 nodes; 16,384 tokens a GPU (stated for the 4K profile run)"),
    MoeRow("sglang-prefill-4k", "sglang-blog", SGLANG, "Profile Results, Overall Throughput (prefill table, Default)",
           "2025-05-05", "SGLang + DeepEP/DeepGEMM, PD disaggregation, EPLB, TBO", "h100-sxm", "prefill", 32, 32,
           True, 16384, 4096, 50302.0, note="4 nodes, batch 16,384 tokens a GPU"),
    MoeRow("sglang-prefill-4k-perfect-eplb", "sglang-blog", SGLANG,
           "Profile Results, Overall Throughput (prefill table, Simulated Perfect EPLB)", "2025-05-05",
           "SGLang + DeepEP/DeepGEMM, TBO, random balanced routing", "h100-sxm", "prefill", 32, 32, True, 16384, 4096,
           59337.0, perfect_balance=True, note="experts drawn uniformly (group-limited): imbalance set to 1.0"),
    MoeRow("sglang-decode-ep72", "sglang-blog", SGLANG, "Profile Results, Overall Throughput (decode table, Default)",
           "2025-05-05", "SGLang + DeepEP low-latency/DeepGEMM, PD disaggregation, EPLB, TBO", "h100-sxm", "decode",
           72, 32, True, 256, 2000, 22282.0, note="9 nodes (EP72, 288 expert slots); 2,000-token inputs, 100 out"),
    MoeRow("deepseek-profile-prefill", "deepseek-profile", SGLANG,
           "Profile Results, Overall Throughput (prefill table, DeepSeek Profile column; derived by SGLang from "
           "github.com/deepseek-ai/profile-data)", "2025-05-05", "DeepSeek inference engine (DeepEP, DeepGEMM, "
           "dual micro-batch)", "h800", "prefill", 32, 32, True, 16384, 4096, 62713.0,
           note="EP32, 4K prompts, 16,384 tokens a GPU"),
    MoeRow("deepseek-profile-decode", "deepseek-profile", SGLANG,
           "Profile Results, Overall Throughput (decode table, DeepSeek Profile column)", "2025-05-05",
           "DeepSeek inference engine (DeepEP, DeepGEMM, 5-stage overlap, MTP)", "h800", "decode", 128, 0, True, 128,
           4096, 18598.0, note="16 nodes (EP128), 128 sequences a GPU, KV 4,096; includes MTP (not modelled)"),
    MoeRow("deepseek-day6-prefill", "deepseek-day6", DAY6, "Statistics of DeepSeek's Online Service", "2025-03-01",
           "DeepSeek online service (V3 and R1), 24 h average", "h800", "prefill", 32, 32, True, 16384, 4096, 73700.0,
           cached_fraction=0.563,
           note="EP32/DP32 units of 4 nodes; input tokens incl. 56.3% on-disk cache hits; prompt length not "
                "published (4,096 assumed); a day's average, not a saturated node"),
    MoeRow("deepseek-day6-decode", "deepseek-day6", DAY6, "Statistics of DeepSeek's Online Service", "2025-03-01",
           "DeepSeek online service (V3 and R1), 24 h average", "h800", "decode", 144, 32, True, 88, 4989, 14800.0,
           note="EP144/DP144 units of 18 nodes; average KV 4,989; 88 sequences a GPU = 14,800 / 8 / 21 tok/s a "
                "user (20-22 published); a day's average; MTP not modelled"),
)


def _plan(row: MoeRow, gamma: float | None) -> Parallel:
    g = 1.0 if row.perfect_balance else gamma
    return Parallel(tp=1, ep=row.ep, dp=row.ep, redundant_experts=row.redundant, ep_imbalance=g, tbo=row.tbo)


def _precision() -> Precision:
    return Precision.of(*PRECISION)


def predict_decode(row: MoeRow, gamma: float | None = None) -> float:
    """Output tokens/s of a node: ``per_gpu`` sequences a GPU at KV ``length`` over one decode step."""
    e = estimate(resolve_model("deepseek-v3"), resolve_chip(row.chip), batch=row.per_gpu * row.ep,
                 context=row.length, precision=_precision(), parallel=_plan(row, gamma), engine="fused")
    return row.per_gpu * GPUS_PER_NODE / e.decode.time_s


def predict_prefill(row: MoeRow, gamma: float | None = None) -> float:
    """Input tokens/s of a node: every GPU prefills ``per_gpu`` tokens of whole ``length``-token prompts
    (two halves with overlap); published rows that count cache hits get them added back."""
    cfg, chip = resolve_model("deepseek-v3"), resolve_chip(row.chip)
    prm, timer = setup_for(chip, "fused")
    par = _plan(row, gamma)
    new = round(row.length * (1.0 - row.cached_fraction))
    halves = 2 if row.tbo else 1
    seqs = max(1, row.per_gpu // row.length // halves)
    g = build_graph(cfg, Batch.prefill(new, row.length - new, batch=seqs), _precision())
    tokens = seqs * new
    sc, _ = ep_step(Estimator(chip, prm, 1, timer), cfg, par, [(g, tokens * row.ep)] * halves, cuda_graph=False)
    return tokens * halves * GPUS_PER_NODE / sc.time_s / (1.0 - row.cached_fraction)


def predict(row: MoeRow, gamma: float | None = None) -> float:
    return predict_decode(row, gamma) if row.phase == "decode" else predict_prefill(row, None)


def fit_gamma(rows: tuple[MoeRow, ...] = ROWS, source: str = FIT_SOURCE) -> float:
    """The decode expert-rank factor that makes the source's decode rows' mean log error zero (bisection:
    the prediction falls as the factor grows)."""
    import math

    fit = [r for r in rows if r.source == source and r.phase == "decode"]
    lo, hi = 1.0, 6.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        err = sum(math.log(predict_decode(r, mid) / r.published) for r in fit)
        lo, hi = (mid, hi) if err > 0 else (lo, mid)
    return round(0.5 * (lo + hi), 4)


def table(rows: tuple[MoeRow, ...] = ROWS, source: str = FIT_SOURCE) -> dict[str, Any]:
    """Every row predicted twice: as shipped (uniform-routing imbalance floor) and with the decode factor
    fitted on ``source``; ``split`` says whether a row was fitted on or held out."""
    gamma = fit_gamma(rows, source)
    out = []
    for r in rows:
        base = predict(r)
        fitted = predict_decode(r, gamma) if r.phase == "decode" else base
        split = "fit" if (r.source == source and r.phase == "decode") else "held-out"
        out.append({"id": r.id, "source": r.source, "url": r.url, "where": r.where, "date": r.date,
                    "software": r.software, "chip": r.chip, "phase": r.phase, "ep": r.ep, "dp": r.ep,
                    "redundant_experts": r.redundant, "tbo": r.tbo, "nodes": r.ep // GPUS_PER_NODE,
                    "per_gpu": r.per_gpu, "length": r.length, "cached_fraction": r.cached_fraction,
                    "precision": "w:{} a:{} kv:{}".format(*PRECISION), "published": r.published,
                    "predicted": round(base, 1), "error": round(base / r.published - 1.0, 4),
                    "predicted_fitted": round(fitted, 1), "error_fitted": round(fitted / r.published - 1.0, 4),
                    "split": split, "note": r.note})
    return {"model": "deepseek-v3", "engine": "fused", "fit_source": source, "decode_ep_factor": gamma,
            "goal": "within 25% of the published per-node throughput", "rows": out}
