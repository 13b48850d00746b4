"""Deployment number formats: weights, activations and KV cache each have their own."""

from __future__ import annotations

from dataclasses import dataclass

from jalapeno.dtypes import DType, get_dtype


@dataclass(frozen=True)
class Precision:
    weights: DType
    activations: DType
    kv: DType

    @classmethod
    def of(cls, weights: str = "bf16", activations: str | None = None, kv: str | None = None) -> Precision:
        """``of("fp8")`` = W8A8 with an fp8 KV cache; ``of("int4", "bf16", "bf16")`` = W4A16."""
        w = get_dtype(weights, field="weights dtype")
        a = get_dtype(activations or _default_act(weights), field="activations dtype")
        k = get_dtype(kv or a.name, field="kv dtype")
        return cls(w, a, k)

    @property
    def compute(self) -> str:
        """Matmul engine rate: activations decide (W4A16 dequantizes to bf16; W8A8 runs fp8)."""
        return self.activations.compute

    @property
    def attention_compute(self) -> str:
        """FlashAttention's rate. No serving engine has a 4-bit attention kernel: with 4-bit activations
        (NVFP4, MXFP4) Q.K and P.V run at the KV cache's format, at least 8-bit (TensorRT-LLM's FMHA on
        an fp8 cache). Otherwise the activations' rate, as the GEMMs."""
        if self.activations.bits >= 8:
            return self.compute
        return max((self.kv, get_dtype("fp8")), key=lambda d: d.bits).compute

    @property
    def residual(self) -> DType:
        """The residual stream's format, in which tensor-parallel all-reduces sum the row-parallel GEMMs'
        partial outputs and the logits are gathered: 16-bit under 8- or 4-bit activations (TensorRT-LLM's
        ``gemm_allreduce_plugin: float16`` in NVIDIA's MLPerf v5.1 FP4 configurations; vLLM's and
        TensorRT-LLM's custom all-reduce kernels sum bf16/fp16), the activations' own when wider."""
        return self.activations if self.activations.bits >= 16 else get_dtype("bf16")

    @property
    def label(self) -> str:
        return f"w:{self.weights.name} a:{self.activations.name} kv:{self.kv.name}"


def _default_act(weights: str) -> str:
    # Weight-only 4-bit formats run with 16-bit activations unless told otherwise.
    return {"fp8": "fp8", "int8": "int8"}.get(weights.lower(), "bf16")


BF16 = Precision.of("bf16")
