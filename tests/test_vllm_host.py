"""AMD's vLLM harness mechanisms (cost/vllm_host.py): the V0 engine's host bubble per scheduler call and the
v4.1 server harness's request batcher, priced by cost/scenario_steps.py and checked against the runs' logs."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from jalapeno.cost.params import fused_engine, params_for
from jalapeno.cost.published import ServingConfig, load_published, with_engine_settings
from jalapeno.cost.published_fit import ChipFit, osl_fractions, row_shape
from jalapeno.cost.published_run import calibrate_all
from jalapeno.cost.scenario import precision_of, replica_setup, running_context, tpot_p99_at, ttft_p99_at
from jalapeno.cost.scenario_limits import load_logged_runs, replicas_of
from jalapeno.cost.scenario_steps import PREFILL_BATCH, ReplicaSteps
from jalapeno.cost.step import Estimator
from jalapeno.cost.vllm_host import (
    HOST_BUBBLE_RANGE_S,
    HOST_BUBBLE_S,
    burst_prompts,
    decode_bubble_s,
    hold_s,
    prefill_bubble_s,
)
from jalapeno.errors import JalapenoError
from jalapeno.hardware.registry import resolve_chip
from jalapeno.models.registry import resolve_model

ROWS = load_published()
FP8 = precision_of("fp8")
MI300X = resolve_chip("mi300x")
LLAMA = resolve_model("llama-2-70b")
V41_SERVER = (
    "4.1-AMD-1xMI300X_2xEPYC-9374F:llama2-70b-99:Server",
    "4.1-AMD-8xMI300X_2xEPYC-9374F:llama2-70b-99:Server",
)


def _steps(cfg: ServingConfig | None, replicas: int = 1) -> ReplicaSteps:
    est = Estimator(MI300X, fused_engine(params_for("mi300x")), 1)
    return ReplicaSteps(LLAMA, est, FP8, 222, 291, running_context(222, 291), cfg, replicas)


# -- the pure rules ---------------------------------------------------------------------------------
def test_the_bubble_is_the_rfc_midpoint_and_multi_step_shares_it() -> None:
    """vLLM issue 6854: 5-13 ms a step, 9 the midpoint; 9 scheduler steps pay 1 ms each, a prefill (forced
    single step) the whole 9; no scheduler_steps (TensorRT-LLM, V1) pays none."""
    assert HOST_BUBBLE_S == pytest.approx(sum(HOST_BUBBLE_RANGE_S) / 2) == pytest.approx(9e-3)
    assert decode_bubble_s(ServingConfig(scheduler_steps=9)) == pytest.approx(1e-3)
    assert decode_bubble_s(ServingConfig(scheduler_steps=1)) == pytest.approx(9e-3)
    assert prefill_bubble_s(ServingConfig(scheduler_steps=9)) == pytest.approx(9e-3)
    assert decode_bubble_s(None) == prefill_bubble_s(ServingConfig()) == 0.0


def test_a_burst_is_the_first_query_and_the_system_arrivals_of_one_hold() -> None:
    """The v4.1 8-GPU run logged 71.74 queries/s: 1 + 71.74 x 0.3 = 22.5 a burst; 96 at most; 1 without
    a batcher or multi-step scheduling."""
    cfg = ServingConfig(harness_batch_s=0.3, harness_batch_max=96)
    assert burst_prompts(cfg, 71.74, 8.97, 0.1) == pytest.approx(22.522)
    assert burst_prompts(cfg, 1000.0, 125.0, 0.1) == 96.0
    assert burst_prompts(ServingConfig(scheduler_steps=1), 71.74, 8.97, 0.1) == 1.0
    assert burst_prompts(None, 71.74, 8.97, 0.1) == 1.0
    assert hold_s(cfg, 0.1) == 0.3 and hold_s(None, 0.1) == 0.0


def test_a_multi_step_engine_admits_what_arrived_in_one_scheduler_interval() -> None:
    """9 scheduler steps of 97 ms (MI300X v5.1 server, ~10.2 queries/s a GPU): a prompt waits up to
    0.873 s, and a prefill step takes the m = 8.9 prompts that arrived, given at least one:
    m / (1 - e^-m); a rare arrival (m -> 0) is prefilled alone."""
    cfg = ServingConfig(scheduler_steps=9)
    assert hold_s(cfg, 0.097) == pytest.approx(0.873)
    m = 10.2 * 0.873
    assert burst_prompts(cfg, 81.6, 10.2, 0.097) == pytest.approx(m / (1 - math.exp(-m)))
    assert burst_prompts(cfg, 0.0, 1e-12, 0.097) == 1.0


# -- priced in a replica's steps --------------------------------------------------------------------
def test_the_bubble_adds_exactly_to_each_step() -> None:
    """Same replica, with and without single-step scheduling (vLLM 0.4.3): every decode step gains 9 ms
    and a batch-16 prefill step 9 ms (0.5625 ms a prompt), so the cycle at B gains 9 ms + B / OSL x
    0.5625 ms; with 4 scheduler steps a decode step gains 9 / 4 ms."""
    plain, v0 = _steps(ServingConfig(max_batch=512)), _steps(ServingConfig(max_batch=512, scheduler_steps=1))
    b = 256
    assert v0.cycle(b).decode_s - plain.cycle(b).decode_s == pytest.approx(9e-3)
    assert v0.prefill_one_s - plain.prefill_one_s == pytest.approx(9e-3 / PREFILL_BATCH)
    gain = 9e-3 + b / 291 * 9e-3 / PREFILL_BATCH
    assert v0.cycle(b).time_s - plain.cycle(b).time_s == pytest.approx(gain)
    multi = _steps(ServingConfig(max_batch=512, scheduler_steps=4))
    assert multi.cycle(b).decode_s - plain.cycle(b).decode_s == pytest.approx(2.25e-3)


def test_the_burst_and_the_cycle_are_consistent() -> None:
    """Under the batcher the burst is the fixed point k = 1 + replicas x B / OSL / cycle x hold, the cycle
    prices a prefill step of k prompts, and a bigger system (8 replicas sharing the harness) sends bigger
    bursts that cost less a prompt (the weights are read once a step). A multi-step engine's first token
    waits its whole scheduler interval, then the burst's step."""
    cfg = ServingConfig(max_batch=1024, cuda_graphs=False, scheduler_steps=1, harness_batch_s=0.3)
    one, eight = _steps(cfg, 1), _steps(cfg, 8)
    b = 384
    for rs, reps in ((one, 1), (eight, 8)):
        k = rs.burst(b)
        assert k == pytest.approx(1 + reps * b / 291 / rs.cycle(b).time_s * 0.3, rel=1e-3)
    assert 2.0 < one.burst(b) < 5.0 < 15.0 < eight.burst(b) < 35.0
    assert eight.prefill_at(b)[0] < one.prefill_at(b)[0]
    multi = _steps(ServingConfig(max_batch=1024, scheduler_steps=9))
    interval = 9 * multi.cycle(b).decode_s
    assert multi.hold(b) == pytest.approx(interval)
    assert multi.first_token_s(b) == pytest.approx(interval + multi.burst(b) * multi.prefill_at(b)[0])


