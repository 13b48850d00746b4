"""Jalapeño-1's spec-sheet table (docs/jalapeno-1.md), written from the preset through the report's functions.

Every figure comes from the one builder ``jalapeno chip show --json`` uses (``hardware/arch/sheet_doc.py``:
the sheet, board power, physical checks, the TCO margin rule) and the deployment from the recorded best fleets
(``explore/spaces/headline-fleets.json``), so a test can regenerate the table in a fraction of a second and
hold the page to the code (issue 15). The page marks it as a generated block (``doccheck/doc_blocks.py``):
``python -m jalapeno.report.spec_sheet`` prints it and ``scripts/regen_snapshots.py`` rewrites it.
"""

from __future__ import annotations

import re
from typing import Any

CHIP = "jalapeno-1"
_AREA_LABELS = {"dram_phy": "HBM PHYs", "serdes": "SerDes", "core_sram": "SRAM", "noc": "NoC"}
_TDP_PARTS = (
    ("matrix", "matrix"),
    ("clock_control", "clock/control"),
    ("dram", "HBM"),
    ("leakage_rise", "leakage rise"),
    ("links", "links"),
)
_IDLE_PARTS = (
    ("leakage_idle", "leakage at idle voltage"),
    ("dram_background", "HBM power-down"),
    ("phy_idle", "PHYs"),
    ("serdes_idle", "SerDes"),
    ("board_misc", "board"),
)
_SCHEDULERS = {
    "sarathi": "chunked prefill (Sarathi) with a {tok}-token budget",
    "vllm": "continuous batching (vLLM)",
    "disagg": "disaggregated prefill and decode ({p}P:{d}D)",
}


def _g2(x: float) -> str:
    """Two significant figures without trailing zeros, whole numbers from 10 up (13, 5.6, 4)."""
    return f"{x:.0f}" if x >= 10 else f"{x:.2g}"


def _clock_share(formula: str) -> str:
    m = re.search(r"DVFS runs the clock at ([0-9.]+) of full", formula)
    return m.group(1) if m else "1.00"


def _peak_activity_w(formula: str) -> str:
    m = re.search(r"([0-9,.]+) W of peak activity", formula)
    return m.group(1) if m else "-"


def _sheet(name: str) -> dict[str, Any]:
    """The figures the table prints: ``jalapeno chip show NAME --json``'s document (one builder for both)."""
    from jalapeno.hardware.arch import resolve_arch
    from jalapeno.hardware.arch.sheet_doc import sheet_json

    return sheet_json(resolve_arch(name))


def _rows(name: str, fleet: dict[str, Any]) -> list[tuple[str, str]]:
    from jalapeno.hardware.arch import resolve_arch
    from jalapeno.hardware.arch.model import tech_of

    a, d = resolve_arch(name), _sheet(name)
    dens = tech_of(a)("physical.power_density_w_per_mm2")
    return [
        *_compute_rows(a, d, dens),
        *_memory_rows(a, d),
        *_physical_rows(d, dens),
        *_cost_rows(d),
        ("deployment found with it", _deployment(fleet)),
    ]


