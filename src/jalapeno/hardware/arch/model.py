"""Peak rates, area and power of an architecture, each number with the formula that made it.

A ``Part`` is a value and its formula; a breakdown is an ordered ``dict[str, Part]``. The derivation
(``derive.py``) turns parts into sourced ``Figure``s, the CLI prints them, tests check them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from jalapeno.hardware.arch import board
from jalapeno.hardware.arch.spec import ArchSpec, Sram
from jalapeno.hardware.arch.tech import Technology


@dataclass(frozen=True)
class Part:
    value: float
    formula: str
    whole_chip: bool = False  # a measured whole-chip energy: clock and control already included


# Under a power limit, energy per action ~ f^beta at clock fraction f (C V^2 with V ~ f); the cost
# model's default ``dvfs_beta``, and what the H200 calibration found (docs/validation.md).
DVFS_BETA = 2.0


def tech_of(arch: ArchSpec) -> Technology:
    return Technology(arch.node.value, arch.technology)


def matrix_clock(arch: ArchSpec) -> float:
    m = arch.cores.matrix
    return (m.clock_hz or arch.clock_hz).value


def vector_clock(arch: ArchSpec) -> float:
    v = arch.cores.vector
    return (v.clock_hz or arch.clock_hz).value


# ---------------------------------------------------------------- rates


def matrix_flops(arch: ArchSpec) -> dict[str, Part]:
    """Dense peak by dtype: cores x engines x rows x cols x depth x rate x 2 x clock."""
    c, m = arch.cores, arch.cores.matrix
    macs = c.count.value * m.engines.value * m.pes
    f = matrix_clock(arch)
    shape = f"{m.rows.value:g}x{m.cols.value:g}" + (f"x{m.depth.value:g}" if m.depth.value > 1 else "")
    return {
        d: Part(
            macs * r.value * 2.0 * f,
            f"{c.count.value:g} cores x {m.engines.value:g} engines x {shape} MACs x {r.value:g} "
            f"{d} MAC/PE/cycle x 2 x {f / 1e9:g} GHz",
        )
        for d, r in m.rates.items()
    }


def vector_flops(arch: ArchSpec) -> dict[str, Part]:
    c, v = arch.cores, arch.cores.vector
    f = vector_clock(arch)
    return {
        d: Part(
            c.count.value * v.lanes.value * r.value * f,
            f"{c.count.value:g} cores x {v.lanes.value:g} lanes x {r.value:g} FLOP/lane/cycle x {f / 1e9:g} "
            "GHz",
        )
        for d, r in v.rates.items()
    }


def dram_bandwidth(arch: ArchSpec) -> Part | None:
    d = arch.memory
    if d is None:
        return None
    bw = d.devices.value * d.bus_bits_per_device.value * d.pin_rate_bps.value / 8.0
    return Part(
        bw,
        f"{d.devices.value:g} {d.kind} x {d.bus_bits_per_device.value:g} bits x "
        f"{d.pin_rate_bps.value / 1e9:g} Gb/s / 8",
    )


def dram_capacity(arch: ArchSpec) -> Part | None:
    d = arch.memory
    if d is None:
        return None
    return Part(
        d.devices.value * d.capacity_bytes_per_device.value,
        f"{d.devices.value:g} {d.kind} x {d.capacity_bytes_per_device.value / 1e9:g} GB",
    )


def sram_bandwidth(arch: ArchSpec, s: Sram, per_core: bool) -> float:
    n = arch.cores.count.value if per_core else 1.0
    return n * s.bandwidth_bytes_per_cycle.value * arch.clock_hz.value


def link_bandwidth(arch: ArchSpec) -> Part | None:
    ln = arch.links
    if ln is None:
        return None
    return Part(
        ln.count.value * ln.lanes.value * ln.lane_rate_bps.value / 8.0,
        f"{ln.count.value:g} links x {ln.lanes.value:g} lanes x {ln.lane_rate_bps.value / 1e9:g} Gb/s / 8, "
        "per direction",
    )


# ---------------------------------------------------------------- area


def _sram_mm2(t: Technology, capacity_bytes: float, style: str) -> float:
    return capacity_bytes * 8.0 * t("sram_bitcell_um2") * t(f"sram_area_factor.{style}") / 1e6


def pe_area_um2(arch: ArchSpec, t: Technology) -> float:
    """One PE at N7: the costliest format it delivers (area per MAC x MACs/cycle), plus multi-format logic."""
    rates = arch.cores.matrix.rates
    need = max(t(f"mac_area_um2.{d}") * r.value for d, r in rates.items())
    return need * (1.0 + t("multi_format_overhead") * (len(rates) - 1))


def area(arch: ArchSpec) -> dict[str, Part]:
    """Die area by component (mm2); ``total`` last. Physical cores (spares included) occupy the die."""
    t, c = tech_of(arch), arch.cores
    n, m, s = c.physical.value, c.matrix, t("logic_area_scale")
    out: dict[str, Part] = {}
    pes = n * m.engines.value * m.pes
    out["matrix"] = Part(
        pes * pe_area_um2(arch, t) * s / 1e6,
        f"{pes:.0f} PEs x {pe_area_um2(arch, t):.0f} um2 (N7) x {s:g} ({arch.node.value})",
    )
    lane = sum(r.value / 2.0 * t.get(f"vector_lane_area_um2.{d}", 0.0) for d, r in c.vector.rates.items())
    out["vector"] = Part(
        n * c.vector.lanes.value * lane * s / 1e6,
        f"{n:g} cores x {c.vector.lanes.value:g} lanes x {lane:.0f} um2 x {s:g}",
    )
    acc = n * m.engines.value * m.accumulator_bytes.value
    out["accumulators"] = Part(_sram_mm2(t, acc, "rf"), f"{acc / 2**20:.1f} MiB register-file SRAM")
    if c.register_file_bytes is not None:
        rf = n * c.register_file_bytes.value
        out["register_files"] = Part(_sram_mm2(t, rf, "rf"), f"{rf / 2**20:.1f} MiB register-file SRAM")
    cs = n * c.sram.capacity_bytes.value
    out["core_sram"] = Part(
        _sram_mm2(t, cs, c.sram.style),
        f"{cs / 2**20:.1f} MiB {c.sram.style} SRAM x "
        f"{t('sram_bitcell_um2'):g} um2/bit x {t('sram_area_factor.' + c.sram.style):g}",
    )
    if arch.shared_sram is not None:
        ss = arch.shared_sram
        out["shared_sram"] = Part(
            _sram_mm2(t, ss.capacity_bytes.value, ss.style),
            f"{ss.capacity_bytes.value / 2**20:.1f} MiB {ss.style} SRAM",
        )
    ctl = t(f"core_control_mm2.{arch.kind}")
    out["control"] = Part(n * ctl * s, f"{n:g} cores x {ctl:g} mm2 ({arch.kind}, N7) x {s:g}")
    noc_tbps = arch.noc.bandwidth_bytes_per_s.value / 1e12
    k = t(f"noc_mm2_per_tbps.{arch.noc.topology}")
    out["noc"] = Part(noc_tbps * k * s, f"{noc_tbps:.1f} TB/s bisection x {k:g} mm2/(TB/s) x {s:g}")
    if arch.memory is not None:
        d = arch.memory
        out["dram_phy"] = Part(
            d.sites.value * t(f"dram_phy_mm2.{d.kind}"),
            f"{d.sites.value:g} {d.kind} PHYs x {t(f'dram_phy_mm2.{d.kind}'):g} mm2",
        )
    if arch.links is not None:
        lanes = arch.links.count.value * arch.links.lanes.value
        out["serdes"] = Part(
            lanes * t("serdes_mm2_per_lane"), f"{lanes:g} lanes x {t('serdes_mm2_per_lane'):g} mm2"
        )
    core = sum(p.value for p in out.values())
    mf = t("misc_fraction")
    out["misc"] = Part(core * mf / (1 - mf), f"{mf:g} of the die (clock, power grid, host I/O, fill)")
    out["total"] = Part(core / (1 - mf), "sum of the above")
    return out


def core_area_mm2(arch: ArchSpec, parts: dict[str, Part]) -> float:
    """Area of one physical core (the unit that spares replace)."""
    per_core = ("matrix", "vector", "accumulators", "register_files", "core_sram", "control")
    return sum(parts[k].value for k in per_core if k in parts) / arch.cores.physical.value


# ---------------------------------------------------------------- power


def _vscale(arch: ArchSpec, t: Technology) -> float:
    return t("energy_scale") * (arch.voltage_v.value / t("nominal_voltage_v")) ** 2


def _control_fraction(arch: ArchSpec, t: Technology) -> float:
    return t(f"clock_power_fraction.{arch.kind}")


def sram_pj_per_bit(arch: ArchSpec, s: Sram) -> float:
    """Read/write energy of one SRAM bit: sqrt(bank / 32 KiB) x the 32 KiB figure, at this node and
    voltage."""
    t = tech_of(arch)
    bank = s.bank_bytes.value if s.bank_bytes is not None else t(f"sram_bank_bytes.{s.style}")
    return t("sram_pj_per_bit_32kib") * math.sqrt(bank / 32768) * _vscale(arch, t)


def pj_per_flop(arch: ArchSpec) -> dict[str, float]:
    """Matrix-engine energy per FLOP by dtype at full clock, clock and control share included.

    Measured where the architecture gives it (``power.pj_per_flop``); else half a MAC of the technology
    library at this node and voltage. A dtype without a measurement scales a measured one by the
    library's MAC-energy ratio (fp8 costs what bf16 measured, times 0.25 / 0.5). Library energies are board
    energies per action: times ``energy_realism``, less the busy clock floor, through the regulators
    (``board.action_factor``).
    """
    t = tech_of(arch)
    k = _vscale(arch, t) / (1 - _control_fraction(arch, t)) * board.action_factor(arch, t)
    est = {d: t(f"mac_energy_pj.{d}") / 2.0 * k for d in arch.cores.matrix.rates}
    meas = {d: f.value for d, f in arch.power.pj_per_flop.items()}
    if not meas:
        return est
    ref = "bf16" if "bf16" in meas else next(iter(meas))
    scale = meas[ref] / (t(f"mac_energy_pj.{ref}") / 2.0 * k)
    return {**{d: v * scale for d, v in est.items()}, **meas}


def pj_per_byte_main(arch: ArchSpec) -> float:
    """Energy per main-memory byte, the on-chip path to the cores and the clock/control share included:
    measured where the architecture gives it, else DRAM (or core SRAM) plus NoC from the library, as a board
    energy (``board.action_factor``)."""
    if arch.power.pj_per_byte_main is not None:
        return arch.power.pj_per_byte_main.value
    e, t = pj_per_bit(arch), tech_of(arch)
    return (
        8
        * (e.get("dram", e["core_sram"]) + e["noc"])
        / (1 - _control_fraction(arch, t))
        * board.action_factor(arch, t)
    )


def dvfs_beta(arch: ArchSpec) -> float:
    b = arch.power.dvfs_beta
    return b.value if b is not None else DVFS_BETA


def pj_per_bit(arch: ArchSpec) -> dict[str, float]:
    """Energy per bit read or written at each level: core SRAM, shared SRAM, DRAM (device + I/O), link."""
    t = tech_of(arch)
    out = {
        "core_sram": sram_pj_per_bit(arch, arch.cores.sram),
        "noc": t("noc_pj_per_bit") * _vscale(arch, t),
        "link": t("serdes_pj_per_bit"),
        "rf": sram_pj_per_bit(
            arch, Sram(arch.cores.sram.capacity_bytes, arch.cores.sram.bandwidth_bytes_per_cycle, "rf")
        ),
    }
    if arch.shared_sram is not None:
        out["shared_sram"] = sram_pj_per_bit(arch, arch.shared_sram)
    if arch.memory is not None:
        out["dram"] = t(f"dram_pj_per_bit.{arch.memory.kind}")
    return out


def pj_per_bit_action(arch: ArchSpec) -> dict[str, float]:
    """Energy per bit at each on-chip and DRAM level as a board energy per action, priced like
    ``pj_per_flop``: library x clock/control share x ``board.action_factor`` (energy_realism, regulators).
    Links are priced per bit at the SerDes, outside this factor."""
    t = tech_of(arch)
    k = board.action_factor(arch, t) / (1 - _control_fraction(arch, t))
    return {n: v * k for n, v in pj_per_bit(arch).items() if n != "link"}


def _w(bytes_per_s: float, pj_bit: float) -> float:
    return bytes_per_s * 8 * pj_bit * 1e-12


def compute_scenario(arch: ArchSpec) -> dict[str, Part]:
    """Every matrix engine busy at its costliest format, fed from the register file / core SRAM."""
    if arch.power.pj_per_flop:
        return _measured_compute(arch)
    t, c, m = tech_of(arch), arch.cores, arch.cores.matrix
    r = t(f"energy_realism.{arch.kind}")
    k, fm, e = _vscale(arch, t) * r, matrix_clock(arch), {n: v * r for n, v in pj_per_bit(arch).items()}
    macs = c.count.value * m.engines.value * m.pes * fm
    pick = max(m.rates, key=lambda d: m.rates[d].value * t(f"mac_energy_pj.{d}"))
    out = {
        "matrix": Part(
            macs * m.rates[pick].value * t(f"mac_energy_pj.{pick}") * k * 1e-12,
            f"{macs:.3g} MAC-slots/s x {m.rates[pick].value:g} x {t(f'mac_energy_pj.{pick}'):g} pJ "
            f"({pick}, N7) x {k:.3g} (node, V^2, energy_realism {r:g})",
        )
    }
    # operands: 2 bytes for each of (rows + cols) x depth inputs a cycle per engine
    b = c.count.value * m.engines.value * (m.rows.value + m.cols.value) * m.depth.value * 2.0 * fm
    level = "rf" if m.kind == "dot_product" else "core_sram"
    out["operands"] = Part(
        _w(b, e[level]), f"{b / 1e12:.1f} TB/s of operands x {e[level]:.3g} pJ/bit ({level})"
    )
    return out


def _measured_compute(arch: ArchSpec) -> dict[str, Part]:
    """The compute scenario from measured whole-chip energies per FLOP (operands, control, clock included)."""
    e, peak = pj_per_flop(arch), {d: p.value for d, p in matrix_flops(arch).items()}
    pick = max((d for d in arch.power.pj_per_flop if d in peak), key=lambda d: peak[d] * e[d], default=None)
    pick = pick or max(peak, key=lambda d: peak[d] * e[d])  # the costliest measured format, else any
    src = "measured" if pick in arch.power.pj_per_flop else "scaled from measured"
    return {
        "matrix": Part(
            peak[pick] * e[pick] * 1e-12,
            f"{peak[pick] / 1e12:,.0f} TFLOP/s x {e[pick]:.3g} pJ/FLOP "
            f"({pick}, {src}: operands, control, clock)",
            True,
        )
    }


def memory_scenario(arch: ArchSpec) -> dict[str, Part]:
    """Every memory level streaming at full bandwidth (the decode regime); library energies x
    ``energy_realism``."""
    r = tech_of(arch)(f"energy_realism.{arch.kind}")
    e, out = {n: v * r for n, v in pj_per_bit(arch).items()}, {}
    cs = sram_bandwidth(arch, arch.cores.sram, per_core=True)
    out["core_sram"] = Part(_w(cs, e["core_sram"]), f"{cs / 1e12:.1f} TB/s x {e['core_sram']:.3g} pJ/bit")
    if arch.shared_sram is not None:
        ss = sram_bandwidth(arch, arch.shared_sram, per_core=False)
        out["shared_sram"] = Part(
            _w(ss, e["shared_sram"]), f"{ss / 1e12:.1f} TB/s x {e['shared_sram']:.3g} pJ/bit"
        )
    nb = arch.noc.bandwidth_bytes_per_s.value
    out["noc"] = Part(_w(nb, e["noc"]), f"{nb / 1e12:.1f} TB/s x {e['noc']:.3g} pJ/bit")
    bw = dram_bandwidth(arch)
    pb = arch.power.pj_per_byte_main
    if bw is not None and pb is not None:  # measured: the bytes' on-chip path and the clock share included
        out["dram"] = Part(
            bw.value * pb.value * 1e-12,
            f"{bw.value / 1e12:.2f} TB/s x {pb.value:.3g} pJ/B (measured: on-chip path, control, clock)",
            True,
        )
    elif bw is not None:
        out["dram"] = Part(_w(bw.value, e["dram"]), f"{bw.value / 1e12:.2f} TB/s x {e['dram']:g} pJ/bit")
    return out


def static_power(arch: ArchSpec, die_mm2: float) -> dict[str, Part]:
    """Die-side power drawn at full load whatever the work: the measured idle and busy rise where the
    architecture gives them (board figures), else the board model's idle and floor terms less the clock
    floor (at peak activity it is inside the clock/control share)."""
    pw = arch.power
    if pw.idle_w is not None:
        out = {"idle": Part(pw.idle_w.value, "measured idle power", True)}
        if pw.active_static_w is not None:
            out["active_static"] = Part(
                pw.active_static_w.value, "measured rise above idle while a kernel runs", True
            )
        return out
    terms = board.tdp_static_terms(arch, tech_of(arch), die_mm2)
    return {k: Part(v.value, v.formula) for k, v in terms.items()}


def dynamic_peak(arch: ArchSpec) -> dict[str, Part]:
    """Compute, main memory and links at their peaks at full clock (a sum), plus the clock/control share."""
    t = tech_of(arch)
    out = {
        k: Part(p.value, f"{p.formula}, compute peak", p.whole_chip)
        for k, p in compute_scenario(arch).items()
    }
    # main memory streams while the arrays run; the SRAM levels' full-bandwidth streaming is the arrays'
    # operand feed (``operands``), not a second load
    out.update(
        {
            k: Part(p.value, f"{p.formula}, main-memory peak", p.whole_chip)
            for k, p in memory_scenario(arch).items()
            if k in ("dram", "noc")
        }
    )
    lb = link_bandwidth(arch)
    if lb is not None:
        e = pj_per_bit(arch)["link"]
        out["links"] = Part(_w(2 * lb.value, e), f"2 x {lb.value / 1e9:.0f} GB/s x {e:g} pJ/bit, links peak")
    dyn = sum(p.value for p in out.values() if not p.whole_chip)
    cpf = _control_fraction(arch, t)
    if dyn > 0:
        out["clock_control"] = Part(dyn * cpf / (1 - cpf), f"{cpf:g} of dynamic power ({arch.kind})")
    return out


def _vrm_full(arch: ArchSpec) -> float:
    """Regulator efficiency at full load; 1 for a measured board (its figures are board power)."""
    return 1.0 if arch.power.idle_w is not None else board.vrm_efficiency(1.0, tech_of(arch))


def power(arch: ArchSpec, die_mm2: float) -> dict[str, Part]:
    """TDP: compute + memory + links at their peaks (a sum), clock/control share and static power,
    through the voltage regulators at full load.

    With a power limit (``power.limit_w``, board power) below that peak-activity power, the chip's DVFS
    lowers the clock to fraction ``f`` until it fits: dynamic power scales as ``f^(beta + 1)`` (as the cost
    model's ``Estimator.finish``), and TDP is the limit.
    """
    out, static = dynamic_peak(arch), static_power(arch, die_mm2)
    eff = _vrm_full(arch)
    peak = (sum(p.value for p in out.values()) + sum(p.value for p in static.values())) / eff
    limit, what = _limit_die_w(arch, die_mm2, out, static, eff)
    formula = "sum of the above (TDP)"
    if limit is not None and peak * eff > limit:
        out, f = _capped(out, static, limit, dvfs_beta(arch))
        formula += (
            f": {peak:,.0f} W of peak activity at full clock exceeds the {what}; "
            f"DVFS runs the clock at {f:.2f} of full"
        )
    else:
        out.update(static)
    die = sum(p.value for p in out.values())
    if eff < 1.0:
        out["vrm_loss"] = Part(die * (1 / eff - 1), f"regulators at full load: efficiency {eff:.3f}")
    out["total"] = Part(die / eff, formula)
    return out


OFF_DIE = ("dram", "dram_background", "dram_active_standby", "board_misc")


def _limit_die_w(
    arch: ArchSpec, die_mm2: float, dyn: dict[str, Part], static: dict[str, Part], eff: float
) -> tuple[float | None, str]:
    """Die-side power limit: the declared board limit (``power.limit_w``) through the regulators, else, for a
    chip on paper, the cooling limit (``physical.power_density_w_per_mm2`` x die area, plus what is
    dissipated off the die): a chip whose full activity would exceed it runs under DVFS, as shipping chips
    do."""
    if arch.power.limit_w is not None:
        return arch.power.limit_w.value * eff, f"{arch.power.limit_w.value:,.0f} W power limit"
    if arch.power.idle_w is not None:
        return None, ""
    t = tech_of(arch)
    dens = t("physical.power_density_w_per_mm2")
    off = sum(p.value for k, p in {**dyn, **static}.items() if k in OFF_DIE)
    lim = dens * die_mm2 + off
    return (
        lim,
        f"cooling limit ({dens:g} W/mm2 x {die_mm2:,.0f} mm2 in the die, {lim / eff:,.0f} W at the board)",
    )


def _capped(
    dynamic: dict[str, Part], static: dict[str, Part], limit: float, beta: float
) -> tuple[dict[str, Part], float]:
    """The peak-activity breakdown at the clock fraction ``f`` that holds the die-side power at ``limit``.
    DRAM device power is held at its peak (off the die, set by the bytes, not by the logic clock)."""
    static = {**static, **{k: p for k, p in dynamic.items() if k in OFF_DIE}}
    dynamic = {k: p for k, p in dynamic.items() if k not in OFF_DIE}
    dyn = sum(p.value for p in dynamic.values())
    s = sum(p.value for p in static.values())
    f = (max(limit - s, 0.0) / dyn) ** (1.0 / (beta + 1.0)) if dyn > 0 else 0.0
    k = f ** (beta + 1.0)
    out = {
        n: Part(p.value * k, f"{p.formula} x {f:.3g}^{beta + 1:g} (clock at {f:.2f} of full)", p.whole_chip)
        for n, p in dynamic.items()
    }
    out.update(static)
    return out, f


def rated_die_w(arch: ArchSpec, die_mm2: float, tdp: dict[str, Part] | None = None) -> float:
    """Die-side power at TDP: what the regulators are sized for."""
    p = tdp or power(arch, die_mm2)
    return p["total"].value * _vrm_full(arch)


def idle_w(arch: ArchSpec, die_mm2: float, tdp: dict[str, Part] | None = None) -> Part:
    """Board idle power: measured, else the board model's idle terms through the regulators."""
    if arch.power.idle_w is not None:
        return Part(arch.power.idle_w.value, "measured idle power", True)
    t = tech_of(arch)
    terms = board.idle_terms(arch, t, die_mm2)
    die = board.total(terms)
    b = board.through_vrm(die, rated_die_w(arch, die_mm2, tdp), t)
    return Part(
        b, f"{' + '.join(terms)} = {die:.1f} W at the die, through the regulators at {die / b:.3f} efficiency"
    )


def active_static_w(arch: ArchSpec, die_mm2: float, tdp: dict[str, Part] | None = None) -> Part:
    """Board power above idle whenever a kernel runs: measured, else leakage rise, clock floor, DRAM
    active standby and PHY clocks through the regulators (the H200's calibrated term, for a chip on paper)."""
    pw = arch.power
    if pw.active_static_w is not None:
        return Part(pw.active_static_w.value, "measured rise above idle while a kernel runs", True)
    if pw.idle_w is not None:
        return Part(0.0, "measured idle power, no measured busy rise", True)
    t = tech_of(arch)
    idle_die = board.total(board.idle_terms(arch, t, die_mm2))
    floor = board.floor_terms(arch, t, die_mm2)
    rated = rated_die_w(arch, die_mm2, tdp)
    rise = board.through_vrm(idle_die + board.total(floor), rated, t) - board.through_vrm(idle_die, rated, t)
    return Part(rise, f"{' + '.join(floor)} = {board.total(floor):.1f} W at the die, through the regulators")
