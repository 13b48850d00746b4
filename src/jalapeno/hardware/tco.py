"""One price and TCO rule for every chip: what ``serve``, ``explore``, the report and ``compare`` call.

A chip on paper and a GPU one can buy are priced the same way, so a ratio between them measures the
chips, not the pricing. Constants, each with a source and a ``range: [lo, hi]``, are in
``hardware/data/tco.yaml`` (docs/tco.md):

* **chip price** (``rule``): ``margin`` (default) = (manufacturing cost + NRE / volume) / (1 - margin), one
  margin for every chip; ``cost`` = cost + NRE / volume (no vendor margin); ``street`` = the preset's
  reported market price (a chip on paper has none and falls back to ``margin``). The manufacturing cost is
  the chip's ``extra["cost.total_usd"]``: an analyst estimate or a derived one (``hardware.cost_estimates``)
  in a preset, the cost model's figure for a derived architecture.
* **capex/s** = chips x (price + per-slot host + network + rack-scale switch) / lifetime.
* **energy/s** = (fleet average board power from the simulation + chips x (host + rack-scale switch) power)
  x PUE x $/kWh.
* **rack-scale switch** (``scale_up_switch_usd``/``_w``): a switched scale-up domain of more chips than one
  8-chip board (an NVL72 rack, a switched paper design of 16-64) pays switch ports per Gb/s of each chip's
  scale-up bandwidth; an 8-chip board's switches are in the host share (the DGX H100 BOM behind
  ``system.host_usd`` includes the HGX baseboard's NVSwitches), and direct topologies (torus, full mesh,
  ring) have no switch (their SerDes area and power are the chip's own).
* **$/Mtok** = (capex + energy) per second x 1e6 / tokens per second, per total tokens (prompt + output:
  ``usd_per_mtok``) and per output token (``usd_per_mtok_output``).

``values`` (a mapping from a constant's dotted key to a number) replaces constants, e.g. for a Monte
Carlo draw from their ranges.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any

from jalapeno.errors import JalapenoError
from jalapeno.hardware.spec import ChipSpec

PRICE_RULES = ("margin", "cost", "street")
SECONDS_PER_YEAR = 365.25 * 24 * 3600
J_PER_KWH = 3.6e6
COST_KEY = "cost.total_usd"  # a chip's manufacturing cost, in ``ChipSpec.extra``


@dataclass(frozen=True)
class Constant:
    """One TCO constant: its value, the range its sources support, and where it came from."""

    value: float
    lo: float
    hi: float
    source: str
    secondary: bool = False
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "range": [self.lo, self.hi],
            "source": self.source,
            "secondary": self.secondary,
            "note": self.note,
        }


def _path() -> str:
    return str(resources.files("jalapeno.hardware").joinpath("data", "tco.yaml"))


@functools.lru_cache(maxsize=1)
def constants() -> Mapping[str, Constant]:
    """Every constant of ``tco.yaml``, keyed by its dotted name (``nre.mask_set_usd``)."""
    from jalapeno.hardware.loader import parse_yaml

    path = _path()
    with open(path, encoding="utf-8") as f:
        data = parse_yaml(f.read(), path)
    out: dict[str, Constant] = {}
    _flatten(data, "", out)
    return MappingProxyType(out)


def _flatten(data: Any, prefix: str, out: dict[str, Constant]) -> None:
    for k, v in data.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping) and "value" in v:
            out[key] = _constant(key, v)
        elif isinstance(v, Mapping):
            _flatten(v, key, out)
        else:
            raise JalapenoError(
                f"expected a constant {{value, range, source}} or a group, got {v!r}", field=key
            )


def _constant(key: str, d: Mapping[str, Any]) -> Constant:
    v, r, src = d.get("value"), d.get("range"), d.get("source")
    if not (
        isinstance(v, int | float) and isinstance(r, list) and len(r) == 2 and isinstance(src, str) and src
    ):
        raise JalapenoError("a constant needs a number value, range: [lo, hi] and a source", field=key)
    if not r[0] <= v <= r[1]:
        raise JalapenoError(f"range {r} must hold the value {v}", field=f"{key}.range")
    return Constant(
        float(v), float(r[0]), float(r[1]), src, bool(d.get("secondary", False)), str(d.get("note", ""))
    )


def value(key: str, values: Mapping[str, float] | None = None) -> float:
    """A constant's value, or its replacement in ``values``."""
    if values is not None and key in values:
        return float(values[key])
    return constants()[key].value


def nre_per_chip_usd(values: Mapping[str, float] | None = None) -> float:
    """Mask set plus design, spread over the volume: what every chip carries on top of its cost."""
    return (value("nre.mask_set_usd", values) + value("nre.design_usd", values)) / value(
        "volume_units", values
    )


