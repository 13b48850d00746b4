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
    def of(cls, weights: str = "bf16", activations: str | None = None, kv: str | None = None) -> "Precision":
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
        """FlashAttention's rate: Q.K and P.V run at the wider of the activation and KV-cache formats. No
        serving engine has a 4-bit attention kernel (NVFP4 runs its FMHA on the fp8 cache in fp8), and a
        16-bit-cache kernel computes in 16 bits whatever the GEMMs' format (FlashMLA, bf16)."""
        return max((self.activations, self.kv), key=lambda d: d.bits).compute

    @property
    def label(self) -> str:
        return f"w:{self.weights.name} a:{self.activations.name} kv:{self.kv.name}"


def _default_act(weights: str) -> str:
    # Weight-only 4-bit formats run with 16-bit activations unless told otherwise.
    return {"fp8": "fp8", "int8": "int8"}.get(weights.lower(), "bf16")


BF16 = Precision.of("bf16")
