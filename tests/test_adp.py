"""TensorRT-LLM's attention-DP balance (cost.adp), its published settings (cost.published_adp) and the
DeepSeek-R1 group steps they price (cost.published_ep.ADPReplicaSteps)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jalapeno.cost import published_fit as pf
from jalapeno.cost.adp import ADPConfig, hottest_tokens, padded_rows, release_period
from jalapeno.cost.expert import ep_step, weights_per_chip
from jalapeno.cost.oracle import kv_bytes_per_token
from jalapeno.cost.params import fused_engine, params_for
from jalapeno.cost.published import load_published
from jalapeno.cost.published_adp import adp_config, load_adp
from jalapeno.cost.published_ep import ADPReplicaSteps, EPReplicaSteps, ep_parallel, row_steps
from jalapeno.cost.scenario import precision_of, running_context, ttft_p99_at
from jalapeno.cost.scenario_steps import mixed_graph
from jalapeno.errors import JalapenoError
from jalapeno.graph.batch import Batch, Sequence
from jalapeno.graph.builder import build_graph
from jalapeno.hardware.registry import resolve_chip
from jalapeno.models.registry import resolve_model

ROWS = {r.id: r for r in load_published()}
R1 = resolve_model("deepseek-r1")
B200_SERVER = "5.1-0069:deepseek-r1:Server"


# -- the release cadence ---------------------------------------------------------------------------------
def test_release_period_by_hand() -> None:
    """2 ranks, timeout 2, batching wait 1, q = ln 2 (each rank holds a prompt by step 1 with probability
    1/2, by step 2 with 3/4): both by step 1 with 1/4 (release at 1 + 1), first by step 2 with 9/16 - 1/4 =
    5/16 (release at 2 + 1), else the timeout at 2 (7/16): E[R] = 0.5 + 0.9375 + 0.875 = 2.3125."""
    assert release_period(math.log(2), 2, 2, 1) == pytest.approx(2.3125, abs=1e-12)


def test_light_load_releases_like_a_clock_and_heavy_load_after_the_batching_wait() -> None:
    assert release_period(0.0, 8, 9, 3) == 9.0
    assert release_period(1e-6, 8, 9, 3) == pytest.approx(9.0, abs=1e-9)
    assert release_period(50.0, 8, 9, 3) == pytest.approx(1 + 3, abs=1e-9)  # every rank holds one at once
    # B200 server at the run's 1,232 decoding requests: 0.0412 prompts a rank a step; all 8 ranks hold one
    # within 9 steps with probability (1 - e^-0.371)^8 = 8.5e-5, so R = 9 to 1e-3
    assert release_period(1232 / 3736 / 8, 8, 9, 3) == pytest.approx(9.0, abs=1e-3)


@settings(max_examples=60, deadline=None)
@given(
    q=st.floats(0.0, 5.0),
    dp=st.integers(1, 16),
    timeout=st.integers(1, 60),
    wait=st.integers(0, 12),
)
def test_release_period_lies_between_one_step_and_timeout_plus_wait(
    q: float, dp: int, timeout: int, wait: int
) -> None:
    r = release_period(q, dp, timeout, wait)
    assert 1.0 - 1e-9 <= r <= timeout + wait + 1e-9


def test_padding_picks_the_smallest_captured_graph() -> None:
    sizes = (128, 256, 384, 512)
    assert [padded_rows(n, sizes) for n in (1, 128, 129, 154, 384, 512)] == [128, 128, 256, 256, 384, 512]
    assert padded_rows(513, sizes) is None and padded_rows(3, ()) is None


# -- the hottest rank ---------------------------------------------------------------------------------------
def test_one_rank_of_fixed_prompts_is_the_poisson_sum() -> None:
    """dp 1, every prompt 800 tokens, Poisson(1.3) prompts, room 4,000: E[min(800 K, 4000)] by hand."""
    m = 1.3
    want = sum(math.exp(-m) * m**k / math.factorial(k) * min(800 * k, 4000) for k in range(60))
    assert want == pytest.approx(1037.83, abs=0.01)
    assert hottest_tokens(m, 1, 800, 0.0, 4000) == pytest.approx(want, rel=0.01)


def test_two_ranks_of_fixed_prompts_is_the_max_of_two_poisson_sums() -> None:
    m, isl, room = 0.5, 800, 2400
    p = [math.exp(-m) * m**k / math.factorial(k) for k in range(40)]
    want = sum(p[i] * p[j] * min(isl * max(i, j), room) for i in range(40) for j in range(40))
    assert hottest_tokens(m, 2, isl, 0.0, room) == pytest.approx(want, rel=0.01)


def test_few_prompts_give_their_mean_tokens() -> None:
    """One rank, 0.01 prompts a release of mean 804 tokens (spread 0.505), room far away: 8.04 tokens."""
    assert hottest_tokens(0.01, 1, 804, 0.505, 100_000) == pytest.approx(8.04, rel=0.01)


@settings(max_examples=40, deadline=None)
@given(m=st.floats(0.0, 6.0), dp=st.integers(1, 8), cv=st.floats(0.0, 1.0), room=st.integers(0, 6000))
def test_the_hottest_rank_is_bounded_by_the_room_and_grows_with_the_ranks(
    m: float, dp: int, cv: float, room: int
) -> None:
    one = hottest_tokens(m, 1, 804, cv, room)
    hot = hottest_tokens(m, dp, 804, cv, room)
    assert -1e-9 <= one <= hot + 1e-6 and hot <= room + 1e-6


def test_bad_settings_name_their_field() -> None:
    with pytest.raises(JalapenoError, match="timeout_iters"):
        ADPConfig(3456, 0, 3, 5120, 0.9, (128,))
    with pytest.raises(JalapenoError, match="kv_mem_frac"):
        ADPConfig(3456, 9, 3, 5120, 1.5, (128,))


# -- the published settings -------------------------------------------------------------------------------
def test_every_attention_dp_row_has_its_configs_settings() -> None:
    adp = {i for i, r in ROWS.items() if r.attention_dp}
    assert set(load_adp()) == adp and len(adp) == 10  # 9 MLPerf rows and TensorRT-LLM's recipe
    for rid in adp:
        assert adp_config(rid).source == ROWS[rid].config_url  # type: ignore[union-attr]
    # closed/NVIDIA/configs/B200-SXM-180GBx8/Server/deepseek-r1.py
    assert adp_config(B200_SERVER) == ADPConfig(
        3456, 9, 3, 5120, 0.9, (128, 256, 384, 512), ROWS[B200_SERVER].config_url
    )
    # HPE's H200: kvcache_free_gpu_mem_frac 0.6; GB300 NVL72 offline: the runtime max_num_tokens 6,656
    assert adp_config("5.1-0375:deepseek-r1:Offline").kv_mem_frac == 0.6  # type: ignore[union-attr]
    assert adp_config("5.1-0072:deepseek-r1:Offline").max_num_tokens == 6656  # type: ignore[union-attr]
    # the recipe: no attention_dp_config, so no balance: a release every step
    (recipe,) = [i for i, r in ROWS.items() if r.attention_dp and r.source == "vendor"]
    cfg = adp_config(recipe)
    assert cfg is not None and (cfg.max_num_tokens, cfg.timeout_iters, cfg.batching_wait_iters) == (
        2048,
        1,
        0,
    )
    assert release_period(896 / 2048, 8, cfg.timeout_iters, cfg.batching_wait_iters) == 1.0


def test_a_bad_record_names_its_column(tmp_path: Path) -> None:
    f = tmp_path / "adp.csv"
    head = (
        "id,max_num_tokens,timeout_iters,batching_wait_iters,max_concurrency,kv_mem_frac,"
        "graph_batch_sizes,source"
    )
    f.write_text(f"{head}\nx,3456,nine,3,5120,0.9,128 256,https://example.org\n")
    with pytest.raises(JalapenoError, match="timeout_iters"):
        load_adp(f)
    f.write_text(f"{head}\nx,3456,9,3,5120,0.9,,https://example.org\n")
    with pytest.raises(JalapenoError, match="graph_batch_sizes"):
        load_adp(f)


# -- the group's steps --------------------------------------------------------------------------------------
def _steps(rid: str) -> tuple[EPReplicaSteps, int]:
    r = ROWS[rid]
    setup = row_steps(r, R1, resolve_chip(r.chip), fused_engine(params_for(r.chip)), pf.row_shape(r))
    assert setup is not None
    return setup


def test_rows_pass_their_prompt_spread_and_groups() -> None:
    """The defect fixed: the prompt lengths' spread (cv 0.505) places prefill attention at the length-biased
    prompt, 804 x (1 + 0.505^2) = 1,009 tokens; GB200 NVL72's 72 GPUs are 9 groups of 8."""
    rs, _ = _steps(B200_SERVER)
    assert rs.biased_isl == round(804 * (1 + 0.505**2)) == 1009 and rs.replicas == 1
    gb, _ = _steps("5.1-0071:deepseek-r1:Server")
    assert gb.replicas == 9


