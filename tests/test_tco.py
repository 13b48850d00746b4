"""The one price and TCO rule (hardware/tco.py): hand-computed figures, the constants file, and one fleet
priced the same by serve, explore's evaluation and the report."""

from __future__ import annotations

import dataclasses
import json
import math
from types import MappingProxyType, SimpleNamespace
from typing import Any

import pytest
from short_workload import write_tiny_workload

from jalapeno.cli import main
from jalapeno.errors import JalapenoError
from jalapeno.hardware import list_presets, resolve_chip
from jalapeno.hardware.arch.cost import Die, datasheet_chip_cost
from jalapeno.hardware.cost_estimates import CHECKS, ESTIMATES
from jalapeno.hardware.loader import chip_from_dict, chip_to_dict
from jalapeno.hardware.tco import (
    COST_KEY,
    PRICE_RULES,
    SECONDS_PER_YEAR,
    chip_price,
    constants,
    fleet_tco,
    margin_price_usd,
    missing_price,
    nre_per_chip_usd,
    pools_tco,
    value,
)

# Round constants, so every expectation below is arithmetic one can do by hand.
ROUND = {
    "margin": 0.75,
    "nre.mask_set_usd": 25e6,
    "nre.design_usd": 75e6,
    "volume_units": 500_000,
    "system.host_usd": 4000,
    "system.network_usd": 4000,
    "host_power_w": 300,
    "pue": 1.25,
    "usd_per_kwh": 0.1,
    "lifetime_years": 4,
}


def bare(chip: Any, street: bool = False) -> Any:
    """``chip`` without its manufacturing cost (and without its street price unless ``street``); the same
    name, so the same calibration applies."""
    extra = MappingProxyType({k: v for k, v in chip.extra.items() if k != COST_KEY})
    return dataclasses.replace(chip, extra=extra, price_usd=chip.price_usd if street else None)


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
    assert (t.price_usd, t.system_usd, t.host_power_w, t.wall_power_w) == pytest.approx(
        (40000, 16000, 600, 2000)
    )
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
    assert pools_tco([(h200, 1), (bare(h200), 1)], 1.0, 1.0, 1.0) is None  # a chip with no cost, no price
    assert fleet_tco(h200, 1, 500.0, 0.0, 0.0).usd_per_mtok is None  # type: ignore[union-attr]  # no tokens


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"rule": "list"}, "price_rule"),
        ({"avg_power_w": math.nan}, "avg_power_w"),
        ({"tokens_per_s": -1.0}, "tokens_per_s"),
    ],
)
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

    w = Workload(
        name="t",
        model="llama-3.2-1b",
        trace={"name": "azure-code", "start_s": 0, "duration_s": 60},
        prefix_cache=True,
    )
    dep = Deployment(tp=1, replicas=2, scheduler="sarathi", max_num_batched_tokens=512)
    argv = [
        "serve",
        "--trace",
        "azure-code",
        "--start-s",
        "0",
        "--duration-s",
        "60",
        "--model",
        "llama-3.2-1b",
        "--hardware",
        "h200-sxm",
        "--replicas",
        "2",
        "--scheduler",
        "sarathi",
        "--max-num-batched-tokens",
        "512",
        "--max-num-seqs",
        "256",
        "--router",
        "least_outstanding",
        "--prefix-cache",
        "--json",
    ]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)

    ev = evaluate_chip(resolve_chip("h200-sxm"), dep, w, fast=False)  # the exact oracle, as serve uses
    assert ev.metrics["avg_power_w"] == pytest.approx(doc["avg_power_w"], rel=1e-12)  # the same simulation
    assert ev.objectives["usd_per_mtok"] == pytest.approx(doc["usd_per_mtok"], rel=1e-12)
    assert ev.metrics["usd_per_mtok_output"] == pytest.approx(doc["usd_per_mtok_output"], rel=1e-12)

    study = SimpleNamespace(
        runs={"t": {"h200-sxm": ChipRun("h200-sxm", "t", dep, ev, [])}},
        chips={"h200-sxm": resolve_chip("h200-sxm")},
    )
    rows, _ = comparison_rows(study, "t")
    cell = rows[0][COMPARE_HEADER.index("$/Mtok")]
    assert float(cell) == pytest.approx(doc["usd_per_mtok"], rel=5e-3)  # printed to 3 significant digits


