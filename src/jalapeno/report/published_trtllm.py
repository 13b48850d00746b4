"""TensorRT-LLM build flags the scenario model prices, as docs/validation-published.md states them (kept
here so the page's generator stays small)."""

from __future__ import annotations

FUSED_SWIGLU_MECHANISM = (
    "(8) TensorRT-LLM's fused GEMM + SwiGLU (build flag gemm_swiglu_plugin fp8, read into "
    "src/jalapeno/data/published_engines/trtllm_build.csv: every v5.1 H200 Llama-2-70B offline and server "
    "configuration, no other) computes the SwiGLU in the gate/up GEMM's epilogue and writes only the gated "
    "FP8 output, so those rows' steps run without the SwiGLU op and the GEMM writes half "
    "(cost/fused_swiglu.py; docs/validation-405b.md, H200 across rounds). "
)
