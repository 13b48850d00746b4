"""An architecture's spec sheet as one JSON-ready document: peaks, memory, area, TDP, cost and price with the
formula of every term, board power and the physical checks.

One builder for everything that shows a sheet (``jalapeno chip show --json`` and the spec-sheet block of
docs/jalapeno-1.md, ``report/spec_sheet.py``), so the two can never disagree.
"""

from __future__ import annotations

from typing import Any

from jalapeno.hardware.arch.spec import ArchSpec


def parts(d: Any) -> dict[str, dict[str, Any]]:
    """Each named part of a derived sheet as its value and the formula that produced it."""
    return {k: {"value": p.value, "formula": p.formula} for k, p in d.items()}


def sheet_json(arch: ArchSpec) -> dict[str, Any]:
    from jalapeno.hardware.arch import sheet
    from jalapeno.hardware.arch.derive import derive_chip
    from jalapeno.hardware.arch.physical import checks

    s, chip = sheet(arch), derive_chip(arch)
    return {
        "name": arch.name,
        "vendor": arch.vendor,
        "kind": arch.kind,
        "node": arch.node.value,
        "source_file": arch.source_file,
        "peak_flops": {d: p.value for d, p in s.matrix_flops.items()},
        "vector_flops": {d: p.value for d, p in s.vector_flops.items()},
        "memory": [
            {
                "name": m.name,
                "kind": m.kind,
                "capacity_bytes": m.capacity_bytes.value,
                "bandwidth_bytes_per_s": m.bandwidth_bytes_per_s.value,
            }
            for m in chip.memory
        ],
        "interconnect_bytes_per_s": chip.interconnect.bandwidth_bytes_per_s.value
        if chip.interconnect
        else 0.0,
        "die_area_mm2": s.area["total"].value,
        "tdp_w": s.power["total"].value,
        "chip_cost_usd": s.cost["total"].value,
        "price_usd": s.price_usd,
        # term name -> {value, formula}: the names are data, not keys of the vocabulary (docs/json.md)
        "area_breakdown": parts(s.area),
        "power_breakdown": parts(s.power),
        "cost_breakdown": parts(s.cost),
        "board_power_breakdown": board_json(arch, s),
        "physical_checks": [
            {
                "check": c.name,
                "value": c.value,
                "limit": c.limit,
                "unit": c.unit,
                "ok": c.ok,
                "formula": c.formula,
            }
            for c in checks(arch)
        ],
    }


def board_json(arch: ArchSpec, s: Any) -> dict[str, Any]:
    """Board power: idle parts, busy floor parts, the summary (idle, floor, TDP, wall), regulator curve."""
    from jalapeno.hardware.arch import board, model
    from jalapeno.hardware.arch.derive import board_sheet

    t, die = model.tech_of(arch), s.area["total"].value
    out: dict[str, Any] = {"summary": parts(board_sheet(s))}
    if arch.power.idle_w is None:
        out["idle_die"] = parts(board.idle_terms(arch, t, die))
        out["busy_floor_die"] = parts(board.floor_terms(arch, t, die))
        out["vrm_efficiency"] = {f"{x:g}": board.vrm_efficiency(x, t) for x in (0.05, 0.1, 0.25, 0.5, 1.0)}
    return out
