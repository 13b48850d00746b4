"""Published wide-EP MoE serving results (DeepSeek-V3/R1 on H800/H100 nodes) and the model's predictions.

Each row is one published per-node throughput with the deployment that produced it (expert/data-parallel
degrees, tokens or sequences a GPU, lengths, overlap); ``predict`` prices the same deployment with
``cost.estimate`` (decode) or ``cost.expert.ep_step`` (a prefill batch of whole prompts on every
attention replica) under the fused serving engine's parameters, decode with its kernels' published rates
(``cost.published_decode_kernels``). One knob is fitted: the decode expert-rank factor, scaling a decode
row's sourced hottest-rank load over the mean (``Parallel.ep_imbalance``), on the rows of one source
(``FIT_SOURCE``), the decode rows of the others held out; prefill rows fit nothing. Run by
``scripts/validate_moe.py``; documented in docs/validation-moe.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from jalapeno.cost.ep_stats import dp_attention_imbalance
from jalapeno.cost.estimate import check_fits_ep
from jalapeno.cost.expert import ep_step, weights_per_chip
from jalapeno.cost.op_time import ChipRates
from jalapeno.cost.oracle import ACTIVATION_RESERVE, kv_bytes_per_token
from jalapeno.cost.params import setup_for
from jalapeno.cost.pipeline import Parallel, ceil_div
from jalapeno.cost.published_decode_kernels import (
    DECODE_EPLB_IMBALANCE,
    FLASHMLA_AT_DEEPSEEK,
    decode_timer,
    flashmla_params,
    launch_gap_s,
    ll_nic_fraction,
    ll_ops,
    masked_factor,
)
from jalapeno.cost.published_eplb import SGLANG_PREFILL_IMBALANCE
from jalapeno.cost.published_glue import sglang_moe_glue
from jalapeno.cost.published_glue_decode import sglang_decode_glue
from jalapeno.cost.published_kernels import (
    COMM_SMS,
    DEEPEP_NIC_FRACTION,
    bf16_attention,
    deepep_nic,
    kernel_params,
)
from jalapeno.cost.step import Estimator
from jalapeno.graph.batch import Batch
from jalapeno.graph.builder import Graph, build_graph
from jalapeno.graph.precision import Precision
from jalapeno.graph.verify import verify_graph
from jalapeno.hardware.network import network_of
from jalapeno.hardware.registry import resolve_chip
from jalapeno.models import resolve_model

GPUS_PER_NODE = 8
DAY6 = (
    "https://github.com/deepseek-ai/open-infra-index/blob/main/202502OpenSourceWeek/"
    "day_6_one_more_thing_deepseekV3R1_inference_system_overview.md"
)
SGLANG = "https://lmsys.org/blog/2025-05-05-large-scale-ep/"
FIT_SOURCE = "sglang-blog"
# DeepSeek serves in FP8 (weights and GEMM activations; "precision consistent with training", Day 6) with
# its MLA cache in BF16 (FlashMLA); SGLang runs the same FP8 checkpoint with DeepGEMM.
PRECISION = ("fp8", "fp8", "bf16")
# Multi-token prediction (DeepSeek-V3 report, arXiv 2412.19437, section 5.4.3: "the acceptance rate of the
# second token prediction ranges between 85% and 90%"): a step verifies 2 tokens a sequence and emits 1 + a.
# The MTP module (section 2.2) is one more transformer block sharing the embedding and the output head, so a
# draft costs one block of the main model's 61: 1/61 of a plain decode step (the head pass, ~1% of a step, is
# not counted).
MTP_TOKENS = 2
MTP_ACCEPTANCE = 0.875
MTP_ACCEPTANCE_RANGE = (0.85, 0.90)
MTP_DRAFT_COST = 1.0 / 61
# Day 6's 24-hour statistics (Statistics of DeepSeek's Online Service), as published.
DAY6_INPUT_TOKENS = 608e9  # of which 342e9 (56.3%) hit the on-disk KV cache
DAY6_HIT_TOKENS = 342e9
DAY6_OUTPUT_TOKENS = 168e9
DAY6_KV_PER_OUTPUT = 4989  # "average kvcache length per output token"
DAY6_USER_RATE = (20.0, 22.0)  # "average output speed", tok/s
# "average throughput" a node: input tokens incl. cache hits (prefill), output tokens (decode)
DAY6_NODE_TPS = {"prefill": 73.7e3, "decode": 14.8e3}
DAY6_NODES = {"average": 226.75, "peak": 278.0}  # occupied nodes of 8 H800 over the 24 h
# Coefficient of variation of a decoding sequence's KV length (a sequence seen at a random decode step:
# weighted by its output length, KV = prompt + u x output), from the bundled chat traces: Azure conversation
# 2023 0.581, Mooncake/Kimi conversation 1.258 (tests/test_moe_validation.py recomputes both). DeepSeek does
# not publish its distribution; the estimate is their mean, the range the two.
KV_CV_CHAT = {"azure-conv": 0.581, "mooncake-conversation": 1.258}
KV_CV = round(sum(KV_CV_CHAT.values()) / len(KV_CV_CHAT), 3)
KV_CV_RANGE = (min(KV_CV_CHAT.values()), max(KV_CV_CHAT.values()))


def day6_occupancy() -> dict[str, float]:
    """The day's tokens over each phase's node-seconds: 95.5 + 131.4 = 226.9 nodes (published 226.75)."""
    day = 86400.0
    pre = DAY6_INPUT_TOKENS / day / DAY6_NODE_TPS["prefill"]
    dec = DAY6_OUTPUT_TOKENS / day / DAY6_NODE_TPS["decode"]
    seqs = DAY6_NODE_TPS["decode"] / GPUS_PER_NODE / (sum(DAY6_USER_RATE) / 2)
    return {
        "prefill_nodes": round(pre, 2),
        "decode_nodes": round(dec, 2),
        "sum": round(pre + dec, 2),
        "published_average": DAY6_NODES["average"],
        "published_peak": DAY6_NODES["peak"],
        "decode_seqs_per_gpu": round(seqs, 1),
    }


def day6_prompt() -> int:
    """Mean prompt if every request had the mean shape: I = (608/168) O and I + (O - 1) / 2 = 4,989."""
    r = DAY6_INPUT_TOKENS / DAY6_OUTPUT_TOKENS
    out = (DAY6_KV_PER_OUTPUT + 0.5) / (r + 0.5)
    return round(r * out)


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
    mtp: bool = False  # decode: multi-token prediction, every step verifies 2 tokens a sequence
    counts_verified: bool = False  # decode with MTP: the figure counts every verified token, not 1 + a
    user_rate: float = 0.0  # decode: published output tok/s a user (per_gpu = published / 8 / user_rate)
    # DeepEP kernels the source ran: "per_node" (normal: prefill), "per_expert" (low-latency: decode)
    dispatch: str = "per_expert"
    kv_cv: float = 0.0  # decode: coefficient of variation of the sequences' KV lengths (0: all equal)
    comm_sms: int = 0  # SMs DeepEP's normal kernels hold under overlap (prefill; cost.published_kernels)
    gemm_release: str = "2025-02-25"  # the DeepGEMM release whose H800 TFLOPS price the FP8 GEMMs
    # hottest expert rank over the mean (0: uniform routing's floor); in decode the fitted factor scales it
    ep_imbalance: float = 0.0
    # SGLang's data-movement kernels (cost.published_glue*): prefill its MoE, quantization and MLA kernels,
    # decode its dense-GEMM quantizations and MoE output kernels (cost.published_glue_decode)
    moe_glue: bool = False
    tbo_stages: bool = True  # the two micro-batches overlap block by block, as published (cost.tbo_stages)
    deepep_nic: float = 1.0  # prefill: the NIC share DeepEP's normal kernels reached (cost.published_kernels)
    masked_moe: bool = False  # decode: routed experts at DeepGEMM's masked-layout rate (published)
    launch_gap: bool = False  # decode: CUDA-graph gaps between kernels at SGLang's measured gap a kernel
    # decode: DeepEP's low-latency kernels' own time on the compute stream (ll_kernels) and their transfers
    # at the NIC share DeepEP's README measured (ll_nic) (cost.published_decode_kernels)
    ll_kernels: bool = False
    ll_nic: bool = False
    flashmla: str = ""  # decode: the FlashMLA release whose published rates price attention ("": the model's)
    counted_acceptance: float = 0.0  # decode with MTP: the figure counts 1 + this a step (the source's own)
    note: str = ""


# SGLang's blog, decode evaluation: "We conservatively assume a 60% acceptance rate under MTP"; its figure
# for DeepSeek's profile counts the same (cost.published_profile_decode)
SGLANG_MTP_ACCEPTANCE = 0.6
SGLANG_SOFTWARE = "SGLang + DeepEP/DeepGEMM, PD disaggregation, EPLB, TBO"
SGLANG_GEMMS = "2025-04-09"  # the DeepGEMM README's last table before SGLang's May 2025 runs
# SGLang's decode benchmark: every sequence 2,000 input tokens and 100 output tokens, so the KV lengths are
# uniform over 2,000-2,100 while they decode: sd 100 / sqrt(12) over the mean 2,050
SGLANG_DECODE_KV_CV = 100 / 12**0.5 / 2050


def _sglang_prefill(
    row_id: str,
    where: str,
    length: int,
    published: float,
    note: str,
    software: str = SGLANG_SOFTWARE,
    **kw: Any,
) -> MoeRow:
    """A prefill row of the SGLang blog (2025-05-05): 4 H100 nodes at EP32 with 32 redundant experts,
    two-batch overlap and 16,384 tokens a GPU; the rows differ in prompt length and figure."""
    return MoeRow(
        row_id,
        "sglang-blog",
        SGLANG,
        where,
        "2025-05-05",
        software,
        "h100-sxm",
        "prefill",
        32,
        32,
        True,
        16384,
        length,
        published,
        dispatch="per_node",
        comm_sms=COMM_SMS["sglang"],
        gemm_release=SGLANG_GEMMS,
        ep_imbalance=SGLANG_PREFILL_IMBALANCE,  # EPLB's balancedness at 32 GPUs (cost.published_eplb)
        moe_glue=True,
        deepep_nic=DEEPEP_NIC_FRACTION["sglang"],  # its DeepEP unit tests on its cluster
        note=note,
        **kw,
    )


_SGLANG_PD = "Evaluation, Performance Analysis of Prefill and Decode Phases"
_SGLANG_4K_NOTE = "4 nodes; 16,384 tokens a GPU (stated for the 4K profile run)"
ROWS: tuple[MoeRow, ...] = (
    _sglang_prefill("sglang-prefill-1k", _SGLANG_PD, 1024, 57674.0, _SGLANG_4K_NOTE),
    _sglang_prefill("sglang-prefill-2k", _SGLANG_PD, 2048, 54543.0, _SGLANG_4K_NOTE),
    _sglang_prefill(
        "sglang-prefill-4k",
        "Profile Results, Overall Throughput (prefill table, Default)",
        4096,
        50302.0,
        "4 nodes, batch 16,384 tokens a GPU",
    ),
    _sglang_prefill(
        "sglang-prefill-4k-perfect-eplb",
        "Profile Results, Overall Throughput (prefill table, Simulated Perfect EPLB)",
        4096,
        59337.0,
        "experts drawn uniformly (group-limited): imbalance set to 1.0",
        software="SGLang + DeepEP/DeepGEMM, TBO, random balanced routing",
        perfect_balance=True,
    ),
    MoeRow(
        "sglang-decode-ep72",
        "sglang-blog",
        SGLANG,
        "Profile Results, Overall Throughput (decode table, Default)",
        "2025-05-05",
        "SGLang + DeepEP low-latency/DeepGEMM, PD disaggregation, EPLB, TBO",
        "h100-sxm",
        "decode",
        72,
        32,
        True,
        256,
        2000,
        22282.0,
        kv_cv=SGLANG_DECODE_KV_CV,
        gemm_release=SGLANG_GEMMS,
        masked_moe=True,
        ep_imbalance=DECODE_EPLB_IMBALANCE,
        moe_glue=True,
        launch_gap=True,
        ll_kernels=True,
        ll_nic=True,
        note="9 nodes (EP72, 288 expert slots); 2,000-token inputs, 100 out",
    ),
    MoeRow(
        "deepseek-profile-prefill",
        "deepseek-profile",
        SGLANG,
        "Profile Results, Overall Throughput (prefill table, DeepSeek Profile column; derived by SGLang from "
        "github.com/deepseek-ai/profile-data)",
        "2025-05-05",
        "DeepSeek inference engine (DeepEP, DeepGEMM, dual micro-batch)",
        "h800",
        "prefill",
        32,
        32,
        True,
        16384,
        4096,
        62713.0,
        dispatch="per_node",
        comm_sms=COMM_SMS["deepseek"],
        deepep_nic=DEEPEP_NIC_FRACTION["deepseek"],  # DeepEP's README benchmark (H800, EP32)
        note="EP32, 4K prompts, 16,384 tokens a GPU",
    ),
    MoeRow(
        "deepseek-profile-decode",
        "deepseek-profile",
        SGLANG,
        "Profile Results, Overall Throughput (decode table, DeepSeek Profile column)",
        "2025-05-05",
        "DeepSeek inference engine (DeepEP, DeepGEMM, 5-stage overlap, MTP)",
        "h800",
        "decode",
        128,
        0,
        True,
        128,
        4096,
        18598.0,
        mtp=True,
        counted_acceptance=SGLANG_MTP_ACCEPTANCE,
        ep_imbalance=1.0,  # "an absolutely balanced MoE routing" (profile-data README)
        masked_moe=True,
        launch_gap=True,
        ll_kernels=True,
        ll_nic=True,
        flashmla=FLASHMLA_AT_DEEPSEEK,
        note="16 nodes (EP128), 128 sequences a GPU, KV 4,096, with MTP; the figure counts 1.6 tokens a "
        "step (SGLang's assumed 60% acceptance: its decode breakdown figure gives this row's step, 1.421 ms "
        "a layer x 62 layers = 88.1 ms, and 8 x 128 x 1.6 / 88.1 ms = 18,598; cost.published_profile_decode)",
    ),
    MoeRow(
        "deepseek-day6-prefill",
        "deepseek-day6",
        DAY6,
        "Statistics of DeepSeek's Online Service",
        "2025-03-01",
        "DeepSeek online service (V3 and R1), 24 h average",
        "h800",
        "prefill",
        32,
        32,
        True,
        16384,
        day6_prompt(),
        73700.0,
        cached_fraction=0.563,
        dispatch="per_node",
        comm_sms=COMM_SMS["deepseek"],
        deepep_nic=DEEPEP_NIC_FRACTION["deepseek"],
        note="EP32/DP32 units of 4 nodes; input tokens incl. 56.3% on-disk cache hits (16,384 computed "
        "tokens a GPU priced, hits loaded over the NICs); prompt length derived from the totals "
        "(day6_prompt); the day's tokens over the node-seconds prefill occupied",
    ),
    MoeRow(
        "deepseek-day6-decode",
        "deepseek-day6",
        DAY6,
        "Statistics of DeepSeek's Online Service",
        "2025-03-01",
        "DeepSeek online service (V3 and R1), 24 h average",
        "h800",
        "decode",
        144,
        32,
        True,
        88,
        DAY6_KV_PER_OUTPUT,
        14800.0,
        mtp=True,
        user_rate=21.0,
        kv_cv=KV_CV,
        ep_imbalance=DECODE_EPLB_IMBALANCE,
        masked_moe=True,
        launch_gap=True,
        ll_kernels=True,
        ll_nic=True,
        flashmla=FLASHMLA_AT_DEEPSEEK,
        note="EP144/DP144 units of 18 nodes; average KV 4,989 an output token; MTP (1 + 0.875 tokens a "
        "step); 88 sequences a GPU = 14,800 / 8 / 21 tok/s a user (Little's law: the day's mean "
        "concurrency)",
    ),
)
SGLANG_DECODE_ROW = next(r for r in ROWS if r.id == "sglang-decode-ep72")  # its kernel gaps: launch_gap


def _plan(row: MoeRow, gamma: float | None, per_gpu: int | None = None) -> Parallel:
    """The row's deployment: its DeepEP kernels, its prefill expert-rank imbalance (``ep_imbalance``) and, in
    decode, the slowest attention rank's KV load over the mean (``dp_attention_imbalance``)."""
    if row.perfect_balance:
        g: float | None = 1.0
    elif row.phase == "decode" and row.ep_imbalance:  # a sourced imbalance: the factor multiplies it
        g = row.ep_imbalance * (gamma or 1.0)
    else:
        g = gamma or row.ep_imbalance or None
    alpha = (
        dp_attention_imbalance(row.ep, per_gpu or row.per_gpu, row.kv_cv) if row.phase == "decode" else 1.0
    )
    return Parallel(
        tp=1,
        ep=row.ep,
        dp=row.ep,
        redundant_experts=row.redundant,
        ep_imbalance=g,
        tbo=row.tbo,
        ep_dispatch=row.dispatch,
        attn_imbalance=alpha,
        comm_sms=row.comm_sms,
    )


