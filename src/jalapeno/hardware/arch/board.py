"""Board-level power of an accelerator module: what a chip on paper draws beyond its die's arithmetic.

A measured GPU is charged its board power (NVML: idle, the rise while a kernel runs, energies per action);
a chip on paper gets the same terms from one set of generic constants (``board.*`` in the technology
library, each with a range), so the two are priced alike:

* **idle** = die leakage at the idle voltage and temperature + DRAM background (power-down with refresh)
  per device + PHY idle per site + SerDes idle per lane + board misc (host interface, management
  controller, regulators' controllers), all through the voltage regulators at that load;
* **busy floor** (``active_static_w``, the rise above idle whenever a kernel runs) = the rest of the
  leakage (nominal voltage, hot) + the clock-tree/control floor (a share of the full-activity clock power)
  + DRAM active standby + PHY clocks, through the regulators;
* **TDP** = compute + memory + links at their peaks (a sum: arrays run while HBM streams) + clock/control +
  static, through the regulators at full load.

Regulator efficiency follows a loss model ``loss = a + b x + c x^2`` of load fraction ``x`` (of the die-side
rated power): fixed switching loss, conduction, I^2 R. ``board = die / eff(x)``, ``eff <= 1`` always.
Wall power adds the host's share per accelerator slot (CPU, NIC, fans, switch ports: ``host_power_w`` of
hardware/data/tco.yaml, the constant the TCO charges).
"""

from __future__ import annotations

from dataclasses import dataclass

from jalapeno.hardware.arch.spec import ArchSpec
from jalapeno.hardware.arch.tech import Technology


@dataclass(frozen=True)
class Term:
    """A power term (W) and the formula that made it (``model.Part`` without the import cycle)."""

    value: float
    formula: str


# ---------------------------------------------------------------- regulators


def vrm_loss_fraction(x: float, t: Technology) -> float:
    """Regulator loss as a fraction of the rated die-side power at load fraction ``x``."""
    return t("board.vrm.fixed_loss") + t("board.vrm.linear_loss") * x + t("board.vrm.quadratic_loss") * x * x


def vrm_efficiency(x: float, t: Technology) -> float:
    """Delivered / drawn at load fraction ``x`` of rated (clamped to [0.01, 1.5]): in (0, 1)."""
    x = min(max(x, 0.01), 1.5)
    return x / (x + vrm_loss_fraction(x, t))


def through_vrm(die_w: float, rated_die_w: float, t: Technology) -> float:
    """Board input power for ``die_w`` delivered, on regulators sized for ``rated_die_w``."""
    if die_w <= 0:
        return 0.0
    return die_w / vrm_efficiency(die_w / max(rated_die_w, 1e-9), t)


# ---------------------------------------------------------------- static terms


def _lanes(arch: ArchSpec) -> float:
    ln = arch.links
    return ln.count.value * ln.lanes.value if ln is not None else 0.0


def leakage_w(arch: ArchSpec, t: Technology, die_mm2: float) -> float:
    """Leakage at the nominal voltage and operating temperature (linear in V, as ``model.static_power``)."""
    return t("leakage_w_per_mm2") * die_mm2 * arch.voltage_v.value / t("nominal_voltage_v")


def idle_terms(arch: ArchSpec, t: Technology, die_mm2: float) -> dict[str, Term]:
    """Die-side idle power by part (before the regulators)."""
    lk, f = leakage_w(arch, t, die_mm2), t("board.idle_leakage_fraction")
    out = {"leakage_idle": Term(lk * f, f"{lk:.1f} W leakage x {f:g} (idle voltage and temperature)")}
    d = arch.memory
    if d is not None:
        w, p = t(f"board.dram_idle_w.{d.kind}"), t(f"board.phy_idle_w.{d.kind}")
        out["dram_background"] = Term(
            d.devices.value * w, f"{d.devices.value:g} {d.kind} x {w:g} W (power-down, refresh)"
        )
        out["phy_idle"] = Term(d.sites.value * p, f"{d.sites.value:g} PHY sites x {p:g} W")
    n = _lanes(arch)
    if n:
        s = t("board.serdes_idle_w_per_lane")
        out["serdes_idle"] = Term(n * s, f"{n:g} SerDes lanes x {s:g} W (link up, no traffic)")
    m = t("board.misc_w")
    out["board_misc"] = Term(m, f"{m:g} W (host interface, management controller, regulator control)")
    return out


