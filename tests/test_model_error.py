"""The chips' model-error bands as Monte Carlo constants (``cost.model_error``; docs/compare.md, "Model
error"): the band is the published one, draws stay in it and are seeded, a chip on another's parameters
shares its quantile, a factor f makes every step 1/f as long with the static power paid over it, f = 1
reproduces the nominal figures bit for bit, and a wider band gives a wider range."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from short_workload import H200_FLEET, SHORT

from jalapeno.cost import model_error as me
from jalapeno.cost.params import bands_path
from jalapeno.explore import montecarlo as mc
from jalapeno.explore.evaluate import evaluate_chip
from jalapeno.explore.workload import workload_from_dict
from jalapeno.hardware import resolve_chip
from jalapeno.hardware.ranges import Estimated
from jalapeno.serving import simulate
from jalapeno.serving.analytic import AffineOracle
from jalapeno.serving.oracle import StepShape
from jalapeno.workload.request import Request

BANDS = json.loads(bands_path().read_text())
H200 = "model_error:h200-sxm"


@pytest.fixture(scope="module")
def short() -> Any:
    return workload_from_dict(SHORT)


@pytest.fixture(scope="module")
def h200(short: Any) -> mc.Fleet:
    return mc.nominal_fleet("h200", resolve_chip("h200"), H200_FLEET, short)


# ---------------------------------------------------------------- the constants


def test_a_band_is_the_published_one_with_nominal_one_and_its_origin() -> None:
    e = me.band_constant("h200-sxm")
    assert e is not None and e.key == H200 and e.value == 1.0 and e.stated
    assert (e.lo, e.hi) == (BANDS["h200-sxm"]["lo"], BANDS["h200-sxm"]["hi"])
    assert "held-out published rows (15)" in e.source and "measured" in e.source
    prior = me.band_constant("b300")
    assert prior is not None and "family prior" in prior.source
    b200 = BANDS["b200"]
    assert (prior.lo, prior.hi) == pytest.approx((b200["lo"] / 1.25, b200["hi"] * 1.25))
    paper = me.band_constant("jalapeno-1")  # no published rows, no family: the unseen-chip band
    assert paper is not None and "unseen-chip band" in paper.source


def test_compare_constants_carry_each_gpus_band_and_only_its_own_moves_it() -> None:
    h200, j1 = resolve_chip("h200"), resolve_chip("jalapeno-1")
    consts = mc.constants_for([h200, j1])
    keys = [e.key for e in consts]
    assert H200 in keys and "model_error:jalapeno-1" in keys  # the paper chip's: the unseen-chip band
    assert keys == sorted(keys)
    b200 = mc.constants_for([resolve_chip("b200")])
    assert H200 in mc.relevant(consts, h200)
    assert H200 not in mc.relevant(consts, j1)
    assert "model_error:jalapeno-1" in mc.relevant(consts, j1)
    assert "model_error:jalapeno-1" not in mc.relevant(consts, h200)
    assert "model_error:b200" not in mc.relevant(b200, h200)


def test_draws_stay_in_the_band_are_seeded_and_shared_by_a_transferred_calibration() -> None:
    consts = [c for c in (me.band_constant(n) for n in ("h200-sxm", "h100-sxm", "b200", "mi355x")) if c]
    one, two = mc.draw(consts, 500, seed=5), mc.draw(consts, 500, seed=5)
    assert one == two and mc.draw(consts, 500, seed=6) != one
    for e in consts:
        xs = np.array([s[e.key] for s in one])
        assert xs.min() >= e.lo and xs.max() <= e.hi
    # one held-out row is no range: its band joins the MI300X family's widened band, so the draws spread
    mi = BANDS["mi355x"]
    assert mi["n"] == 1 and mi["lo"] < 0.75 and mi["hi"] > 1.5 and "fewer than 3" in mi["basis"]
    assert len({s["model_error:mi355x"] for s in one}) > 1

    def quantile(e: Estimated, x: float) -> float:
        return math.log(x / e.lo) / math.log(e.hi / e.lo)

    h200, h100, b200 = consts[:3]
    for s in one:  # the H100 runs the H200's measured efficiencies: the same quantile of its own band
        assert quantile(h100, s[h100.key]) == pytest.approx(quantile(h200, s[h200.key]), abs=1e-12)
    b300 = me.band_constant("b300")
    assert b300 is not None
    for s in mc.draw([b200, b300], 50, seed=5):  # no published rows of its own: the B200's fitted prior
        assert quantile(b300, s[b300.key]) == pytest.approx(quantile(b200, s[b200.key]), abs=1e-12)
    assert me.parameters_from("gb200-nvl72") == "gb200-nvl72"  # fitted on its own rows: its own stream
    qs = np.array([[quantile(h200, s[h200.key]), quantile(b200, s[b200.key])] for s in one])
    assert abs(np.corrcoef(qs.T)[0, 1]) < 0.15  # the B200's own fit: an independent stream


# ---------------------------------------------------------------- the physics


def test_a_factor_stretches_the_step_and_charges_static_power_for_the_time() -> None:
    """A step of t = 10 ms at 600 W (6 J) whose chip is 0.8x the model's: 12.5 ms, the same work (6 J at
    600 W for 10 ms) plus the 100 W static power for the 2.5 ms added: 6.25 J. At 2x, 5 ms: 6 J - 0.5 J =
    5.5 J, over a 1,000 W limit x 5 ms = 5 J: capped at 5 J."""
    inner = AffineOracle(fixed_s=0.01, per_token_s=0.0, busy_power_w=600.0, idle_power_w=100.0)
    shape = StepShape(decode_seqs=8, decode_context=4000)
    assert me.replica_power_w(inner) == (100.0, math.inf)
    slow = me.scaled(inner, 0.8).step(shape)
    assert slow.time_s == pytest.approx(0.0125, rel=1e-12) and slow.energy_j == pytest.approx(6.25, rel=1e-12)
    fast = me.ScaledOracle(inner, 2.0, 100.0, cap_w=1000.0).step(shape)
    assert fast.time_s == pytest.approx(0.005, rel=1e-12) and fast.energy_j == pytest.approx(5.0, rel=1e-12)
    assert me.ScaledOracle(inner, 2.0, 100.0).step(shape).energy_j == pytest.approx(5.5, rel=1e-12)
    assert me.scaled(inner, 1.0) is inner
    with pytest.raises(ValueError, match="positive"):
        me.ScaledOracle(inner, 0.0)


def test_a_cost_model_replica_pays_its_calibrated_static_power() -> None:
    from jalapeno.explore.evaluate import build_oracle

    o = build_oracle(resolve_chip("h200"), 2, workload_from_dict(SHORT))
    static_w, cap_w = me.replica_power_w(o)
    prm = o.est.params
    assert prm.active_static_w > 0  # the H200's calibration measured it
    assert static_w == pytest.approx(2 * (o.est.idle_w + prm.active_static_w)) and cap_w == 2 * o.est.tdp_w


def test_a_saturated_replica_serves_f_times_the_throughput() -> None:
    """Hand check: every request queued at t = 0 and one replica, so the schedule is the same step sequence
    whatever the step times and the replica never idles: a factor f divides the duration D by f, and the
    energy E gains the static power over the time added, E + P_static x (D / f - D)."""
    reqs = [Request(i, 0.0, 300 + 37 * i, 40 + 11 * i) for i in range(24)]
    inner = AffineOracle(fixed_s=0.005, per_token_s=1e-5, busy_power_w=500.0, idle_power_w=100.0)
    base = simulate(reqs, inner, max_num_seqs=8)
    for f in (0.5, 0.8, 1.3):
        r = simulate(reqs, me.scaled(inner, f), max_num_seqs=8)
        assert r.duration_s == pytest.approx(base.duration_s / f, rel=1e-9)
        added = base.duration_s / f - base.duration_s
        assert r.energy_j == pytest.approx(base.energy_j + 100.0 * added, rel=1e-9)
        assert r.throughput_tokens_per_s == pytest.approx(base.throughput_tokens_per_s * f, rel=1e-9)


# ---------------------------------------------------------------- through the Monte Carlo


def test_a_nominal_factor_reproduces_the_nominal_figures_exactly(
    short: Any, h200: mc.Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = mc.run_values([h200], short, [{H200: 1.0}], workers=1)["h200"][0]
    assert out["goodput_per_watt"] == h200.nominal.objectives["goodput_per_watt"]
    assert out["usd_per_mtok"] == h200.nominal.objectives["usd_per_mtok"]
    # through the wrapper itself at 1.0 (not the short cut around it): not one bit moves
    monkeypatch.setattr(me, "scaled", lambda o, f: me.ScaledOracle(o, f, *me.replica_power_w(o)))
    wrapped = evaluate_chip(h200.chip, H200_FLEET, short, throughput_factor=1.0)
    assert dict(wrapped.objectives) == dict(h200.nominal.objectives)


def test_a_wider_band_gives_a_wider_range(short: Any, h200: mc.Fleet) -> None:
    """Two bands, log-symmetric about 1, drawn from the same stream (the same u): the wide one's factor is the
    narrow one's raised to log 2 / log 1.1 (about 7.3), so each sample is further from nominal and the
    goodput/W spread is wider."""
    narrow = Estimated(H200, 1.0, 1 / 1.1, 1.1, True, "", ("h200-sxm",))
    wide = Estimated(H200, 1.0, 0.5, 2.0, True, "", ("h200-sxm",))
    a = mc.run([h200], short, [narrow], samples=4, seed=2, workers=1)["h200"]
    b = mc.run([h200], short, [wide], samples=4, seed=2, workers=1)["h200"]
    fa = [s[H200] for s in mc.draw([narrow], 4, 2)]
    fb = [s[H200] for s in mc.draw([wide], 4, 2)]
    assert fb == pytest.approx([x ** (math.log(2) / math.log(1.1)) for x in fa], rel=1e-9)
    ga, gb = ([s["goodput_per_watt"] for s in runs] for runs in (a, b))
    assert max(gb) - min(gb) > max(ga) - min(ga) > 0
    nominal = h200.nominal.objectives["goodput_per_watt"]
    assert all(x["feasible"] for x in a)  # within 10% the one-replica fleet still meets the SLO
    for f, x in zip(fb, b, strict=True):  # a chip 0.7x the model's misses it and serves far less per watt
        assert f > 0.7 or (not x["feasible"] and x["goodput_per_watt"] < 0.5 * nominal)


def test_compare_lists_the_band_and_its_json_is_byte_identical_for_a_seed(short: Any) -> None:
    from jalapeno.explore.compare import Sweep
    from jalapeno.explore.headtohead import compare

    sweep = Sweep(tps=(2,), schedules=(("sarathi", 512, 0.5),), replicas=(1,), after_feasible=1)
    one, two = (
        json.dumps(compare(short, ["h200"], samples=3, seed=4, workers=1, sweep=sweep), sort_keys=True)
        for _ in range(2)
    )
    assert one == two
    doc = json.loads(one)
    band = next(c for c in doc["constants"] if c["key"] == H200)
    assert (band["value"], band["lo"], band["hi"]) == (1.0, BANDS["h200-sxm"]["lo"], BANDS["h200-sxm"]["hi"])
    assert band["range_basis"] == "stated" and "held-out published rows (15)" in band["source"]
    assert "model_error" in doc["sampling"]


def test_a_level_is_simulated_once_and_priced_like_a_direct_sample(short: Any, h200: mc.Fleet) -> None:
    """Model errors take at most ERROR_LEVELS values (slice middles of the band), so one simulation per level
    serves every sample at it; a sample priced from the level equals the same sample run on its own."""
    band = Estimated(H200, 1.0, 0.8, 1.25, True, "", ("h200-sxm",))
    draws = mc.draw([band], 64, 5)
    levels = sorted({d[H200] for d in draws})
    assert len(levels) <= mc.ERROR_LEVELS
    expected = [band.at((k + 0.5) / mc.ERROR_LEVELS) for k in range(mc.ERROR_LEVELS)]
    assert all(any(x == pytest.approx(e, rel=1e-12) for e in expected) for x in levels)
    values = {H200: levels[0], "tco:pue": 1.4}
    via_level = mc.run_values([h200], short, [values], workers=1)["h200"][0]
    direct = mc.sample_task("h200", values, H200_FLEET.to_json(), SHORT, 0)
    assert via_level["goodput_per_watt"] == pytest.approx(direct["goodput_per_watt"], rel=1e-12)
    assert via_level["usd_per_mtok"] == pytest.approx(direct["usd_per_mtok"], rel=1e-12)
    assert via_level["feasible"] == direct["feasible"]
