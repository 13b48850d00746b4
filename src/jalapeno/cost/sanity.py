"""Sanity rows against public results: MLPerf Inference Llama-2-70B offline, per GPU.

The model: an offline run keeps the GPU full; each request costs its prefill plus its share of decode
steps at the largest batch whose KV cache fits. Output tokens/s = OSL / (prefill(ISL) + OSL x step / B).
"""

from __future__ import annotations

from dataclasses import dataclass

from jalapeno.cost.oracle import kv_bytes_per_token, weight_bytes
from jalapeno.cost.params import CostParams
from jalapeno.cost.step import Estimator
from jalapeno.graph.batch import Batch
from jalapeno.graph.builder import build_graph
from jalapeno.graph.precision import Precision
from jalapeno.hardware.spec import ChipSpec
from jalapeno.models.config import ModelConfig

# MLPerf Inference v4.0 closed division, Llama-2-70B offline, 8-GPU systems, TensorRT-LLM, FP8.
# Source: NVIDIA Technical Blog, "NVIDIA H200 Tensor Core GPUs and NVIDIA TensorRT-LLM Set MLPerf LLM
# Inference Records" (27 Mar 2024): H200 31,712 tokens/s offline; H100 ~21,800 (H200 quoted as 45% faster).
# Secondary (read from the blog, not the MLCommons results table); dataset: OpenOrca, mean ~ 295 input and
# ~ 295 output tokens (MLPerf Llama-2-70B reference), also approximate.
MLPERF_LLAMA2_70B_OFFLINE_PER_GPU = {"h200-sxm": 31_712 / 8, "h100-sxm": 21_806 / 8}
ISL, OSL = 295, 295
MAX_BATCH = 1024


@dataclass(frozen=True)
class SanityRow:
    chip: str
    tp: int
    predicted_tokens_per_s: float
    published_tokens_per_s: float
    batch: int
    decode_step_s: float
    prefill_s: float

    @property
    def ratio(self) -> float:
        return self.predicted_tokens_per_s / self.published_tokens_per_s


def mlperf_offline(model: ModelConfig, chip: ChipSpec, params: CostParams) -> SanityRow:
    """Best per-GPU rate over tensor-parallel degrees 1, 2, 4, 8 (the submissions pick theirs too)."""
    rows = [_offline(model, chip, params, tp) for tp in (1, 2, 4, 8)]
    return max((r for r in rows if r is not None), key=lambda r: r.predicted_tokens_per_s)


def _offline(model: ModelConfig, chip: ChipSpec, params: CostParams, tp: int) -> SanityRow | None:
    prec = Precision.of("fp8")  # W8A8, fp8 KV: what the submissions ran
    free = chip.memory_bytes * tp * 0.9 - weight_bytes(model, prec)
    if free <= 0:
        return None
    ctx = ISL + OSL // 2  # mean context over a request's decode steps
    batch = int(max(1, min(MAX_BATCH * tp, free // (kv_bytes_per_token(model, prec) * (ISL + OSL)))))
    est = Estimator(chip, params, tp)
    step = est.step(build_graph(model, Batch.decode(batch, ctx), prec)).time_s
    pre = est.step(build_graph(model, Batch.prefill(ISL, 0, batch=16), prec), cuda_graph=False).time_s / 16
    tps = OSL / (pre + OSL * step / batch) / tp
    return SanityRow(chip.name, tp, tps, MLPERF_LLAMA2_70B_OFFLINE_PER_GPU[chip.name], batch, step, pre)
