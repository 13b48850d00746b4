"""Published-results dataset, the source split, the fit and the error bands (jalapeno calibrate)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from jalapeno.cli import main
from jalapeno.cost import params as params_mod
from jalapeno.cost import published_fit as pf
from jalapeno.cost.params import chip_error_band, params_for
from jalapeno.cost.published import (
    KNOWN_CHIPS,
    KNOWN_MODELS,
    WORKLOADS,
    benchmark_of,
    check_row,
    load_published,
)
from jalapeno.cost.scenario import precision_of, predict
from jalapeno.errors import JalapenoError
from jalapeno.hardware.registry import resolve_chip
from jalapeno.models.registry import resolve_model

ROWS = load_published()


def _row(**kw: object):
    base = next(
        r
        for r in ROWS
        if r.chip == "mi300x" and r.round == "v5.1" and r.scenario == "offline" and r.model == "llama-2-70b"
    )
    return replace(base, **kw)


# -- the dataset ------------------------------------------------------------------------------------
def test_every_bundled_row_is_sourced_and_known() -> None:
    assert len(ROWS) >= 40
    assert len({r.id for r in ROWS}) == len(ROWS)
    for r in ROWS:
        if r.source.startswith("mlperf"):
            assert r.url.startswith("https://github.com/mlcommons/inference_results_v")
            assert r.date in ("2024-08-28", "2025-09-09")
        else:  # vendor tables: a URL pinned to the commit read, fixed lengths and the TP the vendor ran
            assert "/blob/" in r.url and r.scenario == "fixed" and r.isl and r.osl and r.tp == r.n_chips
        assert r.value > 0 and r.per_chip == pytest.approx(r.value / r.n_chips)
        assert (
            r.chip in KNOWN_CHIPS
            and r.model in KNOWN_MODELS
            and (benchmark_of(r.model) in WORKLOADS or r.scenario == "fixed")
        )


def test_dataset_covers_the_shipping_chips_and_scenarios() -> None:
    chips = {r.chip for r in ROWS}
    assert {"h100-sxm", "h200-sxm", "b200", "mi300x", "mi325x", "mi355x"} <= chips
    assert {r.scenario for r in ROWS} == {"offline", "server", "interactive", "fixed"}
    # MLCommons v5.1 AMD 8xMI300X Llama-2-70B offline, 27,803.9 tokens/s (summary_results.json, ID 5.1-0001)
    assert _row().value == pytest.approx(27803.9) and _row().per_chip == pytest.approx(3475.49, rel=1e-4)


@pytest.mark.parametrize(
    ("bad", "what"),
    [
        ({"url": "github.com/x"}, "url"),
        ({"value": 0.0}, "value"),
        ({"chip": "h300"}, "unknown chip"),
        ({"model": "gpt-5"}, "unknown model"),
        ({"date": "2025/09/09"}, "date"),
        ({"scenario": "batch"}, "scenario"),
    ],
)
def test_bad_rows_are_refused(bad: dict, what: str) -> None:
    with pytest.raises(JalapenoError, match=what):
        check_row(_row(**bad))


# -- the split ----------------------------------------------------------------------------------------
def test_selectors_match_by_round_model_and_scenario() -> None:
    r = _row()
    assert pf.matches(r, "v5.1/llama-2-70b/offline+interactive") and pf.matches(r, "*/*/offline")
    assert not pf.matches(r, "v4.1/llama-2-70b/offline") and not pf.matches(r, "v5.1/*/server")
    with pytest.raises(JalapenoError, match="ROUND/MODEL/SCENARIO"):
        pf.matches(r, "v5.1-offline")


def test_default_split_fits_newest_llama2_offline_and_interactive_only() -> None:
    sel = pf.default_selectors(ROWS, "mi300x")
    assert sel == ("v5.1/llama-2-70b/offline+interactive",)
    s = pf.split_rows(ROWS, "mi300x", sel)
    assert {(r.round, r.model, r.scenario) for r in s.fit} == {
        ("v5.1", "llama-2-70b", "offline"),
        ("v5.1", "llama-2-70b", "interactive"),
    }
    assert len(s.fit) + len(s.held_out) == sum(r.chip == "mi300x" for r in ROWS)
    # a measured chip fits its serving overhead only where an interactive row shows it (the H100 has none)
    # and the grouped-expert GEMM efficiency on its oldest round's MoE rows (the newer round is held out)
    assert pf.default_selectors(ROWS, "h200-sxm") == (
        "v5.1/llama-2-70b/offline+interactive",
        "v4.1/mixtral-8x7b/offline+server",
    )
    assert pf.default_selectors(ROWS, "h100-sxm") == ()


def test_a_split_refuses_a_row_in_both_sets() -> None:
    with pytest.raises(AssertionError, match="both fitted and held out"):
        pf.Split((_row(),), (_row(),), ())


def test_held_out_rows_never_reach_the_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real = pf.fit_knobs

    def spy(chip, prior, rows, predictor, knobs):  # type: ignore[no-untyped-def]
        seen.extend(r.id for r in rows)
        return real(chip, prior, rows, predictor, knobs)

    monkeypatch.setattr(pf, "fit_knobs", spy)
    fit = pf.calibrate_chip(resolve_chip("mi325x"), ROWS, None, params_for("h200-sxm"), "h200-sxm")
    held = {r.id for r in fit.split.held_out}
    assert seen and set(seen) == {r.id for r in fit.split.fit} and not set(seen) & held
    assert {c.row.id for c in fit.checked if not c.fitted} == held


# -- the fit ------------------------------------------------------------------------------------------
def _synthetic(chip: str, truth: dict[str, float]) -> list:
    """Published-looking rows whose values the model itself produced under known knobs."""
    c, prior = resolve_chip(chip), pf.with_four_bit(params_for("h200-sxm"))
    true_p = pf.apply_knobs(prior, truth)
    base = [r for r in ROWS if r.chip == chip and r.model == "llama-2-70b" and r.round == "v5.1"]
    return [replace(r, value=pf.analytic_predictor(r, c, true_p) * r.n_chips) for r in base]


@pytest.mark.parametrize(
    "truth", [{"compute": 0.8, "step_overhead": 0.006}, {"compute": 1.2, "step_overhead": 0.002}]
)
def test_fit_recovers_known_knobs_from_synthetic_rows(truth: dict[str, float]) -> None:
    rows = _synthetic("mi300x", truth)
    fit = pf.calibrate_chip(resolve_chip("mi300x"), rows, None, params_for("h200-sxm"), "h200-sxm")
    assert fit.knobs["compute"] == pytest.approx(truth["compute"], rel=0.03)
    assert fit.knobs["step_overhead"] == pytest.approx(truth["step_overhead"], rel=0.1, abs=3e-4)
    # the held-out server row was generated by the same model: predicted to within the integer batch
    assert all(abs(c.error) < 0.02 for c in fit.checked)


def test_one_scenario_fits_one_knob() -> None:
    rows = [r for r in _synthetic("mi300x", {"compute": 0.7}) if r.scenario == "offline"]
    knobs = pf.fit_knobs(
        resolve_chip("mi300x"),
        pf.with_four_bit(params_for("h200-sxm")),
        rows,
        pf.analytic_predictor,
        ("compute", "step_overhead"),
    )
    assert list(knobs) == ["compute"] and knobs["compute"] == pytest.approx(0.7, rel=0.03)


def test_scaled_efficiencies_stay_physical() -> None:
    p = pf.scaled(params_for("h200-sxm"), 3.0, 3.0)
    assert max(p.matmul_eff.values()) <= pf.MAX_EFF and p.attn_decode_mem_eff <= pf.MAX_EFF
    q = pf.scaled(params_for("h200-sxm"), 0.5, 1.0)
    assert q.matmul_eff["fp8"] == pytest.approx(params_for("h200-sxm").matmul_eff["fp8"] * 0.5)
    assert q.stream_eff == params_for("h200-sxm").stream_eff


# -- the scenario model -------------------------------------------------------------------------------
def test_latency_limits_only_lower_throughput_and_roofline_bounds_offline() -> None:
    m, c, p = resolve_model("llama-2-70b"), resolve_chip("b200"), pf.fused_engine(params_for("h200-sxm"))
    w, prec = WORKLOADS["llama-2-70b"], precision_of("fp8")
    off, srv, inter = (
        predict(m, c, p, prec, 8, w.isl, w.osl, lim)
        for lim in (None, w.limits_s["server"], w.limits_s["interactive"])
    )
    assert off and srv and inter
    assert inter.tokens_per_s_per_chip < srv.tokens_per_s_per_chip <= off.tokens_per_s_per_chip
    assert inter.cycle_s <= 0.04 and srv.cycle_s <= 0.2
    # no chip beats its fp8 peak: each output token costs >= 2 x params x (ISL + OSL) / OSL FLOPs
    flops_per_token = 2 * 69e9 * (w.isl + w.osl) / w.osl
    assert off.tokens_per_s_per_chip < c.matrix_flops["fp8"].value / flops_per_token


# -- bands --------------------------------------------------------------------------------------------
def test_band_is_the_range_of_published_over_predicted_on_held_out_rows() -> None:
    r = _row()
    checked = [
        pf.Checked(r, r.per_chip * 1.25, False),
        pf.Checked(r, r.per_chip * 0.8, False),
        pf.Checked(r, r.per_chip * 3.0, True),
    ]  # a fit row never widens the band
    b = pf.band_of(checked)
    assert b is not None and (b.lo, b.hi, b.n) == (pytest.approx(0.8), pytest.approx(1.25), 2)
    assert b.median_abs_error == pytest.approx(0.225) and b.max_abs_error == pytest.approx(0.25)


def test_a_band_from_fewer_than_three_rows_joins_the_widened_family_band() -> None:
    """One held-out row is a point, not a range: MI355X's single row (published / predicted 1.08) joined with
    its family's band 0.89-1.23 widened x1.25 gives 0.712-1.5375; a chip with three rows keeps its own."""
    r = _row()
    own = pf.band_of([pf.Checked(r, r.per_chip / 1.08, False)])
    fam = pf.Band(0.89, 1.23, 7, 0.1, 0.2, "mi300x rows")
    assert own is not None and own.n == 1 and own.lo == own.hi == pytest.approx(1.08)
    thin = pf.thin_band(own, fam, "mi300x")
    assert (thin.lo, thin.hi) == (pytest.approx(0.89 / 1.25), pytest.approx(1.23 * 1.25))
    assert thin.n == 1 and thin.max_abs_error == own.max_abs_error and "fewer than 3" in thin.basis
    wide_own = pf.Band(0.5, 2.0, 2, 0.5, 1.0, "two rows")  # its own range wider than the family's: kept
    assert (pf.thin_band(wide_own, fam, "f").lo, pf.thin_band(wide_own, fam, "f").hi) == (0.5, 2.0)
    assert pf.MIN_BAND_ROWS == 3


