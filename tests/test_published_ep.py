"""MLPerf DeepSeek-R1 rows: the benchmark's lengths, the dataset rows and the MoE-path adapter."""

from __future__ import annotations

import math

import numpy as np
import pytest
from repo_scripts import load_script

from jalapeno.cost import published_fit as pf
from jalapeno.cost.expert import ep_step, weights_per_chip
from jalapeno.cost.oracle import kv_bytes_per_token
from jalapeno.cost.params import fused_engine, params_for
from jalapeno.cost.pipeline import Parallel
from jalapeno.cost.published import WORKLOADS, load_published
from jalapeno.cost.published_ep import EPReplicaSteps, ep_parallel, ep_result, ep_setup
from jalapeno.cost.scenario import MEMORY_FRACTION, precision_of, running_context
from jalapeno.cost.step import Estimator
from jalapeno.graph.batch import Batch
from jalapeno.graph.builder import build_graph
from jalapeno.hardware.registry import resolve_chip
from jalapeno.models.registry import list_models, resolve_model
from jalapeno.workload.benchsets import load_set

ROWS = load_published()
DS = {r.id: r for r in ROWS if r.model == "deepseek-r1"}
B200 = resolve_chip("b200")


# -- the benchmark ------------------------------------------------------------------------------------
def test_deepseek_r1_workload_is_the_bundled_sets_and_the_logs() -> None:
    """Mean prompt 803.8 of the 4,388 samples (std / mean 0.505, longest 3,140 = every TensorRT-LLM config's
    max_input_len); the reference outputs cut at the 20,000-token limit average 3,886.2274, the MLCommons
    README's reference "mean-output-tok-len"; OSL = 33,379 tokens/s / 8.93431 samples/s (NVIDIA B200
    Offline log); mlperf.conf: TTFT 2,000 ms, TPOT 80 ms."""
    w = WORKLOADS["deepseek-r1"]
    s = load_set("mlperf-deepseek-r1")
    p, o = np.asarray(s.prompt_tokens, float), np.asarray(s.output_tokens, float)
    assert len(p) == 4388 and p.max() == 3140
    assert w.isl == round(p.mean()) == 804 and w.isl_range[0] <= p.mean() <= w.isl_range[1]
    assert w.isl_cv == pytest.approx(p.std() / p.mean(), abs=5e-4)
    assert np.minimum(o, w.max_output).mean() == pytest.approx(3886.2274, abs=1e-3)
    assert w.osl == round(33379 / 8.93431) == 3736
    assert w.limits_s == {"server": (2.0, 0.08)}


def test_output_fractions_are_cut_at_the_generation_limit() -> None:
    f = np.asarray(pf.osl_fractions("deepseek-r1"))
    assert f.mean() == pytest.approx(1.0, abs=0.02)  # quantiles of n / mean
    # the longest reference answers (32,768 tokens) run no further than 20,000
    assert f.max() * np.minimum(load_set("mlperf-deepseek-r1").output_tokens, 20000).mean() <= 20000 + 1


# -- the rows -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rid", "chip", "n", "value", "batch"),
    [
        ("5.1-0069:deepseek-r1:Offline", "b200", 8, 33379.0, 512),
        ("5.1-0069:deepseek-r1:Server", "b200", 8, 18592.2, 512),
        ("5.1-0071:deepseek-r1:Offline", "gb200-nvl72", 72, 289712.0, 512),
        ("5.1-0072:deepseek-r1:Offline", "gb300-nvl72", 72, 420659.0, 1536),
        ("5.1-0072:deepseek-r1:Server", "gb300-nvl72", 72, 209328.0, 512),
        ("5.1-0097:deepseek-r1:Offline", "gb300-nvl72", 8, 48047.0, 1536),  # CoreWeave's GB300 NVL8
        ("5.1-0375:deepseek-r1:Offline", "h200-sxm", 8, 8904.83, 216),  # HPE, open division, fp8
    ],
)
def test_deepseek_rows_carry_their_value_and_published_configuration(
    rid: str, chip: str, n: int, value: float, batch: int
) -> None:
    r = DS[rid]
    assert (r.chip, r.n_chips, r.value) == (chip, n, value)
    assert r.per_chip == pytest.approx(value / n)
    assert (r.tp, r.ep, r.attention_dp, r.max_batch, r.max_num_tokens) == (8, 8, True, batch, None)
    assert r.url.startswith("https://github.com/mlcommons/inference_results_v5.1/tree/main/")
    assert r.config_url.startswith("https://github.com/mlcommons/inference_results_v5.1/blob/main/")
    assert r.config_url.endswith("/deepseek-r1.py") and r.expert_parallel
    assert r.precision == ("fp8" if chip == "h200-sxm" else "fp4")


def test_the_parser_reads_expert_parallelism_and_attention_dp() -> None:
    mod = load_script("published_mlperf")
    text = """
base = {
    llm_fields.trtllm_build_flags: {'max_num_tokens': 4608, 'enable_attention_dp': True},
    llm_fields.trtllm_runtime_flags: {'max_num_tokens': 4608, 'enable_chunked_context': False},
    harness_fields.use_graphs: True,
    model_fields.gpu_batch_size: {'deepseek-r1': 512},
    llm_fields.tensor_parallelism: 8,
    llm_fields.pipeline_parallelism: 1,
    llm_fields.moe_expert_parallelism: 8,
}
EXPORTS = {
    C.WorkloadSetting(C.HarnessType.Custom, C.AccuracyTarget(0.99), C.PowerSetting.MaxP): base,
}
"""
    cfg = mod.nvidia_config(text)
    assert (cfg["tp"], cfg["ep"], cfg["attention_dp"], cfg["max_batch"]) == ("8", "8", "True", 512)
    assert cfg["max_num_tokens"] is None  # no chunked context: the budget caps a prefill batch only