def test_the_cache_is_the_published_fraction_of_what_the_weights_leave() -> None:
    """HPE's H200 (fp8, frac 0.6): 0.6 x (141 GB - the chip's weights) over a running request's cache, per
    rank; the group caps at 8 of them. GB300 NVL72 offline (frac 0.95): per rank under its 1,536, the group
    under max_concurrency 10,240."""
    for rid, frac in (("5.1-0375:deepseek-r1:Offline", 0.6), ("5.1-0072:deepseek-r1:Offline", 0.95)):
        r = ROWS[rid]
        chip, prec = resolve_chip(r.chip), precision_of(r.precision)
        isl, osl, _, _, fr = pf.row_shape(r)
        w = weights_per_chip(R1, build_graph(R1, Batch.decode(1, 1), prec), ep_parallel(r))
        per_rank = int(
            frac * (chip.memory_bytes - w) // (kv_bytes_per_token(R1, prec) * running_context(isl, osl, fr))
        )
        _, cap = _steps(rid)
        assert cap == min(8 * min(r.max_batch or 0, per_rank), adp_config(rid).max_concurrency)  # type: ignore[union-attr]
    assert _steps("5.1-0375:deepseek-r1:Offline")[1] == 8 * 144


def test_a_decode_step_replays_the_padded_graph() -> None:
    """154 requests a rank pad to the 256 graph: 102 dummy rows (one cached token) whose 8 x 256 tokens the
    experts run."""
    rs, _ = _steps(B200_SERVER)
    assert isinstance(rs, ADPReplicaSteps)
    _, dec_s, dec_j, _, _, _ = rs.steps(8 * 154)
    g = build_graph(R1, Batch((Sequence(1, rs.ctx),) * 154 + (Sequence(1, 1),) * 102), rs.precision)
    want, _ = ep_step(rs.est, R1, rs.par, [(g, 8 * 256)], cuda_graph=True)
    assert (dec_s, dec_j) == (want.time_s, want.energy_j)
    unpadded, _ = ep_step(
        rs.est,
        R1,
        rs.par,
        [(build_graph(R1, Batch.decode(154, rs.ctx), rs.precision), 8 * 154)],
        cuda_graph=True,
    )
    assert dec_s >= unpadded.time_s  # padding rows only add work


