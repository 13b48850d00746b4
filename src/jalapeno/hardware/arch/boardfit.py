"""Fits of the board constants on shipping chips: ``board.clock_up_leakage_ratio`` on a measured clock-up
rise (``FLOOR_ROWS``), and the bounds of ``energy_realism`` on published TDP (``ROWS``).

Busy floor. ``FLOOR_ROWS`` are published measurements of a chip's power when it leaves its idle DVFS state
with no work (a CUDA context raises the clocks) or runs at light load. The A100 row fits the ratio (the
die-side rise over nominal leakage, the regulators inverted at light load); the L40S row is a consistency
check (its GDDR6 clocks up too, so it gives the GDDR6 share the ratio implies); the H100 row is the
out-of-sample check (Hopper); the TPU v1 and K80 rows (28 nm, no fine clock gating) are recorded, not used.

Each fit row is a chip other than Hopper with a published TDP: its library power at peak activity
(compute + main memory + links at full clock, clock share, board static, regulators; the same rules as
``model.power``) is set equal to the TDP and solved for the one factor on the library's dynamic energies.
Datasheet chips (A100, MI300X, B200) are priced from their presets plus the few figures in ``ROWS``;
architecture presets (Groq) through ``model.power`` itself.

Every row comes out below 1: the GPUs are power-limited at their TDP (DVFS), so a TDP bounds the energy at
the operating point under the limit, not the energy per action at full clock. The rows set the low end of
``energy_realism``'s range, Hopper's silicon check the high end; its GPU point is fitted on the H100 steps
(in sample, scripts/board_check.py --fit-realism), the other kinds stay at the library (Groq's fixed-clock
row, 0.82, does not support more) (``technology.yaml``, docs/hardware.md).

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
    """A datasheet chip's figures the preset does not hold (node key, silicon area, PHY sites, SerDes
    lanes)."""

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
    Row(
        "a100-80gb-sxm",
        "n7",
        "gpu",
        "hbm2e",
        5,
        6,
        826,
        48,
        "NVIDIA A100 whitepaper: 826 mm2 GA100 on N7, six HBM2e PHYs (five stacks), 12 NVLink3 links x 4 "
        "lanes",
    ),
    Row(
        "b200",
        "n4",
        "gpu",
        "hbm3e",
        8,
        8,
        1600,
        36,
        "NVIDIA Blackwell architecture brief: two reticle-limited dies (taken as 2 x 800 mm2, estimate) on "
        "4NP, 8 HBM3E stacks, 18 NVLink5 links x 2 lanes",
    ),
    Row(
        "mi300x",
        "n5",
        "gpu",
        "hbm3",
        8,
        8,
        1808,
        112,
        "AMD CDNA 3 white paper: 8 XCDs on N5 over 4 IODs on N6, 8 HBM3 stacks, 7 Infinity Fabric x16 links; "
        "silicon area 8 x 115 + 4 x 370 mm2 (ISSCC 2024 as reported by the trade press, estimate) at 0.6 of "
        "the IODs counted as logic",
    ),
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
    dyn = (
        peak_flops / 2 * t("mac_energy_pj.bf16") * vs * 1e-12
        + dram_bps * 8 * t(f"dram_pj_per_bit.{r.dram}") * 1e-12
    )
    links = 2 * link_bps * 8 * t("serdes_pj_per_bit") * 1e-12
    lk = t("leakage_w_per_mm2") * r.die_mm2
    static = (
        lk
        + r.devices * (t(f"board.dram_idle_w.{r.dram}") + t(f"board.dram_busy_w.{r.dram}"))
        + r.sites * (t(f"board.phy_idle_w.{r.dram}") + t(f"board.phy_busy_w.{r.dram}"))
        + r.lanes * t("board.serdes_idle_w_per_lane")
        + t("board.misc_w")
    )
    cpf, eff = t(f"clock_power_fraction.{r.kind}"), board.vrm_efficiency(1.0, t)
    realism = ((tdp_w * eff - static) * (1 - cpf) - links) / dyn
    return Fit(r.preset, tdp_w, (static + (dyn + links) / (1 - cpf)) / eff, realism)


def datasheet_fits() -> list[Fit]:
    from jalapeno.hardware.datasheet import load_preset

    out = []
    for r in ROWS:
        c = load_preset(r.preset)
        t = Technology(r.node)
        ic = c.interconnect
        out.append(
            _row_fit(
                r,
                t,
                c.tdp_w.value,
                c.matrix_flops["bf16"].value,
                c.memory_bandwidth_bytes_per_s,
                ic.bandwidth_bytes_per_s.value if ic else 0.0,
            )
        )
    return out


def arch_fit(name: str) -> Fit:
    """Realism that puts an architecture preset's derived TDP on its public TDP (bisection on the factor)."""
    from jalapeno.hardware.arch import resolve_arch
    from jalapeno.hardware.datasheet import load_preset

    arch = resolve_arch(name)
    target = load_preset(arch.compare_to).tdp_w.value
    lo, hi = 0.05, 20.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _tdp_with_realism(arch, mid) < target else (lo, mid)
    return Fit(name, target, _tdp_with_realism(arch, 1.0), (lo + hi) / 2)


