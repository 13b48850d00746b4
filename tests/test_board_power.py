"""Board-level power of chips on paper, physical limits, and the technology library's ranges."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from jalapeno.errors import JalapenoError
from jalapeno.explore.evaluate import chip_checks
from jalapeno.hardware.arch import arch_from_dict, board, derive_chip, model, resolve_arch, sheet
from jalapeno.hardware.arch.physical import violations
from jalapeno.hardware.arch.spec import Power
from jalapeno.hardware.arch.tech import Technology, library, parse_range, ranges

PRESETS = Path(__file__).resolve().parents[1] / "src/jalapeno/hardware/presets/arch"
T3 = Technology("n3")


def _jalapeno(**memory: float) -> object:
    d = yaml.safe_load((PRESETS / "jalapeno-1.yaml").read_text())
    for k, v in memory.items():
        d["memory"][k]["value"] = v
    return arch_from_dict(d, origin="j.yaml")


def test_idle_of_jalapeno1_by_hand() -> None:
    """Idle = leakage x 0.35 + 4 HBM3E x 1.4 W + 4 PHYs x 0.6 W + 16 lanes x 0.25 W + 15 W, through the
    regulators."""
    a = resolve_arch("jalapeno-1")
    s = sheet(a)
    area = s.area["total"].value
    die = 0.12 * area * 0.35 + 4 * 1.4 + 4 * 0.6 + 16 * 0.25 + 15
    rated = s.power["total"].value * board.vrm_efficiency(1.0, T3)
    x = die / rated
    eff = x / (x + 0.006 + 0.06 * x + 0.05 * x * x)
    assert model.idle_w(a, area).value == pytest.approx(die / eff)
    assert derive_chip(a).idle_w.value == pytest.approx(die / eff)  # what the cost model charges
    assert 40 < die / eff < 60  # was 37 W of leakage alone


def test_busy_floor_feeds_the_cost_model() -> None:
    from jalapeno.mapping import cost_params_for

    chip = derive_chip(resolve_arch("jalapeno-1"))
    prm = cost_params_for(chip)
    assert prm is not None
    floor = chip.extra["power.active_static_w"].value
    assert prm.active_static_w == pytest.approx(floor) and floor > 30  # was 0 W


def _with_realism(name: str, x: float) -> object:
    from types import MappingProxyType

    from jalapeno.hardware.spec import Figure

    a = resolve_arch(name)
    over = {**a.technology, f"energy_realism.{a.kind}": Figure(x, "test", True)}
    return replace(a, technology=MappingProxyType(over))


def test_tdp_is_the_sum_of_compute_memory_and_links() -> None:
    """Uncapped (TPU v5e at the library's energies): TDP = (compute + DRAM + NoC + links) / (1 - clock share)
    + static, / eff(1). (Pinned at 1.0 so the sum holds whatever the kind's point.)"""
    a = _with_realism("tpu-v5e-arch", 1.0)
    p = sheet(a).power
    comp = sum(v.value for v in model.compute_scenario(a).values())
    mem = model.memory_scenario(a)
    dyn = comp + mem["dram"].value + mem["noc"].value + p["links"].value
    static = sum(v.value for k, v in model.static_power(a, sheet(a).area["total"].value).items())
    eff = board.vrm_efficiency(1.0, Technology("n5"))
    assert p["total"].value == pytest.approx((dyn / (1 - 0.3) + static) / eff)
    assert p["total"].value == pytest.approx(sum(v.value for k, v in p.items() if k != "total"))
    assert p["total"].value > comp / (1 - 0.3) + static  # more than the compute scenario alone


@given(st.floats(0.0, 2.0), st.floats(1.0, 2000.0))
def test_regulators_lose_power(x: float, rated: float) -> None:
    eff = board.vrm_efficiency(x, T3)
    assert 0 < eff < 1
    die = x * rated
    assert board.through_vrm(die, rated, T3) >= die


def test_regulator_curve_shape() -> None:
    e = {x: board.vrm_efficiency(x, T3) for x in (0.05, 0.1, 0.5, 1.0)}
    assert e[0.05] < e[0.1] < e[0.5] and e[1.0] < e[0.5]  # light-load and I^2 R losses
    assert 0.85 < e[1.0] < 0.92


def test_measured_chip_keeps_its_board_figures() -> None:
    a = resolve_arch("h100-sxm-arch")
    chip = derive_chip(a)
    assert chip.idle_w is not None and chip.idle_w.value == pytest.approx(78.8)
    assert chip.tdp_w.value == pytest.approx(700) and "vrm_loss" not in sheet(a).power


def _board_check() -> object:
    path = Path(__file__).resolve().parents[1] / "scripts/board_check.py"
    spec = importlib.util.spec_from_file_location("board_check", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_h100_generic_idle_and_mean_step_power_within_15pct() -> None:
    """The H100 architecture without its measured power section (generic constants only). Idle is out of
    sample; the mean step power is in sample for ``energy_realism`` (fitted on these steps)."""
    rows = {r["row"]: r for r in _board_check().rows()}  # type: ignore[attr-defined]
    assert abs(rows["idle (measured on H200)"]["ratio"] - 1) <= 0.15
    assert abs(rows["mean over the steps"]["ratio"] - 1) <= 0.15


def test_h100_generic_busy_static_within_15pct() -> None:
    """Out of sample: the busy floor's one fitted constant comes from the A100 (boardfit.FLOOR_ROWS)."""
    rows = {r["row"]: r for r in _board_check().rows()}  # type: ignore[attr-defined]
    assert abs(rows["busy static: idle + active static"]["ratio"] - 1) <= 0.15


def test_busy_floor_of_h100_by_hand() -> None:
    """Floor at the die = 0.49 x 0.12 W/mm2 x area (clock-up) + 5 HBM3 x 2.0 W + 6 PHYs x 1.2 W; no share of
    the full-activity clock power (that was 112 W on its own)."""
    a = replace(resolve_arch("h100-sxm-arch"), power=Power())
    area = sheet(a).area["total"].value
    f = board.floor_terms(a, Technology("n4"), area)
    assert set(f) == {"clock_up", "dram_active_standby", "phy_active"}
    assert f["clock_up"].value == pytest.approx(0.49 * 0.12 * area)
    assert board.total(f) == pytest.approx(0.49 * 0.12 * area + 5 * 2.0 + 6 * 1.2)
    assert 50 < model.active_static_w(a, area).value < 80  # measured: 59.1 W on the H200


def test_floor_ratio_fits_the_a100_and_predicts_the_h100() -> None:
    """The A100's clock-up rise (26.3 W) fits the ratio; the H100's (49.9 W, not fitted) lands within 10%."""
    from jalapeno.hardware.arch.boardfit import FLOOR_ROWS, floor_fit, floor_ratio

    k = floor_fit()
    assert k == pytest.approx(library()["board.clock_up_leakage_ratio"].value, abs=0.01)
    h100 = next(r for r in FLOOR_ROWS if r.chip.startswith("H100"))
    assert h100.role == "check" and abs(floor_ratio(h100) / k - 1) < 0.1
    lo, hi = ranges()["board.clock_up_leakage_ratio"]
    l40s = next(r for r in FLOOR_ROWS if r.chip == "L40S")
    assert lo < k < floor_ratio(l40s) <= hi + 0.01  # the L40S bound includes its GDDR6 clocking up


def test_regulators_invert_on_the_floor_rows() -> None:
    """The die-side rise, put back through the regulators, draws the measured board rise."""
    from jalapeno.hardware.arch.boardfit import FLOOR_ROWS, _die_rise

    r = FLOOR_ROWS[0]
    t = Technology(r.node)
    x = _die_rise(r, t)
    rated = r.tdp_w * board.vrm_efficiency(1.0, t)
    idle = r.idle_w * board.vrm_efficiency(r.idle_w / r.tdp_w, t)
    drawn = board.through_vrm(idle + x, rated, t) - board.through_vrm(idle, rated, t)
    assert drawn == pytest.approx(r.rise_w)
    assert x < r.rise_w


@pytest.mark.parametrize(
    "name", ["h100-sxm-arch", "tpu-v5e-arch", "trainium2-arch", "groq-lpu-arch", "jalapeno-1"]
)
def test_real_chips_pass_physical_checks(name: str) -> None:
    assert violations(resolve_arch(name)) == []


def test_eight_stacks_on_a_small_die_do_not_fit() -> None:
    crowded = _jalapeno(devices=8, sites=8)
    assert model.area(crowded)["total"].value < 400
    reasons = violations(crowded)  # type: ignore[arg-type]
    assert any(r.startswith("beachfront") for r in reasons)
    assert any(r.startswith("physical: beachfront") for r in chip_checks(derive_chip(crowded), {}))  # type: ignore[arg-type]
    six = violations(_jalapeno(devices=6, sites=6))  # type: ignore[arg-type]
    assert any(r.startswith("beachfront") for r in six)


def test_paper_chip_above_the_cooling_limit_runs_under_dvfs() -> None:
    a = resolve_arch("jalapeno-1")
    p = sheet(a).power
    assert "cooling limit" in p["total"].formula
    area = sheet(a).area["total"].value
    from jalapeno.hardware.arch.physical import die_power_w

    assert die_power_w(a, area, p) / area == pytest.approx(1.0)


def test_estimated_constants_carry_ranges() -> None:
    lib, spans = library(), ranges()
    for k in lib:
        estimated = k.startswith(("board.", "physical.", "energy_realism.")) and k != "physical.reticle_mm2"
        if estimated:
            lo, hi = spans[k]
            assert lo <= lib[k].value <= hi, k
    assert Technology("n3").range("board.misc_w") == (8, 25)
    assert Technology("n3").range("physical.reticle_mm2") == (858, 858)  # defined, not estimated


def test_bad_range_is_an_error() -> None:
    with pytest.raises(JalapenoError, match="range"):
        parse_range([3, 1], 2.0, "x")
    with pytest.raises(JalapenoError, match="range"):
        parse_range([1], 1.0, "x")
    assert parse_range([1, 3], 2.0, "x") == (1.0, 3.0)


def test_removing_power_section_uses_generic_board() -> None:
    a = replace(resolve_arch("h100-sxm-arch"), power=Power())
    p = sheet(a).power
    assert "vrm_loss" in p and "leakage_idle" in p


def test_explore_marks_a_crowded_design_infeasible(tmp_path: Path) -> None:
    """Four HBM stacks on an 8-core die: the beachfront does not fit, so explore never serves it."""
    from test_explore_helpers import write_files

    from jalapeno.explore.evaluate import evaluate_design
    from jalapeno.explore.space import load_space
    from jalapeno.explore.workload import resolve_workload

    s, w = write_files(tmp_path)
    space, work = load_space(str(s)), resolve_workload(str(w))
    base = {"cores.count": 8, "cores.matrix.rows": 64, "tp": 1, "replicas": 1, "scheduler": "sarathi"}
    crowded = evaluate_design(space, {**base, "memory.devices": 4}, work)
    assert not crowded.feasible
    assert any(r.startswith("physical: beachfront") for r in crowded.reasons), crowded.reasons
    assert crowded.metrics["die_area_mm2"] < 200


def test_energy_realism_range_covers_the_fit_rows() -> None:
    """The TDP rows (not Hopper) all land below 1 and the library range starts at or below the lowest."""
    from jalapeno.hardware.arch.boardfit import fits

    rows = fits()
    assert {f.chip for f in rows} == {"a100-80gb-sxm", "b200", "mi300x", "groq-lpu-arch"}
    assert all(0.3 < f.realism < 1.0 for f in rows)
    lo, hi = ranges()["energy_realism.gpu"]
    assert lo <= min(f.realism for f in rows) and hi == pytest.approx(4.4)


def test_energy_realism_point_is_the_hopper_step_fit() -> None:
    """The one constant fitted in sample on Hopper: its point is board_check's fit (mean step ratio 1)."""
    x = _board_check().fit_realism()  # type: ignore[attr-defined]
    assert library()["energy_realism.gpu"].value == pytest.approx(x, abs=0.01)
    assert library()["energy_realism.lpu"].value == 1.0  # Groq's fixed-clock TDP row: not transferred
