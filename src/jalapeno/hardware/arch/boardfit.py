"""Fit of ``energy_realism`` on shipping chips' published TDP, and the out-of-sample Hopper check.

Each fit row is a chip other than Hopper with a published TDP: its library power at peak activity
(compute + main memory + links at full clock, clock share, board static, regulators; the same rules as
``model.power``) is set equal to the TDP and solved for the one factor on the library's dynamic energies.
Datasheet chips (A100, MI300X, B200) are priced from their presets plus the few figures in ``ROWS``;
architecture presets (Groq) through ``model.power`` itself.

Every row comes out below 1: the GPUs are power-limited at their TDP (DVFS), so a TDP bounds the energy at
the operating point under the limit, not the energy per action at full clock. ``energy_realism`` therefore
stays at the library (1.0); the rows set the low end of its range, Hopper's silicon check the high end
(``technology.yaml``, docs/hardware.md).

    python -m jalapeno.hardware.arch.boardfit      # the table of docs/hardware.md, "Board power"
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, replace
from types import MappingProxyType

from jalapeno.hardware.arch import board, model
from jalapeno.hardware.arch.spec import ArchSpec
from jalapeno.hardware.arch.tech import Technology
from jalapeno.hardware.spec import Figure


@dataclass(frozen=True)
class Row:
    """A datasheet chip's figures the preset does not hold (node key, silicon area, PHY sites, SerDes lanes)."""

    preset: str
    node: str
    kind: str
    dram: str
    devices: int
    sites: int
    die_mm2: float
    lanes: int
    source: str


ROWS = (
    Row("a100-80gb-sxm", "n7", "gpu", "hbm2e", 5, 6, 826, 48,
        "NVIDIA A100 whitepaper: 826 mm2 GA100 on N7, six HBM2e PHYs (five stacks), 12 NVLink3 links x 4 lanes"),
    Row("b200", "n4", "gpu", "hbm3e", 8, 8, 1600, 36,
        "NVIDIA Blackwell architecture brief: two reticle-limited dies (taken as 2 x 800 mm2, estimate) on 4NP, "
        "8 HBM3E stacks, 18 NVLink5 links x 2 lanes"),
    Row("mi300x", "n5", "gpu", "hbm3", 8, 8, 1808, 112,
        "AMD CDNA 3 white paper: 8 XCDs on N5 over 4 IODs on N6, 8 HBM3 stacks, 7 Infinity Fabric x16 links; "
        "silicon area 8 x 115 + 4 x 370 mm2 (ISSCC 2024 as reported by the trade press, estimate) at 0.6 of the IODs "
        "counted as logic"),
)
ARCH_ROWS = ("groq-lpu-arch",)


@dataclass(frozen=True)
class Fit:
    chip: str
    tdp_w: float  # published
    at_library_w: float  # peak-activity board power at energy_realism = 1
    realism: float  # the factor that puts the peak-activity board power on the published TDP


def _row_fit(r: Row, t: Technology, tdp_w: float, peak_flops: float, dram_bps: float, link_bps: float) -> Fit:
    vs = t("energy_scale") * 1.0  # nominal voltage
    dyn = peak_flops / 2 * t("mac_energy_pj.bf16") * vs * 1e-12 + dram_bps * 8 * t(f"dram_pj_per_bit.{r.dram}") * 1e-12
    links = 2 * link_bps * 8 * t("serdes_pj_per_bit") * 1e-12
    lk = t("leakage_w_per_mm2") * r.die_mm2
    static = (lk + r.devices * (t(f"board.dram_idle_w.{r.dram}") + t(f"board.dram_busy_w.{r.dram}"))
              + r.sites * (t(f"board.phy_idle_w.{r.dram}") + t(f"board.phy_busy_w.{r.dram}"))
              + r.lanes * t("board.serdes_idle_w_per_lane") + t("board.misc_w"))
    cpf, eff = t(f"clock_power_fraction.{r.kind}"), board.vrm_efficiency(1.0, t)
    realism = ((tdp_w * eff - static) * (1 - cpf) - links) / dyn
    return Fit(r.preset, tdp_w, (static + (dyn + links) / (1 - cpf)) / eff, realism)


def datasheet_fits() -> list[Fit]:
    from jalapeno.hardware.registry import resolve_chip as load_preset

    out = []
    for r in ROWS:
        c = load_preset(r.preset)
        t = Technology(r.node)
        ic = c.interconnect
        out.append(_row_fit(r, t, c.tdp_w.value, c.peak_flops("bf16"), c.memory_bandwidth_bytes_per_s,
                            ic.bandwidth_bytes_per_s.value if ic else 0.0))
    return out


def arch_fit(name: str) -> Fit:
    """Realism that puts an architecture preset's derived TDP on its public TDP (bisection on the factor)."""
    from jalapeno.hardware.arch import resolve_arch
    from jalapeno.hardware.registry import resolve_chip as load_preset

    arch = resolve_arch(name)
    target = load_preset(arch.compare_to).tdp_w.value
    lo, hi = 0.05, 20.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _tdp_with_realism(arch, mid) < target else (lo, mid)
    return Fit(name, target, _tdp_with_realism(arch, 1.0), (lo + hi) / 2)


def _tdp_with_realism(arch: ArchSpec, x: float) -> float:
    over = {**arch.technology, "energy_realism": Figure(x, "boardfit trial value", True)}
    a = replace(arch, technology=MappingProxyType(over))
    return model.power(a, model.area(a)["total"].value)["total"].value


def fits() -> list[Fit]:
    return datasheet_fits() + [arch_fit(n) for n in ARCH_ROWS]


def fitted() -> tuple[float, float, float]:
    """(median, lo, hi) of the rows' factors."""
    xs = [f.realism for f in fits()]
    return statistics.median(xs), min(xs), max(xs)


def main() -> None:
    print("| chip | published TDP | peak-activity board power at energy_realism 1 | energy_realism that matches |")
    print("|---|---:|---:|---:|")
    for f in fits():
        print(f"| {f.chip} | {f.tdp_w:,.0f} W | {f.at_library_w:,.0f} W | {f.realism:.2f} |")
    m, lo, hi = fitted()
    print(f"\nrows: median {m:.2f}, span [{lo:.2f}, {hi:.2f}]; all below 1 because the rows run under a power "
          "limit at their TDP: energy_realism stays 1.0, its range starts at the lowest row")


if __name__ == "__main__":
    main()