def _tdp_with_realism(arch: ArchSpec, x: float) -> float:
    over = {**arch.technology, f"energy_realism.{arch.kind}": Figure(x, "boardfit trial value", True)}
    a = replace(arch, technology=MappingProxyType(over))
    return model.power(a, model.area(a)["total"].value)["total"].value


def fits() -> list[Fit]:
    return datasheet_fits() + [arch_fit(n) for n in ARCH_ROWS]


def fitted() -> tuple[float, float, float]:
    """(median, lo, hi) of the rows' factors."""
    xs = [f.realism for f in fits()]
    return statistics.median(xs), min(xs), max(xs)


@dataclass(frozen=True)
class FloorRow:
    """A measured rise above idle with no (or little) work, and the die the rise happens on."""

    chip: str
    node: str
    die_mm2: float
    tdp_w: float
    idle_w: float  # measured, board
    rise_w: float  # measured rise above idle with clocks up and no work (board)
    role: str  # "fit", "check" or "record"
    source: str


_PARK = (
    "Vadari, The Model Parking Tax: Quantifying the Hidden Energy Cost of Always-On GPU Model "
    "Deployment, arXiv:2605.23918 (2026): bare idle and the rise when a CUDA context raises the clocks "
    "with no kernel, nvidia-smi; values in the paper's experiments/parking_scheduler.py (GPU_CONFIGS, "
    "'from our measurements')"
)
_TPU1 = (
    "Jouppi et al., In-Datacenter Performance Analysis of a Tensor Processing Unit, ISCA 2017: Table 2 "
    "die idle/busy power; Section 6: at 10% load the TPU draws 88% and the K80 66% of their "
    "full-load power"
)
FLOOR_ROWS = (
    FloorRow(
        "A100 80GB PCIe",
        "n7",
        826,
        300,
        53.7,
        26.3,
        "fit",
        _PARK + "; die 826 mm2 (A100 whitepaper). HBM2e clocks do not change with the context "
        "(assumed), so the rise is the logic die's",
    ),
    FloorRow(
        "L40S",
        "n4",
        609,
        350,
        35.6,
        66.4,
        "check",
        _PARK + "; AD102 609 mm2 on TSMC 4N (Ada whitepaper); 24 GDDR6 devices (48 GB, 2 GB each) "
        "clock up with the context too",
    ),
    FloorRow(
        "H100 80GB SXM", "n4", 814, 700, 71.8, 49.9, "check", _PARK + " (Hopper: out-of-sample check only)"
    ),
    # 28 nm rows: the floor from power at 10% and 100% load, P(u) = idle + floor + u x D
    FloorRow(
        "TPU v1",
        "n28",
        331,
        75,
        28,
        40 - 28 - (40 - 0.88 * 40) / 0.9,
        "record",
        _TPU1 + "; Table 2: die <= half of Haswell's 662 mm2",
    ),
    FloorRow(
        "K80 (one GK210)",
        "n28",
        561,
        150,
        25,
        98 - 25 - (98 - 0.66 * 98) / 0.9,
        "record",
        _TPU1 + "; Table 2: 561 mm2 die, 25 W idle, 98 W busy, Boost mode off",
    ),
)


