"""The decode kernels the published wide-EP DeepSeek-V3 deployments ran, priced at their published rates.

Two kernels of a decode step have published rates on the H800 at the shapes these rows run, and the model
prices each at that rate for the rows that ran it (nothing fitted to a row's throughput):

* **DeepGEMM's masked grouped GEMM** (the routed experts; SGLang's blog: "the masked layout kernel pairs
  seamlessly with DeepEP's low-latency dispatch", DeepSeek's decode runs the same pair). DeepGEMM's README
  (first release, 2025-02-25, commit a6d97a1; the table is unchanged at 989c9e3, 2025-04-09) publishes,
  "Grouped GEMMs for MoE models (masked layout)", H800 SXM5 TFLOPS for 1, 2 and 4 experts of 1,024, 512 and
  256 rows at DeepSeek-V3's two expert shapes (N x K = 4096 x 7168 gate-up, 7168 x 2048 down): exactly a
  rank's experts in these rows (EP72: 288 slots / 72 = 4 experts of 256 rows a micro-batch; EP128: 2 of 512;
  EP144: 2 experts, of 352 rows). ``masked_factor`` is DeepGEMM's published time for one pass through both
  shapes at the rank's expert count over the model's time for the same shapes (fused engine, all 132 SMs):
  1.12 at 4 experts, 1.12 at 2 (H800/H100 parameters); ``decode_timer`` stretches the routed-expert op
  (``ep_experts``) by it.
* **FlashMLA** (DeepSeek's decode attention, a BF16 kernel): its README at release (2025-02-24, before
  DeepSeek's 2025-02-27 profile and the 2025-03-01 statistics): "up to 3000 GB/s in memory-bound
  configuration and 580 TFLOPS in computation-bound configuration on H800 SXM5"; the 2025-04-22 release:
  "up to 660 TFlops". ``flashmla_params`` sets the attention kernels' compute rate and KV read bandwidth to a
  release's figures (the model's own: 622 TFLOPS, 3,201 GB/s). SGLang's decode of the blog's time ran its
  default MLA backend (no ``--attention-backend`` in its published decode command, sglang#6017; "Use fa3
  backend by default"), not FlashMLA, so its row keeps the model's rates.

And one property of CUDA-graph decode that the fit source measured kernel by kernel: **the gaps between
replayed kernels**. SGLang's decode breakdown (``cost.published_profile_decode``, ``profile-decode.png``)
shows "Launch Overhead" of 0.053 ms a layer in its EP72 run, about 1 us for each of the ~47 kernels a layer
its graph runs (``launch_gap_s``); the model's ``graph_launch_s`` (per replayed kernel, on the device) was
calibrated to 0 on single-GPU runs. Every decode row takes SGLang's gap per kernel (DeepSeek's own bar,
0.047 ms a layer, is the held-out check).

**DeepEP's low-latency kernels** (every decode row) take time in two ways, both measured:

* *On the compute stream, holding SMs while they pack, post and unpack*: the "Unit Test" bars of SGLang's
  decode breakdown, dispatch 0.061 and combine 0.078 ms a layer (128 tokens a micro-batch, two a layer, 58 of
  61 layers MoE: 32.1 and 41.0 us a kernel pair), measured with the receive hook, i.e. without the wait for
  the data ("unit tests with DeepEP reveal a potential of 0.06ms occupying SMs"). ``LL_KERNEL_S`` prices
  the two ops ``decode_graph`` adds a MoE layer at these times. The model priced none (its all-to-all was a
  transfer only).
* *In flight, on the NIC*: DeepEP's README (V1, now ``docs/legacy.md``), low-latency kernels on H800 + CX7
  400 Gb/s, 128 tokens a rank, top-8, FP8 dispatch and BF16 combine: dispatch 173 / 192 us and combine
  314 / 369 us at EP64 / EP128 (send to receive, kernels included). Less the kernels' own time above, the
  transfer takes 141 / 160 us and 273 / 328 us; ``ll_nic_fraction`` is the model's time for the same
  all-to-alls at the nominal NIC over these (the rows take the nearest published EP: 64 for EP72, 128 for
  EP128 and EP144), and the rows' NIC runs at that share (``published_kernels.deepep_nic``).
"""