def test_a_label_has_no_range() -> None:
    d = chip_to_dict(resolve_chip("h200-sxm"))
    d["process_node"]["range"] = [1, 2]
    with pytest.raises(JalapenoError, match=r"process_node.range"):
        chip_from_dict(d)


# ---------------------------------------------------------------- every preset has a cost


def test_every_preset_has_a_sourced_cost_with_a_range_and_a_price_under_every_rule() -> None:
    for name in list_presets():
        chip = resolve_chip(name)
        f = chip.extra.get(COST_KEY)
        assert f is not None and f.source and f.secondary, name
        lo, hi = f.range
        assert 0 < lo < f.value < hi, name
        p = chip_price(chip)
        assert all(p.price(r) is not None and p.missing(r) is None for r in PRICE_RULES), name
        assert p.price("cost") < p.price("margin"), name  # type: ignore[operator]


@pytest.mark.parametrize("e", ESTIMATES, ids=lambda e: e.chip)
def test_derived_preset_costs_are_what_scripts_chip_costs_computes(e: Any) -> None:
    """A derived figure in a preset is the estimate's own output: change an input or a technology constant
    without rerunning scripts/chip_costs.py --yaml and this fails."""
    f = resolve_chip(e.chip).extra[COST_KEY]
    want = e.figure()
    assert (f.value, list(f.range), f.source, f.secondary) == (
        want["value"],
        want["range"],
        want["source"],
        True,
    )
    assert f.source.startswith("derived: ")
    assert want["value"] == pytest.approx(e.parts()["total"].value, abs=0.5)


def test_a100_cost_and_margin_price_by_hand() -> None:
    """A100: 826 mm2 at N7 ($9,346 wafers, D0 0.09/cm2, alpha 3, 3 mm edge, 0.1 mm scribe), 80 GB HBM2e at
    $10/GB, CoWoS-S ($700 under a 2,000 mm2 interposer), test $1.1/mm2."""
    side = math.sqrt(826) + 0.1
    dpw = math.pi * 147**2 / side**2 - math.pi * 294 / math.sqrt(2 * side**2)  # 58.97 dies
    y = (1 + 0.09 * 8.26 / 3) ** -3  # 0.5147
    assert 1.25 * (826 + 6 * 110) < 2000  # the interposer is under the reference size: the base price
    cost = 9346 / (dpw * y) + 80 * 10 + 700 + 826 * 1.1  # $308 + $800 + $700 + $909
    assert cost == pytest.approx(2716.5, abs=0.5)
    chip = resolve_chip("a100-80gb-sxm")
    assert chip.extra[COST_KEY].value == round(cost) == 2716
    assert chip.extra[COST_KEY].range == (1901, 3531)  # +-30%
    p = chip_price(chip, ROUND)
    assert p.price("cost") == pytest.approx(2716 + 200)
    assert p.price("margin") == pytest.approx((2716 + 200) / 0.25)  # $11,664
    assert p.street_usd is None and p.price("street") == p.price("margin")  # no market price reported


def test_memory_swap_and_architecture_estimates_by_hand() -> None:
    mi325x = resolve_chip("mi325x").extra[COST_KEY]
    assert mi325x.value == 600 + 1200 + 600 + 256 * 18  # MI300X's dies, package, test; 256 GB HBM3e at $18/GB
    from jalapeno.hardware.arch import chip_cost, resolve_arch

    trn2 = chip_cost(resolve_arch("trainium2-arch"))["total"].value  # the architecture description's cost
    assert resolve_chip("trainium2").extra[COST_KEY].value == round(trn2)


