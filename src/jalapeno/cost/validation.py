"""Calibrate a GPU preset from measurements and compare predictions with what was measured.

The split is fixed before fitting: operator sweeps and the *fit models'* whole steps may be fitted;
every other model's steps, and every measurement of the held-out sweep, are only predicted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jalapeno.cost import calibrate as cal
from jalapeno.cost.op_time import ChipRates
from jalapeno.cost.params import CostParams
from jalapeno.errors import JalapenoError
from jalapeno.hardware.spec import ChipSpec
from jalapeno.models.config import ModelConfig


@dataclass
class Row:
    """One measured point and its prediction."""

    group: str  # gemm, attention, elementwise, decode, prefill, energy
    label: str
    measured: float
    predicted: float = float("nan")
    held_out: bool = True
    unit: str = "s"
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def error(self) -> float:
        return self.predicted / self.measured - 1.0


def load(paths: list[Path]) -> list[dict[str, Any]]:
    out = []
    for p in paths:
        try:
            out.append(json.loads(Path(p).read_text()))
        except (OSError, json.JSONDecodeError) as e:
            raise JalapenoError(f"cannot read measurements {p}: {e}", field="--measurements") from None
    return out


def _ok(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if not r.get("error") and r.get("s")]


def calibrate_and_validate(chip: ChipSpec, op_sources: list[dict[str, Any]], step_sources: list[dict[str, Any]],
                           models: dict[str, ModelConfig], fit_models: set[str],
                           start: CostParams | None = None) -> tuple[CostParams, list[Row]]:
    """Fit ``chip``'s parameters; return them with every measured point's prediction.

    op_sources[0]'s GEMMs are fitted and the other sources' GEMMs held out (a different day/machine);
    attention/elementwise sweeps alternate fit/held-out; steps fit only for ``fit_models``.
    """
    p = start or CostParams()
    rates = ChipRates.of(chip)
    rows: list[Row] = []

    # 1. GEMMs
    gemm_fit = _ok(op_sources[0].get("gemm", []))
    gemm_hold = [g for src in op_sources[1:] for g in _ok(src.get("gemm", []))]
    if gemm_fit:
        ops = [cal.gemm_op(g) for g in gemm_fit]
        p = cal.fit(p, cal.GEMM_PARAMS, lambda q: cal.predict_eager_ops(ops, rates, q),
                    np.array([g["s"] for g in gemm_fit]))
    for g_list, held in ((gemm_fit, False), (gemm_hold, True)):
        for g in g_list:
            pred = cal.predict_eager_ops([cal.gemm_op(g)], rates, p)[0]
            rows.append(Row("gemm", f"{g['dtype']} {g['M']}x{g['N']}x{g['K']}", g["s"], pred, held))

    # 2. attention and elementwise kernels (alternate points fit / held out)
    attn = [a for src in op_sources for a in _ok(src.get("attention", []))]
    elem = [e for src in op_sources for e in _ok(src.get("elementwise", []))]
    fit_ops = [cal.attention_op(a) for a in attn[::2]] + [cal.elementwise_op(e) for e in elem[::2]]
    fit_y = [a["s"] for a in attn[::2]] + [e["s"] for e in elem[::2]]
    if fit_ops:
        p = cal.fit(p, cal.ATTN_PARAMS, lambda q: cal.predict_eager_ops(fit_ops, rates, q), np.array(fit_y))
    for i, a in enumerate(attn):
        pred = cal.predict_eager_ops([cal.attention_op(a)], rates, p)[0]
        size = f"ctx {a['context']}" if a["phase"] == "decode" else f"seq {a['seq']}"
        rows.append(Row("attention", f"{a['phase']} b{a.get('batch', 1)} {size}", a["s"], pred, i % 2 == 1))
    for i, e in enumerate(elem):
        pred = cal.predict_eager_ops([cal.elementwise_op(e)], rates, p)[0]
        rows.append(Row("elementwise", f"{e['op']} {e['T']}x{e['hidden']}", e["s"], pred, i % 2 == 1))

    # 3. whole steps: fit models only
    steps = [s for src in step_sources for s in _ok(src.get("steps", [])) if s["model"] in models]
    fit_steps = [s for s in steps if s["model"] in fit_models]
    if fit_steps:
        p = cal.fit(p, cal.STEP_PARAMS, lambda q: cal.predict_steps(fit_steps, models, chip, q),
                    np.array([s["s"] for s in fit_steps]))

    # 4. energy: fit models only
    energy = [s for s in steps if s.get("joules") and s.get("energy_s")]
    fit_energy = [s for s in energy if s["model"] in fit_models]
    if fit_energy:
        p = cal.fit(p, cal.ENERGY_PARAMS, lambda q: cal.predict_steps(fit_energy, models, chip, q, "power"),
                    np.array([s["avg_W"] for s in fit_energy]))

    for s in steps:
        pred_t = cal.predict_steps([s], models, chip, p)[0]
        size = f"b{s['batch']} ctx {s['context']}" if s["phase"] == "decode" else f"prompt {s['prompt']}"
        held = s["model"] not in fit_models
        rows.append(Row(s["phase"], f"{s['model']} {size}", s["s"], pred_t, held, meta={"model": s["model"]}))
        if s in energy:
            pw = cal.predict_steps([s], models, chip, p, "power")[0]
            tokens = s["batch"] if s["phase"] == "decode" else s["prompt"]
            j_meas = s["J_per_token"] if s.get("J_per_token") else s["avg_W"] * s["s"] / tokens
            j_pred = pw * pred_t / tokens
            rows.append(Row(f"{s['phase']} J/token", f"{s['model']} {size}", j_meas, j_pred, held, "J",
                            meta={"model": s["model"], "avg_W": s["avg_W"], "pred_W": pw}))
    return p, rows


def summary(rows: list[Row]) -> list[dict[str, Any]]:
    """Median and max |error| by group, fit and held-out separately."""
    out = []
    for group in dict.fromkeys(r.group for r in rows):
        for held in (False, True):
            e = np.array([abs(r.error) for r in rows if r.group == group and r.held_out == held])
            if e.size:
                out.append({"group": group, "set": "held-out" if held else "fit", "n": int(e.size),
                            "median_abs_error": float(np.median(e)), "max_abs_error": float(e.max())})
    return out


def shared_energy_as_steps(d: dict[str, Any]) -> list[dict[str, Any]]:
    """The shared calibration file's sustained-energy runs as step rows (per-step time from the run)."""
    rows = []
    for e in d.get("energy", []):
        if e["phase"] == "decode":
            steps = e["tokens"] / e["batch"]
            rows.append({"model": e["model"], "phase": "decode", "batch": e["batch"], "context": e["context"],
                         "cuda_graph": True, "s": e["seconds"] / steps, "joules": e["joules"],
                         "energy_s": e["seconds"], "avg_W": e["avg_W"], "J_per_token": e["J_per_token"]})
        else:
            n = e["tokens"] / e["context"]
            rows.append({"model": e["model"], "phase": "prefill", "batch": 1, "prompt": e["context"],
                         "cuda_graph": False, "s": e["seconds"] / n, "joules": e["joules"], "energy_s": e["seconds"],
                         "avg_W": e["avg_W"], "J_per_token": e["J_per_token"]})
    return rows
