"""The one price and TCO rule (hardware/tco.py): hand-computed figures, the constants file, and one fleet
priced the same by serve, explore's evaluation and the report."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace
from typing import Any

import pytest

from jalapeno.cli import main
from jalapeno.errors import JalapenoError
from jalapeno.hardware import resolve_chip
from jalapeno.hardware.loader import chip_from_dict, chip_to_dict
from jalapeno.hardware.tco import (
    PRICE_RULES,
    SECONDS_PER_YEAR,
    chip_price,
    constants,
    fleet_tco,
    margin_price_usd,
    nre_per_chip_usd,
    pools_tco,
    value,
)

# Round constants, so every expectation below is arithmetic one can do by hand.
ROUND = {"margin": 0.75, "nre.mask_set_usd": 25e6, "nre.design_usd": 75e6, "volume_units": 500_000,
         "system.host_usd": 4000, "system.network_usd": 4000, "host_power_w": 300, "pue": 1.25,
         "usd_per_kwh": 0.1, "lifetime_years": 4}


def test_constants_have_sources_and_ranges_that_hold_their_values() -> None:
    c = constants()
    assert set(ROUND) <= set(c)
    for k, x in c.items():
        assert x.lo <= x.value <= x.hi and x.source, k
    assert 0 < c["margin"].lo < c["margin"].hi < 1
    assert c["pue"].lo >= 1.0


def test_nre_and_margin_price_by_hand() -> None:
    assert nre_per_chip_usd(ROUND) == pytest.approx(100e6 / 500_000)  # $200 a chip
    assert margin_price_usd(4800, ROUND) == pytest.approx((4800 + 200) / 0.25)  # $20,000


def test_h200_prices_under_each_rule() -> None:
    p = chip_price(resolve_chip("h200-sxm"), ROUND)
    assert p.cost_usd == 4800 and p.street_usd == 35000  # the preset's analyst cost and street price
    assert p.price("cost") == pytest.approx(5000)
    assert p.price("margin") == pytest.approx(20000)
    assert p.price("street") == 35000
    assert resolve_chip("h200-sxm").extra["cost.total_usd"].range == (4080, 5520)


def test_a_derived_chip_is_priced_by_the_same_rule_and_has_no_street_price() -> None:
    j1 = resolve_chip("jalapeno-1")
    p = chip_price(j1)
    cost = j1.extra["cost.total_usd"].value  # the cost model's figure
    assert p.street_usd is None
    assert p.price("margin") == pytest.approx(margin_price_usd(cost)) == pytest.approx(j1.price_usd.value)
    assert p.price("street") == p.price("margin")  # no market price: the margin rule stands in
    assert p.price("cost") == pytest.approx(cost + nre_per_chip_usd())


def test_fleet_tco_by_hand() -> None:
    """2 x H200 at 1,000 W board power, 10,000 tok/s of which 1,000 output, round constants."""
    t = fleet_tco(resolve_chip("h200-sxm"), 2, 1000.0, 10_000.0, 1_000.0, "margin", ROUND)
    assert t is not None
    life_s = 4 * SECONDS_PER_YEAR
    capex_s = (2 * 20000 + 2 * 8000) / life_s
    wall_w = (1000 + 2 * 300) * 1.25  # 2,000 W at the wall
    energy_s = wall_w * 0.1 / 3.6e6
    assert (t.price_usd, t.system_usd, t.host_power_w, t.wall_power_w) == pytest.approx((40000, 16000, 600, 2000))
    assert t.capex_usd_per_s == pytest.approx(capex_s) and t.energy_usd_per_s == pytest.approx(energy_s)
    assert t.usd_per_mtok == pytest.approx((capex_s + energy_s) * 1e6 / 10_000)
    assert t.usd_per_mtok_output == pytest.approx(10 * t.usd_per_mtok)
    assert t.usd_per_mtok_capex + t.usd_per_mtok_energy == pytest.approx(t.usd_per_mtok)
    # 2,000 W x $0.1/kWh = $0.2/h; at 36e6 tokens/h: $0.00556 per Mtok of energy
    assert t.usd_per_mtok_energy == pytest.approx(0.2 / 36, rel=1e-9)


def test_energy_follows_the_simulated_power_not_tdp() -> None:
    chip = resolve_chip("h200-sxm")
    lo, hi = (fleet_tco(chip, 1, w, 1000.0, 100.0) for w in (100.0, 600.0))
    assert lo is not None and hi is not None and lo.capex_usd_per_s == hi.capex_usd_per_s
    added = 500.0 * value("pue") * value("usd_per_kwh") / 3.6e6 * 1e6 / 1000.0
    assert hi.usd_per_mtok - lo.usd_per_mtok == pytest.approx(added)


def test_rules_order_and_street_ratio() -> None:
    chip = resolve_chip("h200-sxm")
    by = {r: fleet_tco(chip, 1, 500.0, 2000.0, 200.0, r) for r in PRICE_RULES}
    assert by["cost"].usd_per_mtok < by["margin"].usd_per_mtok < by["street"].usd_per_mtok  # type: ignore[union-attr]
    assert by["street"].price_usd == 35000  # type: ignore[union-attr]


def test_pools_add_up_and_missing_prices_give_none() -> None:
    h200, h100 = resolve_chip("h200-sxm"), resolve_chip("h100-sxm")
    t = pools_tco([(h200, 1), (h100, 3)], 2000.0, 5000.0, 500.0, "cost", ROUND)
    assert t is not None and t.chips == 4
    assert t.price_usd == pytest.approx(4800 + 200 + 3 * (3320 + 200))
    assert pools_tco([(h200, 1), (resolve_chip("tpu-v5e"), 1)], 1.0, 1.0, 1.0) is None  # tpu-v5e: no cost
    assert fleet_tco(h200, 1, 500.0, 0.0, 0.0).usd_per_mtok is None  # type: ignore[union-attr]  # no tokens


@pytest.mark.parametrize("kw, field", [({"rule": "list"}, "price_rule"), ({"avg_power_w": math.nan}, "avg_power_w"),
                                       ({"tokens_per_s": -1.0}, "tokens_per_s")])
def test_bad_input(kw: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {"avg_power_w": 1.0, "tokens_per_s": 1.0, "output_tokens_per_s": 1.0, **kw}
    with pytest.raises(JalapenoError) as e:
        fleet_tco(resolve_chip("h200-sxm"), 1, **args)
    assert e.value.field == field


def test_figure_range_round_trips_and_is_checked() -> None:
    chip = resolve_chip("b200")
    d = chip_to_dict(chip)
    assert d["extra"]["cost.total_usd"]["range"] == [5700, 7300]
    assert chip_from_dict(d).extra["cost.total_usd"].range == (5700, 7300)
    d["extra"]["cost.total_usd"]["range"] = [7000, 8000]  # does not hold the value 6,400
    with pytest.raises(JalapenoError, match=r"extra.cost.total_usd.range"):
        chip_from_dict(d)


# ---------------------------------------------------------------- one fleet, one figure everywhere

def test_one_fleet_one_usd_per_mtok_in_serve_explore_and_report(capsys: pytest.CaptureFixture[str]) -> None:
    """2 x H200 (tp 1, chunked prefill 512) on 60 s of azure-code: serve --json, explore's evaluation and the
    report's comparison row give the same $/Mtok."""
    from jalapeno.explore.compare import ChipRun
    from jalapeno.explore.design import Deployment
    from jalapeno.explore.evaluate import evaluate_chip
    from jalapeno.explore.workload import Workload
    from jalapeno.report.explore_report import COMPARE_HEADER, comparison_rows

    w = Workload(name="t", model="llama-3.2-1b", trace={"name": "azure-code", "start_s": 0, "duration_s": 60},
                 prefix_cache=True)
    dep = Deployment(tp=1, replicas=2, scheduler="sarathi", max_num_batched_tokens=512)
    argv = ["serve", "--trace", "azure-code", "--start-s", "0", "--duration-s", "60", "--model", "llama-3.2-1b",
            "--hardware", "h200-sxm", "--replicas", "2", "--scheduler", "sarathi", "--max-num-batched-tokens", "512",
            "--max-num-seqs", "256", "--router", "least_outstanding", "--prefix-cache", "--json"]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)

    ev = evaluate_chip(resolve_chip("h200-sxm"), dep, w, fast=False)  # the exact oracle, as serve uses
    assert ev.metrics["avg_power_w"] == pytest.approx(doc["avg_power_w"], rel=1e-12)  # the same simulation
    assert ev.objectives["usd_per_mtok"] == pytest.approx(doc["usd_per_mtok"], rel=1e-12)
    assert ev.metrics["usd_per_mtok_output"] == pytest.approx(doc["usd_per_mtok_output"], rel=1e-12)

    study = SimpleNamespace(runs={"t": {"h200-sxm": ChipRun("h200-sxm", "t", dep, ev, [])}},
                            chips={"h200-sxm": resolve_chip("h200-sxm")})
    rows, _ = comparison_rows(study, "t")
    cell = rows[0][COMPARE_HEADER.index("$/Mtok")]
    assert float(cell) == pytest.approx(doc["usd_per_mtok"], rel=5e-3)  # printed to 3 significant digits


def test_a_label_has_no_range() -> None:
    d = chip_to_dict(resolve_chip("h200-sxm"))
    d["process_node"]["range"] = [1, 2]
    with pytest.raises(JalapenoError, match=r"process_node.range"):
        chip_from_dict(d)
