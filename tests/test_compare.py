"""Ranges on estimated constants, the seeded Monte Carlo over them, and ``jalapeno compare``.

Simulations run on a 30-second slice of the Azure code trace with fixed fleets (or a two-point sweep), so
the file stays a few seconds; the full command's speed is checked by benchmarks/bench_compare.py.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from short_workload import H200_FLEET, J1_FLEET, SHORT

from jalapeno.cli import main
from jalapeno.errors import JalapenoError
from jalapeno.explore import montecarlo as mc
from jalapeno.explore.compare import Sweep
from jalapeno.explore.headtohead import compare
from jalapeno.explore.workload import workload_from_dict
from jalapeno.hardware import chip_from_dict, chip_to_dict, resolve_chip
from jalapeno.hardware.arch import arch_from_dict, model
from jalapeno.hardware.arch.tech import library
from jalapeno.hardware.ranges import (
    DEFAULT_FACTOR,
    Estimated,
    chip_constants,
    default_range,
    library_constants,
    perturb,
    tco_constants,
    tco_values,
)

MAC_KEYS = [k for k in library() if k.startswith("mac_energy_pj.")]


@pytest.fixture(scope="module")
def short() -> Any:
    return workload_from_dict(SHORT)


@pytest.fixture(scope="module")
def fleets(short: Any) -> list[mc.Fleet]:
    return [
        mc.nominal_fleet("h200", resolve_chip("h200"), H200_FLEET, short),
        mc.nominal_fleet("jalapeno-1", resolve_chip("jalapeno-1"), J1_FLEET, short),
    ]


# ---------------------------------------------------------------- ranges in YAML


def test_a_figure_range_loads_and_round_trips() -> None:
    h200 = resolve_chip("h200")
    assert h200.price_usd is not None and h200.price_usd.range == (30000.0, 40000.0)
    assert chip_from_dict(chip_to_dict(h200), origin=h200.source_file) == h200


@pytest.mark.parametrize("rng", [[36000, 40000], [30000], ["a", 40000], [30000, float("inf")]])
def test_a_bad_range_names_its_field(rng: list[Any]) -> None:
    d = chip_to_dict(resolve_chip("h200"))
    d["price_usd"]["range"] = rng
    with pytest.raises(JalapenoError, match="lo <= value") as e:
        chip_from_dict(d)
    assert e.value.field == "price_usd.range"


def test_a_fraction_range_stays_below_one() -> None:
    from jalapeno.hardware.loader import _read, parse_yaml

    arch = resolve_chip("jalapeno-1").arch  # type: ignore[attr-defined]
    data = parse_yaml(*_read(arch.source_file))
    data["memory"]["efficiency"]["range"] = [0.7, 1.2]
    with pytest.raises(JalapenoError, match="fraction") as e:
        arch_from_dict(data)
    assert e.value.field == "memory.efficiency.range"


def test_library_ranges_stated_and_default() -> None:
    lib = {e.key: e for e in library_constants()}
    real = lib["tech:energy_realism.asic"]  # the library-to-silicon factor, up to Hopper's 4.4x check
    assert real.stated and (real.lo, real.value, real.hi) == pytest.approx((0.35, 1.0, 4.4))
    fp8 = lib["tech:mac_energy_pj.fp8"]  # secondary, no stated range: the default factor
    assert not fp8.stated and (fp8.lo, fp8.hi) == pytest.approx((0.25 / 1.25, 0.25 * 1.25))
    tco = {e.key: e for e in tco_constants()}
    assert (tco["tco:pue"].lo, tco["tco:pue"].hi) == (1.1, 1.58) and tco_values(
        {"tco:pue": 1.3, "tech:x": 1}
    ) == {"pue": 1.3}
    wafer = lib["tech:nodes.n3.wafer_usd"]  # secondary, no stated range: the default factor
    assert not wafer.stated and (wafer.lo, wafer.hi) == pytest.approx(
        (20000 / DEFAULT_FACTOR, 20000 * DEFAULT_FACTOR)
    )
    assert "tech:wafer.diameter_mm" not in lib  # a standard, not an estimate


def test_chip_constants_skip_design_choices_and_cap_fractions() -> None:
    j1 = {e.key: e for e in chip_constants(resolve_chip("jalapeno-1"))}
    assert (
        "jalapeno-1:clock_hz" not in j1 and "jalapeno-1:cores.vector.lanes" not in j1
    )  # secondary design choices
    lat = j1["jalapeno-1:runtime.kernel_overhead_s"]  # YAML 1.1 reads 2e-6 as a string: still a figure
    assert lat.stated and (lat.lo, lat.hi) == pytest.approx((5e-7, 4e-6))
    launch = j1["jalapeno-1:runtime.launch_s"]
    assert not launch.stated and (launch.lo, launch.hi) == pytest.approx((1e-7 / 1.25, 1.25e-7))
    gap = j1["jalapeno-1:runtime.token_bucket_gap"]  # a count: samples are whole numbers
    assert gap.whole and not lat.whole  # 64-512, powers of two: 64, 128, 256, 512 equally likely
    assert [gap.at(u) for u in (0.0, 0.24, 0.26, 0.6, 0.99)] == [64.0, 64.0, 128.0, 256.0, 512.0]
    odd = Estimated(
        "x", 3.0, 1.0, 9.0, True, "", ("x",), whole=True
    )  # not powers of two: log-uniform, rounded
    assert odd.at(0.5) == 3.0 and odd.at(0.99) == 9.0
    assert default_range("matrix_issue_efficiency", 0.9) == pytest.approx((0.72, 1.0))  # capped at 1
    assert default_range("latency_s", 0.9) == pytest.approx((0.72, 1.125))


# ---------------------------------------------------------------- perturbed chips


def test_perturb_rebuilds_without_touching_the_library() -> None:
    j1 = resolve_chip("jalapeno-1")
    before = dict(library())
    doubled = perturb(j1, {f"tech:{k}": library()[k].value * 2 for k in MAC_KEYS})
    assert library() == before
    a, b = model.pj_per_flop(j1.arch), model.pj_per_flop(doubled.arch)  # type: ignore[attr-defined]
    assert b["fp8"] == pytest.approx(2 * a["fp8"]) and b["bf16"] == pytest.approx(2 * a["bf16"])
    m0, m1 = (model.compute_scenario(c.arch)["matrix"].value for c in (j1, doubled))  # type: ignore[attr-defined]
    assert m1 == pytest.approx(2 * m0)  # the arrays' peak power doubles with their energy per MAC
    assert (
        perturb(j1, {"h200-sxm:price_usd": 1.0, "tech:nodes.n7.leakage_w_per_mm2": 1.0}) is j1
    )  # none applies
    h200 = resolve_chip("h200")
    assert perturb(h200, {"tech:mac_energy_pj.fp8": 1.0}) is h200  # a datasheet chip reads no library energy
    assert perturb(h200, {"h200-sxm:price_usd": 31000.0}).price_usd.value == 31000.0  # type: ignore[union-attr]


def test_a_design_point_without_a_file_takes_library_samples() -> None:
    from jalapeno.explore.design import build_arch
    from jalapeno.explore.space import load_space
    from jalapeno.explore.study import jalapeno1_design
    from jalapeno.hardware.arch import derive_chip

    chip = derive_chip(build_arch(load_space("coding-asic"), jalapeno1_design()["design"]))
    assert chip_constants(chip) == ()  # built in memory: no file of its own
    j1 = resolve_chip("jalapeno-1")
    a, b = perturb(chip, {"tech:mac_energy_pj.fp8": 0.5}), perturb(j1, {"tech:mac_energy_pj.fp8": 0.5})
    assert model.pj_per_flop(a.arch) == pytest.approx(model.pj_per_flop(b.arch))  # type: ignore[attr-defined]
    assert model.pj_per_flop(a.arch)["fp8"] == pytest.approx(2 * model.pj_per_flop(chip.arch)["fp8"])  # type: ignore[attr-defined]


def test_an_unbuildable_sample_serves_nothing(short: Any, fleets: list[mc.Fleet]) -> None:
    huge = {"tech:nodes.n3.defect_density_per_cm2": 1e6}  # no good die can be made
    out = mc.run_values(fleets, short, [huge], workers=1)
    assert out["jalapeno-1"][0]["feasible"] is False and out["jalapeno-1"][0]["goodput_per_watt"] == 0.0
    assert (
        "error" in out["jalapeno-1"][0] and out["h200"][0]["feasible"]
    )  # the datasheet chip reads no library


def test_a_costlier_paper_chip_serves_fewer_requests_per_joule(short: Any, fleets: list[mc.Fleet]) -> None:
    from jalapeno.explore.evaluate import evaluate_chip

    j1 = fleets[1]
    doubled = perturb(j1.chip, {f"tech:{k}": library()[k].value * 2 for k in MAC_KEYS})
    ev = evaluate_chip(doubled, J1_FLEET, short)
    assert ev.objectives["goodput_per_watt"] < 0.95 * j1.nominal.objectives["goodput_per_watt"]
    assert ev.metrics["ttft_p50_s"] >= j1.nominal.metrics["ttft_p50_s"]  # under its power limit DVFS slows it


# ---------------------------------------------------------------- sampling


def test_draws_are_seeded_log_uniform_and_per_constant() -> None:
    a = Estimated("a", 1.0, 0.5, 8.0, True, "", ("a",))
    b = Estimated("b", 2.0, 1.0, 4.0, True, "", ("b",))
    one, two = mc.draw([a, b], 4000, seed=3), mc.draw([a, b], 4000, seed=3)
    assert one == two and mc.draw([a, b], 4000, seed=4) != one
    assert [s["a"] for s in mc.draw([a], 4000, seed=3)] == [
        s["a"] for s in one
    ]  # b does not shift a's stream
    xs = np.array([s["a"] for s in one])
    assert xs.min() >= 0.5 and xs.max() <= 8.0
    assert np.median(xs) == pytest.approx(2.0, rel=0.08)  # log-uniform: median = sqrt(0.5 x 8)
    assert np.mean(np.log2(xs) < 0) == pytest.approx(0.25, abs=0.03)  # a quarter of log2 [-1, 3] is below 0


def test_monte_carlo_is_deterministic_and_ordered(short: Any, fleets: list[mc.Fleet]) -> None:
    consts = mc.constants_for([f.chip for f in fleets])
    a = mc.run(fleets, short, consts, samples=4, seed=7, workers=1)
    b = mc.run(fleets, short, consts, samples=4, seed=7, workers=1)
    assert a == b
    ratios = [
        x["goodput_per_watt"] / y["goodput_per_watt"] for x, y in zip(a["jalapeno-1"], a["h200"], strict=True)
    ]
    q = mc.quantiles(ratios)
    assert q["p10"] <= q["p50"] <= q["p90"] and q["p10"] < q["p90"]


def test_collapsed_ranges_give_the_point_estimate(short: Any, fleets: list[mc.Fleet]) -> None:
    consts = mc.collapsed(mc.constants_for([f.chip for f in fleets]))
    out = mc.run(fleets, short, consts, samples=2, seed=0, workers=1)
    for f in fleets:
        for s in out[f.ref]:
            assert s["goodput_per_watt"] == f.nominal.objectives["goodput_per_watt"]
            assert s["usd_per_mtok"] == f.nominal.objectives["usd_per_mtok"]


def test_a_dearer_datacenter_raises_every_chips_cost(short: Any, fleets: list[mc.Fleet]) -> None:
    h200 = fleets[0]
    base = {e.key: e.value for e in mc.constants_for([h200.chip])}
    hot = mc._repriced(h200, h200.chip, {**base, "tco:pue": 1.58})
    cold = mc._repriced(h200, h200.chip, base)
    assert cold["usd_per_mtok"] == h200.nominal.objectives["usd_per_mtok"]
    assert hot["usd_per_mtok"] > cold["usd_per_mtok"] and hot["goodput_per_watt"] == cold["goodput_per_watt"]


def test_a_resimulated_sample_takes_the_sampled_tco(short: Any, fleets: list[mc.Fleet]) -> None:
    j1 = fleets[1]
    base = {"jalapeno-1:runtime.kernel_overhead_s": 2e-6}  # a value in the chip's file: re-simulated
    cold = mc.sample_task("jalapeno-1", base, J1_FLEET.to_json(), SHORT)
    hot = mc.sample_task("jalapeno-1", {**base, "tco:pue": 1.58}, J1_FLEET.to_json(), SHORT)
    assert cold["usd_per_mtok"] == j1.nominal.objectives["usd_per_mtok"]
    assert hot["usd_per_mtok"] > cold["usd_per_mtok"] and hot["goodput_per_watt"] == cold["goodput_per_watt"]


def test_resize_grows_a_fleet_that_misses_the_slo() -> None:
    busy = {
        **SHORT,
        "trace": {**SHORT["trace"], "rate_scale": 8.0},
        "slo": {"ttft_s": 0.5, "tpot_s": 0.02, "attainment": 0.9},
    }
    fixed = mc.sample_task("jalapeno-1", {}, J1_FLEET.to_json(), busy)
    grown = mc.sample_task("jalapeno-1", {}, J1_FLEET.to_json(), busy, 4)
    assert not fixed["feasible"] and "replicas" not in fixed
    assert grown["feasible"] and grown["replicas"] == 2  # one more chip meets it
    assert grown["goodput_per_watt"] > fixed["goodput_per_watt"]
    none = mc.sample_task("jalapeno-1", {}, J1_FLEET.to_json(), busy, 1)  # the chip limit stops the growth
    assert none == fixed


# ---------------------------------------------------------------- the command


def test_compare_json_shape_and_collapse(short: Any) -> None:
    sweep = Sweep(tps=(1, 2), schedules=(("sarathi", 512, 0.5),), replicas=(1, 2), after_feasible=1)
    doc = compare(short, ["h200", "jalapeno-1"], samples=2, seed=0, workers=1, sweep=sweep, collapse=True)
    assert doc["workload"] == "azure-30s" and doc["reference"] == "h200-sxm"
    ref, j1 = doc["rows"]
    for row in (ref, j1):
        assert {
            "chip",
            "fleet",
            "goodput_per_watt",
            "usd_per_mtok",
            "ratio_goodput_per_watt",
            "ratio_usd_per_mtok",
        } <= set(row)
        assert set(row["ratio_goodput_per_watt"]) == {"p10", "p50", "p90"}
    assert ref["ratio_goodput_per_watt"] == {"p10": 1.0, "p50": 1.0, "p90": 1.0}
    point = j1["goodput_per_watt"] / ref["goodput_per_watt"]
    assert all(v == pytest.approx(point, rel=1e-12) for v in j1["ratio_goodput_per_watt"].values())
    assert j1["ratio_goodput_per_watt_point"] == pytest.approx(point, rel=1e-12)
    keys = {c["key"] for c in doc["constants"]}
    assert "tech:mac_energy_pj.fp8" in keys and "tco:pue" in keys and "h200-sxm:extra.cost.total_usd" in keys
    assert "h200-sxm:price_usd" not in keys  # the street price: not the default price rule's
    assert "tech:nodes.n7.wafer_usd" not in keys  # neither chip is on N7
    json.dumps(doc, allow_nan=False)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        # the option as typed (issue 13: one vocabulary of field names; these said "workload:" and "chip:"
        # before)
        (["--workload", "no-such-workload", "--chips", "h200"], "--workload"),
        (["--workload", "azure-code", "--chips", "h200,no-such-chip"], "--chips"),
        (["--workload", "azure-code", "--chips", "h200", "--samples", "0"], "--samples"),
        (["--workload", "azure-code", "--chips", "h200,h200-sxm"], "--chips"),
        (["--workload", "azure-code", "--chips", " , "], "--chips"),
    ],
)
def test_bad_input_is_one_error_line(capsys: pytest.CaptureFixture[str], args: list[str], field: str) -> None:
    assert main(["compare", *args, "--json"]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and cap.err.count("\n") == 1 and cap.err.startswith(f"error: {field}")


def test_ratio_of_an_unpriced_reference_is_null() -> None:
    from jalapeno.explore.headtohead import _quantiles, _ratio

    assert _ratio(1.0, 0.0) is None and _ratio(math.inf, 1.0) is None and _ratio(2.0, 4.0) == 0.5
    assert _quantiles([None, None]) is None
    assert _quantiles([1.0, None, 3.0]) == {"p10": 1.2, "p50": 2.0, "p90": 2.8}