def _schedule(row: MoeRow) -> str:
    """The published two-batch schedule the row's step runs (``cost.tbo_stages``), "" for step by step."""
    return row.phase if row.tbo and row.tbo_stages else ""


def _precision() -> Precision:
    return Precision.of(*PRECISION)


def _estimator(row: MoeRow) -> Estimator:
    """The fused engine's parameters with the row's FP8 GEMMs at DeepGEMM's rate (``kernel_params``), its
    NIC at the share DeepEP's normal kernels reached (``deepep_nic``); a decode row's attention at FlashMLA's
    published rates and its routed experts at DeepGEMM's masked-layout rate when it ran them
    (``cost.published_decode_kernels``)."""
    chip = resolve_chip(row.chip)
    prm, timer = setup_for(chip, "fused")
    prm = kernel_params(chip, prm, row.gemm_release)
    if row.phase == "decode" and timer is None and (row.flashmla or row.masked_moe):
        rates = ChipRates.of(chip)
        prm = flashmla_params(prm, rates, row.flashmla) if row.flashmla else prm
        slots = (256 + row.redundant) // row.ep  # a rank of DeepSeek-V3's 256 routed experts
        f = masked_factor(rates, prm, slots) if row.masked_moe else 1.0
        timer = decode_timer(rates, prm, f)
    if row.phase == "decode" and row.launch_gap:
        prm = replace(prm, graph_launch_s=launch_gap_s(decode_kernels_per_layer(SGLANG_DECODE_ROW)))
    nic = row.deepep_nic
    if row.phase == "decode" and row.ll_nic:
        nic = ll_nic_fraction(chip, resolve_model("deepseek-v3"), row.ep)
    return Estimator(deepep_nic(chip, nic), prm, 1, timer)


