"""Number formats: bytes per element, including the scale overhead of block-quantized formats.

Why here and not in hardware or models: both layers name dtypes (a chip's peak per dtype, a model's
weight/KV dtype) and neither may import the other.
"""

from __future__ import annotations

from dataclasses import dataclass

from jalapeno.errors import JalapenoError


@dataclass(frozen=True)
class DType:
    """A storage/compute format. ``group_size`` > 0 means one scale of ``scale_bits`` per group."""

    name: str
    bits: int
    group_size: int = 0
    scale_bits: int = 0
    compute: str = ""  # the engine rate this format computes at ("bf16", "fp8", "int8", "fp4", ...)

    @property
    def bytes_per_element(self) -> float:
        """Bytes per element, scales amortized over their group (e.g. int4 g128 fp16 scale = 0.515625)."""
        scale = self.scale_bits / self.group_size if self.group_size else 0.0
        return (self.bits + scale) / 8.0


# compute: which peak-FLOP/s row of a chip a matmul in this format uses.
DTYPES: dict[str, DType] = {
    d.name: d
    for d in (
        DType("fp32", 32, compute="fp32"),
        DType("tf32", 32, compute="tf32"),
        DType("bf16", 16, compute="bf16"),
        DType("fp16", 16, compute="bf16"),
        DType("fp8", 8, compute="fp8"),
        DType("int8", 8, compute="int8"),
        # Block-scaled 4-bit formats. int4 as in AWQ/GPTQ (group 128, fp16 scale); mxfp4 as in the
        # OCP MX spec (group 32, e8m0 scale); nvfp4 as in Blackwell (group 16, fp8 e4m3 scale).
        DType("int4", 4, group_size=128, scale_bits=16, compute="int4"),
        DType("mxfp4", 4, group_size=32, scale_bits=8, compute="fp4"),
        DType("nvfp4", 4, group_size=16, scale_bits=8, compute="fp4"),
        DType("fp4", 4, group_size=32, scale_bits=8, compute="fp4"),
    )
}


def get_dtype(name: str, *, field: str = "dtype") -> DType:
    """Look up a dtype by name; unknown names fail with the list of valid ones."""
    try:
        return DTYPES[name.lower()]
    except (KeyError, AttributeError):
        raise JalapenoError(f"unknown dtype {name!r}; valid: {', '.join(DTYPES)}", field=field) from None