def _compute_rows(a: Any, d: dict[str, Any], dens: float) -> list[tuple[str, str]]:
    c, node = a.cores, a.node.value.upper()
    share = _clock_share(d["power_breakdown"]["total"]["formula"])
    df = "/".join({"ws": "weight", "os": "output", "is": "input"}.get(x, x) for x in c.matrix.dataflows)
    pk = sorted(d["peak_flops"].items(), key=lambda kv: -kv[1])
    rates = {k: v.value for k, v in c.matrix.rates.items()}
    ratio = rates.get("fp8", 0) / rates["bf16"]
    return [
        (
            "process, clock, voltage",
            (
                f"TSMC {node}{' (N3E figures)' if node == 'N3' else ''}, {a.clock_hz.value / 1e9:g} GHz at "
                f"{a.voltage_v.value:g} V (the nominal DVFS point); under the {dens:g} W/mm² cooling limit "
                f"DVFS runs it at {share} of that clock at full activity"
            ),
        ),
        (
            "matrix engines",
            (
                f"{c.count.value:g} cores ({c.physical.value:g} on the die, "
                f"{c.physical.value - c.count.value:g} spares) x "
                f"{c.matrix.engines.value:g} {df}-stationary systolic arrays of {c.matrix.rows.value:g} x "
                f"{c.matrix.cols.value:g}"
            ),
        ),
        (
            "formats, peak (dense, full clock)",
            (
                ", ".join(f"{k} {v / 1e15:.2f} PFLOP/s" for k, v in pk)
                + f" (fp8 at {'twice' if ratio == 2 else f'{ratio:g}x'} the bf16 rate, as TPU v5e's int8)"
            ),
        ),
        (
            "vector, special functions",
            (
                f"{c.vector.lanes.value:g} SIMD lanes and {c.vector.sfu_ops_per_cycle.value:g} exp/rsqrt a "
                f"cycle per core: {d['vector_flops']['bf16'] / 1e12:.0f} TFLOP/s bf16"
            ),
        ),
    ]


def _memory_rows(a: Any, d: dict[str, Any]) -> list[tuple[str, str]]:
    c, m, lk = a.cores, a.memory, a.links
    assert m is not None and lk is not None, f"{a.name}: the spec sheet prints main memory and links"
    sram = next(x for x in d["memory"] if x["name"] == "core_sram")
    dram = next(x for x in d["memory"] if x["name"] == "dram")
    acc_mib = c.physical.value * c.matrix.engines.value * c.matrix.accumulator_bytes.value / 2**20
    shared = (
        "no shared SRAM"
        if a.shared_sram is None
        else f"{a.shared_sram.capacity_bytes.value / 2**20:g} MiB shared SRAM"
    )
    high = re.search(r"(\d+-high)", m.capacity_bytes_per_device.source)
    return [
        (
            "on-chip SRAM",
            (
                f"{c.sram.capacity_bytes.value / 2**10:g} KiB per core "
                f"({c.physical.value * c.sram.capacity_bytes.value / 2**20:.0f} MiB in all, "
                f"{sram['bandwidth_bytes_per_s'] / 1e12:.0f} TB/s); {acc_mib:.0f} MiB of accumulators; "
                f"{shared}"
            ),
        ),
        (
            "main memory",
            (
                f"{m.devices.value:g} {m.kind.upper()}{' ' + high.group(1) if high else ''} stacks: "
                f"{dram['capacity_bytes'] / 1e9:.0f} GB at {dram['bandwidth_bytes_per_s'] / 1e12:.2f} TB/s "
                f"({m.pin_rate_bps.value / 1e9:g} Gb/s a "
                f"pin{', as B200' if 'B200' in m.pin_rate_bps.source else ''})"
            ),
        ),
        (
            "chip-to-chip",
            (
                f"{lk.count.value:g} links x {lk.lanes.value:g} lanes x {lk.lane_rate_bps.value / 1e9:g} "
                "Gb/s: "
                f"{d['interconnect_bytes_per_s'] / 1e9:.0f} GB/s a direction, {lk.domain_size.value:g}-chip "
                f"{lk.topology}ed domain"
            ),
        ),
        (
            "runtime",
            (
                "statically scheduled, elementwise ops fused into their producers (as XLA); token counts "
                "padded to compiled buckets, a barrier per op, DMA setup per transfer (derived, "
                "`docs/mapping.md`)"
            ),
        ),
    ]


