"""Fit a chip's CostParams from measurements, keeping points out of the fit to report honest error.

Stages, each fitting only the parameters its data can identify (least squares on log time ratios):
1. GEMM sweep (eager, one kernel per call): matrix efficiency per dtype, wave quantization, K overhead.
2. Attention and elementwise sweeps: prefill attention efficiency, decode KV bandwidth, streaming bandwidth.
3. Whole decode steps (CUDA graphs) of the *fit models*: per-kernel costs, weight-streaming bandwidth.
4. Energy of sustained runs of the fit models: static power when busy, pJ per FLOP, pJ per byte.
Everything else (other models, other shapes) is held out and only ever predicted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from jalapeno.cost.op_time import ChipRates, op_time
from jalapeno.cost.params import CostParams
from jalapeno.cost.step import Estimator
from jalapeno.graph.attention import chunk_pairs
from jalapeno.graph.batch import Batch
from jalapeno.graph.builder import build_graph
from jalapeno.graph.ops import AttentionShape, Op
from jalapeno.hardware.spec import ChipSpec
from jalapeno.models.config import ModelConfig

DTYPE_BYTES = {"bf16": 2, "fp16": 2, "fp8": 1}


@dataclass(frozen=True)
class Param:
    """A fitted parameter: how to read it from, and write it into, CostParams; with bounds."""

    name: str
    get: Callable[[CostParams], float]
    set: Callable[[CostParams, float], CostParams]
    lo: float
    hi: float


def _with(p: CostParams, name: str, value: object) -> CostParams:
    """``p`` with its field ``name`` set to ``value`` (a field chosen by name, so typed only at run time)."""
    kw: dict[str, Any] = {name: value}
    return replace(p, **kw)


def scalar(name: str, lo: float, hi: float) -> Param:
    return Param(name, lambda p: getattr(p, name), lambda p, v: _with(p, name, v), lo, hi)


def keyed(name: str, key: str, lo: float, hi: float) -> Param:
    def put(p: CostParams, v: float) -> CostParams:
        return _with(p, name, {**getattr(p, name), key: v})

    return Param(f"{name}.{key}", lambda p: getattr(p, name).get(key, (lo + hi) / 2), put, lo, hi)


def fit(
    params: CostParams,
    free: Sequence[Param],
    predict: Callable[[CostParams], np.ndarray],
    measured: np.ndarray,
) -> CostParams:
    """Least squares on log(predicted / measured) over ``free`` parameters, within their bounds."""
    from scipy.optimize import least_squares

    def with_x(x: np.ndarray) -> CostParams:
        p = params
        for prm, v in zip(free, x, strict=True):
            p = prm.set(p, float(v))
        return p

    x0 = np.array([min(max(f.get(params), f.lo), f.hi) for f in free])
    lo, hi = np.array([f.lo for f in free]), np.array([f.hi for f in free])
    x0 = np.clip(x0, lo + 1e-12 * (hi - lo), hi - 1e-12 * (hi - lo))
    res = least_squares(
        lambda x: np.log(predict(with_x(x)) / measured),
        x0,
        bounds=(lo, hi),
        x_scale=np.maximum(np.abs(x0), 1e-9),
    )
    return with_x(res.x)


# -- stage 1: GEMMs ----------------------------------------------------------------------------
def gemm_op(g: dict[str, Any]) -> Op:
    m, n, k, dt = g["M"], g["N"], g["K"], g["dtype"]
    b = DTYPE_BYTES[dt]
    return Op(
        "gemm",
        "matmul",
        1,
        flops=2.0 * m * n * k,
        weight_bytes=k * n * b,
        act_read_bytes=m * k * b,
        act_write_bytes=m * n * 2,
        m=m,
        n=n,
        k=k,
        dtype=dt,
    )


def predict_eager_ops(ops: Sequence[Op], rates: ChipRates, p: CostParams) -> np.ndarray:
    """Back-to-back eager calls: the GPU waits for the host when a kernel is shorter than its launch."""
    return np.array([max(p.harness_floor_s, op_time(o, rates, p).time_s) for o in ops])


GEMM_PARAMS = [
    keyed("matmul_eff", "bf16", 0.3, 1.0),
    keyed("matmul_eff", "fp8", 0.2, 1.0),
    scalar("k_overhead", 0.0, 4096.0),
    scalar("wave_quantization", 0.0, 1.0),
    keyed("matmul_mem_eff", "bf16", 0.2, 1.0),
    keyed("matmul_mem_eff", "fp8", 0.1, 1.0),
    scalar("harness_floor_s", 1e-6, 1e-4),
    scalar("smooth", 1.0, 20.0),
]


# -- stage 2: attention and elementwise kernels ---------------------------------------------------
def attention_op(a: dict[str, Any]) -> Op:
    h, kvh, d = a["heads"], a["kv_heads"], a["head_dim"]
    if a["phase"] == "decode":
        b, c = a["batch"], a["context"]
        pairs = b * c
        shape = AttentionShape("decode", b, b, pairs, pairs, h, kvh, d, d)
        return Op(
            "attn",
            "attention",
            1,
            flops=4.0 * pairs * h * d,
            act_read_bytes=b * h * d * 2,
            act_write_bytes=b * h * d * 2,
            kv_read_bytes=pairs * 2 * kvh * d * 2,
            attention=shape,
        )
    b, s = a.get("batch", 1), a["seq"]
    pairs = b * chunk_pairs(s, 0, None)
    shape = AttentionShape("prefill", b, b * s, b * s, pairs, h, kvh, d, d)
    return Op(
        "attn",
        "attention",
        1,
        flops=4.0 * pairs * h * d,
        act_read_bytes=b * s * h * d * 2,
        act_write_bytes=b * s * h * d * 2,
        kv_read_bytes=b * s * 2 * kvh * d * 2,
        attention=shape,
    )


def elementwise_op(e: dict[str, Any]) -> Op:
    t, h = e["T"], e["hidden"]
    reads = 2.0 if e["op"] in ("silu_mul", "silu*mul") else 1.0
    return Op(
        "elementwise",
        "norm",
        1,
        flops=4.0 * t * h,
        act_read_bytes=reads * t * h * 2,
        act_write_bytes=t * h * 2,
    )


ATTN_PARAMS = [scalar("attn_prefill_eff", 0.05, 1.0), scalar("attn_decode_mem_eff", 0.05, 1.0)]


# -- stage 3 and 4: whole steps -----------------------------------------------------------------
def step_batch(s: dict[str, Any]) -> tuple[Batch, bool]:
    if s["phase"] == "decode":
        return Batch.decode(s["batch"], s["context"]), bool(s.get("cuda_graph", True))
    return Batch.prefill(s["prompt"], s.get("cached", 0), s.get("batch", 1)), bool(s.get("cuda_graph", False))


def predict_time_and_energy(
    steps: Sequence[dict[str, Any]], models: dict[str, ModelConfig], chip: ChipSpec, p: CostParams
) -> np.ndarray:
    """Step times followed by step energies (the joint fit's prediction vector)."""
    est = Estimator(chip, p)
    t, e = [], []
    for s in steps:
        batch, graph = step_batch(s)
        c = est.step(build_graph(models[s["model"]], batch), cuda_graph=graph)
        t.append(c.time_s)
        e.append(c.energy_j)
    return np.array(t + e)


def predict_steps(
    steps: Sequence[dict[str, Any]],
    models: dict[str, ModelConfig],
    chip: ChipSpec,
    p: CostParams,
    what: str = "time",
) -> np.ndarray:
    est = Estimator(chip, p)
    out = []
    for s in steps:
        batch, graph = step_batch(s)
        c = est.step(build_graph(models[s["model"]], batch), cuda_graph=graph)
        out.append(c.time_s if what == "time" else c.power_w)
    return np.array(out)


STEP_PARAMS = [
    scalar("graph_launch_s", 0.0, 3e-5),
    scalar("kernel_s", 0.0, 3e-5),
    keyed("matmul_mem_eff", "bf16", 0.3, 1.0),
    scalar("eager_launch_s", 1e-6, 1e-4),
]
ENERGY_PARAMS = [
    scalar("active_static_w", 0.0, 600.0),
    keyed("pj_per_flop", "bf16", 0.0, 5.0),
    scalar("pj_per_byte_mem", 0.0, 500.0),
]


def derive_flop_energy(p: CostParams, rates: ChipRates, measured: set[str]) -> CostParams:
    """Energy per FLOP of dtypes no energy run measured, from the measured bf16 figure and the datasheet.

    A GPU runs fp8 at twice its bf16 rate within the same power limit, so at the limit each fp8 FLOP
    costs about bf16's energy x (bf16 peak / fp8 peak). That is a physical bound from the datasheet, not
    a fit; ``meta["pj_per_flop_derived"]`` names every dtype set this way so reports can say so.
    """
    base = p.pj_per_flop.get("bf16")
    if base is None or "bf16" not in measured or "bf16" not in rates.peak:
        return p
    derived = {
        d: base * rates.peak["bf16"] / peak
        for d, peak in rates.peak.items()
        if d not in measured and peak > rates.peak["bf16"] and d in ("fp8", "int8", "fp4", "int4")
    }
    if not derived:
        return p
    note = dict.fromkeys(
        derived, "bf16 energy per FLOP x bf16 peak / this dtype's peak (same power limit); not measured"
    )
    return replace(p, pj_per_flop={**p.pj_per_flop, **derived}, meta={**p.meta, "pj_per_flop_derived": note})


def busy_energy(s: dict[str, Any], idle_w: float) -> tuple[float, float]:
    """(joules, seconds) of the steps alone in a sustained-energy window.

    The window's ends are aligned to ticks of the NVML energy counter, so it also holds up to one tick
    with no work queued; that slack (window - steps x median step time) is charged at idle power and removed.
    """
    busy = s["energy_steps"] * s["s"] if s.get("energy_steps") else s["energy_s"]
    slack = max(0.0, s["energy_s"] - busy)
    return s["joules"] - idle_w * slack, min(busy, s["energy_s"])


def errors(pred: np.ndarray, meas: np.ndarray) -> dict[str, float]:
    e = np.abs(pred / meas - 1.0)
    return {
        "n": int(e.size),
        "median": float(np.median(e)) if e.size else float("nan"),
        "max": float(e.max()) if e.size else float("nan"),
    }