from __future__ import annotations

import math
from dataclasses import replace

from jalapeno.cost.expert import ep_all_to_all_s
from jalapeno.cost.op_time import ChipRates, op_time
from jalapeno.cost.params import CostParams
from jalapeno.cost.pipeline import Parallel
from jalapeno.cost.published_eplb import eplb_imbalance
from jalapeno.cost.step import OpTimer
from jalapeno.graph.builder import Graph
from jalapeno.graph.ops import Op
from jalapeno.hardware.network import network_of
from jalapeno.hardware.spec import ChipSpec
from jalapeno.models.config import ModelConfig
from jalapeno.seams.op_timing import OpTime

# DeepGEMM README "Grouped GEMMs for MoE models (masked layout)", H800 SXM5: groups -> (M per group,
# ((N, K, TFLOPS), ...)); commit a6d97a1 (2025-02-25), unchanged at 989c9e3 (2025-04-09)
DEEPGEMM_MASKED_H800: dict[int, tuple[int, tuple[tuple[int, int, float], ...]]] = {
    1: (1024, ((4096, 7168, 1233.0), (7168, 2048, 925.0))),
    2: (512, ((4096, 7168, 1040.0), (7168, 2048, 916.0))),
    4: (256, ((4096, 7168, 932.0), (7168, 2048, 815.0))),
}
FLASHMLA = "https://github.com/deepseek-ai/FlashMLA"
# FlashMLA README, H800 SXM5, BF16: (compute-bound FLOP/s, memory-bound bytes/s) by release
FLASHMLA_H800 = {"2025-02-24": (580e12, 3000e9), "2025-04-22": (660e12, 3000e9)}
FLASHMLA_AT_DEEPSEEK = "2025-02-24"  # the FlashMLA release before DeepSeek's profile and Day-6 statistics
# the hottest expert rank after EPLB in decode: SGLang's balancedness simulation at 72 GPUs (0.810,
# eplb-balancedness.png, cost.published_eplb), the EP of its decode row; Day 6 (EP144) takes it too, its
# range the uniform floor (~1.08) to 1 / 0.800 (EP32)
DECODE_EPLB_IMBALANCE = eplb_imbalance(72)
EP_EXPERTS = "ep_experts"
SGLANG_DECODE_LAUNCH_MS = 0.053  # profile-decode.png, "Launch Overhead", SGLang, ms a layer
SCALE_BLOCK = 128  # DeepSeek-V3's FP8 scaling: one FP32 scale a 128 x 128 weight block, a 128 activations


def _masked_op(groups: int, m: int, n: int, k: int) -> Op:
    """One masked grouped GEMM as the model's routed-expert op: FP8 weights and inputs with their scales,
    BF16 output."""
    w = groups * n * k * (1.0 + 4.0 / SCALE_BLOCK**2)
    a = groups * m * k * (1.0 + 4.0 / SCALE_BLOCK)
    return Op(
        EP_EXPERTS,
        "moe",
        1,
        2.0 * groups * m * n * k,
        weight_bytes=w,
        act_read_bytes=a,
        act_write_bytes=groups * m * n * 2.0,
        m=m,
        n=n,
        k=k,
        groups=groups,
        dtype="fp8",
    )


def masked_factor(rates: ChipRates, prm: CostParams, groups: int) -> float:
    """DeepGEMM's published time over the model's for one pass through the table's two expert shapes at
    ``groups`` experts a rank (the nearest published count at or above it)."""
    g = min((x for x in DEEPGEMM_MASKED_H800 if x >= groups), default=max(DEEPGEMM_MASKED_H800))
    m, shapes = DEEPGEMM_MASKED_H800[g]
    pub = sum(2.0 * g * m * n * k / (tf * 1e12) for n, k, tf in shapes)
    model = sum(op_time(_masked_op(g, m, n, k), rates, prm).time_s for n, k, _ in shapes)
    return pub / model