def test_the_release_step_is_the_hottest_ranks_eager_step() -> None:
    rs, _ = _steps(B200_SERVER)
    assert isinstance(rs, ADPReplicaSteps)
    b = 8 * 154
    r, _, _, rel_s, _, load = rs.steps(b)
    per_rank = b / 3736 / 8 * r
    hot = round(hottest_tokens(per_rank, 8, 804, 0.505, 3456 - 154))
    g = mixed_graph(R1, 154, rs.ctx, hot, 804, rs.precision, rs.biased_isl)
    want, _ = ep_step(rs.est, R1, rs.par, [(g, b + round(b / 3736 * r * 804))], cuda_graph=False)
    assert rel_s == want.time_s
    assert load == pytest.approx(per_rank * 804 / (3456 - 154))


def test_the_cycle_and_the_first_token_follow_the_release_period() -> None:
    rs, _ = _steps(B200_SERVER)
    assert isinstance(rs, ADPReplicaSteps)
    b = 8 * 154
    r, dec_s, dec_j, rel_s, rel_j, _ = rs.steps(b)
    c = rs.cycle(b)
    assert c.time_s == pytest.approx(((r - 1) * dec_s + rel_s) / r)
    assert c.energy_j == pytest.approx(((r - 1) * dec_j + rel_j) / r)
    assert dec_s <= c.time_s <= rel_s and c.decode_s == dec_s
    want = 0.99 * r * c.time_s + rel_s + c.time_s
    assert rs.held_ttft_p99_s(b) == pytest.approx(want) and ttft_p99_at(rs, b, 0.505) == pytest.approx(want)


def test_prompts_outgrowing_the_room_miss_any_ttft_limit() -> None:
    rs, _ = _steps(B200_SERVER)
    assert isinstance(rs, ADPReplicaSteps)
    tight = ADPReplicaSteps(
        R1,
        rs.est,
        rs.precision,
        804,
        3736,
        rs.ctx,
        rs.cfg,
        rs.par,
        isl_cv=0.505,
        adp=replace(rs.adp, max_num_tokens=200),
    )
    assert tight.held_ttft_p99_s(8 * 154) == math.inf