def test_chip_error_band_reads_the_file_and_widens_family_priors(tmp_path, monkeypatch) -> None:
    f = tmp_path / "bands.json"
    f.write_text(json.dumps({"mi300x": {"lo": 0.8, "hi": 1.1}}))
    monkeypatch.setattr(params_mod, "bands_path", lambda: f)
    monkeypatch.setattr(params_mod, "unseen_band_path", lambda: tmp_path / "none.json")
    assert chip_error_band("mi300x") == (0.8, 1.1)
    lo, hi = chip_error_band("mi355x")  # family prior: MI300X's band, widened x1.25 each side
    assert (lo, hi) == (pytest.approx(0.64), pytest.approx(1.375))
    assert chip_error_band("tpu-v5e") is None  # no unseen-chip band written (tests/test_unseen_band.py)


# -- the command --------------------------------------------------------------------------------------
def test_calibrate_checks_the_measured_h200_without_fitting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate", "--chip", "h200-sxm", "--fit-sources", "v9.9/none/offline", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    h = out["fits"]["h200-sxm"]
    assert h["provenance"] == "measured" and h["fit_rows"] == [] and h["knobs"] == {}
    assert {r["set"] for r in h["rows"]} == {"held-out"} and len(h["rows"]) == sum(
        r.chip == "h200-sxm" and not r.expert_parallel for r in ROWS
    )
    # expert-parallel rows (HPE's DeepSeek-R1) are the MoE path's check, listed apart
    ep = [r.id for r in ROWS if r.chip == "h200-sxm" and r.expert_parallel]
    assert [r["id"] for r in h["ep_rows"]] == ep