def system_per_slot_usd(values: Mapping[str, float] | None = None) -> float:
    """Host/chassis share and scale-out network per accelerator slot, whatever the chip's price."""
    return value("system.host_usd", values) + value("system.network_usd", values)


BOARD_DOMAIN_CHIPS = (
    8  # chips whose switches one board (and so host_usd) carries: NVIDIA HGX H100/B200, 8 GPUs
)
SWITCHED = ("switch", "dragonfly")


def rack_switch_gbps(chip: ChipSpec) -> float:
    """Gb/s a direction of the chip's scale-up bandwidth that rack-scale switch ports carry: all of it in a
    switched domain of more than ``BOARD_DOMAIN_CHIPS`` chips, none otherwise."""
    ic = chip.interconnect
    if ic is None or ic.topology not in SWITCHED or ic.domain_size.value <= BOARD_DOMAIN_CHIPS:
        return 0.0
    return ic.bandwidth_bytes_per_s.value * 8 / 1e9


def scale_up_switch_usd(chip: ChipSpec, values: Mapping[str, float] | None = None) -> float:
    """Per slot: rack-scale switch ports of the chip's scale-up domain (0 on a board or a direct topology)."""
    return rack_switch_gbps(chip) * value("system.scale_up_switch_usd_per_gbps", values)


def scale_up_switch_w(chip: ChipSpec, values: Mapping[str, float] | None = None) -> float:
    """Per slot: wall-side power of those switch ports."""
    return rack_switch_gbps(chip) * value("system.scale_up_switch_w_per_gbps", values)


# ---------------------------------------------------------------- one chip


@dataclass(frozen=True)
class ChipPrice:
    """A chip's cost and its price under each rule (None where a figure is missing)."""

    chip: str
    cost_usd: float | None  # manufacturing: die, memory, package, test
    nre_usd: float  # NRE / volume, per chip
    margin: float
    street_usd: float | None  # reported market price (presets only)

    @property
    def at_cost_usd(self) -> float | None:
        return None if self.cost_usd is None else self.cost_usd + self.nre_usd

    @property
    def margin_usd(self) -> float | None:
        c = self.at_cost_usd
        return None if c is None else c / (1.0 - self.margin)

    def price(self, rule: str) -> float | None:
        check_rule(rule)
        if rule == "street" and self.street_usd is not None:
            return self.street_usd
        return self.at_cost_usd if rule == "cost" else self.margin_usd

    def missing(self, rule: str) -> str | None:
        """Why the chip has no price under ``rule``, in one line that names the fix; None when it has one."""
        if self.price(rule) is not None:
            return None
        what = "no manufacturing cost (extra cost.total_usd)" + (
            " and no street price_usd" if rule == "street" else ""
        )
        alt = ", or use --price-rule street" if self.street_usd is not None else ""
        return (
            f"{self.chip} has {what}, so no price under --price-rule {rule}: add a sourced cost estimate "
            f"with a range to its YAML (docs/tco.md){alt}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "chip": self.chip,
            "cost_usd": self.cost_usd,
            "nre_usd": self.nre_usd,
            "margin": self.margin,
            "price_usd_by_rule": {r: self.price(r) for r in PRICE_RULES},
            "street_usd": self.street_usd,
        }


def check_rule(rule: str) -> None:
    if rule not in PRICE_RULES:
        raise JalapenoError(f"must be one of {', '.join(PRICE_RULES)}; got {rule!r}", field="price_rule")


def missing_price(chips: Sequence[ChipSpec], rule: str) -> str | None:
    """The first of ``chips`` with no price under ``rule``, as ``ChipPrice.missing`` says it; None if all have
    one."""
    check_rule(rule)
    for c in chips:
        why = chip_price(c).missing(rule)
        if why is not None:
            return why
    return None


def margin_price_usd(cost_usd: float, values: Mapping[str, float] | None = None) -> float:
    """The default rule's price for a manufacturing cost: (cost + NRE / volume) / (1 - margin)."""
    return (cost_usd + nre_per_chip_usd(values)) / (1.0 - value("margin", values))


def chip_price(chip: ChipSpec, values: Mapping[str, float] | None = None) -> ChipPrice:
    """Cost and prices of one chip. A derived architecture has no street price (its ``price_usd`` is
    already the margin rule's); a preset's ``price_usd`` is its street price."""
    cost = chip.extra.get(COST_KEY)
    derived = getattr(chip, "arch", None) is not None
    street = None if derived or chip.price_usd is None else chip.price_usd.value
    return ChipPrice(
        chip.name,
        None if cost is None else cost.value,
        nre_per_chip_usd(values),
        value("margin", values),
        street,
    )


# ---------------------------------------------------------------- a fleet


