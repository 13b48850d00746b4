"""``estimate``: decode and prefill of one model on one chip, as plain data (for CLI, JSON, reports)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jalapeno.errors import JalapenoError
from jalapeno.cost.params import CostParams, chip_error_band, setup_for
from jalapeno.cost.step import Estimator, StepCost
from jalapeno.graph.batch import Batch
from jalapeno.graph.builder import build_graph
from jalapeno.graph.precision import Precision
from jalapeno.hardware.spec import ChipSpec
from jalapeno.models.config import ModelConfig


@dataclass(frozen=True)
class Estimate:
    model: ModelConfig
    chip: ChipSpec
    params: CostParams
    precision: Precision
    tp: int
    batch: int
    context: int
    decode: StepCost
    prompt: int | None = None
    cached: int = 0
    prefill: StepCost | None = None
    engine: str = "fused"  # cost.params.ENGINES: the serving engine the GPU presets are priced as

    def to_json(self) -> dict[str, Any]:
        d = self.decode
        out: dict[str, Any] = {
            "model": self.model.name, "hardware": self.chip.name, "tp": self.tp, "precision": self.precision.label,
            "batch": self.batch, "context": self.context, "engine": self.engine,
            "calibrated": self.params.calibrated,
            "params_source": self.params.source,
            "decode_step_s": d.time_s, "decode_tokens_per_s": self.batch / d.time_s, "decode_power_w": d.power_w,
            "decode_joules_per_token": d.energy_j / self.batch, "decode_power_capped": d.power_capped,
            "decode_ops": [op_row(c) for c in d.ops], "decode_host_wait_s": d.host_wait_s,
            "decode_throttle_s": d.throttle_s,
        }
        band = chip_error_band(self.chip.name)  # published / predicted over held-out published rows
        out["error_band"] = None if band is None else {
            "lo": band[0], "hi": band[1], "decode_tokens_per_s": [self.batch / d.time_s * b for b in band]}
        if self.prefill is not None and self.prompt is not None:
            p = self.prefill
            out.update({"prompt": self.prompt, "cached": self.cached, "prefill_s": p.time_s,
                        "prefill_tokens_per_s": self.prompt / p.time_s, "prefill_power_w": p.power_w,
                        "prefill_joules_per_token": p.energy_j / self.prompt, "prefill_power_capped": p.power_capped,
                        "prefill_ops": [op_row(c) for c in p.ops], "prefill_host_wait_s": p.host_wait_s,
                        "prefill_throttle_s": p.throttle_s})
        return out


def op_row(c: Any) -> dict[str, Any]:
    o, t = c.op, c.time
    return {"name": o.name, "kind": o.kind, "layers": o.layers, "repeat": o.repeat, "shape": o.shape,
            "time_s": c.total_s, "flops": o.flops * o.repeat, "bytes": o.bytes * o.repeat, "bound": t.bound,
            "roofline_fraction": c.roofline_fraction}


def check_fits(model: ModelConfig, chip: ChipSpec, precision: Precision, tp: int, tokens: int) -> None:
    """Weights plus the KV cache of ``tokens`` must fit the ``tp`` chips' main memory."""
    from jalapeno.cost.oracle import kv_bytes_per_token, weight_bytes

    w = weight_bytes(model, precision)
    kv = kv_bytes_per_token(model, precision) * tokens
    have = chip.memory_bytes * tp
    if w + kv > have:
        raise JalapenoError(
            f"{model.name} needs {w / 1e9:.1f} GB of weights ({precision.weights.name}) + {kv / 1e9:.1f} GB of KV "
            f"cache ({tokens} tokens, {precision.kv.name}) = {(w + kv) / 1e9:.1f} GB > {have / 1e9:.1f} GB on "
            f"{tp} x {chip.name}; raise --tp, lower --batch/--context, or use a smaller --dtype", field="memory")


def estimate(model: ModelConfig, chip: ChipSpec, *, batch: int, context: int, prompt: int | None = None,
             cached: int = 0, precision: Precision | None = None, tp: int = 1,
             params: CostParams | None = None, engine: str = "fused") -> Estimate:
    """Decode (and with ``prompt``, prefill) steps. ``engine`` is ``serve``'s: ``"fused"`` (default, a
    vLLM-class engine) or ``"calibration"`` (the plain-PyTorch engine the H200 measurements ran);
    it only changes GPU presets' kernel counts (``cost.params.setup_for``). ``params`` overrides both."""
    prec = precision or Precision.of("bf16")
    default_prm, timer = setup_for(chip, engine)
    prm = params or default_prm
    est = Estimator(chip, prm, tp, timer)
    check_fits(model, chip, prec, tp, tokens=batch * (context + 1))
    dec = est.step(build_graph(model, Batch.decode(batch, context), prec), cuda_graph=True)
    pre = None
    if prompt is not None:
        pre = est.step(build_graph(model, Batch.prefill(prompt, cached), prec), cuda_graph=False)
    return Estimate(model, chip, prm, prec, tp, batch, context, dec, prompt, cached, pre, engine)