def test_calibrate_needs_a_chip(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate"]) == 2
    assert "error:" in capsys.readouterr().err
    assert main(["calibrate", "--chip", "b200", "--knobs", "voltage"]) == 2


def test_measured_chip_fits_only_the_engine_overhead_and_files_keep_it_out() -> None:
    h200 = params_for("h200-sxm")
    fit = pf.calibrate_chip(resolve_chip("h200-sxm"), ROWS, None, h200, "h200-sxm")
    assert list(fit.knobs) == ["step_overhead", "moe"] and fit.knobs["step_overhead"] > 0
    assert fit.params.matmul_eff["fp8"] == h200.matmul_eff["fp8"]  # efficiencies stay measured
    kept = pf.chip_params(fit)
    assert (
        kept.step_overhead_s == 0.0 and kept.meta["published_step_overhead_s"] == fit.knobs["step_overhead"]
    )


def test_moe_efficiency_slows_only_expert_gemms_and_only_a_measured_chip_fits_it() -> None:
    from jalapeno.cost.op_time import ChipRates, op_time
    from jalapeno.graph.ops import Op

    h200, rates = params_for("h200-sxm"), ChipRates.of(resolve_chip("h200-sxm"))
    # a compute-bound expert GEMM (8 experts x 1708 rows, Mixtral's 4096 x 14336): compute time / moe_eff
    moe = Op(
        "experts",
        "moe",
        1,
        flops=2.0 * 13664 * 3 * 4096 * 14336,
        weight_bytes=8 * 3 * 4096 * 14336,
        m=1708,
        n=14336,
        k=4096,
        groups=8,
        dtype="fp8",
    )
    dense = replace(moe, kind="matmul", groups=1, m=13664)
    slow = replace(h200, moe_eff=0.5)
    assert op_time(moe, rates, slow).compute_s == pytest.approx(2.0 * op_time(moe, rates, h200).compute_s)
    assert op_time(dense, rates, slow).time_s == op_time(dense, rates, h200).time_s
    # the factor is fitted on the H200's oldest-round Mixtral rows and reaches others via the prior only
    fit = pf.calibrate_chip(resolve_chip("h200-sxm"), ROWS, None, h200, "h200-sxm")
    assert set(fit.knobs) == {"step_overhead", "moe"} and pf.MOE_BOUNDS[0] <= fit.knobs["moe"] <= 1.0
    assert all(r.round == "v4.1" for r in fit.split.fit if r.model == "mixtral-8x7b")
    assert any(r.model == "mixtral-8x7b" for r in fit.split.held_out)
    assert (
        pf.chip_params(fit).moe_eff == 1.0
        and pf.chip_params(fit).meta["published_moe_eff"] == fit.knobs["moe"]
    )
    other = pf.calibrate_chip(resolve_chip("mi325x"), ROWS, None, fit.params, "h200-sxm")
    assert "moe" not in other.knobs and other.params.moe_eff == fit.knobs["moe"]


def test_fit_moves_only_the_dtypes_its_rows_ran() -> None:
    p = pf.apply_knobs(pf.with_four_bit(params_for("h200-sxm")), {"compute": 0.5}, pf.row_dtypes([_row()]))
    base = params_for("h200-sxm")
    assert p.matmul_eff["fp8"] == pytest.approx(base.matmul_eff["fp8"] * 0.5)
    assert p.matmul_eff["bf16"] == base.matmul_eff["bf16"] and p.matmul_eff["fp4"] == base.matmul_eff["fp8"]


def test_p99_prefill_factor_is_the_poisson_tail_of_a_requests_prefill_share() -> None:
    from jalapeno.cost.scenario import p99_prefill_factor

    # 16 prompts of one length: 1 + 2.326 x sqrt(1 / 16); varying lengths (cv 1) widen it by sqrt(2)
    assert p99_prefill_factor(16, 0.0) == pytest.approx(1.5815)
    assert p99_prefill_factor(16, 1.0) == pytest.approx(1 + 2.326 * (2 / 16) ** 0.5)
    assert p99_prefill_factor(1024, 0.77) < p99_prefill_factor(64, 0.77) < p99_prefill_factor(8, 0.77)


def test_energy_prior_moves_the_measured_energies_by_datasheet_ratios() -> None:
    h200, b200 = resolve_chip("h200-sxm"), resolve_chip("b200")
    base = params_for("h200-sxm")
    p = pf.energy_prior(base, h200, b200)
    per = lambda c: c.tdp_w.value / c.matrix_flops["bf16"].value  # noqa: E731  J per bf16 FLOP at peak
    assert p.pj_per_flop["bf16"] == pytest.approx(base.pj_per_flop["bf16"] * per(b200) / per(h200))
    # B200: fp8 and fp4 at 2x and 4x the bf16 rate within the same power limit
    assert p.pj_per_flop["fp8"] == pytest.approx(p.pj_per_flop["bf16"] / 2)
    assert p.pj_per_flop["fp4"] == pytest.approx(p.pj_per_flop["bf16"] / 4)
    assert p.active_static_w == pytest.approx(base.active_static_w * 1000 / 700)
    assert p.pj_per_byte_mem == base.pj_per_byte_mem


def test_power_runs_never_fit_and_predicted_gpu_power_stays_under_the_wall() -> None:
    from jalapeno.cost.published_checks import power_checks

    power = [r for r in ROWS if r.source == "mlperf_power"]
    assert power and all(r.power_w and r.power_w > 0 for r in power)
    s = pf.split_rows(ROWS, "b200", ("*/*/*",))  # even a select-everything split leaves power runs out
    assert not {r.id for r in s.fit} & {r.id for r in power}
    fit = pf.calibrate_chip(
        resolve_chip("b200"),
        ROWS,
        None,
        params_for("h200-sxm"),
        "h200-sxm",
        prior_chip=resolve_chip("h200-sxm"),
    )
    checks = power_checks([fit])
    assert len(checks) == len(power)
    for c in checks:  # a GPU is part of the system whose wall power was measured, and capped at its TDP
        assert 0 < c["predicted_chip_w"] <= min(c["wall_w_per_chip"], c["tdp_w"] * 1.0001)


def test_bench_plugs_in_as_a_predictor() -> None:
    from jalapeno.explore.published_bench import bench_predictor

    vendor = next(r for r in ROWS if r.source == "vendor" and r.chip == "h100-sxm")
    row = replace(vendor, isl=128, osl=64)  # short fixed lengths keep the simulation to a second or two
    h100, p = resolve_chip("h100-sxm"), params_for("h100-sxm")
    sim, closed = bench_predictor(row, h100, p), pf.analytic_predictor(row, h100, p)
    assert sim is not None and closed is not None and 0.5 < sim / closed < 2.0


# -- serving mechanics of the closed form (cost/scenario.py) ------------------------------------------
def test_ttft_p99_is_the_kingman_tail_of_the_prefill_queue_plus_a_prefill() -> None:
    from jalapeno.cost.scenario import ttft_p99_s

    # rho 0.5, 1 s prefills of one length: P(W > t) = 0.5 exp(-t) -> W99 = ln(50) = 3.912 s; TTFT 4.912 s
    assert ttft_p99_s(1.0, 0.5, 0.0) == pytest.approx(1.0 + 3.91202, abs=1e-5)
    # varying lengths (cv 1) double the tail's scale: W99 = ln(50) x 2
    assert ttft_p99_s(1.0, 0.5, 1.0) == pytest.approx(1.0 + 2 * 3.91202, abs=1e-5)
    assert ttft_p99_s(2.0, 0.005, 0.43) == 2.0  # fewer than 1% of prompts wait at all
    assert ttft_p99_s(0.1, 1.0, 0.0) == float("inf")  # an overloaded queue grows without bound
    assert ttft_p99_s(1.0, 0.3, 0.5) < ttft_p99_s(1.0, 0.6, 0.5) < ttft_p99_s(1.0, 0.9, 0.5)


def test_batch_cap_holds_the_p99_of_a_poisson_number_of_requests() -> None:
    from jalapeno.cost.scenario import fits_cap

    assert fits_cap(100, 124) and not fits_cap(100, 123)  # 100 + 2.326 x 10 = 123.26
    assert fits_cap(1, 1)  # one request always fits
    assert fits_cap(1024, 1024 + 75) and not fits_cap(1024, 1024 + 74)  # 2.326 x 32 = 74.4


def test_p99_prefill_factor_over_a_mixture_of_output_lengths() -> None:
    import math

    from jalapeno.cost.scenario import p99_prefill_factor

    # every request writing a quarter of the mean meets 64 / 4 = 16 prompts: 1 + z99 / 4 (z99 = 2.32635)
    assert p99_prefill_factor(64, 0.0, (0.25,) * 4) == pytest.approx(1 + 2.32635 / 4, abs=1e-4)
    # all at the mean: the plain formula (z99 rounded to 2.326 there)
    assert p99_prefill_factor(16, 0.77, (1.0,)) == pytest.approx(p99_prefill_factor(16, 0.77), abs=1e-3)
    # half short (n = OSL/2), half long (n = 3 OSL/2): 1% of requests exceed the factor, and the short
    # half pulls it above the all-at-the-mean value
    x = p99_prefill_factor(100, 0.0, (0.5, 1.5))
    tail = sum(0.5 * math.erfc((x - 1) / (math.sqrt(1 / (100 * f)) * math.sqrt(2))) for f in (0.5, 1.5)) / 2
    assert tail == pytest.approx(0.01, abs=1e-6)
    assert x > p99_prefill_factor(100, 0.0, (1.0,))


def test_osl_fractions_are_the_bundled_output_lengths_over_their_mean() -> None:
    f = pf.osl_fractions("llama-3.1-405b")
    assert len(f) == pf.OSL_QUANTILES and list(f) == sorted(f)
    assert sum(f) / len(f) == pytest.approx(1.0, abs=0.02)  # quantile midpoints keep the mean
    assert f[0] == pytest.approx(0.2745, abs=1e-3)  # the 0.8th-percentile answer: ~188 of 684.7 tokens
    assert pf.osl_fractions("llama-3.1-70b") == ()  # no bundled set (vendor rows are fixed-length)


def test_long_prompts_bind_the_server_on_ttft_not_tpot() -> None:
    from jalapeno.cost.scenario import ttft_p99_s

    m, c, p = (
        resolve_model("llama-3.1-405b"),
        resolve_chip("h200-sxm"),
        pf.fused_engine(params_for("h200-sxm")),
    )
    w, prec = WORKLOADS["llama-3.1-405b"], precision_of("fp8")
    loose = predict(m, c, p, prec, 8, w.isl, w.osl, (1e9, 1e9), isl_cv=w.isl_cv)  # only the batch cap binds
    srv = predict(m, c, p, prec, 8, w.isl, w.osl, (6.0, 1e9), isl_cv=w.isl_cv)  # TTFT 6 s, TPOT free
    assert loose and srv and srv.batch < loose.batch / 3
    rho = lambda r: r.batch / w.osl * r.prefill_s / r.cycle_s  # noqa: E731  the prefill queue's load
    assert ttft_p99_s(srv.prefill_s, rho(srv), w.isl_cv) <= 6.0
    nxt = predict(m, c, p, prec, 8, w.isl, w.osl, (1e9, 1e9), tps=(8,), isl_cv=w.isl_cv)
    assert nxt and nxt.batch > srv.batch  # the TTFT limit, not memory, stopped the batch


def test_running_context_is_length_biased_by_the_output_lengths() -> None:
    from jalapeno.cost.scenario import running_context

    assert running_context(222, 291) == 222 + 145  # every request writes the mean: half of it so far
    # two equally common answers of 100 and 300 tokens (mean 200): the 300-token one is in the batch
    # three times as often, E[n^2] / (2 E[n]) = (100^2 + 300^2) / 2 / (2 x 200) = 125
    assert running_context(50, 200, (0.5, 1.5)) == 50 + 125
    assert running_context(50, 200, (1.0, 1.0)) == 50 + 100


def test_attention_runs_at_the_wider_of_activation_and_cache_formats() -> None:
    from jalapeno.graph.precision import Precision

    assert precision_of("fp4").attention_compute == "fp8"  # NVFP4 GEMMs, fp8 KV: fp8 FMHA
    assert precision_of("fp8").attention_compute == "fp8" and precision_of("bf16").attention_compute == "bf16"
    assert Precision.of("fp8", "fp8", "bf16").attention_compute == "fp8"  # 8-bit activations: the GEMMs' rate
    assert Precision.of("nvfp4", "nvfp4", "bf16").attention_compute == "bf16"
    assert Precision.of("nvfp4", "nvfp4", "nvfp4").attention_compute == "fp8"


def test_batch_candidates_stop_at_row_tile_multiples_below_the_largest() -> None:
    from jalapeno.cost.scenario import tile_aligned

    assert tile_aligned(260) == (260, 256)
    assert tile_aligned(1000) == (1000, 992, 960, 896, 768)
    assert tile_aligned(9) == (9,)


def test_swapped_pairs_name_the_chips_ordered_against_the_publication_and_the_gap() -> None:
    from jalapeno.cost.published_checks import swapped_pairs

    a, b, c = (
        replace(_row(), chip=k, value=v * 8)
        for k, v in (("b200", 120.0), ("h200-sxm", 100.0), ("mi300x", 50.0))
    )
    reps = {
        "b200": pf.Checked(a, 95.0, False),
        "h200-sxm": pf.Checked(b, 105.0, False),
        "mi300x": pf.Checked(c, 40.0, False),
    }
    assert [(w["faster"], w["slower"]) for w in swapped_pairs(reps)] == [("b200", "h200-sxm")]
    assert swapped_pairs(reps)[0]["published_gap"] == pytest.approx(0.2)


def test_open_division_rows_never_enter_the_order_check() -> None:
    from jalapeno.cost.published_checks import order_checks

    rows = [_row(), _row(chip="b200", value=80000.0, division="open", id="x-open")]
    fits = [
        pf.ChipFit(r.chip, params_for("h200-sxm"), "", pf.Split((), (r,), ()), [pf.Checked(r, 1.0, False)])
        for r in rows
    ]
    assert order_checks(fits) == []  # one closed chip left in the group: nothing to order
    closed = [replace(rows[1], division="closed")]
    fits[1] = pf.ChipFit(
        "b200",
        params_for("h200-sxm"),
        "",
        pf.Split((), tuple(closed), ()),
        [pf.Checked(closed[0], 2.0, False)],
    )
    assert [o["published_order"] for o in order_checks(fits)] == [["b200", "mi300x"]]


def test_the_issue_chip_order_leaves_gb200_out_but_the_full_order_keeps_it() -> None:
    from jalapeno.cost.published_checks import order_checks

    # published: b200 100 > gb200 95 > h200 60; predicted: gb200 > b200 > h200 (a rack-scale swap only)
    rows = [
        _row(chip=k, value=v * 8, id=f"x-{k}")
        for k, v in (("b200", 100.0), ("gb200-nvl72", 95.0), ("h200-sxm", 60.0))
    ]
    pred = {"b200": 98.0, "gb200-nvl72": 99.0, "h200-sxm": 61.0}
    fits = [
        pf.ChipFit(
            r.chip, params_for("h200-sxm"), "", pf.Split((), (r,), ()), [pf.Checked(r, pred[r.chip], False)]
        )
        for r in rows
    ]
    [o] = order_checks(fits)
    assert o["match"] is False and o["match_issue_chips"] is True
    assert [(w["faster"], w["slower"]) for w in o["swapped"]] == [("b200", "gb200-nvl72")]
    pred["h200-sxm"] = 98.5  # now the H200 passes the B200: an issue-chip swap as well
    fits[2] = pf.ChipFit(
        "h200-sxm", params_for("h200-sxm"), "", fits[2].split, [pf.Checked(rows[2], 98.5, False)]
    )
    assert order_checks(fits)[0]["match_issue_chips"] is False
    # a group with one issue chip only has no issue-chip order to match
    assert order_checks([fits[1], fits[2]])[0]["match_issue_chips"] is None