def _physical_rows(d: dict[str, Any], dens: float) -> list[tuple[str, str]]:
    area = sorted(
        ((k, v["value"]) for k, v in d["area_breakdown"].items() if k != "total"), key=lambda kv: -kv[1]
    )
    parts = ", ".join(f"{_AREA_LABELS.get(k, k)} {v:.0f}" for k, v in area)
    return [
        ("die", f"{d['die_area_mm2']:.0f} mm² ({parts})"),
        ("board power", _board(d, dens)),
        ("physical checks", _checks(d["physical_checks"])),
    ]


def _cost_rows(d: dict[str, Any]) -> list[tuple[str, str]]:
    from jalapeno.hardware.tco import value

    cost = {k: v["value"] for k, v in d["cost_breakdown"].items()}
    return [
        (
            "cost",
            (
                f"${cost['total']:,.0f} to make (die ${cost['die']:,.0f} at {cost['dies_per_wafer']:.0f} "
                "dies a wafer and "
                f"{cost['yield'] * 100:.0f}% yield, HBM ${cost['memory']:,.0f}, CoWoS "
                f"${cost['package']:,.0f}, "
                f"test ${cost['test']:,.0f})"
            ),
        ),
        (
            "price",
            (
                f"${d['price_usd']:,.0f}: (cost + NRE / volume) / (1 - {value('margin'):g}), the margin rule "
                "every chip "
                "is priced by (`docs/tco.md`)"
            ),
        ),
    ]


def _board(d: dict[str, Any], dens: float) -> str:
    p, b = d["power_breakdown"], d["board_power_breakdown"]
    s, idle = b["summary"], b["idle_die"]
    tdp = ", ".join(f"{lab} {p[k]['value']:.0f}" for k, lab in _TDP_PARTS if k in p)
    host = s["wall_idle"]["value"] - s["idle"]["value"]
    return (
        f"TDP {d['tdp_w']:.0f} W: {_peak_activity_w(p['total']['formula'])} W of peak activity at full clock "
        f"({tdp}, ...)"
        f" held at the {dens:g} W/mm² cooling limit, regulator losses {p['vrm_loss']['value']:.0f} W "
        f"included; idle {s['idle']['value']:.0f} W ("
        + ", ".join(f"{lab} {_g2(idle[k]['value'])}" for k, lab in _IDLE_PARTS)
        + f", through the regulators); busy floor +{s['busy_floor']['value']:.0f} W; at the wall +{host:.0f} "
        "W of host per slot (the TCO's)"
    )


def _checks(checks: list[dict[str, Any]]) -> str:
    c = {x["check"]: x for x in checks}
    bf = c["beachfront"]
    tight = " (tight)" if bf["value"] > 0.98 * bf["limit"] else ""
    pd = c["power density"]
    return (
        f"reticle {c['reticle']['value']:,.0f} of {c['reticle']['limit']:,.0f} mm²; HBM beachfront "
        f"{bf['value']:.1f} of "
        f"{bf['limit']:.1f} mm{tight}; perimeter {c['perimeter']['value']:.0f} of "
        f"{c['perimeter']['limit']:.0f} mm; "
        f"{pd['value']:.2f} of {pd['limit']:.1f} W/mm²; interposer {c['interposer']['value']:,.0f} of "
        f"{c['interposer']['limit']:,.0f} mm²"
    )


def _deployment(f: dict[str, Any]) -> str:
    tp, n = f["tp"], f["replicas"]
    pre = round(n * f.get("prefill_share", 0.5))
    sched = _SCHEDULERS.get(f["scheduler"], f["scheduler"]).format(
        tok=f.get("max_num_batched_tokens"), p=pre, d=n - pre
    )
    return f"{n} replica{'s' if n != 1 else ''} of {tp} chip{'s' if tp != 1 else ''}, {sched}, prefix cache"


def markdown(name: str = CHIP, workload: str = "azure-code") -> str:
    """The spec-sheet table for the chip at its recorded best fleet on ``workload``."""
    from jalapeno.explore.headline import load_fleets

    fleet = load_fleets()[workload][name]
    lines = ["| | Jalapeño-1 |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in _rows(name, fleet)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