def test_b300_and_gb300_cost_and_margin_price_by_hand() -> None:
    """B300: Epoch AI's B200 breakdown less its HBM ($900 logic + $1,100 CoWoS-L + $1,000 packaging yield loss
    + $500 other) plus 288 GB HBM3e at $18/GB; the GB300 NVL72 GPU is the same chip (its Grace CPU and switch
    trays are system capex), GB200 NVL72's the B200 (Epoch AI's $6,400)."""
    cost = 900 + 1100 + 1000 + 500 + 288 * 18  # $3,500 + $5,184
    assert cost == 8684
    for name in ("b300", "gb300-nvl72"):
        f = resolve_chip(name).extra[COST_KEY]
        assert (f.value, f.range) == (cost, (round(cost * 0.8), round(cost * 1.2))) == (8684, (6947, 10421))
    gb200, b200 = (resolve_chip(n).extra[COST_KEY] for n in ("gb200-nvl72", "b200"))
    assert (gb200.value, gb200.range) == (b200.value, b200.range) == (6400, (5700, 7300))
    p = chip_price(resolve_chip("b300"), ROUND)
    assert p.price("cost") == pytest.approx(8684 + 200)  # NRE ($25M + $75M) / 500,000
    assert p.price("margin") == pytest.approx((8684 + 200) / 0.25) == 35536  # 75% margin
    assert p.street_usd is None and p.price("street") == p.price("margin")
    default = chip_price(resolve_chip("b300"))  # tco.yaml: ($25M + $100M) / 550,000 = $227.27 a chip
    assert default.price("margin") == pytest.approx((8684 + 125e6 / 550_000) / 0.25)  # $35,645


def test_datasheet_model_is_within_the_stated_spread_of_the_analyst_estimates() -> None:
    """The ranges of the datasheet-derived costs (+-30%) rest on this: the model on H100, H200 and B200."""
    errors = {e.chip: e.value_usd / usd - 1 for e, usd, _ in CHECKS}
    assert errors["h100-sxm"] == pytest.approx(-0.004, abs=0.001)  # $3,306 vs Raymond James's $3,320
    assert all(-0.035 <= x <= 0.19 for x in errors.values())  # what the presets' notes state: -3% to +19%
    assert max(abs(x) for x in errors.values()) < 0.3


def test_datasheet_cost_counts_stacked_dies_once_on_the_interposer() -> None:
    flat = datasheet_chip_cost([Die(400, "n5", 4)], "cowos-s", 192, "hbm3", 8)
    stacked = datasheet_chip_cost([Die(400, "n5", 4, stacked=True)], "cowos-s", 192, "hbm3", 8)
    assert flat["die"].value == stacked["die"].value and flat["test"].value == stacked["test"].value
    # flat: 1.25 x (1,600 + 880) = 3,100 mm2 of interposer, $0.25/mm2 over 2,000; stacked: 1,100 mm2, none
    assert flat["package"].value == pytest.approx(700 + 1100 * 0.25) and stacked["package"].value == 700
    with pytest.raises(JalapenoError):
        datasheet_chip_cost([], "organic")


# ---------------------------------------------------------------- no cost: say why


def test_missing_price_names_the_chip_the_rule_and_the_fix() -> None:
    h200 = resolve_chip("h200-sxm")
    none, street = bare(h200), bare(h200, street=True)
    assert missing_price([h200, none], "margin") == chip_price(none).missing("margin")
    why = chip_price(none).missing("street")
    assert why is not None and "h200-sxm" in why and "no street price_usd" in why and "\n" not in why
    assert "use --price-rule street" in chip_price(street).missing("cost")  # type: ignore[operator]
    assert chip_price(street).missing("street") is None  # a street price prices it under street
    assert missing_price([h200], "cost") is None
    with pytest.raises(JalapenoError):
        missing_price([h200], "list")