def decode_graph(row: MoeRow, par: Parallel, seqs: int, tokens: int) -> Graph:
    """One rank's decode graph of ``seqs`` sequences at KV ``row.length``, ``tokens`` query tokens each (2:
    an MTP verify step, ``graph.verify``), attention in BF16, with SGLang's decode kernels if it ran them."""
    cfg = resolve_model("deepseek-v3")
    if tokens == 1:
        g = build_graph(cfg, Batch.decode(seqs, row.length), _precision())
    else:
        g = verify_graph(cfg, seqs, row.length, tokens, _precision())
    g = bf16_attention(g)
    g = ll_ops(g) if row.ll_kernels else g
    return sglang_decode_glue(g, cfg, par) if row.moe_glue else g


def decode_kernels_per_layer(row: MoeRow) -> float:
    """Kernels a layer of the row's decode step (both micro-batches; the fused engine: one an op)."""
    g = decode_graph(row, _plan(row, None), ceil_div(row.per_gpu, 2 if row.tbo else 1), 1)
    return (2 if row.tbo else 1) * sum(o.repeat for o in g.ops) / resolve_model("deepseek-v3").num_layers


def plain_step_s(row: MoeRow, gamma: float | None = None, per_gpu: int | None = None) -> float:
    """One decode step (one token a sequence) of ``per_gpu`` sequences a GPU at KV ``length``, as
    ``cost.estimate`` prices it (two halves with overlap) on the row's kernels."""
    cfg, chip = resolve_model("deepseek-v3"), resolve_chip(row.chip)
    b = per_gpu or row.per_gpu
    par = _plan(row, gamma, b)
    check_fits_ep(cfg, chip, _precision(), par, b, row.length + 1)
    halves = 2 if row.tbo and b >= 2 else 1
    g = decode_graph(row, par, ceil_div(b, halves), 1)
    micro = [(g, ceil_div(b * row.ep, halves))] * halves
    sc, _ = ep_step(_estimator(row), cfg, par, micro, cuda_graph=True, schedule=_schedule(row))
    return sc.time_s