def decode_timer(rates: ChipRates, prm: CostParams, moe_factor: float) -> OpTimer:
    """The model's op timer with the routed experts stretched by ``moe_factor`` (``masked_factor``)."""

    def timer(op: Op) -> OpTime:
        fixed = fixed_time(op)
        if fixed is not None:
            return fixed
        t = op_time(op, rates, prm)
        if op.name != EP_EXPERTS or moe_factor == 1.0:
            return t
        f = moe_factor
        return replace(t, time_s=t.time_s * f, compute_s=t.compute_s * f, memory_s=t.memory_s * f)

    return timer


def flashmla_params(prm: CostParams, rates: ChipRates, release: str) -> CostParams:
    """``prm`` with the attention kernels at FlashMLA's published rates (``FLASHMLA_H800[release]``): the
    compute efficiency over the BF16 peak, the KV-read efficiency over the memory bandwidth."""
    flops, bw = FLASHMLA_H800[release]
    eff = flops / rates.matrix_peak("bf16")
    return replace(prm, attn_prefill_eff=eff, attn_decode_mem_eff=bw / rates.mem_bw)


def launch_gap_s(kernels_per_layer: float) -> float:
    """Seconds between replayed kernels: SGLang's launch-overhead bar over the kernels a layer of its run."""
    return SGLANG_DECODE_LAUNCH_MS * 1e-3 / kernels_per_layer


# profile-decode.png "Unit Test" bars, ms a layer: the low-latency kernels' own time (receive hook)
SGLANG_LL_UNIT_MS = {"deepep_dispatch": 0.061, "deepep_combine": 0.078}
MOE_LAYERS, LAYERS = 58, 61
LL_KERNEL_S = {k: v * 1e-3 * LAYERS / MOE_LAYERS / 2 for k, v in SGLANG_LL_UNIT_MS.items()}
# DeepEP README (V1) low-latency kernels, H800 + CX7, 128 tokens a rank: EP -> (dispatch, combine) seconds
DEEPEP_LL_LATENCY_S = {64: (173e-6, 314e-6), 128: (192e-6, 369e-6), 256: (194e-6, 360e-6)}
DEEPEP_LL_TOKENS = 128


def fixed_time(op: Op) -> OpTime | None:
    """The measured time of a DeepEP low-latency kernel op (``LL_KERNEL_S``), None for any other op."""
    t = LL_KERNEL_S.get(op.name)
    return None if t is None else OpTime(t, 0.0, 0.0, 0.0, "overhead", 1)


def nearest_ll_ep(ep: int) -> int:
    """The published low-latency EP degree nearest ``ep`` (by ratio)."""
    return min(DEEPEP_LL_LATENCY_S, key=lambda e: abs(math.log(e / ep)))


def ll_nic_fraction(chip: ChipSpec, cfg: ModelConfig, ep: int) -> float:
    """The NIC share DeepEP's low-latency transfers reached (module docstring): the model's dispatch and
    combine of 128 tokens a rank at the nominal NIC over the published latency less the kernels' own time,
    at the nearest published EP degree; mean of the two."""
    moe = cfg.moe
    assert moe is not None
    e, net = nearest_ll_ep(ep), network_of(chip)
    assert net is not None
    par = Parallel(tp=1, ep=e, dp=e)
    b = DEEPEP_LL_TOKENS * moe.experts_per_token * cfg.hidden_size  # FP8 dispatch; BF16 combine twice
    lat = DEEPEP_LL_LATENCY_S[e]
    kern = (LL_KERNEL_S["deepep_dispatch"], LL_KERNEL_S["deepep_combine"])
    model = (ep_all_to_all_s(net, cfg, par, b)[0], ep_all_to_all_s(net, cfg, par, 2 * b)[0])
    return sum(m / (t - k) for m, t, k in zip(model, lat, kern, strict=True)) / 2


def ll_ops(g: Graph) -> Graph:
    """``g`` with DeepEP's low-latency dispatch kernel after each MoE layer's router and its combine kernel
    after the routed experts (``LL_KERNEL_S`` times them)."""
    after = {"router": "deepep_dispatch", "experts": "deepep_combine"}
    ops: list[Op] = []
    for o in g.ops:
        ops.append(o)
        if o.name in after:
            ops.append(Op(after[o.name], "elementwise", o.repeat, 0.0, layers=o.layers))
    return replace(g, ops=tuple(ops))
