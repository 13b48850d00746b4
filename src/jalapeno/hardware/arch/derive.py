"""``derive_chip(arch) -> ChipSpec``: the datasheet of a parameterized processor.

The result is an ``ArchChip``, a ``ChipSpec`` that also carries its ``ArchSpec`` (so the mapper can
find the microarchitecture behind a chip); everything downstream (estimate, serving) uses it as any
other ``ChipSpec``. Each derived figure's source reads ``derived: <formula> from <file>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from jalapeno.hardware.arch import board, cost, model
from jalapeno.hardware.arch.model import Part
from jalapeno.hardware.arch.spec import ArchSpec
from jalapeno.hardware.spec import ChipSpec, Figure, Interconnect, MemoryLevel, TextFigure

# Chip-preset topologies for the link topologies an architecture may name.
_TOPOLOGY = {"fully_connected": "mesh"}  # one link a peer (hardware.network)


@dataclass(frozen=True)
class ArchChip(ChipSpec):
    """A ``ChipSpec`` derived from an architecture; ``arch`` is the architecture it came from."""

    arch: ArchSpec | None = None


@dataclass(frozen=True)
class Sheet:
    """Everything derived from one architecture: rates, area, power, cost (each part with its formula)."""

    arch: ArchSpec
    matrix_flops: dict[str, Part]
    vector_flops: dict[str, Part]
    area: dict[str, Part]
    power: dict[str, Part]
    cost: dict[str, Part]
    price_usd: float


def sheet(arch: ArchSpec) -> Sheet:
    a = model.area(arch)
    p = model.power(arch, a["total"].value)
    c = cost.chip_cost(arch)
    return Sheet(
        arch, model.matrix_flops(arch), model.vector_flops(arch), a, p, c, cost.price_usd(c["total"].value)
    )


def _fig(p: Part, arch: ArchSpec, note: str = "") -> Figure:
    return Figure(p.value, f"derived: {p.formula} from {arch.source_file or arch.name}", False, note)


def derive_chip(arch: ArchSpec) -> ArchChip:
    s = sheet(arch)

    def f(p: Part, note: str = "") -> Figure:
        return _fig(p, arch, note)

    return ArchChip(
        name=arch.name,
        vendor=arch.vendor,
        kind=arch.kind,
        description=arch.description,
        launch_year=arch.launch_year,
        process_node=TextFigure(arch.node.value, arch.node.source, arch.node.secondary),
        matrix_flops=MappingProxyType({d: f(p, "Dense.") for d, p in s.matrix_flops.items()}),
        vector_flops=MappingProxyType({d: f(p) for d, p in s.vector_flops.items()}),
        memory=memory_levels(arch),
        tdp_w=f(s.power["total"], _tdp_note(arch)),
        idle_w=arch.power.idle_w
        or f(
            model.idle_w(arch, s.area["total"].value, s.power),
            "Board idle: leakage, DRAM background, PHYs, SerDes, board misc, regulators.",
        ),
        interconnect=interconnect(arch),
        die_area_mm2=f(s.area["total"]),
        clock_hz=arch.clock_hz,
        cores=arch.cores.count,
        price_usd=f(Part(s.price_usd, _price_formula(s))),
        source_file=arch.source_file,
        extra=MappingProxyType(_extra(s)),
        arch=arch,
    )


def _price_formula(s: Sheet) -> str:
    return (
        f"(cost ${s.cost['total'].value:,.0f} + NRE / volume) / (1 - margin), the rule of "
        "hardware/data/tco.yaml"
    )


def board_sheet(s: Sheet) -> dict[str, Part]:
    """The board-power summary: idle, busy floor, busy total, TDP, wall idle/busy/TDP (host share added)."""
    a, die = s.arch, s.area["total"].value
    idle, floor = model.idle_w(a, die, s.power), model.active_static_w(a, die, s.power)
    busy = Part(idle.value + floor.value, "idle + busy floor (static while a kernel runs)")
    tdp = s.power["total"]
    t = model.tech_of(a)
    out = {"idle": idle, "busy_floor": floor, "busy_static": busy, "tdp": tdp}
    for k, p in (("idle", idle), ("busy_static", busy), ("tdp", tdp)):
        w = board.wall_terms(p.value, t)["total"]
        out[f"wall_{k}"] = Part(
            w.value, f"{p.value:,.1f} W board + {w.value - p.value:g} W host share per slot"
        )
    return out


def _tdp_note(arch: ArchSpec) -> str:
    if arch.power.limit_w is None:
        return "Peak activity at full clock plus static power."
    return f"Peak activity plus static power, held at the {arch.power.limit_w.value:g} W power limit by DVFS."


def _sram_level(name: str, cap: Part, bw: Part, pj_per_bit: float, arch: ArchSpec) -> MemoryLevel:
    """An on-chip SRAM level: capacity and bandwidth derived from the description, energy per bit from
    the technology library, no latency figure, on chip."""
    src = arch.source_file or arch.name
    return MemoryLevel(
        name,
        "sram",
        _fig(cap, arch),
        _fig(bw, arch),
        None,
        Figure(pj_per_bit, f"derived from the technology library for {src}", True),
        False,
    )


def memory_levels(arch: ArchSpec) -> tuple[MemoryLevel, ...]:
    """memory[0] is DRAM, or all on-chip SRAM on SRAM-only designs; then shared and core SRAM."""
    e = model.pj_per_bit(arch)
    lv: list[MemoryLevel] = []
    c = arch.cores
    core_cap = Part(
        c.count.value * c.sram.capacity_bytes.value,
        f"{c.count.value:g} cores x {c.sram.capacity_bytes.value / 2**20:g} MiB",
    )
    core_bw = Part(
        model.sram_bandwidth(arch, c.sram, True),
        f"{c.count.value:g} cores x {c.sram.bandwidth_bytes_per_cycle.value:g} B/cycle x "
        f"{arch.clock_hz.value / 1e9:g} GHz",
    )
    if arch.memory is not None:
        d = arch.memory
        bw, cap = model.dram_bandwidth(arch), model.dram_capacity(arch)
        assert bw is not None and cap is not None
        lv.append(
            MemoryLevel(
                "dram",
                d.kind,
                _fig(cap, arch),
                _fig(bw, arch),
                d.latency_s,
                Figure(e["dram"], f"technology library, dram_pj_per_bit.{d.kind}", True),
            )
        )
    elif arch.shared_sram is None:  # SRAM-only, all of it in the cores
        lv.append(_sram_level("sram", core_cap, core_bw, e["core_sram"], arch))
        return tuple(lv)
    if arch.shared_sram is not None:
        ss = arch.shared_sram
        bw = Part(
            model.sram_bandwidth(arch, ss, False),
            f"{ss.bandwidth_bytes_per_cycle.value:g} B/cycle x {arch.clock_hz.value / 1e9:g} GHz",
        )
        cap = Part(ss.capacity_bytes.value, "shared SRAM capacity")
        name = "sram" if arch.memory is None else "shared_sram"
        lv.append(_sram_level(name, cap, bw, e["shared_sram"], arch))
    lv.append(_sram_level("core_sram", core_cap, core_bw, e["core_sram"], arch))
    return tuple(lv)


def interconnect(arch: ArchSpec) -> Interconnect | None:
    ln = arch.links
    bw = model.link_bandwidth(arch)
    if ln is None or bw is None:
        return None
    return Interconnect(
        name=f"{ln.topology} links",
        links=ln.count,
        bandwidth_bytes_per_s=_fig(bw, arch),
        latency_s=ln.hop_latency_s,
        domain_size=ln.domain_size,
        topology=_TOPOLOGY.get(ln.topology, ln.topology),
        energy_pj_per_bit=Figure(
            model.pj_per_bit(arch)["link"], "technology library, serdes_pj_per_bit", True
        ),
    )


def _extra(s: Sheet) -> dict[str, Figure]:
    out: dict[str, Figure] = {}
    for group, parts, unit in (("area", s.area, "_mm2"), ("power", s.power, "_w"), ("cost", s.cost, "_usd")):
        for k, p in parts.items():
            if p.value > 0:
                suffix = "" if k in ("dies_per_wafer", "yield") else unit
                out[f"{group}.{k}{suffix}"] = _fig(p, s.arch)
    a, die = s.arch, s.area["total"].value
    out["power.active_static_w"] = _fig(model.active_static_w(a, die, s.power), a)
    for k, p in board_sheet(s).items():
        out[f"board.{k}_w"] = _fig(p, a)
    measured = s.arch.power.pj_per_flop
    for d, v in model.pj_per_flop(s.arch).items():
        src = (
            f"measured: {measured[d].source}"
            if d in measured
            else "derived: measured energy of another dtype x the technology library's MAC-energy ratio"
            if measured
            else "derived: mac_energy_pj / 2 x node, voltage and clock scaling (technology library)"
        )
        out[f"energy.{d}_pj_per_flop"] = Figure(v, src, True)
    pb = s.arch.power.pj_per_byte_main
    out["energy.main_pj_per_byte"] = Figure(
        model.pj_per_byte_main(s.arch),
        f"measured: {pb.source}" if pb else "derived: (DRAM + NoC pJ/bit) x 8 / (1 - clock share)",
        True,
    )
    return out
