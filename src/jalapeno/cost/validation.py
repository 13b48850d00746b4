"""Calibrate a GPU preset from measurements and compare predictions with what was measured.

The split is fixed before fitting: operator sweeps and the *fit models'* whole steps may be fitted;
every other model's steps, and every measurement of the held-out sweep, are only predicted.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from jalapeno.cost import calibrate as cal
from jalapeno.cost.op_time import ChipRates
from jalapeno.cost.params import TORCH_REFERENCE_KERNELS, CostParams
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
    def set_name(self) -> str:
        if not self.held_out:
            return "fit"
        return "held-out, other engine" if self.meta.get("other_engine") else "held-out"

    @property
    def error(self) -> float:
        return self.predicted / self.measured - 1.0


def load(paths: list[Path]) -> list[dict[str, Any]]:
    from jalapeno.jsonio import read_json

    return [read_json(p, "--measurements", expect=dict) for p in paths]


def _ok(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if not r.get("error") and r.get("s")]


def calibrate_and_validate(
    chip: ChipSpec,
    op_sources: list[dict[str, Any]],
    step_sources: list[dict[str, Any]],
    models: dict[str, ModelConfig],
    fit_models: set[str],
    start: CostParams | None = None,
) -> tuple[CostParams, list[Row]]:
    """Fit ``chip``'s parameters; return them with every measured point's prediction.

    op_sources[0]'s GEMMs are fitted and the other sources' GEMMs held out (a different day/machine);
    attention/elementwise sweeps alternate fit/held-out; steps fit only for ``fit_models``.
    """
    p = start or replace(CostParams(), kernels_per_op=dict(TORCH_REFERENCE_KERNELS))
    rates = ChipRates.of(chip)
    rows: list[Row] = []

    # 1. GEMMs (op_sources[0]: fit; the others: held out); streaming bandwidth from the copy test
    gemm_fit = _ok(op_sources[0].get("gemm", []))
    gemm_hold = [g for src in op_sources[1:] for g in _ok(src.get("gemm", []))]
    copies = [c for src in op_sources for c in src.get("copy", []) if c.get("GBps_read_plus_write")]
    if copies:
        p = replace(
            p, stream_eff=min(1.0, max(c["GBps_read_plus_write"] for c in copies) * 1e9 / rates.mem_bw)
        )
    if gemm_fit:
        ops = [cal.gemm_op(g) for g in gemm_fit]
        p = cal.fit(
            p,
            cal.GEMM_PARAMS,
            lambda q: cal.predict_eager_ops(ops, rates, q),
            np.array([g["s"] for g in gemm_fit]),
        )
    for g_list, held in ((gemm_fit, False), (gemm_hold, True)):
        for g in g_list:
            pred = cal.predict_eager_ops([cal.gemm_op(g)], rates, p)[0]
            rows.append(Row("gemm", f"{g['dtype']} {g['M']}x{g['N']}x{g['K']}", g["s"], pred, held))

    # 2. attention kernels: alternate points fit / held out; points within 4x of the harness's per-call
    # floor say nothing about the kernel and are reported, not fitted. Elementwise sweeps are reported only
    # (torch runs silu*mul as two kernels; the graph's op is one logical op).
    attn = [a for src in op_sources for a in _ok(src.get("attention", []))]
    elem = [e for src in op_sources for e in _ok(src.get("elementwise", []))]
    fit_attn = [a for a in attn[::2] if a["s"] > 4 * p.harness_floor_s]
    if fit_attn:
        ops = [cal.attention_op(a) for a in fit_attn]
        p = cal.fit(
            p,
            cal.ATTN_PARAMS,
            lambda q: cal.predict_eager_ops(ops, rates, q),
            np.array([a["s"] for a in fit_attn]),
        )
    for a in attn:
        pred = cal.predict_eager_ops([cal.attention_op(a)], rates, p)[0]
        size = f"ctx {a['context']}" if a["phase"] == "decode" else f"seq {a['seq']}"
        rows.append(
            Row("attention", f"{a['phase']} b{a.get('batch', 1)} {size}", a["s"], pred, a not in fit_attn)
        )
    for e in elem:
        pred = cal.predict_eager_ops([cal.elementwise_op(e)], rates, p)[0]
        rows.append(Row("elementwise", f"{e['op']} {e['T']}x{e['hidden']}", e["s"], pred, True))

    # 3 and 4. energy, then time, of whole steps: fit models of this engine only. Energy is fitted at the
    # measured step time (counts x energy per action); time is fitted with the power cap in force.
    idle_w = chip.idle_w.value if chip.idle_w else 0.0
    steps = [s for src in step_sources for s in _ok(src.get("steps", [])) if s["model"] in models]
    fit_steps = [s for s in steps if s["model"] in fit_models and not s.get("other_engine")]
    energy = [s for s in steps if s.get("joules") and s.get("energy_s")]
    fit_energy = [s for s in energy if s in fit_steps]
    if fit_steps and fit_energy == fit_steps:
        # time and energy together: the power cap couples them (a step over the limit runs at lower clocks)
        y = np.array([s["s"] for s in fit_steps] + [_busy_watts(s, idle_w) * s["s"] for s in fit_steps])
        p = cal.fit(
            p,
            cal.STEP_PARAMS + cal.ENERGY_PARAMS,
            lambda q: cal.predict_time_and_energy(fit_steps, models, chip, q),
            y,
        )
    elif fit_steps:
        p = cal.fit(
            p,
            cal.STEP_PARAMS,
            lambda q: cal.predict_steps(fit_steps, models, chip, q),
            np.array([s["s"] for s in fit_steps]),
        )

    if fit_energy:  # every energy run is a bf16 model: other formats' energy per FLOP is derived, not fitted
        p = cal.derive_flop_energy(p, rates, {"bf16"})

    for s in steps:
        pred_t = cal.predict_steps([s], models, chip, p)[0]
        size = f"b{s['batch']} ctx {s['context']}" if s["phase"] == "decode" else f"prompt {s['prompt']}"
        label = f"{s['model']} {size}" + (" (shared file, other engine)" if s.get("other_engine") else "")
        held = s not in fit_steps
        other = bool(s.get("other_engine"))
        rows.append(
            Row(s["phase"], label, s["s"], pred_t, held, meta={"model": s["model"], "other_engine": other})
        )
        if s in energy:
            pw = cal.predict_steps([s], models, chip, p, "power")[0]
            tokens = s["batch"] if s["phase"] == "decode" else s["prompt"]
            w_meas = _busy_watts(s, idle_w)
            rows.append(
                Row(
                    f"{s['phase']} J/token",
                    label,
                    w_meas * s["s"] / tokens,
                    pw * pred_t / tokens,
                    held,
                    "J",
                    meta={"model": s["model"], "avg_W": w_meas, "pred_W": pw, "other_engine": other},
                )
            )
    return p, rows


def _busy_watts(s: dict[str, Any], idle_w: float) -> float:
    """Average power while the measured steps ran (tick slack removed when the run says how many steps)."""
    if not s.get("energy_steps"):
        return float(s["avg_W"])
    joules, secs = cal.busy_energy(s, idle_w)
    return joules / secs


def summary(rows: list[Row]) -> list[dict[str, Any]]:
    """Median and max |error| by group, fit and held-out separately."""
    out = []
    for group in dict.fromkeys(r.group for r in rows):
        for name in ("fit", "held-out", "held-out, other engine"):
            e = np.array([abs(r.error) for r in rows if r.group == group and r.set_name == name])
            if e.size:
                out.append(
                    {
                        "group": group,
                        "set": name,
                        "n": int(e.size),
                        "median_abs_error": float(np.median(e)),
                        "max_abs_error": float(e.max()),
                    }
                )
    return out


def shared_energy_as_steps(d: dict[str, Any]) -> list[dict[str, Any]]:
    """The shared calibration file's sustained-energy runs as step rows (per-step time from the run)."""
    rows = []
    for e in d.get("energy", []):
        if e["phase"] == "decode":
            steps = e["tokens"] / e["batch"]
            rows.append(
                {
                    "model": e["model"],
                    "phase": "decode",
                    "batch": e["batch"],
                    "context": e["context"],
                    "other_engine": True,
                    "cuda_graph": True,
                    "s": e["seconds"] / steps,
                    "joules": e["joules"],
                    "energy_s": e["seconds"],
                    "avg_W": e["avg_W"],
                    "J_per_token": e["J_per_token"],
                }
            )
        else:
            n = e["tokens"] / e["context"]
            rows.append(
                {
                    "model": e["model"],
                    "phase": "prefill",
                    "batch": 1,
                    "prompt": e["context"],
                    "other_engine": True,
                    "cuda_graph": False,
                    "s": e["seconds"] / n,
                    "joules": e["joules"],
                    "energy_s": e["seconds"],
                    "avg_W": e["avg_W"],
                    "J_per_token": e["J_per_token"],
                }
            )
    return rows
