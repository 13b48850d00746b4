"""TensorRT-LLM's published DeepSeek-R1 kernel times on Blackwell, in numbers, beside the model's step.

NVIDIA's per-layer decode breakdowns of DeepSeek-R1 (tech blog 8, ``tech_blog8_kernel_breakdown.png``; blog
14's profiles) are images whose numbers are not printed; the kernel times its tech blogs do print are these:

* ``MOE_MODULE_US`` -- tech blog 24, "MoE as Dense GEMM"
  (docs/source/blogs/tech_blog/blog24_MoE_as_Dense_GEMM.md in NVIDIA/TensorRT-LLM, "Per-Rank MoE Module
  Latency"): one B200, DeepSeek-V3 routed MoE (hidden 7,168, 256 experts, top-8, SwiGLU, NVFP4), TP8
  (each rank 1/8 of every expert: intermediate 256), the per-rank MoE
  module "including Router GEMM, TopK, alpha generation, FC1, FC2, and necessary quantization", flanking
  all-reduces excluded; ``num_tokens`` -> (DENSEGEMM, TRTLLM-Gen, CUTLASS) in us.
* ``A2A_EP8_US`` -- tech blog 18, "Optimizing MoE Communication with One-Sided AlltoAll Over NVLink"
  (blog18_Optimizing_MoE_Communication_with_One_Sided_AlltoAll_Over_NVLink.md), ep_size=8 table: GB200 NVL72
  (NVLink 5, 900 GB/s a direction as B200's), DeepSeek-V3 profile, BF16 payload, perfect router; batch a rank
  -> (dispatch us, dispatch GB/s, combine us, combine GB/s), GB/s = batch x min(ep, top_k) x bytes a token /
  latency with 14,336 bytes a BF16 token (tests hold it). ``POST_QUANT_DISPATCH`` is its batch-2,048 table.
* ``TOPK_FUSED_US`` -- tech blog 3, "Optimizing DeepSeek R1 Throughput on NVIDIA Blackwell GPUs": "fusing
  these kernels can reduce the kernel time from 252us to 15us in the target setting" (the setting unstated).
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise

BLOG24 = (
    "https://github.com/NVIDIA/TensorRT-LLM/blob/main/docs/source/blogs/tech_blog/blog24_MoE_as_Dense_GEMM.md"
)
BLOG18 = (
    "https://github.com/NVIDIA/TensorRT-LLM/blob/main/docs/source/blogs/tech_blog/"
    "blog18_Optimizing_MoE_Communication_with_One_Sided_AlltoAll_Over_NVLink.md"
)
BLOG3 = (
    "https://github.com/NVIDIA/TensorRT-LLM/blob/main/docs/source/blogs/tech_blog/"
    "blog3_Optimizing_DeepSeek_R1_Throughput_on_NVIDIA_Blackwell_GPUs.md"
)
MOE_TP = 8  # blog 24's tensor-parallel degree (one rank measured)
MOE_BACKENDS = ("densegemm", "trtllm_gen", "cutlass")

# num_tokens -> (DENSEGEMM, TRTLLM-Gen, CUTLASS) us, and the printed speedup t_TRTLLM-Gen / t_DENSEGEMM
MOE_MODULE_US: dict[int, tuple[float, float, float]] = {
    1: (149.66, 26.78, 96.77),
    8: (142.15, 57.68, 150.55),
    16: (144.25, 86.55, 200.05),
    32: (144.15, 117.20, 262.73),
    48: (139.35, 133.54, 290.50),
    64: (140.59, 141.68, 308.44),
    128: (144.50, 161.87, 335.65),
    192: (166.61, 168.23, 350.68),
    208: (168.38, 169.34, 354.73),
    224: (169.61, 169.24, 354.01),
    256: (173.01, 172.17, 351.98),
    272: (241.80, 176.10, 357.90),
    336: (251.33, 184.32, 363.58),
    384: (257.37, 186.92, 368.12),
}
MOE_SPEEDUP = {1: 0.18, 8: 0.41, 16: 0.60, 32: 0.81, 48: 0.96, 64: 1.01, 128: 1.12, 192: 1.01, 208: 1.01,
               224: 1.00, 256: 1.00, 272: 0.73, 336: 0.73, 384: 0.73}  # fmt: skip

A2A_EP = 8
A2A_TOP_K = 8
BF16_TOKEN_BYTES = 7168 * 2
# batch a rank -> (dispatch us, dispatch GB/s, combine us, combine GB/s), BF16, ep_size=8
A2A_EP8_US: dict[int, tuple[float, float, float, float]] = {
    1: (18.9, 6.07, 31.0, 3.70),
    2: (18.4, 12.47, 31.1, 7.36),
    4: (18.1, 25.34, 31.4, 14.59),
    8: (17.6, 52.22, 31.4, 29.23),
    16: (18.5, 99.34, 32.6, 56.31),
    32: (18.2, 201.72, 32.7, 112.25),
    64: (22.3, 328.68, 34.1, 215.18),
    128: (31.7, 462.40, 38.1, 384.96),
    256: (50.8, 578.18, 53.0, 554.44),
    512: (89.5, 656.24, 91.7, 640.56),
    1024: (166.3, 706.34, 175.6, 668.62),
    2048: (311.8, 753.28, 322.6, 728.20),
}
# recipe -> (bytes a token, byte ratio vs BF16, dispatch us, dispatch GB/s, speedup vs BF16) at batch 2,048
POST_QUANT_DISPATCH: dict[str, tuple[int, float, float, float, float]] = {
    "bf16": (14336, 1.00, 311.8, 753.3, 1.00),
    "mxfp8": (7392, 1.94, 172.2, 703.4, 1.81),
    "nvfp4": (4032, 3.56, 101.7, 649.3, 3.06),
}
TOPK_FUSED_US = (252.0, 15.0)  # blog 3: 18 PyTorch ops -> the fused top-K kernels, "in the target setting"


def interp(table: Mapping[int, tuple[float, ...]], x: float, col: int) -> float:
    """Column ``col`` of ``table`` at ``x``, linear between the published points (clamped at the ends)."""
    keys = sorted(table)
    if x <= keys[0]:
        return table[keys[0]][col]
    for lo, hi in pairwise(keys):
        if x <= hi:
            a, b = table[lo][col], table[hi][col]
            return a + (b - a) * (x - lo) / (hi - lo)
    return table[keys[-1]][col]


def moe_module_us(num_tokens: float, backend: str = "trtllm_gen") -> float:
    """Blog 24's per-rank MoE module latency (TP8, one B200) at ``num_tokens``, us."""
    return interp(MOE_MODULE_US, num_tokens, MOE_BACKENDS.index(backend))


def a2a_ep8_us(batch: float) -> tuple[float, float]:
    """Blog 18's EP8 (dispatch, combine) latency at ``batch`` tokens a rank, BF16 payload, us."""
    return interp(A2A_EP8_US, batch, 0), interp(A2A_EP8_US, batch, 2)


def a2a_logical_gb_s(batch: int, latency_us: float, token_bytes: int = BF16_TOKEN_BYTES) -> float:
    """Blog 18's reported bandwidth: batch x min(ep, top_k) x bytes a token / latency (logical, GB/s)."""
    return batch * min(A2A_EP, A2A_TOP_K) * token_bytes / (latency_us * 1e-6) / 1e9
