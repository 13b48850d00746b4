"""The kernels the published wide-EP DeepSeek-V3 deployments ran, as the model's parameters for their rows.

Three properties of those systems, each from a public source, none fitted to a published throughput:

* **FP8 GEMMs are DeepGEMM's** (block-scaled FP8, DeepSeek-V3 report section 3.3.2; SGLang's blog: "DeepGEMM
  Integration"). DeepGEMM's README published its H800 SXM5 TFLOPS at exactly DeepSeek-V3's shapes: dense GEMMs
  at M = 4,096 and grouped (contiguous-layout, prefill) GEMMs at 4 experts x 8,192 rows.
  ``gemm_factors`` prices the same shapes with the model (the fused engine's parameters, all 132 SMs) and
  returns, for the dense and the grouped set, the model's time over the published time of a token's pass
  through the set's shapes (each N x K / rate): the fraction of the model's FP8 GEMM rate the real kernels
  reached on DeepSeek-V3's mix. Two releases bracket the rows: the first README (2025-02-25, commit
  a6d97a1, nearest DeepSeek's 2025-02-27 profile and 2025-02-28 statistics) and the last with tables
  (2025-04-09, commit 989c9e3, "up to 1520 TFLOPS", the nearest before SGLang's May 2025 runs); each row
  takes its own and the other as its range.
* **Attention runs in BF16** (DeepSeek-V3 report section 3.3: FP8 covers the linear layers' GEMMs, "attention
  operators" keep BF16/FP32; FlashMLA is a BF16 kernel; Day 6: "precision consistent with training"):
  ``bf16_attention`` sets the attention ops' compute format, whatever the activations' format.
* **DeepEP's normal kernels hold SMs** (``Parallel.comm_sms``, ``cost.expert.compute_share``): DeepSeek's
  prefill profile splits the H800 into "Computation 108 SMs" and "Communication 24 SMs"
  (github.com/deepseek-ai/profile-data, assets/prefill.jpg); SGLang's dispatcher of the blog's time
  (``python/sglang/srt/layers/moe/ep_moe/token_dispatcher.py``) never calls ``Buffer.set_num_sms``, so
  DeepEP's default ``Buffer.num_sms = 20`` holds (range 20-24). The low-latency (decode) kernels hold
  none: "the all-to-all communication during decoding does not occupy GPU SMs" (profile-data README).
"""

from __future__ import annotations

from dataclasses import replace

from jalapeno.cost.op_time import ChipRates, matmul_compute_s
from jalapeno.cost.params import CostParams
from jalapeno.graph.builder import Graph
from jalapeno.hardware.spec import ChipSpec

DEEPGEMM = "https://github.com/deepseek-ai/DeepGEMM"
# (N, K, TFLOPS) on H800 SXM5: dense at M = 4096 ("Normal GEMMs for dense models"), grouped at 4 groups x
# 8192 rows ("Grouped GEMMs for MoE models (contiguous layout)"), README at each release's commit.
DEEPGEMM_H800: dict[str, dict[str, tuple[tuple[int, int, float], ...]]] = {
    "2025-02-25": {
        "dense": (
            (2112, 7168, 1058),
            (24576, 1536, 990),
            (32768, 512, 590),
            (7168, 16384, 1358),
            (4096, 7168, 1304),
            (7168, 2048, 1025),
        ),
        "grouped": ((4096, 7168, 1297), (7168, 2048, 1099)),
    },
    "2025-04-09": {
        "dense": (
            (2112, 7168, 1127),
            (24576, 1536, 1212),
            (32768, 512, 775),
            (7168, 16384, 1520),
            (4096, 7168, 1410),
            (7168, 2048, 1168),
        ),
        "grouped": ((4096, 7168, 1346), (7168, 2048, 1214)),
    },
}
DENSE_M, GROUPS, GROUP_M = 4096, 4, 8192
COMM_SMS = {"deepseek": 24, "sglang": 20}
COMM_SMS_RANGE = (20, 24)


def model_tflops(chip: ChipSpec, prm: CostParams, n: int, k: int, groups: int, m: int) -> float:
    """The model's FP8 GEMM rate at one shape (``groups`` GEMMs of m x n x k), TFLOPS."""
    rates = ChipRates.of(chip)
    peak, eff = rates.matrix_peak("fp8"), prm.eff("fp8")
    flops = 2.0 * m * n * k * groups
    t = matmul_compute_s(m, n, k, groups, peak, rates, prm, eff)
    return flops / max(t, flops / (peak * eff)) / 1e12


def gemm_factors(chip: ChipSpec, prm: CostParams, release: str) -> tuple[float, float]:
    """(dense, grouped): the model's time over DeepGEMM's published time for a token's pass through the
    release's shapes, each taking N x K / rate (2 N K FLOPs a token): the fraction of the model's FP8 rate
    the real kernels reached on that mix."""
    out = []
    for kind, groups, m in (("dense", 1, DENSE_M), ("grouped", GROUPS, GROUP_M)):
        rows = DEEPGEMM_H800[release][kind]
        model = sum(n * k / model_tflops(chip, prm, n, k, groups, m) for n, k, _ in rows)
        out.append(model / sum(n * k / tf for n, k, tf in rows))
    return out[0], out[1]


def kernel_params(chip: ChipSpec, prm: CostParams, release: str) -> CostParams:
    """``prm`` with FP8 GEMMs at DeepGEMM's rate: the dense factor on the FP8 efficiency, the grouped one
    through ``moe_eff`` (grouped over dense, as ``op_time`` multiplies the two)."""
    dense, grouped = gemm_factors(chip, prm, release)
    eff = {**prm.matmul_eff, "fp8": prm.eff("fp8") * dense}
    return replace(prm, matmul_eff=eff, moe_eff=prm.moe_eff * grouped / dense)


def bf16_attention(g: Graph) -> Graph:
    """The graph with its attention kernels computing in BF16 (their FLOPs and bytes unchanged)."""
    ops = tuple(replace(o, dtype="bf16") if o.kind == "attention" else o for o in g.ops)
    return replace(g, ops=ops)
