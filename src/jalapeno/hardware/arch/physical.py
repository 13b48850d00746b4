"""Physical limits a package must respect: reticle, HBM beachfront, power density, interposer area.

``checks(arch)`` returns every check with its value and limit; ``violations(arch)`` the reasons a design
breaks them (empty when it fits). Constants are ``physical.*`` in the technology library, each with a range.

* **reticle**: one die at most 858 mm2 (the 26 x 33 mm exposure field).
* **beachfront**: memory PHYs line the die edge next to their stacks: sites x PHY edge (HBM3 ~10.5 mm) must
  fit in the share of a square die's perimeter that memory may take (the rest holds SerDes, host I/O, power
  entry); SerDes lanes take their own pitch of the rest.
* **power density**: die power at TDP (board TDP less regulator loss, DRAM devices and board misc) over die
  area.
* **interposer**: die plus stacks (with 20% spacing) within the package's interposer (CoWoS-S ~2,700 mm2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from jalapeno.hardware.arch import model
from jalapeno.hardware.arch.spec import ArchSpec

_SPACING = 1.2  # die and stacks with the gaps between them (estimate: 20% of the placed area)


@dataclass(frozen=True)
class Check:
    name: str
    value: float
    limit: float
    unit: str
    formula: str

    @property
    def ok(self) -> bool:
        return self.value <= self.limit * (1 + 1e-9)

    def reason(self) -> str:
        return f"{self.name}: {self.value:,.1f} {self.unit} > {self.limit:,.1f} {self.unit} ({self.formula})"


def die_power_w(arch: ArchSpec, die_mm2: float, tdp: dict[str, model.Part]) -> float:
    """Power dissipated in the logic die at TDP: the board TDP less regulators, DRAM devices, board misc."""
    off = ("vrm_loss", *model.OFF_DIE, "total")
    return sum(p.value for k, p in tdp.items() if k not in off)


def checks(arch: ArchSpec) -> list[Check]:
    t = model.tech_of(arch)
    area = model.area(arch)["total"].value
    tdp = model.power(arch, area)
    side = math.sqrt(area)
    out = [
        Check(
            "reticle",
            area,
            t("physical.reticle_mm2"),
            "mm2",
            "one die within the lithographic exposure field",
        )
    ]
    d = arch.memory
    edge = 0.0
    if d is not None:
        e, frac = t(f"physical.phy_edge_mm.{d.kind}"), t("physical.phy_edge_fraction")
        edge = d.sites.value * e
        out.append(
            Check(
                "beachfront",
                edge,
                frac * 4 * side,
                "mm",
                f"{d.sites.value:g} {d.kind} PHYs x {e:g} mm vs {frac:g} of a {side:.1f} mm square die's "
                "perimeter",
            )
        )
    if arch.links is not None:
        lanes = arch.links.count.value * arch.links.lanes.value
        pitch = t("physical.serdes_edge_mm_per_lane")
        out.append(
            Check(
                "perimeter",
                edge + lanes * pitch,
                4 * side,
                "mm",
                f"memory PHYs {edge:.0f} mm + {lanes:g} SerDes lanes x {pitch:g} mm vs {4 * side:.1f} mm",
            )
        )
    pd = die_power_w(arch, area, tdp) / area
    out.append(
        Check(
            "power density",
            pd,
            t("physical.power_density_w_per_mm2"),
            "W/mm2",
            f"{die_power_w(arch, area, tdp):,.0f} W in the die at TDP / {area:,.0f} mm2",
        )
    )
    placed = area + (
        d.devices.value * t(f"physical.hbm_footprint_mm2.{d.kind}")
        if d is not None and d.kind.startswith("hbm")
        else 0.0
    )
    out.append(
        Check(
            "interposer",
            placed * _SPACING,
            t(f"physical.interposer_mm2.{arch.package}"),
            "mm2",
            f"({area:,.0f} mm2 die + stacks) x {_SPACING:g} spacing on {arch.package}",
        )
    )
    return out


def violations(arch: ArchSpec) -> list[str]:
    """Reasons the design cannot be built (empty when every check passes)."""
    return [c.reason() for c in checks(arch) if not c.ok]