@dataclass(frozen=True)
class TCO:
    """Cost of owning and running a fleet, per second and per million tokens. ``None`` fields: no tokens."""

    rule: str
    chips: int
    price_usd: float  # all chips of the fleet under ``rule``
    system_usd: float  # per-slot host + network (+ rack-scale switch), all slots
    board_power_w: float  # fleet average from the simulation
    host_power_w: float  # all slots (host + rack-scale switch)
    wall_power_w: float  # (board + host) x PUE
    tokens_per_s: float  # prompt + output
    output_tokens_per_s: float
    capex_usd_per_s: float
    energy_usd_per_s: float
    prices: tuple[ChipPrice, ...]

    @property
    def usd_per_s(self) -> float:
        return self.capex_usd_per_s + self.energy_usd_per_s

    def _per_mtok(self, usd_per_s: float, tokens_per_s: float) -> float | None:
        return usd_per_s * 1e6 / tokens_per_s if tokens_per_s > 0 else None

    @property
    def usd_per_mtok(self) -> float | None:
        """Per million tokens processed, prompt + output: the figure every command reports."""
        return self._per_mtok(self.usd_per_s, self.tokens_per_s)

    @property
    def usd_per_mtok_output(self) -> float | None:
        return self._per_mtok(self.usd_per_s, self.output_tokens_per_s)

    @property
    def usd_per_mtok_capex(self) -> float | None:
        return self._per_mtok(self.capex_usd_per_s, self.tokens_per_s)

    @property
    def usd_per_mtok_energy(self) -> float | None:
        return self._per_mtok(self.energy_usd_per_s, self.tokens_per_s)

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "usd_per_mtok": self.usd_per_mtok,
            "usd_per_mtok_output": self.usd_per_mtok_output,
            "usd_per_mtok_capex": self.usd_per_mtok_capex,
            "usd_per_mtok_energy": self.usd_per_mtok_energy,
            "chips": self.chips,
            "price_usd": self.price_usd,
            "system_usd": self.system_usd,
            "board_power_w": self.board_power_w,
            "host_power_w": self.host_power_w,
            "wall_power_w": self.wall_power_w,
            "tokens_per_s": self.tokens_per_s,
            "output_tokens_per_s": self.output_tokens_per_s,
            "capex_usd_per_s": self.capex_usd_per_s,
            "energy_usd_per_s": self.energy_usd_per_s,
            "chip_prices": [p.to_json() for p in self.prices],
        }


def fleet_tco(
    chip: ChipSpec,
    chips: int,
    avg_power_w: float,
    tokens_per_s: float,
    output_tokens_per_s: float,
    rule: str = "margin",
    values: Mapping[str, float] | None = None,
) -> TCO | None:
    """TCO of ``chips`` x ``chip`` drawing ``avg_power_w`` (board, fleet total) while serving the given
    token rates; None when the chip has no price under ``rule``."""
    return pools_tco([(chip, chips)], avg_power_w, tokens_per_s, output_tokens_per_s, rule, values)


def pools_tco(
    pools: Sequence[tuple[ChipSpec, int]],
    avg_power_w: float,
    tokens_per_s: float,
    output_tokens_per_s: float,
    rule: str = "margin",
    values: Mapping[str, float] | None = None,
) -> TCO | None:
    """``fleet_tco`` for a fleet of several chip kinds (e.g. disaggregated prefill and decode pools)."""
    check_rule(rule)
    for name, x in (
        ("avg_power_w", avg_power_w),
        ("tokens_per_s", tokens_per_s),
        ("output_tokens_per_s", output_tokens_per_s),
    ):
        if not (math.isfinite(x) and x >= 0):
            raise JalapenoError(f"must be a finite number >= 0, got {x!r}", field=name)
    prices = tuple(chip_price(c, values) for c, _ in pools)
    per_chip = [p.price(rule) for p in prices]
    if any(x is None for x in per_chip):
        return None
    n = sum(k for _, k in pools)
    price = sum(x * k for x, (_, k) in zip(per_chip, pools, strict=True) if x is not None)
    system = n * system_per_slot_usd(values) + sum(k * scale_up_switch_usd(c, values) for c, k in pools)
    host_w = n * value("host_power_w", values) + sum(k * scale_up_switch_w(c, values) for c, k in pools)
    wall_w = (avg_power_w + host_w) * value("pue", values)
    capex_s = (price + system) / (value("lifetime_years", values) * SECONDS_PER_YEAR)
    energy_s = wall_w * value("usd_per_kwh", values) / J_PER_KWH
    return TCO(
        rule,
        n,
        price,
        system,
        avg_power_w,
        host_w,
        wall_w,
        tokens_per_s,
        output_tokens_per_s,
        capex_s,
        energy_s,
        prices,
    )