def mtp_step_s(row: MoeRow, gamma: float | None = None, per_gpu: int | None = None) -> float:
    """One MTP decode step: the main model verifies 2 tokens a sequence (``graph.verify``: every token
    through the projections and experts, attention reading each sequence's KV once), then the MTP module
    drafts the next one at ``MTP_DRAFT_COST`` of a plain step (``serving.speculative``'s pricing)."""
    cfg, chip = resolve_model("deepseek-v3"), resolve_chip(row.chip)
    b = per_gpu or row.per_gpu
    par = _plan(row, gamma, b)
    check_fits_ep(cfg, chip, _precision(), par, b, row.length + MTP_TOKENS)
    halves = 2 if row.tbo and b >= 2 else 1
    half = ceil_div(b, halves)
    g = decode_graph(row, par, half, MTP_TOKENS)
    micro = [(g, half * row.ep * MTP_TOKENS)] * halves
    sc, _ = ep_step(_estimator(row), cfg, par, micro, cuda_graph=True, schedule=_schedule(row))
    return sc.time_s + MTP_DRAFT_COST * plain_step_s(row, gamma, b)


def decode_tokens_per_step(row: MoeRow, acceptance: float = MTP_ACCEPTANCE) -> float:
    """Tokens a sequence and step the figure counts: 1, 1 + acceptance with MTP, 2 if it counts both,
    1 + the source's own acceptance if it says which it assumed."""
    if not row.mtp:
        return 1.0
    if row.counted_acceptance:
        return 1.0 + row.counted_acceptance
    return float(MTP_TOKENS) if row.counts_verified else 1.0 + acceptance


