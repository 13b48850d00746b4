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

A fourth, used by the prefill rows since the two micro-batches overlap stage by stage (``cost.tbo_stages``,
where an all-to-all that outlasts its stage shows): **DeepEP's normal kernels reach a measured fraction of
the NIC** (``deepep_nic``, ``DEEPEP_NIC_FRACTION``), from a unit test of the kernels, never from a row's
throughput:

* DeepSeek's rows (H800, CX7 400 Gb/s, ~50 GB/s): DeepEP's README (V1, now ``docs/legacy.md``), internode
  normal kernels at EP32, 4,096 tokens, top-4 groups of top-8, FP8 dispatch and BF16 combine: 58 GB/s
  dispatch and 57 GB/s combine "RDMA" bandwidth, counted once a node a token reaches *including its own*
  (``tests/test_internode.py``); with the benchmark's routing a token reaches 3.614 nodes, 2.711 remote
  (``cost.ep_stats``), so the NIC carried 58 x 2.711 / 3.614 = 43.5 and 42.8 GB/s: 0.870 and 0.855 of 50.
* SGLang's rows (H100): the "Unit Test" bars of its blog's prefill breakdown (``profile-prefill.png``,
  ``cost.published_profile.UNIT_TEST_MS``): dispatch 7.3 and combine 14.3 ms a layer at the rows' shape
  (16,384 tokens a GPU in two micro-batches, 58 of 61 layers MoE): 3.84 and 7.52 ms an all-to-all for the
  0.2745 of 8,192 x 8 x 7,168 bytes (FP8; BF16 combine twice that) that cross the NIC per node: 33.6 and
  34.3 GB/s, 0.671 and 0.686 of 50 (``sglang_unit_test_fraction``).

Each is the mean of its dispatch and combine; the nominal NIC (1.0) is the range's other end.
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

from jalapeno.cost.ep_stats import expected_nodes, remote_nodes
from jalapeno.cost.op_time import ChipRates, matmul_compute_s
from jalapeno.cost.params import CostParams
from jalapeno.graph.builder import Graph
from jalapeno.hardware.network import NIC_KEYS
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


NOMINAL_NIC_BYTES_PER_S = 50e9  # CX7 400 Gb/s, the NIC of both clusters (the presets' figure)
# DeepEP README (V1), internode normal kernels at EP32 on H800 + CX7: "RDMA" GB/s, dispatch and combine,
# counted once a node a token reaches including its own; its benchmark routes top-8 of 256 experts within
# top-4 groups, a group a node (4 nodes at EP32)
DEEPEP_README_EP32_GBPS = (58.0, 57.0)
# SGLang's blog, profile-prefill.png "Unit Test" bars, ms a layer (cost.published_profile.UNIT_TEST_MS)
SGLANG_UNIT_TEST_MS = (7.3, 14.3)


def deepep_readme_fraction() -> float:
    """The NIC share DeepEP's README benchmark reached: logical GB/s x remote / reached nodes over 50 GB/s,
    mean of dispatch and combine (0.863)."""
    local = remote_nodes(256, 8, 4, 4, 4) / expected_nodes(256, 8, 4, 4, 4)
    return sum(g * 1e9 * local for g in DEEPEP_README_EP32_GBPS) / 2 / NOMINAL_NIC_BYTES_PER_S


def sglang_unit_test_fraction() -> float:
    """The NIC share SGLang's DeepEP unit tests reached at its prefill rows' shape (module docstring): the
    per-node NIC bytes of one micro-batch's all-to-all (the remote nodes a token reaches over its 8 experts,
    DeepSeek-V3's 4 of 8 groups on 4 nodes: 0.2745, of 8,192 tokens x 8 x 7,168; FP8 dispatch, BF16 combine)
    over the unit test's time for it (a layer's bar over 2 micro-batches x 58 MoE layers / 61), over
    50 GB/s; mean of dispatch and combine (0.679)."""
    per = 61 / (2 * 58) * 1e-3
    b = remote_nodes(256, 8, 4, 8, 4) / 8 * 8192 * 8 * 7168
    rates = (b / (SGLANG_UNIT_TEST_MS[0] * per), 2 * b / (SGLANG_UNIT_TEST_MS[1] * per))
    return sum(rates) / 2 / NOMINAL_NIC_BYTES_PER_S


DEEPEP_NIC_FRACTION = {
    "deepseek": round(deepep_readme_fraction(), 3),
    "sglang": round(sglang_unit_test_fraction(), 3),
}


def deepep_nic(chip: ChipSpec, fraction: float) -> ChipSpec:
    """``chip`` with its NIC at ``fraction`` of its figure: the rate DeepEP's normal kernels reach."""
    if fraction == 1.0:
        return chip
    key = NIC_KEYS[1]
    fig = chip.extra[key]
    note = f"DeepEP normal kernels' measured share {fraction} of {fig.value:.3g} (cost.published_kernels)"
    extra = MappingProxyType({**chip.extra, key: replace(fig, value=fig.value * fraction, note=note)})
    return replace(chip, extra=extra)