def test_serve_says_why_there_is_no_usd_per_mtok(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bare.yaml"
    path.write_text(json.dumps(chip_to_dict(bare(resolve_chip("h200-sxm")))), encoding="utf-8")
    argv = [
        "serve",
        "--trace",
        "azure-code",
        "--start-s",
        "0",
        "--duration-s",
        "10",
        "--model",
        "llama-3.2-1b",
        "--hardware",
        str(path),
    ]
    assert main([*argv, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["usd_per_mtok"] is None and doc["tco"] is None
    assert doc["usd_per_mtok_missing"].startswith("h200-sxm has no manufacturing cost")
    assert set(doc["usd_per_mtok_by_rule"].values()) == {None}
    assert main(argv) == 0
    assert "no $/Mtok: h200-sxm has no manufacturing cost" in capsys.readouterr().out


def test_explore_marks_a_chip_with_no_price_infeasible_with_the_reason() -> None:
    from jalapeno.explore.design import Deployment
    from jalapeno.explore.evaluate import evaluate_chip
    from jalapeno.explore.workload import Workload

    w = Workload(name="t", model="llama-3.2-1b", trace={"name": "azure-code", "start_s": 0, "duration_s": 10})
    dep = Deployment(tp=1, replicas=1, scheduler="sarathi", max_num_batched_tokens=512)
    h200 = resolve_chip("h200-sxm")
    ok, none = (evaluate_chip(c, dep, w) for c in (h200, bare(h200)))
    assert not any(r.startswith("price:") for r in ok.reasons)
    assert none.status == "infeasible" and math.isinf(none.objectives["usd_per_mtok"])
    assert [r for r in none.reasons if r.startswith("price:")] == [
        f"price: {chip_price(bare(h200)).missing('margin')}"
    ]
    assert none.objectives["goodput_per_watt"] == pytest.approx(
        ok.objectives["goodput_per_watt"]
    )  # still simulated
    by_rule = {r: evaluate_chip(h200, dep, w, price_rule=r).objectives["usd_per_mtok"] for r in PRICE_RULES}
    assert by_rule["cost"] < by_rule["margin"] < by_rule["street"]


def test_explore_price_rule_on_the_command_line(tmp_path: Any) -> None:
    """``explore --price-rule cost`` prices the same designs lower than the default margin rule; a bad rule is
    a one-line error."""
    from click.testing import CliRunner
    from test_explore_helpers import write_files

    from jalapeno.cli import cli

    s, w = write_files(tmp_path)
    argv = [
        "explore",
        "--space",
        str(s),
        "--workload",
        str(w),
        "--trials",
        "3",
        "--workers",
        "1",
        "--searcher",
        "random",
        "--no-screen",
        "--json",
    ]
    docs = {}
    for rule in ("margin", "cost"):
        r = CliRunner().invoke(cli, [*argv, "--price-rule", rule])
        assert r.exit_code == 0, r.output
        docs[rule] = json.loads(r.output)
        assert docs[rule]["price_rule"] == rule
    pairs = [
        (m, c)
        for m, c in zip(docs["margin"]["all"], docs["cost"]["all"], strict=True)
        if m["design"] == c["design"]
    ]
    priced = [
        (m["objectives"]["usd_per_mtok"], c["objectives"]["usd_per_mtok"])
        for m, c in pairs
        if m["objectives"].get("usd_per_mtok") is not None
    ]
    assert len(pairs) == 3 and priced and all(c < m for m, c in priced)


def test_explore_bad_price_rule_is_one_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", "--trials", "1", "--price-rule", "list"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--price-rule" in err and "margin, cost, street" in err


def test_compare_prices_its_fleet_as_serve_does(tmp_path: Any) -> None:
    """Issue 13, one $/Mtok for one fleet in every command: the fleet `compare` picks, served by `serve` with
    the same options, costs exactly the `usd_per_mtok` of compare's row (the explore and report figures are
    pinned to serve by the test above)."""
    from cli_harness import run

    w = write_tiny_workload(tmp_path)
    c = run(
        "compare", "-w", str(w), "--chips", "h200", "--samples", "1", "--quick", "--workers", "1", "--json"
    )
    assert c.code == 0, c.err
    row = json.loads(c.out)["rows"][0]
    f = row["fleet"]
    s = run(
        "serve",
        "--model",
        "qwen2.5-coder-1.5b",
        "--dtype",
        "fp8",
        "--act-dtype",
        "fp8",
        "--kv-dtype",
        "fp8",
        "--trace",
        "azure-code",
        "--start-s",
        "0",
        "--duration-s",
        "20",
        "--hardware",
        "h200",
        "--tp",
        str(f["tp"]),
        "--replicas",
        str(f["replicas"]),
        "--scheduler",
        f["scheduler"],
        "--max-num-seqs",
        str(f["max_num_seqs"]),
        "--max-num-batched-tokens",
        str(f["max_num_batched_tokens"]),
        "--router",
        f["router"],
        "--prefix-cache",
        "--ttft-slo",
        "1",
        "--tpot-slo",
        "0.025",
        "-q",
        "--json",
    )
    assert s.code == 0, s.err
    served = json.loads(s.out)
    assert served["usd_per_mtok"] == pytest.approx(row["usd_per_mtok"], rel=1e-12) and row["usd_per_mtok"] > 0
