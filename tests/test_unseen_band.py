"""The unseen-chip band (``cost.unseen_band``; docs/compare.md, "Model error"): every published chip predicted
with its prior before any fit on its own rows, one median a chip, min-max across chips; a chip with no
published rows and no calibrated family samples it in ``compare`` like a GPU samples its own band."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from short_workload import H200_FLEET, J1_FLEET, SHORT

from jalapeno.cost import model_error as me
from jalapeno.cost import params as params_mod
from jalapeno.cost import published_fit as pf
from jalapeno.cost import unseen_band as ub
from jalapeno.cost.params import CostParams, chip_error_band, error_band_basis, params_for, unseen_chip_band
from jalapeno.cost.published import load_published
from jalapeno.explore import montecarlo as mc
from jalapeno.explore.workload import workload_from_dict
from jalapeno.hardware import resolve_chip
from jalapeno.hardware.ranges import Estimated

ROWS = load_published()
J1 = "model_error:jalapeno-1"


def _row(i: int, per_chip: float = 100.0) -> Any:
    base = next(r for r in ROWS if r.chip == "mi300x")
    return replace(base, id=f"synthetic-{i}", value=per_chip, n_chips=1)


def _fit(chip: str, prior: str, predicted: list[float | None]) -> pf.ChipFit:
    """A chip whose rows (published 100 tokens/s per chip each) the prior predicted as ``predicted``."""
    fit = pf.ChipFit(chip, CostParams(), "", pf.Split((), (), ()), prior=prior)
    fit.unseen = [pf.Checked(_row(i), p, False) for i, p in enumerate(predicted)]
    return fit


def _synthetic_band() -> ub.UnseenBand:
    """B200: 100 / (200, 125, 100) = 0.5, 0.8, 1.0, median 0.8; MI325X: 100 / 80 = 1.25; H100 (its own
    prior name: the H200's calibration, transferred): 100 / (400 / 3, 100 / 0.85) = 0.75, 0.85, median 0.8,
    and a row no replica fits (None) left out; the measured H200 has no unseen rows and stays out."""
    fits = [
        _fit("b200", "h200-sxm", [200.0, 125.0, 100.0]),
        _fit("mi325x", "mi300x", [80.0]),
        _fit("h100-sxm", "h100-sxm", [400.0 / 3, 100.0 / 0.85, None]),
        _fit("h200-sxm", "h200-sxm", []),
    ]
    band = ub.band_of_fits(fits)
    assert band is not None
    return band


def test_the_band_is_the_min_max_of_per_chip_medians() -> None:
    band = _synthetic_band()
    assert (band.lo, band.hi) == (pytest.approx(0.8), pytest.approx(1.25))
    assert [m.chip for m in band.moves] == ["b200", "h100-sxm", "mi325x"]
    assert [m.median for m in band.moves] == [pytest.approx(0.8), pytest.approx(0.8), pytest.approx(1.25)]
    # a chip with three rows counts once: pooled rows would put the band's bottom at B200's 0.5
    assert (band.rows_lo, band.rows_hi) == (pytest.approx(0.5), pytest.approx(1.25))
    assert band.moves[1].prior == "h200-sxm"  # the H100's parameters are the H200's
    doc = band.to_json("jalapeno calibrate --all --write")
    assert doc["chips"] == 3 and doc["rows"] == 6 and doc["command"] == "jalapeno calibrate --all --write"
    assert [r["ratio"] for r in doc["per_chip"][0]["rows"]] == pytest.approx([0.5, 0.8, 1.0])
    assert ub.unseen_band([None]) is None


def test_unseen_rows_are_predicted_with_the_prior_not_the_fit() -> None:
    """A toy predictor proportional to the fp8 matrix efficiency, on rows published at 0.8x what the prior
    predicts: the fit recovers compute 0.8 (fitted and held-out rows within 1%), while every row predicted
    under the prior reads published / predicted = 0.8 exactly."""
    chip, prior = resolve_chip("mi300x"), params_for("h200-sxm")
    e0 = pf.with_four_bit(prior).eff("fp8")
    mine = [r for r in ROWS if r.chip == "mi300x"]
    rows = [replace(r, value=r.n_chips * 1000.0 * (i + 1) * e0 * 0.8) for i, r in enumerate(mine)]
    scale = {r.id: 1000.0 * (i + 1) for i, r in enumerate(rows)}

    def predictor(row: Any, c: Any, p: CostParams) -> float:
        return scale[row.id] * p.eff("fp8")

    sel = ("v5.1/llama-2-70b/offline+interactive",)
    fit = pf.calibrate_chip(chip, rows, sel, prior, "h200-sxm", predictor, ("compute",))
    assert fit.knobs["compute"] == pytest.approx(0.8, rel=1e-3)
    assert fit.split.held_out and all(abs(c.error) < 0.01 for c in fit.checked)  # type: ignore[arg-type]
    assert [c.row.id for c in fit.unseen] == [c.row.id for c in fit.checked]
    assert all(c.row.per_chip / c.predicted == pytest.approx(0.8, rel=1e-12) for c in fit.unseen)  # type: ignore[operator]
    own = pf.calibrate_chip(resolve_chip("h200-sxm"), rows, sel, prior, "h200-sxm", predictor, ("compute",))
    assert own.unseen == []  # its own measurements: not a move to a new chip


def test_chips_without_a_band_of_their_own_or_a_family_take_the_band_of_what_they_run_on(
    tmp_path, monkeypatch
) -> None:
    """The synthetic band above, and a defaults band from two chips: 100 / (125, 200) = 0.8, 0.5 and
    100 / 80 = 1.25: medians 0.65 and 1.25."""
    defaults = (
        ub.ChipMove("h200-sxm", "defaults", (("a", 100.0, 125.0), ("b", 100.0, 200.0))),
        ub.ChipMove("mi300x", "defaults", (("c", 100.0, 80.0),)),
    )
    f = tmp_path / "unseen.json"
    ub.write_band(replace(_synthetic_band(), defaults=defaults), "jalapeno calibrate --all --write", f)
    monkeypatch.setattr(params_mod, "unseen_band_path", lambda: f)
    for chip in ("jalapeno-1", "my-architecture"):  # a paper chip: the unseen-chip band
        assert chip_error_band(chip) == (pytest.approx(0.8), pytest.approx(1.25))
        basis = error_band_basis(chip)
        assert basis is not None and basis[2].startswith("unseen-chip band: min-max of 3 chips'")
    for chip in ("tpu-v5e", "trainium2", "gaudi3", "groq-lpu", "a100-80gb-sxm"):  # on CostParams()
        spec = resolve_chip(chip)
        assert params_mod.runs_on_defaults(spec)
        b = params_mod.chip_band(spec)
        assert b is not None and (b[0], b[1]) == (pytest.approx(0.65), pytest.approx(1.25))
        assert b[2].startswith("defaults band: min-max of 2 chips'")
    assert not params_mod.runs_on_defaults(resolve_chip("jalapeno-1"))  # timed by its mapper
    assert not params_mod.runs_on_defaults(resolve_chip("h100"))  # the H200's calibration, transferred
    assert chip_error_band("h200-sxm") != chip_error_band("jalapeno-1")  # its own held-out rows
    fam = params_mod.chip_band(resolve_chip("b300"))  # a family prior keeps its family's band
    assert fam is not None and "family prior: b200's band" in fam[2]
    monkeypatch.setattr(params_mod, "unseen_band_path", lambda: tmp_path / "none.json")
    assert chip_error_band("tpu-v5e", True) is None and unseen_chip_band() is None


def test_the_bundled_band_records_its_chips_rows_and_command() -> None:
    doc = unseen_chip_band()
    assert doc is not None and doc["command"].startswith("jalapeno calibrate --all --write")
    medians = [c["median"] for c in doc["per_chip"]]
    assert (doc["lo"], doc["hi"]) == (min(medians), max(medians))
    assert "h200-sxm" not in {c["chip"] for c in doc["per_chip"]}  # measured on itself
    dflt = doc["defaults_band"]  # nothing was fitted to the defaults: every published chip, the H200 too
    assert "h200-sxm" in {c["chip"] for c in dflt["per_chip"]}
    assert (dflt["lo"], dflt["hi"]) == (
        min(c["median"] for c in dflt["per_chip"]),
        max(c["median"] for c in dflt["per_chip"]),
    )
    assert doc["rows"] == sum(c["n"] for c in doc["per_chip"]) == sum(len(c["rows"]) for c in doc["per_chip"])
    for c in doc["per_chip"]:
        ratios = [r["published_per_chip"] / r["predicted_per_chip"] for r in c["rows"]]
        assert c["median"] == pytest.approx(float(np.median(ratios)), rel=1e-12)


# ---------------------------------------------------------------- in compare


def test_a_paper_chip_gets_a_model_error_constant_of_its_own() -> None:
    doc = unseen_chip_band()
    assert doc is not None
    h200, j1, tpu = resolve_chip("h200"), resolve_chip("jalapeno-1"), resolve_chip("tpu-v6e")
    consts = {e.key: e for e in mc.constants_for([h200, j1, tpu])}
    e = consts[J1]
    assert (e.value, e.lo, e.hi, e.stated) == (1.0, doc["lo"], doc["hi"], True)
    assert "unseen-chip band" in e.source and "unseen-chip-band.json" in e.source
    assert "mapper" in e.source
    t = consts["model_error:tpu-v6e"]  # a datasheet preset on the default parameters: the defaults band
    assert (t.lo, t.hi) == (doc["defaults_band"]["lo"], doc["defaults_band"]["hi"])
    assert "defaults band" in t.source and "default" in t.source.split("parameters:")[1]
    assert me.parameters_from("jalapeno-1") == "jalapeno-1"  # its own stream
    assert J1 in mc.relevant(list(consts.values()), j1)
    assert J1 not in mc.relevant(list(consts.values()), h200)


def test_the_band_widens_the_ratio_range_on_the_same_draws() -> None:
    """The same four draws of a shared constant (PUE), with and without the paper chip's band: without it
    the goodput/W ratio does not move (PUE prices both sides alike); with it each sample's ratio moves with
    the paper chip's sampled factor. On this short, lightly loaded slice a slower chip batches more and
    spends slightly less energy (within 2% at 0.85); at 0.69 its one-chip fleet misses the SLO (about 0.65
    attainment) and its goodput per watt falls by a third or more."""
    short = workload_from_dict(SHORT)
    fleets = [
        mc.nominal_fleet("h200", resolve_chip("h200"), H200_FLEET, short),
        mc.nominal_fleet("jalapeno-1", resolve_chip("jalapeno-1"), J1_FLEET, short),
    ]
    band = Estimated(J1, 1.0, 0.6, 1.3, True, "", ("jalapeno-1",))
    pue = Estimated("tco:pue", 1.3, 1.1, 1.6, True, "", ("pue",))
    draws = mc.draw([band, pue], 4, seed=2)  # factors 0.694, 0.927, 0.764, 0.694
    without = [{k: v for k, v in d.items() if k != J1} for d in draws]

    def ratios(ds: list[dict[str, float]]) -> list[float]:
        out = mc.run_values(fleets, short, ds, workers=1)
        return [
            j["goodput_per_watt"] / h["goodput_per_watt"]
            for h, j in zip(out["h200"], out["jalapeno-1"], strict=True)
        ]

    a, b = ratios(without), ratios(draws)
    assert max(a) - min(a) < 1e-9 * max(a)  # no band: one ratio
    assert [round(d[J1], 3) for d in draws] == [0.694, 0.927, 0.764, 0.694]
    assert max(b) - min(b) > 0.3 * a[0]  # the band opens the range
    for r, d in zip(b, draws, strict=True):
        assert r < 0.67 * a[0] if d[J1] < 0.7 else abs(r / a[0] - 1) < 0.05
    assert b == ratios(draws)  # seeded: the same draws, the same figures


def test_the_paper_chips_step_oracle_is_scaled_with_its_own_static_power() -> None:
    """The paper chip's replica is a cost-model oracle timed by its mapper: the scaling wraps it, stretches a
    step by 1 / f and charges the architecture's own busy static power over the time added."""
    from jalapeno.explore.evaluate import build_oracle
    from jalapeno.mapping import cost_params_for
    from jalapeno.serving.oracle import StepShape

    chip = resolve_chip("jalapeno-1")
    o = build_oracle(chip, 1, workload_from_dict(SHORT))
    prm = cost_params_for(chip)
    assert o.est.custom_timer and prm is not None and o.est.params.active_static_w == prm.active_static_w > 0
    static_w, cap_w = me.replica_power_w(o)
    assert static_w == pytest.approx(o.est.idle_w + prm.active_static_w) and cap_w == o.est.tdp_w
    shape = StepShape(decode_seqs=8, decode_context=2000)
    base, slow = o.step(shape), me.scaled(o, 0.8).step(shape)
    assert slow.time_s == pytest.approx(base.time_s / 0.8, rel=1e-12)
    added = base.time_s / 0.8 - base.time_s
    expected = min(base.energy_j + static_w * added, cap_w * slow.time_s)
    assert slow.energy_j == pytest.approx(expected, rel=1e-12)
