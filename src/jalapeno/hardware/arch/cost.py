"""Die cost and chip cost (the price and TCO rules live in ``hardware.tco``).

Dies per wafer (the standard edge-loss formula, Hennessy & Patterson, *Computer Architecture: A
Quantitative Approach*, 6th ed., sec. 1.6):  DPW = pi (d/2)^2 / S - pi d / sqrt(2 S)
with d the usable diameter and S the die footprint (die plus scribe). Yield models (A in cm2, D0 per cm2):
Poisson exp(-D0 A); Murphy ((1 - exp(-D0 A)) / (D0 A))^2; negative binomial (1 + D0 A / alpha)^-alpha.
A chip with spare cores is good when its uncore is defect-free and at least ``count`` of ``physical``
cores are (binomial over independent cores).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from jalapeno.errors import JalapenoError
from jalapeno.hardware.arch.model import Part, area, core_area_mm2, tech_of
from jalapeno.hardware.arch.spec import ArchSpec
from jalapeno.hardware.arch.tech import Technology

HBM_FOOTPRINT_MM2 = 110.0  # one HBM stack on the interposer (~11 x 10 mm, JEDEC HBM3 package outline)
INTERPOSER_OVERHEAD = 1.25  # interposer area / (die + stacks): routing and keep-out
INTERPOSER_REF_MM2 = 2000.0  # the interposer size the package_usd figures are quoted for


def dies_per_wafer(
    die_mm2: float, diameter_mm: float = 300.0, edge_mm: float = 0.0, scribe_mm: float = 0.0
) -> float:
    """Gross dies on a wafer (square dies; edge loss by the standard formula). May be fractional."""
    if die_mm2 <= 0:
        raise ValueError("die area must be > 0")
    side = math.sqrt(die_mm2) + scribe_mm
    s = side * side
    d = diameter_mm - 2 * edge_mm
    return max(0.0, math.pi * (d / 2) ** 2 / s - math.pi * d / math.sqrt(2 * s))


def yield_poisson(die_mm2: float, d0_per_cm2: float) -> float:
    return math.exp(-d0_per_cm2 * die_mm2 / 100)


def yield_murphy(die_mm2: float, d0_per_cm2: float) -> float:
    x = d0_per_cm2 * die_mm2 / 100
    return 1.0 if x == 0 else ((1 - math.exp(-x)) / x) ** 2


def yield_negative_binomial(die_mm2: float, d0_per_cm2: float, alpha: float) -> float:
    y: float = (1 + d0_per_cm2 * die_mm2 / 100 / alpha) ** -alpha  # a positive base: a real power
    return y


def yield_with_spares(
    uncore_mm2: float, core_mm2: float, need: int, have: int, d0: float, alpha: float
) -> float:
    """P(uncore good) x P(at least ``need`` of ``have`` cores good), negative-binomial per region."""
    p = yield_negative_binomial(core_mm2, d0, alpha)
    cores = sum(math.comb(have, k) * p**k * (1 - p) ** (have - k) for k in range(need, have + 1))
    return yield_negative_binomial(uncore_mm2, d0, alpha) * cores


def die_cost_usd(wafer_usd: float, dpw: float, die_yield: float) -> float:
    """Cost of one good die: wafer price / (dies per wafer x yield)."""
    return wafer_usd / (dpw * die_yield)


def chip_cost(arch: ArchSpec) -> dict[str, Part]:
    """Manufacturing cost of one packaged, tested chip with its memory; ``total`` last."""
    t = tech_of(arch)
    parts = area(arch)
    a = parts["total"].value
    dpw = dies_per_wafer(a, t("wafer.diameter_mm"), t("wafer.edge_exclusion_mm"), t("wafer.scribe_mm"))
    core = core_area_mm2(arch, parts)
    n, need = int(arch.cores.physical.value), int(arch.cores.count.value)
    d0, alpha = t("defect_density_per_cm2"), t("wafer.cluster_alpha")
    y = yield_with_spares(a - n * core, core, need, n, d0, alpha)
    if dpw < 1 or y <= 0:
        raise JalapenoError(
            f"a {a:,.0f} mm2 die gives {dpw:.1f} dies per wafer at yield {y:.2g}: no good die "
            "can be made; shrink the design (fewer cores, less SRAM)",
            field=f"{arch.name}.cores",
        )
    out = {
        "dies_per_wafer": Part(
            dpw,
            f"pi (d/2)^2/S - pi d/sqrt(2S), d = {t('wafer.diameter_mm'):g} - 2 x "
            f"{t('wafer.edge_exclusion_mm'):g} mm, S = ({math.sqrt(a):.1f} + "
            f"{t('wafer.scribe_mm'):g} mm)^2",
        ),
        "yield": Part(
            y,
            f"negative binomial D0 = {d0:g}/cm2, alpha = {alpha:g}; {need} of {n} cores "
            f"of {core:.2f} mm2 needed",
        ),
    }
    out["die"] = Part(
        die_cost_usd(t("wafer_usd"), dpw, y), f"${t('wafer_usd'):,.0f} wafer / ({dpw:.1f} dies x {y:.3f})"
    )
    if arch.memory is not None:
        d = arch.memory
        gb = d.devices.value * d.capacity_bytes_per_device.value / 1e9
        out["memory"] = Part(
            gb * t(f"dram_usd_per_gb.{d.kind}"), f"{gb:.0f} GB x ${t(f'dram_usd_per_gb.{d.kind}'):g}/GB"
        )
    sites = arch.memory.sites.value if arch.memory is not None else 0.0
    out["package"] = _package(arch.package, t, a, sites)
    out["test"] = Part(a * t("test_usd_per_mm2"), f"{a:.0f} mm2 x ${t('test_usd_per_mm2'):g}/mm2")
    out["total"] = Part(
        sum(v.value for k, v in out.items() if k not in ("dies_per_wafer", "yield")),
        "die + memory + package + test",
    )
    return out


def _package(package: str, t: Technology, die_mm2: float, sites: float) -> Part:
    base = t(f"package_usd.{package}")
    if not package.startswith("cowos"):
        return Part(base, f"{package} package")
    inter = INTERPOSER_OVERHEAD * (die_mm2 + sites * HBM_FOOTPRINT_MM2)
    extra = max(0.0, inter - INTERPOSER_REF_MM2) * t("interposer_usd_per_mm2")
    return Part(
        base + extra,
        f"{package} ${base:g} + ${t('interposer_usd_per_mm2'):g}/mm2 over "
        f"{INTERPOSER_REF_MM2:g} mm2 of a {inter:.0f} mm2 interposer",
    )


# ---------------------------------------------------------------- a datasheet chip


@dataclass(frozen=True)
class Die:
    """``count`` dies of one kind in a package. ``stacked``: bonded on top of another die (hybrid bonding),
    so it adds no interposer footprint."""

    area_mm2: float
    node: str
    count: int = 1
    stacked: bool = False


def datasheet_chip_cost(
    dies: Sequence[Die], package: str, memory_gb: float = 0.0, memory_kind: str = "", sites: int = 0
) -> dict[str, Part]:
    """``chip_cost`` for a chip known by its datasheet (die areas, nodes, memory) rather than its
    microarchitecture: the same wafer, yield, memory, package and test constants. Yield is the whole-die
    negative binomial (no credit for spare cores, which a datasheet does not give: an upper bound on the die
    cost of a harvested GPU). ``sites``: memory stacks on the interposer (enabled or not)."""
    if not dies:
        raise JalapenoError("a chip needs at least one die", field="dies")
    out: dict[str, Part] = {}
    for i, d in enumerate(dies):
        t = Technology(d.node)
        dpw = dies_per_wafer(
            d.area_mm2, t("wafer.diameter_mm"), t("wafer.edge_exclusion_mm"), t("wafer.scribe_mm")
        )
        y = yield_negative_binomial(d.area_mm2, t("defect_density_per_cm2"), t("wafer.cluster_alpha"))
        each = die_cost_usd(t("wafer_usd"), dpw, y)
        out[f"die{i}" if len(dies) > 1 else "die"] = Part(
            d.count * each,
            f"{d.count} x {d.area_mm2:g} mm2 at {d.node}: ${t('wafer_usd'):,.0f} wafer / "
            f"({dpw:.1f} dies x yield {y:.3f})",
        )
    t = Technology(dies[0].node)
    if memory_gb > 0:
        out["memory"] = Part(
            memory_gb * t(f"dram_usd_per_gb.{memory_kind}"),
            f"{memory_gb:g} GB x ${t(f'dram_usd_per_gb.{memory_kind}'):g}/GB",
        )
    silicon = sum(d.count * d.area_mm2 for d in dies)
    footprint = sum(d.count * d.area_mm2 for d in dies if not d.stacked)
    out["package"] = _package(package, t, footprint, sites)
    out["test"] = Part(silicon * t("test_usd_per_mm2"), f"{silicon:.0f} mm2 x ${t('test_usd_per_mm2'):g}/mm2")
    out["total"] = Part(sum(v.value for v in out.values()), "dies + memory + package + test")
    return out


def price_usd(cost_usd: float) -> float:
    """The chip's price under the one margin rule every chip is priced by (``hardware.tco``)."""
    from jalapeno.hardware.tco import margin_price_usd

    return margin_price_usd(cost_usd)