def test_bursts_raise_the_p99_tpot_and_the_hold_the_ttft() -> None:
    """The same replica with and without the batcher, at the same burst-free cycle inputs: the burst's
    k-fold count variance can only raise the p99 TPOT's prefill share, and the first token waits the hold."""
    base = ServingConfig(max_batch=1024, cuda_graphs=False, scheduler_steps=1)
    plain, batched = _steps(base, 8), _steps(replace(base, harness_batch_s=0.3, harness_batch_max=96), 8)
    b, cv = 384, 0.9
    excess_plain = tpot_p99_at(plain, b, cv) - plain.cycle(b).time_s
    excess_batched = tpot_p99_at(batched, b, cv) - batched.cycle(b).time_s
    assert excess_batched > 2 * excess_plain > 0
    assert batched.first_token_s(b) > 0.3 + batched.cycle(b).time_s / 2


# -- the bundled settings ---------------------------------------------------------------------------
def test_bundled_rows_carry_their_harness_settings() -> None:
    """vllm_engine.csv: v4.1 runs are single-step with the 0.3 s / 96 batcher on server only; v5.1 MI300X
    Llama-2-70B yaml: 11 offline, 9 server, 8 interactive; MI325X's interactive V1 run has none."""
    by_id = {r.id: r for r in ROWS}
    for rid in V41_SERVER:
        cfg = by_id[rid].serving
        assert cfg is not None
        assert (cfg.scheduler_steps, cfg.harness_batch_s, cfg.harness_batch_max) == (1, 0.3, 96)
    off = by_id["4.1-AMD-8xMI300X_2xEPYC-9374F:llama2-70b-99:Offline"].serving
    assert off is not None and (off.scheduler_steps, off.harness_batch_s) == (1, None)
    steps = {s: by_id[f"5.1-0001:llama2-70b-99:{s}"].serving for s in ("Offline", "Server", "Interactive")}
    assert {s: c.scheduler_steps for s, c in steps.items() if c} == {
        "Offline": 11,
        "Server": 9,
        "Interactive": 8,
    }
    mi325x_v1 = by_id["5.1-0003:llama2-70b-99:Interactive"].serving
    assert mi325x_v1 is not None and mi325x_v1.scheduler_steps is None
    assert all(r.serving is None or r.serving.scheduler_steps is None for r in ROWS if r.submitter != "AMD")


