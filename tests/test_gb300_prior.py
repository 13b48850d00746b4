"""The GB300 NVL72 starts from the GB200 NVL72's fit (its rack sibling), not the HGX B200's
(cost/params.FAMILY_PRIOR), with its FP4 and FP8 rates moved by a measured GB300 / GB200 GEMM rate ratio
(cost/measured_gemm.py; docs/validation-405b.md, "GB300 against GB200")."""

from __future__ import annotations

import functools

import pytest

from jalapeno.cost.published import load_published
from jalapeno.cost.published_run import calibrate_all


@functools.cache
def fits():  # type: ignore[no-untyped-def]
    return calibrate_all(load_published(), chips=["b200", "gb200-nvl72", "gb300-nvl72"])[0]


def test_gb300_keeps_the_gb200_nvl72_fitted_fractions_on_its_own_peaks() -> None:
    g200, g300 = fits()["gb200-nvl72"], fits()["gb300-nvl72"]
    assert g300.prior == "gb200-nvl72" and not g300.split.fit  # no fit rows: a family prior, nothing fitted
    assert "family prior: gb200-nvl72's" in g300.provenance
    # fractions of peak and the harness's step overhead transfer unchanged, except the dtypes a source
    # measured on both chips (hardware/data/gemm_rates.yaml, Azure's cuBLASLt tables): their realized rate is
    # the GB200's fitted rate x the measured GB300 / GB200 ratio of the two best rates ...
    assert g300.params.matmul_eff["bf16"] == g200.params.matmul_eff["bf16"]
    fp4 = 8640.3 / 7609.1  # 16384^3 on the GB300 over 8192^3 on the GB200, TFLOP/s
    for d in ("fp4", "nvfp4", "mxfp4"):
        assert g300.params.matmul_eff[d] * 15e15 == pytest.approx(g200.params.matmul_eff[d] * 10e15 * fp4)
    fp8 = 3308.5 / 2819.5  # both at 16384^3; the same 5 PF dense datasheet peak
    assert g300.params.matmul_eff["fp8"] == pytest.approx(g200.params.matmul_eff["fp8"] * fp8)
    assert "measured ratio to the family chip (fp4 x1.136, fp8 x1.173" in g300.provenance
    assert g300.params.step_overhead_s == g200.params.step_overhead_s
    assert g300.params.attn_prefill_eff == g200.params.attn_prefill_eff
    # ... and differ from the HGX B200's: the NVL72 rack peaks realized at a lower fraction (fit, 70B rows)
    assert g200.params.matmul_eff["nvfp4"] < fits()["b200"].params.matmul_eff["nvfp4"]
    # energies by datasheet ratio: bf16 pJ x (1400 W / 2.5 PF) / (1200 W / 2.5 PF); fp4 at 6x the bf16 rate
    bf16 = g200.params.pj_per_flop["bf16"] * 1400 / 1200
    assert g300.params.pj_per_flop["bf16"] == pytest.approx(bf16)
    assert g300.params.pj_per_flop["nvfp4"] == pytest.approx(bf16 * 2.5e15 / 15e15)
    assert g300.params.active_static_w == pytest.approx(g200.params.active_static_w * 1400 / 1200)


def test_the_gb300_rack_rows_stay_held_out_and_land_within_the_issue_bounds_on_the_measured_rate() -> None:
    g300 = fits()["gb300-nvl72"]
    by_id = {c.row.id: c for c in g300.checked}
    off, srv = by_id["5.1-0072:llama3.1-405b:Offline"], by_id["5.1-0072:llama3.1-405b:Server"]
    assert not off.fitted and not srv.fitted
    # the published per-GPU figures (16,104.1 and 12,248.4 tok/s over 72 GPUs): with the FP4 GEMMs at the
    # measured 1.14x the GB200's rate (not the datasheet's 1.5x) offline reads +18.0% and server -3.0%, inside
    # issue 11's 25% maximum (on the datasheet ratio: +35.7% and +19.5%)
    assert off.row.per_chip == pytest.approx(16104.1 / 72) and srv.row.per_chip == pytest.approx(12248.4 / 72)
    assert 0.15 < off.error < 0.21 and -0.06 < srv.error < 0.0