def test_deepseek_r1_resolves_to_the_v3_architecture_without_a_new_bundled_model() -> None:
    m = resolve_model("deepseek-r1")
    assert m.num_layers == 61 and m.moe is not None and m.moe.num_experts == 256
    assert "deepseek-r1" not in list_models()


# -- the adapter ------------------------------------------------------------------------------------------
def test_trtllm_flags_map_to_the_group() -> None:
    r = DS["5.1-0069:deepseek-r1:Offline"]
    assert ep_parallel(r) == Parallel(tp=1, dp=8, ep=8)
    from dataclasses import replace

    assert ep_parallel(replace(r, attention_dp=False)) == Parallel(tp=8, ep=8)


def test_a_group_step_is_the_hottest_ranks_share_of_the_sequences() -> None:
    """10 decoding requests over 8 attention ranks: the hottest holds ceil(10 / 8) = 2; the experts see all
    10 tokens."""
    m, prec = resolve_model("deepseek-r1"), precision_of("fp4")
    par = Parallel(tp=1, dp=8, ep=8)
    est = Estimator(B200, fused_engine(params_for("b200")), 1)
    rs = EPReplicaSteps(m, est, prec, 804, 3736, 4000, None, par)
    got = rs._price(build_graph(m, Batch.decode(10, 4000), prec), True)
    want, _ = ep_step(est, m, par, [(build_graph(m, Batch.decode(2, 4000), prec), 10)], cuda_graph=True)
    assert got == (want.time_s, want.energy_j)


def test_the_batch_cap_is_each_ranks_cache_within_its_published_batch_times_dp() -> None:
    r = DS["5.1-0069:deepseek-r1:Offline"]
    m, prec, par = resolve_model(r.model), precision_of(r.precision), ep_parallel(r)
    isl, osl, _, _, fr = pf.row_shape(r)
    setup = ep_setup(m, B200, fused_engine(params_for("b200")), prec, par, isl, osl, fr, r.serving)
    assert setup is not None
    free = B200.memory_bytes * MEMORY_FRACTION - weights_per_chip(
        m, build_graph(m, Batch.decode(1, 1), prec), par
    )
    per_rank = math.floor(free / (kv_bytes_per_token(m, prec) * running_context(isl, osl, fr)))
    assert setup[1] == 8 * min(512, per_rank)


def test_limits_only_lower_the_groups_throughput() -> None:
    off, srv = DS["5.1-0069:deepseek-r1:Offline"], DS["5.1-0069:deepseek-r1:Server"]
    prm = fused_engine(params_for("b200"))
    m = resolve_model("deepseek-r1")
    a = ep_result(off, m, B200, prm, pf.row_shape(off))
    b = ep_result(srv, m, B200, prm, pf.row_shape(srv))
    assert a is not None and b is not None
    assert 0 < b.tokens_per_s_per_chip <= a.tokens_per_s_per_chip and b.batch <= a.batch
    assert a.tp == 8 and a.batch <= 8 * 512


def test_expert_parallel_rows_never_enter_a_fit_band_or_split() -> None:
    """Even a selector naming every row of the chip fits none of its DeepSeek-R1 rows; they are predicted
    (ep_checked) and kept out of the held-out rows the band is taken over."""
    chip = B200
    fit = pf.calibrate_chip(chip, ROWS, ("v5.1/*/*",), params_for("h200-sxm"), "h200-sxm", knobs=("compute",))
    ids = {r.id for r in fit.split.fit + fit.split.held_out}
    assert not any(r.expert_parallel for r in fit.split.fit + fit.split.held_out)
    assert {c.row.id for c in fit.ep_checked} == {i for i in DS if DS[i].chip == "b200"} and not ids & set(DS)
    assert fit.band is not None and fit.band.n == len(fit.split.held_out)
    assert all(c.predicted and not c.fitted for c in fit.ep_checked)


def test_the_vendor_recipe_row_is_a_fixed_length_expert_parallel_row() -> None:
    """TensorRT-LLM's DeepSeek-R1 blog (commit f0c873f5), "B200 max-throughput for R1-0528 with FP8 KV cache":
    --tp 8 --ep 8, enable_attention_dp, --max_batch_size 896 (a rank), --concurrency 7168, ISL 1,024 and OSL
    2,048 (stdev 0): 43,146.2042 output tokens/s, 5,393.2755 a GPU."""
    (r,) = [r for r in ROWS if r.source == "vendor" and r.model == "deepseek-r1"]
    assert (r.chip, r.n_chips, r.scenario, r.isl, r.osl, r.precision) == (
        "b200",
        8,
        "fixed",
        1024,
        2048,
        "fp4",
    )
    assert r.per_chip == pytest.approx(5393.2755, abs=1e-3)
    assert (r.tp, r.ep, r.attention_dp, r.max_batch) == (8, 8, True, 896) and r.expert_parallel
    assert "/blob/f0c873f5ffdd170c9f5b70c844c02ecca9860b8f/" in r.url