def test_an_engine_setting_for_no_row_is_an_error(tmp_path: Path) -> None:
    p = tmp_path / "engine.csv"
    p.write_text("id,scheduler_steps,harness_batch_s,harness_batch_max,source,read\nnope,1,,,https://x,x\n")
    with pytest.raises(JalapenoError, match="nope"):
        with_engine_settings(ROWS, p)


# -- against the held-out runs' logs ----------------------------------------------------------------
V51_SERVER = ("5.1-0001:llama2-70b-99:Server", "5.1-0002:llama2-70b-99:Server")  # MI300X, MI325X


@pytest.fixture(scope="module")
def fits() -> dict[str, ChipFit]:
    return calibrate_all(ROWS, chips=["h200-sxm", "mi300x", "mi325x"])[0]


def _at_logged_batch(fits: dict[str, ChipFit], rid: str) -> tuple[ReplicaSteps, int, float]:
    row = next(r for r in ROWS if r.id == rid)
    isl, osl, _, cv, fr = row_shape(row)
    prm = fused_engine(fits[row.chip].params)
    rep = replica_setup(LLAMA, resolve_chip(row.chip), prm, FP8, 1, isl, osl, fr, row.serving, row.n_chips)
    assert rep is not None
    return rep[0], round(load_logged_runs()[rid].decoding(replicas_of(row, 1))), cv


@pytest.mark.parametrize("rid", V41_SERVER + V51_SERVER)
def test_server_runs_p99_tpot_at_their_own_batch(fits: dict[str, ChipFit], rid: str) -> None:
    """Held out: AMD's Llama-2-70B server logs (v4.1 1 GPU: p99 TPOT 190.3 ms at ~385 decoding; 8 GPUs:
    197.9 ms at ~375 a GPU; v5.1 MI300X 193.4 ms at ~436; MI325X 198.3 ms at ~585; Little's law) against
    the model, fitted on the v5.1 offline and interactive rows only, at those batches: within 5% (they
    read 83%, 70%, 86% and 84% of the logs before the bubble, the batcher and multi-step admission)."""
    rs, b, cv = _at_logged_batch(fits, rid)
    fr = osl_fractions("llama-2-70b")
    assert tpot_p99_at(rs, b, cv, fr) == pytest.approx(load_logged_runs()[rid].tpot_p99_s, rel=0.05)


@pytest.mark.parametrize("rid", V41_SERVER)
def test_v41_server_runs_p99_ttft_at_their_own_batch(fits: dict[str, ChipFit], rid: str) -> None:
    """Held out: p99 TTFT 0.79 s (1 GPU) and 1.60 s (8 GPUs: bursts of ~22 prompts) within 25% (the
    model read 0.24 s for both before the batcher)."""
    rs, b, cv = _at_logged_batch(fits, rid)
    assert ttft_p99_at(rs, b, cv) == pytest.approx(load_logged_runs()[rid].ttft_p99_s, rel=0.25)
    assert rs.burst(b) > 1
