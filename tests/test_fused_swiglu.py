"""TensorRT-LLM's fused GEMM + SwiGLU plugin: the graph rewrite, the rows that carry it, what it saves."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from jalapeno.cost.fused_swiglu import fused_swiglu
from jalapeno.cost.params import params_for
from jalapeno.cost.published import load_published, with_build_flags
from jalapeno.cost.scenario import precision_of
from jalapeno.cost.scenario_limits import row_replica
from jalapeno.errors import JalapenoError
from jalapeno.graph.batch import Batch
from jalapeno.graph.builder import build_graph
from jalapeno.hardware.registry import resolve_chip
from jalapeno.models.registry import resolve_model

FP8 = precision_of("fp8")
ROWS = load_published()
BY_ID = {r.id: r for r in ROWS}
HPE_OFFLINE, DELL_SERVER = "5.1-0049:llama2-70b-99:Offline", "5.1-0026:llama2-70b-99:Server"
HPE_INTERACTIVE = "5.1-0049:llama2-70b-99:Interactive"


def test_the_rewrite_drops_the_swiglu_and_halves_the_gate_up_output() -> None:
    # Llama-2-70B (hidden 8192, intermediate 28672, 80 layers), 64 decode rows, fp8 activations: 1 byte
    g = build_graph(resolve_model("llama-2-70b"), Batch.decode(64, 455), FP8)
    f = fused_swiglu(g)
    names = [o.name for o in f.ops]
    assert "act" not in names and len(names) == len(g.ops) - 1
    gate_up = next(o for o in f.ops if o.name == "gate_up")
    assert gate_up.repeat == 80
    assert gate_up.act_write_bytes == 64 * 28672  # the gated (M, I) output, not the (M, 2I) pair
    assert gate_up.flops == 2 * 64 * 8192 * 2 * 28672  # the GEMM's work is unchanged
    # per layer: the SwiGLU's 2I read and I write, and half the GEMM's 2I write
    assert g.bytes - f.bytes == pytest.approx(80 * 64 * (3 * 28672 + 28672))
    assert g.flops - f.flops == pytest.approx(80 * 5 * 64 * 28672)  # the epilogue's 5 FLOPs an element


def test_a_graph_without_a_dense_gate_up_is_left_as_it_is() -> None:
    g = build_graph(resolve_model("mixtral-8x7b"), Batch.decode(64, 455), FP8)  # MoE experts
    assert fused_swiglu(g) is g


def test_the_bundled_rows_with_the_plugin_are_the_v51_h200_70b_offline_and_server_ones() -> None:
    fused = {r.id for r in ROWS if r.fused_swiglu}
    assert fused == {HPE_OFFLINE, DELL_SERVER}
    assert BY_ID[HPE_OFFLINE].serving.fused_swiglu is True  # type: ignore[union-attr]
    assert BY_ID[HPE_INTERACTIVE].serving.fused_swiglu is None  # type: ignore[union-attr]


def test_a_build_flag_for_no_row_or_of_no_plugin_type_is_an_error(tmp_path: Path) -> None:
    p = tmp_path / "build.csv"
    p.write_text("id,gemm_swiglu_plugin,source,read\nno-such-row,fp8,https://x,y\n")
    with pytest.raises(JalapenoError, match="no published row 'no-such-row'"):
        with_build_flags(ROWS, p)
    p.write_text(f"id,gemm_swiglu_plugin,source,read\n{HPE_OFFLINE},bf16,https://x,y\n")
    with pytest.raises(JalapenoError, match="gemm_swiglu_plugin 'bf16'"):
        with_build_flags(ROWS, p)


def cycle_s(row_id: str, fused: bool | None, b: int) -> float:
    row = replace(BY_ID[row_id], fused_swiglu=fused)
    rs = row_replica(row, resolve_chip("h200"), params_for("h200-sxm"), 1)
    assert rs is not None
    return rs[0].cycle(b).time_s


def test_the_plugin_shortens_a_compute_bound_cycle_by_about_the_swiglu_share() -> None:
    # HPE's offline row at 768 requests: the SwiGLU op is 1.3% of the cycle, and the energy it and the
    # GEMM's second half-output no longer spend lowers the power throttle (docs/validation-405b.md)
    saving = 1 - cycle_s(HPE_OFFLINE, True, 768) / cycle_s(HPE_OFFLINE, None, 768)
    assert 0.008 < saving < 0.02


def test_rows_without_the_plugin_price_as_before() -> None:
    assert cycle_s(HPE_INTERACTIVE, None, 90) == cycle_s(HPE_INTERACTIVE, False, 90)