def floor_terms(arch: ArchSpec, t: Technology, die_mm2: float) -> dict[str, Term]:
    """Die-side rise above idle whenever a kernel runs (before the regulators): the die leaving its idle
    DVFS state with no work (leakage at the raised voltage, ungated clock distribution at the raised clock:
    ``board.clock_up_leakage_ratio`` x nominal leakage, fitted on the A100's measured clock-up rise,
    ``boardfit.FLOOR_ROWS``), plus DRAM active standby and PHY clocks while the kernel streams."""
    lk, r = leakage_w(arch, t, die_mm2), t("board.clock_up_leakage_ratio")
    out = {
        "clock_up": Term(
            lk * r,
            f"{r:g} x {lk:.1f} W nominal leakage (idle to operating voltage and "
            "clock, no work: leakage rise and ungated clock distribution)",
        )
    }
    out.update(_dram_phy_busy(arch, t))
    return out


def tdp_static_terms(arch: ArchSpec, t: Technology, die_mm2: float) -> dict[str, Term]:
    """Die-side power at peak activity whatever the work: idle terms, the rest of the leakage (nominal
    voltage, hot), DRAM active standby and PHY clocks. The clock distribution is inside the clock/control
    share of dynamic power at peak activity."""
    lk, f = leakage_w(arch, t, die_mm2), t("board.idle_leakage_fraction")
    out = dict(idle_terms(arch, t, die_mm2))
    out["leakage_rise"] = Term(lk * (1 - f), f"{lk:.1f} W leakage x (1 - {f:g}) (nominal voltage, hot)")
    out.update(_dram_phy_busy(arch, t))
    return out


def _dram_phy_busy(arch: ArchSpec, t: Technology) -> dict[str, Term]:
    d, out = arch.memory, {}
    if d is not None:
        w, p = t(f"board.dram_busy_w.{d.kind}"), t(f"board.phy_busy_w.{d.kind}")
        out["dram_active_standby"] = Term(
            d.devices.value * w, f"{d.devices.value:g} {d.kind} x {w:g} W (active standby)"
        )
        out["phy_active"] = Term(d.sites.value * p, f"{d.sites.value:g} PHY sites x {p:g} W (clocks, DLLs)")
    return out


def total(terms: dict[str, Term]) -> float:
    return sum(x.value for x in terms.values())


# ---------------------------------------------------------------- per-action energies


def action_factor(arch: ArchSpec, t: Technology) -> float:
    """Library energy per action -> board energy per action: the library-to-silicon factor through the
    regulators at half load (their marginal efficiency). The busy floor is the no-work rise, so the clock
    and control share stays in the energy per action (gated with the work)."""
    return t(f"energy_realism.{arch.kind}") / vrm_efficiency(0.5, t)


# ---------------------------------------------------------------- wall


def wall_terms(board_w: float, t: Technology) -> dict[str, Term]:
    """Wall power of one accelerator slot at board power ``board_w``: the board plus the host's share."""
    from jalapeno.hardware import tco  # one host share for the wall and for the TCO (hardware/data/tco.yaml)

    h = tco.value("host_power_w")
    return {
        "board": Term(board_w, "board input power"),
        "host_share": Term(h, f"{h:g} W host share per accelerator slot (CPU, NIC, fans, switch ports)"),
        "total": Term(board_w + h, "board + host share (before PUE)"),
    }
