"""``fused``: a vLLM-class serving engine, one kernel per graph op (the default).

One kernel per graph op (RoPE, K/V write, SiLU*mul and attention each one kernel) instead of the
calibration engine's counts: what a mapped architecture's mapper assumes too, so GPUs and architectures
compare on the same footing.
"""

from __future__ import annotations

from dataclasses import replace

from jalapeno.cost.engines import ENGINES, P


@ENGINES.register("fused", "a fused serving engine: 1 kernel per op (vLLM-class)")
def fused(params: P, /) -> P:
    source = f"{params.source}; fused engine (1 kernel per op)"
    return replace(params, kernels_per_op={}, source=source)  # type: ignore[type-var]  # CostParams is a dataclass
