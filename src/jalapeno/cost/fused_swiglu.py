"""TensorRT-LLM's fused GEMM + SwiGLU (build flag ``gemm_swiglu_plugin: fp8``, Hopper FP8), a graph rewrite.

Without the plugin a gated MLP runs the gate/up GEMM, writing the (M, 2I) pair, then a separate SwiGLU
kernel that reads it and writes the (M, I) product (TensorRT-LLM perf overview, "Fused Matmul + Gated-SiLU
(LLaMA)": "one Matmul followed by a separate SwiGLU kernel"). The plugin computes the SwiGLU in the GEMM's
epilogue (CutlassFusedGatedGemmRunner): its one output is the gated (M, I) tensor in the plugin's FP8 type
(cpp/tensorrt_llm/plugins/gemmSwigluPlugin/gemmSwigluPlugin.cpp: output dims N / 2, every input and the
output of type fp8). So the rewrite drops the ``act`` op and halves the gate/up GEMM's output bytes; the
GEMM's FLOPs stay (the epilogue's 5 FLOPs an element, 0.02% of the GEMM's 2K at Llama-2-70B, go with the
dropped op).

Only the bytes are priced. Whether the plugin's CUTLASS kernel is otherwise faster than the GEMM TensorRT
picks is not published: NVIDIA's tuning guide measured Llama-3.3-70B FP8 on 4 H100 (TP4) at 5,980.8
tokens/s without and 5,976.8 with it ("within run to run variance"; inter-token latency 12.70 -> 11.70 ms),
TensorRT-LLM docs/source/performance/performance-tuning-guide/fp8-quantization.md.
"""

from __future__ import annotations

from dataclasses import replace

from jalapeno.graph.builder import Graph

GATE_UP, ACT = "gate_up", "act"  # a dense gated MLP's ops (graph.builder ``dense_mlp``)


def fused_swiglu(g: Graph) -> Graph:
    """``g`` with every dense gate/up GEMM writing its gated output (half the 2I pair) and no SwiGLU op; a
    graph without a dense gate/up GEMM (ungated or MoE MLPs) is returned as it is."""
    if not any(o.name == GATE_UP for o in g.ops):
        return g
    ops = tuple(
        replace(o, act_write_bytes=o.act_write_bytes / 2) if o.name == GATE_UP else o
        for o in g.ops
        if o.name != ACT
    )
    return replace(g, ops=ops)
