"""Measured GEMM rates (hardware/data/gemm_rates.yaml) and the family prior they move
(cost/measured_gemm.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jalapeno.cost.measured_gemm import efficiency_scale, measured_note, ratios, with_measured_gemm
from jalapeno.cost.params import CostParams
from jalapeno.errors import JalapenoError
from jalapeno.hardware import gemm_rates
from jalapeno.hardware.gemm_rates import parse_sources, rate_ratio, ratio_in
from jalapeno.hardware.registry import resolve_chip


def one_source(rows_a: list[list[object]], rows_b: list[list[object]]) -> gemm_rates.GemmSource:
    chips = {c: {"url": "u", "software": "s", "rows": r} for c, r in (("new", rows_a), ("old", rows_b))}
    data = {"sources": {"s": {"title": "t", "date": "d", "harness": "h", "chips": chips}}}
    return parse_sources(data)[0]


def test_the_bundled_gb300_over_gb200_ratios_by_hand() -> None:
    fp4 = rate_ratio("gb300-nvl72", "gb200-nvl72", "fp4")
    assert fp4 is not None and fp4.source == "azure-cublaslt-nd-gb-v6"
    assert fp4.value == pytest.approx(8640.3 / 7609.1)  # each chip's best: 16384^3 / 8192^3
    # shape by shape over the four square shapes from 4096: 4096 1.116, 8192 1.072, 16384 1.542, 32768 1.626
    assert (fp4.lo, fp4.hi, fp4.shapes) == pytest.approx((8155.9 / 7609.1, 8555.1 / 5262.2, 4))
    fp8 = rate_ratio("gb300-nvl72", "gb200-nvl72", "fp8")
    assert fp8 is not None and fp8.value == pytest.approx(3308.5 / 2819.5)
    assert fp8.shapes == 5  # the four squares and 6144 x 12288 x 12288
    # no source measured both HGX parts: they take the racks' ratio of the same two dies, and say so
    hgx = rate_ratio("b300", "b200", "fp4")
    assert hgx is not None and hgx.via == ("gb300-nvl72", "gb200-nvl72")
    assert (hgx.value, hgx.lo, hgx.hi) == (fp4.value, fp4.lo, fp4.hi)
    assert "as gb300-nvl72 / gb200-nvl72" in hgx.describe()
    assert rate_ratio("b300", "h200-sxm", "fp4") is None  # no die alias for the H200: nothing measured


def test_small_shapes_never_enter_the_range_and_a_missing_chip_gives_none() -> None:
    src = one_source(
        [["fp4", 1024, 1024, 1024, 900.0], ["fp4", 4096, 4096, 4096, 300.0]],
        [["fp4", 1024, 1024, 1024, 100.0], ["fp4", 4096, 4096, 4096, 200.0]],
    )
    r = ratio_in(src, "new", "old", "fp4")
    assert r is not None
    assert r.value == pytest.approx(900.0 / 200.0)  # best of each, any shape
    assert (r.lo, r.hi, r.shapes) == (1.5, 1.5, 1)  # only 4096^3 is compute-bound
    assert ratio_in(src, "new", "absent", "fp4") is None and ratio_in(src, "new", "old", "fp8") is None


@pytest.mark.parametrize(
    ("row", "field"),
    [([1, 2, 3], "rows[0]"), (["fp4", 0, 1, 1, 5.0], "rows[0]"), (["fp4", 1, 1, 1, -5.0], "rows[0]")],
)
def test_a_bad_row_names_its_field(row: list[object], field: str) -> None:
    with pytest.raises(JalapenoError, match=r"chips\.new\." + field.replace("[", r"\[").replace("]", r"\]")):
        one_source([row], [["fp4", 4096, 4096, 4096, 1.0]])


def test_a_file_without_sources_is_refused() -> None:
    with pytest.raises(JalapenoError, match="'sources'"):
        parse_sources({"rows": []})


def test_the_gb300_realized_rate_is_the_gb200s_times_the_measured_ratio() -> None:
    g200, g300 = resolve_chip("gb200-nvl72"), resolve_chip("gb300-nvl72")
    prior = CostParams(matmul_eff={"fp4": 0.478, "nvfp4": 0.478, "mxfp4": 0.478, "fp8": 0.7, "bf16": 0.8})
    moved = with_measured_gemm(prior, g200, g300)
    found = ratios(g200, g300)
    for d in ("fp4", "nvfp4", "mxfp4"):  # conservation: realized FLOP/s = the family's x the measured ratio
        rate = moved.matmul_eff[d] * g300.matrix_flops["fp4"].value
        assert rate == pytest.approx(0.478 * g200.matrix_flops["fp4"].value * found["fp4"].value)
    assert moved.matmul_eff["fp4"] == pytest.approx(0.478 * 8640.3 / 7609.1 * 10 / 15)
    assert moved.matmul_eff["fp8"] == pytest.approx(0.7 * 3308.5 / 2819.5)  # same 5 PF peak on both
    assert moved.matmul_eff["bf16"] == 0.8  # not measured for both: the prior's
    assert efficiency_scale(found["fp4"], g200, g300) == pytest.approx(8640.3 / 7609.1 / 1.5)
    assert measured_note(moved) == (
        "GEMM rates by measured ratio to the family chip (fp4 x1.136, fp8 x1.173; "
        "hardware/data/gemm_rates.yaml)"
    )
    assert moved.meta["measured_gemm"]["fp4"]["range"] == pytest.approx([8155.9 / 7609.1, 8555.1 / 5262.2])


def test_chips_without_a_shared_source_keep_their_prior() -> None:
    prior = CostParams()
    assert with_measured_gemm(prior, resolve_chip("h200-sxm"), resolve_chip("b300")) is prior
    g = resolve_chip("gb200-nvl72")
    assert with_measured_gemm(prior, g, g) is prior


def test_the_hgx_b300_moves_by_the_racks_ratio_on_its_own_peaks() -> None:
    b200, b300 = resolve_chip("b200"), resolve_chip("b300")
    prior = CostParams(matmul_eff={"fp4": 0.57, "nvfp4": 0.57, "mxfp4": 0.57, "fp8": 0.7, "bf16": 0.8})
    moved = with_measured_gemm(prior, b200, b300)
    # realized FP4 FLOP/s = the B200's x 8640.3 / 7609.1, not x the datasheet's 13.5 / 9 = 1.5
    rate = moved.matmul_eff["nvfp4"] * b300.matrix_flops["fp4"].value
    assert rate == pytest.approx(0.57 * b200.matrix_flops["fp4"].value * 8640.3 / 7609.1)
    assert b300.matrix_flops["fp4"].value / b200.matrix_flops["fp4"].value == pytest.approx(1.5)
    assert moved.matmul_eff["bf16"] == 0.8


@given(st.floats(0.05, 1.0), st.floats(1.0, 1e4), st.floats(1.0, 1e4))
def test_a_moved_efficiency_never_passes_the_datasheet_peak(eff: float, new: float, old: float) -> None:
    g200, g300 = resolve_chip("gb200-nvl72"), resolve_chip("gb300-nvl72")
    src = one_source([["fp8", 8192, 8192, 8192, new]], [["fp8", 8192, 8192, 8192, old]])
    src = replace(src, chips={"gb300-nvl72": src.chips["new"], "gb200-nvl72": src.chips["old"]})
    orig = gemm_rates.sources
    gemm_rates.sources = lambda: (src,)  # type: ignore[assignment]
    try:
        moved = with_measured_gemm(CostParams(matmul_eff={"fp8": eff}), g200, g300)
    finally:
        gemm_rates.sources = orig  # type: ignore[assignment]
    assert 0 < moved.matmul_eff["fp8"] <= 1.0
    assert moved.matmul_eff["fp8"] == pytest.approx(min(eff * new / old, 1.0))
