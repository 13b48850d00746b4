"""Row-parallel GEMMs fused with their tensor-parallel all-reduce (TensorRT-LLM's gemm_allreduce_plugin):
each pair lasts about the longer of the two, less the last wave of output tiles' reduction
(cost.step.Estimator.fused_allreduce_saving_s), and the
published configurations say which engines were built with it (scripts/published_mlperf.py)."""

from __future__ import annotations

import pytest
from repo_scripts import load_script

from jalapeno.cost.network import tp_collective
from jalapeno.cost.params import fused_engine, params_for
from jalapeno.cost.published import ServingConfig, load_published
from jalapeno.cost.scenario import precision_of
from jalapeno.cost.scenario_steps import graph_of
from jalapeno.cost.step import Estimator, output_waves
from jalapeno.hardware.network import network_of
from jalapeno.hardware.registry import resolve_chip
from jalapeno.models.registry import resolve_model

H200 = resolve_chip("h200-sxm")
PRM = fused_engine(params_for("h200-sxm"))
FP8 = precision_of("fp8")
L405 = resolve_model("llama-3.1-405b")


def test_each_row_parallel_gemm_hides_its_all_reduce_but_the_last_waves() -> None:
    """A 2,048-token prefill of Llama-3.1-405B on 8 H200s: every layer all-reduces 2,048 x 16,384 x 2 bytes
    (16-bit residual stream) twice, after o_proj and after down; fused, each hides its all-reduce while it
    computes, all but the last wave of output tiles: o_proj and down each write 2,048 x 16,384 in
    128 x 256 tiles, 16 x 64 = 1,024 tiles on 132 SMs, 7.76 waves, so each hides
    min(GEMM, t_ar x (1 - 132 / 1,024)) and the step's exposed collective time falls by 126 times that."""
    g = graph_of(L405, "prefill", 1, 2048, FP8)
    plain, fused = Estimator(H200, PRM, 8), Estimator(H200, PRM, 8, gemm_allreduce=True)
    t_ar = tp_collective(network_of(H200), "all_reduce", 2048 * 16384 * 2, 8)[0]
    costs = plain.price_ops(g)[0]
    per = {c.op.name: c for c in costs if c.op.name in ("o_proj", "down")}
    assert {c.op.repeat for c in per.values()} == {126}
    assert [output_waves(c.sharded, plain.rates, PRM) for c in per.values()] == pytest.approx(
        [1024 / 132] * 2
    )
    saving = sum(min(c.time.time_s, t_ar * (1 - 132 / 1024)) for c in per.values())
    assert 0 < saving <= 2 * t_ar
    assert fused.fused_allreduce_saving_s(costs, g) == pytest.approx(saving)
    a, b = plain.step(g), fused.step(g)
    assert a.comm_s - b.comm_s == pytest.approx(126 * saving)
    assert b.comm_s > 0  # the logits' gather and each all-reduce's last wave remain
    assert b.time_s < a.time_s and b.link_bytes == a.link_bytes  # the same bytes move, overlapped
    one = Estimator(H200, PRM, 1, gemm_allreduce=True)  # no tensor parallelism, nothing to hide
    assert one.fused_allreduce_saving_s(one.price_ops(g)[0], g) == 0.0


def test_a_decode_steps_gemms_hide_no_all_reduce() -> None:
    """Decode at 9 requests on 8 H200s: o_proj and down write 9 x 16,384 outputs, 16-row tiles, 64 tiles on
    132 SMs: one wave, reduced only after the GEMM, so fusion hides nothing and the step's collectives are
    the plain engine's."""
    g = graph_of(L405, "decode", 9, 9801, FP8)
    plain, fused = Estimator(H200, PRM, 8), Estimator(H200, PRM, 8, gemm_allreduce=True)
    costs = plain.price_ops(g)[0]
    assert {output_waves(c.sharded, plain.rates, PRM) for c in costs if c.op.name in ("o_proj", "down")} == {
        1.0
    }
    assert fused.fused_allreduce_saving_s(costs, g) == 0.0
    assert fused.step(g).comm_s == pytest.approx(plain.step(g).comm_s)


def _script():
    return load_script("published_mlperf")


NEBIUS = """
EXPORTS = {
    C.WorkloadSetting(C.HarnessType.Custom, C.AccuracyTarget(0.99), C.PowerSetting.MaxP): {
        model_fields.gpu_batch_size: {
            'llama3.1-405b': 512,
        },
        llm_fields.tensor_parallelism: 8,
        llm_fields.pipeline_parallelism: 1,
        llm_fields.trtllm_build_flags: {
            'max_num_tokens': 6144,
            'gemm_allreduce_plugin': 'float16',
        },
        llm_fields.trtllm_runtime_flags: {
            'max_num_tokens': 2560,
            'enable_chunked_context': True,
            'max_batch_size': 64,
        },
        harness_fields.use_graphs: False,
    },
}
"""


def test_the_parser_reads_the_fusion_flag_and_the_executors_batch_cap() -> None:
    """Nebius's v5.1 H200 Llama-3.1-405B Interactive config (abridged): the engine is built for 512
    requests but the executor runs at most 64 (runtime max_batch_size); the runtime budget 2560 (not the
    build's 6144) bounds a step; gemm_allreduce_plugin float16 fuses the row-parallel GEMMs' all-reduces."""
    mod = _script()
    cfg = mod.nvidia_config(NEBIUS)
    assert cfg == {
        "tp": "8",
        "pp": "1",
        "max_batch": 64,
        "max_num_tokens": "2560",
        "cuda_graphs": "False",
        "gemm_allreduce": True,
        "ep": None,  # a dense model's config names no expert parallelism
        "attention_dp": None,
    }
    plain = mod.nvidia_config(
        NEBIUS.replace("'gemm_allreduce_plugin': 'float16',", "").replace("'max_batch_size': 64,", "")
    )
    assert (plain["max_batch"], plain["gemm_allreduce"]) == (512, False)


def test_bundled_rows_carry_the_fusion_flag() -> None:
    rows = {r.id: r for r in load_published()}
    neb = rows["5.1-0075:llama3.1-405b:Interactive"]
    cfg = ServingConfig(1, 64, 2560, False, gemm_allreduce=True, round_robin=True)  # llmlib deals in turn
    assert (neb.tp, neb.serving) == (8, cfg)
    assert rows["5.1-0069:llama3.1-405b:Server"].gemm_allreduce is True  # NVIDIA B200, TP4
    assert rows["5.1-0069:llama2-70b-99:Offline"].gemm_allreduce is False  # TP1: nothing to fuse
    assert rows["5.1-0001:llama2-70b-99:Offline"].gemm_allreduce is None  # vLLM: no such flag