def _die_rise(r: FloorRow, t: Technology) -> float:
    """Die-side rise that draws ``r.rise_w`` more at the board above the measured idle (regulators
    inverted)."""
    rated = r.tdp_w * board.vrm_efficiency(1.0, t)
    idle_die = r.idle_w * board.vrm_efficiency(r.idle_w / r.tdp_w, t)  # close enough at light load
    lo, hi = 0.0, r.rise_w
    for _ in range(60):
        mid = (lo + hi) / 2
        got = board.through_vrm(idle_die + mid, rated, t) - board.through_vrm(idle_die, rated, t)
        lo, hi = (mid, hi) if got < r.rise_w else (lo, mid)
    return (lo + hi) / 2


def floor_ratio(r: FloorRow) -> float:
    """Die-side rise over the die's nominal leakage (``leakage_w_per_mm2`` x area at nominal voltage)."""
    t = Technology(r.node)
    return _die_rise(r, t) / (t("leakage_w_per_mm2") * r.die_mm2)


def floor_fit() -> float:
    """``board.clock_up_leakage_ratio`` from the fit rows (one: the A100)."""
    xs = [floor_ratio(r) for r in FLOOR_ROWS if r.role == "fit"]
    return statistics.median(xs)


def l40s_gddr6_w_per_device(ratio: float) -> float:
    """GDDR6 clock-up per device that the L40S row implies at ``ratio`` (the rest of its rise)."""
    r = next(x for x in FLOOR_ROWS if x.chip == "L40S")
    t = Technology(r.node)
    logic = ratio * t("leakage_w_per_mm2") * r.die_mm2
    return (_die_rise(r, t) - logic - 12 * t("board.phy_busy_w.gddr6")) / 24


def main() -> None:
    print(
        "| chip | node | die | idle (measured) | rise, clocks up, no work (measured) "
        "| die-side rise / nominal leakage | role |"
    )
    print("|---|---|---:|---:|---:|---:|---|")
    for r in FLOOR_ROWS:
        lk = "-" if r.role == "record" else f"{floor_ratio(r):.2f}"
        print(
            f"| {r.chip} | {r.node} | {r.die_mm2:,.0f} mm2 | {r.idle_w:.1f} W | {r.rise_w:.1f} W | {lk} "
            f"| {r.role} |"
        )
    k = floor_fit()
    print(
        f"\nclock_up_leakage_ratio fit (A100): {k:.2f}; at that ratio the L40S row leaves "
        f"{l40s_gddr6_w_per_device(k):.2f} W per GDDR6 device for its memory clock-up\n"
    )
    print(
        "| chip | published TDP | peak-activity board power at energy_realism 1 | energy_realism that "
        "matches |"
    )
    print("|---|---:|---:|---:|")
    for f in fits():
        print(f"| {f.chip} | {f.tdp_w:,.0f} W | {f.at_library_w:,.0f} W | {f.realism:.2f} |")
    m, lo, hi = fitted()
    print(
        f"\nrows: median {m:.2f}, span [{lo:.2f}, {hi:.2f}]; all below 1 because the rows run under a power "
        "limit at their TDP: they bound the low end of energy_realism's range (the GPU point is the Hopper "
        "step fit)"
    )


if __name__ == "__main__":
    main()