def predict_decode(row: MoeRow, gamma: float | None = None, acceptance: float = MTP_ACCEPTANCE) -> float:
    """Output tokens/s of a node: ``per_gpu`` sequences a GPU at KV ``length`` over one decode step
    (with MTP: one verify step and its draft, ``decode_tokens_per_step`` tokens a sequence)."""
    step = mtp_step_s(row, gamma) if row.mtp else plain_step_s(row, gamma)
    return row.per_gpu * decode_tokens_per_step(row, acceptance) * GPUS_PER_NODE / step


def kv_capacity_seqs(row: MoeRow) -> int:
    """Sequences a GPU holds at KV ``length`` (plus the verified tokens) beside its weights, after the
    serving oracle's activation reserve."""
    cfg, chip = resolve_model("deepseek-v3"), resolve_chip(row.chip)
    w = weights_per_chip(cfg, build_graph(cfg, Batch.decode(1, 1), _precision()), _plan(row, None))
    free = chip.memory_bytes * (1.0 - ACTIVATION_RESERVE) - w
    return int(free // (kv_bytes_per_token(cfg, _precision()) * (row.length + MTP_TOKENS)))


def slo_operating_point(
    row: MoeRow, gamma: float | None = None, acceptance: float = MTP_ACCEPTANCE
) -> dict[str, float]:
    """The largest batch a GPU whose step still gives each user ``row.user_rate`` tok/s (bisection; the
    step grows with the batch), capped by the KV memory, and the node's output tok/s there: the
    throughput a saturated node would deliver at the published per-user speed."""
    tps = decode_tokens_per_step(row, acceptance)

    def rate(b: int) -> float:
        return tps / (mtp_step_s(row, gamma, b) if row.mtp else plain_step_s(row, gamma, b))

    cap = kv_capacity_seqs(row)
    lo, hi = 1, cap
    if rate(hi) >= row.user_rate:
        lo = hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if rate(mid) >= row.user_rate else (lo, mid)
    r = rate(lo)
    return {
        "per_gpu": lo,
        "kv_capacity_per_gpu": cap,
        "user_rate": round(r, 2),
        "tokens_per_s_node": round(lo * r * GPUS_PER_NODE, 1),
    }


def predict_prefill(row: MoeRow, gamma: float | None = None) -> float:
    """Input tokens/s of a node: every GPU prefills ``per_gpu`` computed tokens of whole ``length``-token
    prompts (two halves with overlap; SGLang's rows with their MoE data-movement kernels). A row that counts
    prefix-cache hits prices only the computed tokens, attending to their cached prefixes, plus loading the
    hits' KV over the NICs (an upper bound: DeepSeek loads them asynchronously), and adds the hits back."""
    cfg = resolve_model("deepseek-v3")
    par = _plan(row, gamma)
    new = round(row.length * (1.0 - row.cached_fraction))
    halves = 2 if row.tbo else 1
    seqs = max(1, round(row.per_gpu / new / halves))
    g = bf16_attention(build_graph(cfg, Batch.prefill(new, row.length - new, batch=seqs), _precision()))
    g, tokens = sglang_moe_glue(g, cfg, par, row.moe_glue), seqs * new
    micro = [(g, tokens * row.ep)] * halves
    sc, _ = ep_step(_estimator(row), cfg, par, micro, cuda_graph=False, schedule=_schedule(row))
    step = sc.time_s + hit_load_s(row, seqs * halves)
    return tokens * halves * GPUS_PER_NODE / step / (1.0 - row.cached_fraction)


def hit_load_s(row: MoeRow, seqs: int) -> float:
    """Seconds to bring ``seqs`` prompts' cached prefixes (their MLA KV) into one GPU over its NICs."""
    if row.cached_fraction <= 0.0:
        return 0.0
    cfg, chip = resolve_model("deepseek-v3"), resolve_chip(row.chip)
    net = network_of(chip)
    assert net is not None and net.scale_out is not None
    hit = row.length - round(row.length * (1.0 - row.cached_fraction))
    return seqs * hit * kv_bytes_per_token(cfg, _precision()) / net.scale_out.bw_bytes_per_s


def predict(row: MoeRow, gamma: float | None = None) -> float:
    return predict_decode(row, gamma) if row.phase == "decode" else predict_prefill(row, None)


def fit_gamma(rows: tuple[MoeRow, ...] = ROWS, source: str = FIT_SOURCE) -> float:
    """The decode expert-rank factor that makes the source's decode rows' mean log error zero (bisection:
    the prediction falls as the factor grows)."""
    import math

    fit = [r for r in rows if r.source == source and r.phase == "decode"]
    lo, hi = 0.5, 6.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        err = sum(math.log(predict_decode(r, mid) / r.published) for r in fit)
        lo, hi = (mid, hi) if err > 0 else (lo, mid)
    return round(0.5 * (lo + hi), 4)
