"""Published serving configurations (tp, pp, batch cap, token budget, CUDA graphs) and how the scenario
model prices them (cost/scenario_steps.py)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from jalapeno.cost.params import fused_engine, params_for
from jalapeno.cost.pipeline import graph_pipeline
from jalapeno.cost.published import ServingConfig, load_published, parse_row
from jalapeno.cost.scenario import MAX_BATCH, precision_of, predict, running_context
from jalapeno.cost.scenario_steps import PREFILL_BATCH, ReplicaSteps, budget_batch, graph_of, mixed_graph
from jalapeno.cost.step import Estimator
from jalapeno.errors import JalapenoError
from jalapeno.hardware.registry import resolve_chip
from jalapeno.models.registry import resolve_model

ROWS = load_published()
RECORD = {
    "id": "x",
    "round": "v5.1",
    "date": "2025-09-09",
    "chip": "b200",
    "n_chips": "8",
    "model": "llama-3.1-405b",
    "scenario": "offline",
    "precision": "fp4",
    "value": "1624.11",
    "unit": "tokens/s",
    "url": "https://github.com/mlcommons/inference_results_v5.1/tree/main/closed/NVIDIA/results/x",
}


# -- the columns ----------------------------------------------------------------------------------------
def test_config_columns_parse_into_a_serving_config() -> None:
    r = parse_row(
        {
            **RECORD,
            "tp": "2",
            "pp": "2",
            "max_batch": "128",
            "max_num_tokens": "1536",
            "cuda_graphs": "False",
        },
        "mlperf",
    )
    assert r.tp == 2
    assert r.serving == ServingConfig(pp=2, max_batch=128, max_num_tokens=1536, cuda_graphs=False)
    blank = parse_row({**RECORD, "tp": "", "pp": "", "max_batch": "", "cuda_graphs": ""}, "mlperf")
    assert blank.tp is None and blank.serving is None


@pytest.mark.parametrize(
    ("column", "value"),
    [("max_batch", "lots"), ("pp", "0"), ("cuda_graphs", "maybe"), ("max_num_tokens", "-5"), ("tp", "two")],
)
def test_a_bad_config_value_names_its_column(column: str, value: str) -> None:
    with pytest.raises(JalapenoError, match=column) as e:
        parse_row({**RECORD, column: value}, "mlperf")
    assert e.value.field == column


def test_bundled_rows_carry_the_configuration_their_submitter_published() -> None:
    """NVIDIA's v5.1 B200 Llama-3.1-405B offline config: TP2 x PP2, gpu_batch_size 128, runtime
    max_num_tokens 1536, use_graphs False; AMD's MI300X Llama-2-70B offline: vLLM max_num_seqs 1792,
    enforce_eager, no chunked prefill (so no step budget), num_scheduler_steps 11 (data/published_engines)."""
    b200 = next(r for r in ROWS if r.id == "5.1-0069:llama3.1-405b:Offline")
    assert (b200.tp, b200.serving) == (2, ServingConfig(2, 128, 1536, False, gemm_allreduce=True))
    assert b200.config_url.endswith("closed/NVIDIA/configs/B200-SXM-180GBx8/Offline/llama3_1-405b.py")
    amd = next(r for r in ROWS if r.id == "5.1-0001:llama2-70b-99:Offline")
    assert (amd.tp, amd.serving) == (1, ServingConfig(1, 1792, None, False, scheduler_steps=11))
    with_config = [r for r in ROWS if r.serving]
    assert len(with_config) >= 30
    assert all(
        r.config_url.startswith("https://github.com/mlcommons/inference_results_v")
        for r in with_config
        if r.source != "vendor"
    )
    # a vendor row's configuration is on the page its value was read from (TensorRT-LLM's DeepSeek-R1 recipe)
    assert all(r.config_url == r.url for r in with_config if r.source == "vendor")


def test_redhat_h100_rows_carry_their_readme_configuration() -> None:
    """RedHat's vLLM 0.10 H100 Llama-3.1-8B runs keep their engine flags in the README's 'final submission'
    command lines (read into scripts/mlperf_configs_manual.csv): offline --max-num-seqs 1024
    --max-num-batched-tokens 4096, server --max-num-seqs 512 --max-num-batched-tokens 1024; V1 chunks
    prefill under that budget; no --enforce-eager (graphs); one GPU."""
    off = next(r for r in ROWS if r.id == "5.1-0083:llama3.1-8b:Offline")
    srv = next(r for r in ROWS if r.id == "5.1-0083:llama3.1-8b:Server")
    assert (off.n_chips, off.tp, off.serving) == (1, 1, ServingConfig(1, 1024, 4096, True))
    assert (srv.n_chips, srv.tp, srv.serving) == (1, 1, ServingConfig(1, 512, 1024, True))
    assert off.config_url.endswith("closed/RedHat/code/llama3.1-8b/README.md")


# -- the mechanisms -------------------------------------------------------------------------------------
LLAMA70 = resolve_model("llama-2-70b")
H200 = resolve_chip("h200-sxm")
PRM = fused_engine(params_for("h200-sxm"))
FP8 = precision_of("fp8")


def test_token_budget_bounds_the_steady_batch() -> None:
    """B (1 + ISL / OSL) <= T: 1536 x 652 / (652 + 9429) = 99.3 -> 99 requests; two micro-batches of a
    pipeline double it (the budget holds per micro-batch step): 198.7 -> 198."""
    assert budget_batch(1536, 9429, 652) == 99
    assert budget_batch(1536, 9429, 652, micro_batches=2) == 198
    assert budget_batch(3584, 222, 291) == 2033  # 3584 x 291 / 513 = 2033.03
    cfg = ServingConfig(max_batch=4096, max_num_tokens=512)
    res = predict(LLAMA70, H200, PRM, FP8, 8, 222, 291, None, tps=(1,), cfg=cfg)
    assert res is not None
    assert res.batch <= 290  # 512 x 291 / 513 = 290.4
    assert res.batch * (1 + 222 / 291) <= 512
    free = predict(LLAMA70, H200, PRM, FP8, 8, 222, 291, None, tps=(1,), cfg=ServingConfig(max_batch=4096))
    assert free is not None and free.batch > 290


def test_a_budget_step_carries_a_full_chunk_or_none() -> None:
    """Under a budget a step carries the B decode rows and, while a prompt waits, a chunk that fills the
    room the decoders leave (T - B), in one pass; in steady state a share B ISL / OSL / (T - B) of the
    steps carry one. The mean step is that mix of full and decode-only steps (not one step with the mean
    chunk spread evenly), and its prefill part is what the chunks add over decoding alone."""
    est = Estimator(H200, PRM, 1)
    ctx = running_context(222, 291)
    rs = ReplicaSteps(LLAMA70, est, FP8, 222, 291, ctx, ServingConfig(max_num_tokens=2048, cuda_graphs=False))
    b = 256
    chunk = round(256 * 222 / 291)  # 195 prompt tokens a step on average
    assert rs.chunk_tokens(b) == chunk
    dec = est.step(graph_of(LLAMA70, "decode", b, ctx, FP8), cuda_graph=False)
    full = est.step(mixed_graph(LLAMA70, b, ctx, 2048 - 256, 222, FP8), cuda_graph=False)
    assert full.tokens == 2048
    share = chunk / (2048 - 256)  # 195 / 1792 = 0.109 of the steps carry a chunk
    c = rs.cycle(b)
    assert c.time_s == pytest.approx(dec.time_s + share * (full.time_s - dec.time_s))
    assert c.prefill_s == pytest.approx(share * (full.time_s - dec.time_s))
    assert c.energy_j == pytest.approx(dec.energy_j + share * (full.energy_j - dec.energy_j))
    # at a small batch the even spread (one step with the mean chunk: 16 x 222 / 291 = 12 tokens) would
    # hide the prefill under the weight stream a decode step pays anyway; full chunks cannot hide
    small, small_chunk = 16, round(16 * 222 / 291)
    dec16 = est.step(graph_of(LLAMA70, "decode", small, ctx, FP8), cuda_graph=False)
    even = est.step(mixed_graph(LLAMA70, small, ctx, small_chunk, 222, FP8), cuda_graph=False)
    assert even.time_s - dec16.time_s < 0.5 * (rs.cycle(small).time_s - dec16.time_s)
    service, load = rs.prefill_service(b)  # a prompt gets the room the decoders leave: 2048 - 256
    assert service == pytest.approx(222 / (2048 - 256) * full.time_s)
    assert load == pytest.approx(256 / 291 * service / c.time_s)  # arrival rate x service time
    assert load == pytest.approx(share * full.time_s / c.time_s, rel=1e-2)  # time in full steps


def test_pipeline_stages_price_as_cost_pipeline_says() -> None:
    """A TP1 x PP2 replica of B requests: two micro-batches of B / 2 in flight; a token's time is the
    pipeline's interval (>= one micro-batch's pass through both stages and the transfer, >= 2 x the
    slowest stage), and per-chip throughput is B / interval / 2."""
    est = Estimator(H200, PRM, 1)
    ctx = running_context(222, 291)
    rs = ReplicaSteps(LLAMA70, est, FP8, 222, 291, ctx, ServingConfig(pp=2))
    b = 256
    pc, _ = graph_pipeline(est, LLAMA70, graph_of(LLAMA70, "decode", 128, ctx, FP8), 2, 2, cuda_graph=True)
    c = rs.cycle(b)
    assert c.decode_s == pytest.approx(pc.interval_s)
    assert c.decode_s >= pc.latency_s - 1e-15
    assert c.decode_s >= 2 * pc.slowest_s - 1e-15
    assert pc.latency_s == pytest.approx(sum(pc.stage_s) + pc.transfer_s + pc.overhead_s)
    res = predict(LLAMA70, H200, PRM, FP8, 2, 222, 291, None, tps=(1,), cfg=ServingConfig(pp=2, max_batch=b))
    assert res is not None and res.batch == b
    assert res.tokens_per_s_per_chip == pytest.approx(b / rs.cycle(b).time_s / 2)
    pre, _ = graph_pipeline(est, LLAMA70, graph_of(LLAMA70, "prefill", 8, 222, FP8), 2, 2, cuda_graph=False)
    assert rs.prefill_one_s == pytest.approx(pre.interval_s / 16)  # 2 micro-batches of 8 prompts


def test_pipeline_spreads_weights_over_the_stages() -> None:
    """Llama-3.1-405B in fp8 (~405 GB) fits no 2-chip H200 replica (2 x 141 GB), but a TP2 x PP2 one."""
    m = resolve_model("llama-3.1-405b")
    assert predict(m, H200, PRM, FP8, 8, 9429, 652, None, tps=(2,)) is None
    assert predict(m, H200, PRM, FP8, 8, 9429, 652, None, tps=(2,), cfg=ServingConfig(pp=2)) is not None


def test_cuda_graphs_off_prices_eager_decode_steps() -> None:
    """Eager decode: the host launches every kernel (25 us each) while the device works; a small model
    at batch 1 waits on its host, a large batch hides the launches."""
    m = resolve_model("llama-3.1-8b")
    est = Estimator(H200, PRM, 1)
    rs = ReplicaSteps(m, est, FP8, 871, 129, 935, ServingConfig(cuda_graphs=False))
    eager = est.step(graph_of(m, "decode", 1, 935, FP8), cuda_graph=False)
    graphs = est.step(graph_of(m, "decode", 1, 935, FP8))
    assert rs.cycle(1).decode_s == eager.time_s
    assert eager.host_wait_s > 0 and eager.time_s > graphs.time_s
    big = est.step(graph_of(m, "decode", 512, 935, FP8), cuda_graph=False)
    assert big.host_wait_s == 0.0


def test_a_row_without_configuration_predicts_as_before() -> None:
    """No published configuration: decode steps with CUDA graphs, B / OSL prompts a cycle in batch-16
    prefill steps, batch cap MAX_BATCH per chip; an empty ServingConfig is the same engine."""
    est = Estimator(H200, PRM, 1)
    ctx = running_context(222, 291)
    res = predict(LLAMA70, H200, PRM, FP8, 8, 222, 291, None, tps=(1,))
    assert res is not None and res.batch <= MAX_BATCH
    pre = (
        est.step(graph_of(LLAMA70, "prefill", PREFILL_BATCH, 222, FP8), cuda_graph=False).time_s
        / PREFILL_BATCH
    )
    dec = est.step(graph_of(LLAMA70, "decode", res.batch, ctx, FP8)).time_s
    cycle = dec + res.batch / 291 * pre
    assert res.tokens_per_s_per_chip == res.batch / cycle
    assert res.decode_step_s == dec and res.prefill_s == pre
    same = predict(LLAMA70, H200, PRM, FP8, 8, 222, 291, None, tps=(1,), cfg=ServingConfig())
    assert same == res
    lim = predict(LLAMA70, H200, PRM, FP8, 8, 222, 291, (0.45, 0.04), tps=(1,))
    assert lim == predict(LLAMA70, H200, PRM, FP8, 8, 222, 291, (0.45, 0.04), tps=(1,), cfg=ServingConfig())


def test_published_rows_pass_their_configuration_to_the_predictor() -> None:
    from jalapeno.cost.published_fit import analytic_result

    row = next(r for r in ROWS if r.id == "5.1-0049:llama2-70b-99:Interactive")  # HPE H200: budget 256
    assert row.serving == ServingConfig(1, 512, 256, False, gemm_allreduce=False, round_robin=True)
    res = analytic_result(row, H200, params_for("h200-sxm"))
    assert res is not None and res.tp == 1
    assert res.batch * (1 + 222 / 291) <= 256
    bare = analytic_result(replace(row, max_num_tokens=None), H200, params_for("h200-sxm"))
    # the budget reaches the predictor: without it prompts run as separate batch-16 prefill steps (3,552
    # tokens that stall every decoder), with it in chunks of the room beside the decoders
    assert bare is not None and bare.batch != res.batch
    assert not math.isnan(res.tokens_per_s_per_chip)


def test_calibrate_json_names_each_rows_configuration_and_its_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from jalapeno.cli import main

    assert main(["calibrate", "--chip", "gb200-nvl72", "--json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)["fits"]["gb200-nvl72"]["rows"]}
    azure = rows["5.1-0008:llama3.1-405b:Offline"]["serving"]
    assert (azure["tp"], azure["pp"], azure["max_batch"], azure["max_num_tokens"]) == (2, 2, 2048, 1536)
    assert azure["source"].endswith("closed/Azure/configs/ND_GB200_v6/Offline/llama3_1-405b.py")
    assert rows["5.1-0070:llama2-70b-99:Interactive"]["serving"] is None  # no config file published
