"""``fused``: a vLLM-class serving engine, one kernel per graph op (the default)."""

from __future__ import annotations

from jalapeno.cost.engines import ENGINES
from jalapeno.cost.params import CostParams, fused_engine


@ENGINES.register("fused", "a fused serving engine: 1 kernel per op (vLLM-class)")
def fused(params: CostParams) -> CostParams:
    return fused_engine(params)
