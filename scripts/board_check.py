"""Out-of-sample check of the board-power model on Hopper: the H100 architecture with its measured
``power:`` section removed (generic constants only) against the calibrated H100 preset (H200 calibration).

    PYTHONPATH=src python scripts/board_check.py [--json] [--fit-realism]

Rows: idle, busy static (idle + busy floor), and the average power of decode and prefill steps of
llama-3.1-8b in bf16 (the steps of docs/mapping.md), each with its ratio to the calibrated figure.
Idle and busy static are out of sample (no board constant is fitted on Hopper); the step powers are in
sample for ``energy_realism``, whose point ``--fit-realism`` fits here (mean step ratio 1).
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from jalapeno.cost.estimate import estimate
from jalapeno.cost.params import setup_for
from jalapeno.graph.precision import Precision
from jalapeno.hardware import resolve_chip
from jalapeno.hardware.arch import ArchChip, derive_chip, resolve_arch
from jalapeno.hardware.arch.spec import Power
from jalapeno.hardware.spec import Figure
from jalapeno.models import resolve_model

DECODES = ((1, 2048), (8, 2048), (64, 2048), (16, 8192))
PREFILLS = (128, 512, 2048)


def generic_h100(realism: float | None = None) -> ArchChip:
    """h100-sxm-arch without its measured power section: every power term from the generic constants
    (``energy_realism`` replaced by ``realism`` when given)."""
    a = resolve_arch("h100-sxm-arch")
    tech = a.technology
    if realism is not None:
        trial = Figure(realism, "board_check trial value", True)
        tech = MappingProxyType({**tech, "energy_realism.gpu": trial})
    return derive_chip(replace(a, power=Power(), name="h100-generic", technology=tech))


def fit_realism() -> float:
    """The ``energy_realism`` that puts the mean step power of the generic H100 on the calibrated one."""
    lo, hi = 0.5, 4.4
    for _ in range(20):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if float(rows(mid)[-1]["ratio"]) < 1 else (lo, mid)  # type: ignore[arg-type]
    return (lo + hi) / 2


def rows(realism: float | None = None) -> list[dict[str, object]]:
    ref, gen = resolve_chip("h100"), generic_h100(realism)
    m, prec = resolve_model("llama-3.1-8b"), Precision.of("bf16")
    out: list[dict[str, object]] = []
    h200 = resolve_chip("h200")  # the measured idle and busy rise the H100 preset borrows
    ref_idle, ref_static = h200.idle_w.value, h200.idle_w.value + setup_for(h200)[0].active_static_w
    gen_idle = gen.idle_w.value
    gen_static = gen_idle + setup_for(gen)[0].active_static_w
    out.append({"row": "idle (measured on H200)", "calibrated_w": ref_idle, "generic_w": gen_idle})
    out.append({"row": "busy static: idle + active static", "calibrated_w": ref_static, "generic_w": gen_static})
    for b, c in DECODES:
        r = estimate(m, ref, batch=b, context=c, precision=prec).decode
        g = estimate(m, gen, batch=b, context=c, precision=prec).decode
        out.append({"row": f"decode {b} x {c}", "calibrated_w": r.energy_j / r.time_s, "generic_w": g.energy_j / g.time_s,
                    "calibrated_capped": r.power_capped, "generic_capped": g.power_capped})
    for p in PREFILLS:
        r = estimate(m, ref, batch=1, context=2048, prompt=p, precision=prec).prefill
        g = estimate(m, gen, batch=1, context=2048, prompt=p, precision=prec).prefill
        assert r is not None and g is not None
        out.append({"row": f"prefill {p}", "calibrated_w": r.energy_j / r.time_s, "generic_w": g.energy_j / g.time_s,
                    "calibrated_capped": r.power_capped, "generic_capped": g.power_capped})
    for r in out:
        r["ratio"] = float(r["generic_w"]) / float(r["calibrated_w"])  # type: ignore[arg-type]
    steps = [r for r in out if str(r["row"]).startswith(("decode", "prefill"))]
    out.append({"row": "mean over the steps", "calibrated_w": sum(float(r["calibrated_w"]) for r in steps) / len(steps),  # type: ignore[arg-type]
                "generic_w": sum(float(r["generic_w"]) for r in steps) / len(steps)})  # type: ignore[arg-type]
    out[-1]["ratio"] = float(out[-1]["generic_w"]) / float(out[-1]["calibrated_w"])  # type: ignore[arg-type]
    return out


def main() -> None:
    if "--fit-realism" in sys.argv:
        print(f"energy_realism that puts the mean step power on the calibrated H100: {fit_realism():.3f}")
        return
    rs = rows()
    if "--json" in sys.argv:
        print(json.dumps(rs, indent=2))
        return
    print("| row | H100 preset, calibrated | H100 architecture, generic board | ratio |")
    print("|---|---:|---:|---:|")
    for r in rs:
        cap = lambda k: " (cap)" if r.get(k) else ""
        print(f"| {r['row']} | {float(r['calibrated_w']):,.0f} W{cap('calibrated_capped')} | "  # type: ignore[arg-type]
              f"{float(r['generic_w']):,.0f} W{cap('generic_capped')} | {float(r['ratio']):.2f} |")  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    main()
