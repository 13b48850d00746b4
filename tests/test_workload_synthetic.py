"""Synthetic traffic, rescaling and slicing: rates, CVs, prefix sharing, determinism."""

from __future__ import annotations

import functools
from itertools import pairwise

import numpy as np
import pytest

from jalapeno.errors import JalapenoError
from jalapeno.workload import (
    Constant,
    Empirical,
    LogNormal,
    Request,
    Trace,
    chain_blocks,
    gamma,
    load_trace,
    poisson,
    rescale,
    sessions,
    slice_trace,
)


@functools.cache
def azure_code() -> Trace:
    return load_trace("azure-code")


def test_poisson_rate_and_cv() -> None:
    trace = poisson(20.0, count=40_000, seed=1)
    assert len(trace) == 40_000 and trace.requests[0].arrival_s == 0.0
    assert trace.stats.mean_rate_per_s == pytest.approx(20.0, rel=0.02)
    assert trace.stats.interarrival_cv == pytest.approx(1.0, abs=0.03)
    assert {(r.prompt_tokens, r.output_tokens) for r in trace.requests[:100]} == {(1024, 128)}


@pytest.mark.parametrize("cv", [0.5, 2.0, 4.0])
def test_gamma_cv_as_requested(cv: float) -> None:
    trace = gamma(5.0, cv, count=40_000, seed=2)
    assert trace.stats.interarrival_cv == pytest.approx(cv, rel=0.06)
    assert trace.stats.mean_rate_per_s == pytest.approx(5.0, rel=0.06)


def test_duration_keeps_arrivals_inside() -> None:
    trace = poisson(50.0, duration_s=200.0, seed=3)
    assert trace.requests[-1].arrival_s < 200.0
    assert len(trace) == pytest.approx(10_000, rel=0.05)


def test_deterministic_given_seed() -> None:
    assert poisson(3.0, count=500, seed=7) == poisson(3.0, count=500, seed=7)
    assert poisson(3.0, count=500, seed=7) != poisson(3.0, count=500, seed=8)
    assert sessions(20, seed=5) == sessions(20, seed=5)


def test_length_distributions() -> None:
    rng = np.random.default_rng(0)
    assert Constant(7).sample(rng, 3).tolist() == [7, 7, 7]
    assert set(Empirical((1, 5)).sample(rng, 100).tolist()) == {1, 5}
    x = LogNormal(1000.0, 0.5).sample(rng, 50_000)
    assert x.mean() == pytest.approx(1000, rel=0.02) and x.std() / x.mean() == pytest.approx(0.5, rel=0.05)
    trace = poisson(
        1.0, count=20_000, prompt_tokens=LogNormal(300.0, 1.0), output_tokens=Empirical((2, 4)), seed=0
    )
    assert trace.stats.input_mean == pytest.approx(300, rel=0.05)
    assert trace.stats.output_mean == pytest.approx(3, rel=0.05)


def test_lengths_resampled_jointly_from_a_trace() -> None:
    source = azure_code()
    trace = poisson(2.0, count=20_000, lengths_from=source, seed=4)
    pairs = {(r.prompt_tokens, r.output_tokens) for r in source}
    assert all((r.prompt_tokens, r.output_tokens) in pairs for r in trace)
    assert trace.stats.input_mean == pytest.approx(source.stats.input_mean, rel=0.05)
    assert "Azure" in trace.attribution


def test_generator_arguments_are_checked() -> None:
    with pytest.raises(JalapenoError, match="exactly one"):
        poisson(1.0, count=10, duration_s=5.0)
    with pytest.raises(JalapenoError, match="rate_per_s"):
        poisson(-1.0, count=10)
    with pytest.raises(JalapenoError, match="cv"):
        gamma(1.0, 0.0, count=10)


def test_sessions_share_prefix_blocks_with_previous_turn() -> None:
    trace = sessions(30, turns=6, think_time_s=2.0, seed=11)
    by_session: dict[str, list[Request]] = {}
    for r in trace:
        by_session.setdefault(r.session_id, []).append(r)  # type: ignore[arg-type]
    assert len(by_session) == 30
    for turns in by_session.values():
        turns.sort(key=lambda r: r.round_index)  # type: ignore[arg-type, return-value]
        assert turns[0].cached_tokens_hint == 0 and turns[0].think_time_s == 0.0
        for prev, cur in pairwise(turns):
            assert cur.prompt_tokens > prev.prompt_tokens + prev.output_tokens
            assert cur.cached_tokens_hint == prev.prompt_tokens + prev.output_tokens
            shared = prev.prompt_tokens // 512
            assert cur.block_hashes[:shared] == prev.block_hashes[:shared]
            assert not set(cur.block_hashes[shared:]) & set(prev.block_hashes)
            assert cur.arrival_s == pytest.approx(prev.arrival_s + cur.think_time_s)
            assert len(cur.block_hashes) == -(-cur.prompt_tokens // 512)
    assert [r.request_id for r in trace] == list(range(len(trace)))
    # Agentic shape: long, mostly cached contexts, short outputs.
    cached = sum(r.cached_tokens_hint for r in trace) / sum(r.prompt_tokens for r in trace)
    assert cached > 0.7 and trace.stats.output_mean < trace.stats.input_mean / 20


def test_sessions_stop_at_max_prompt() -> None:
    trace = sessions(5, turns=50, max_prompt_tokens=40_000, seed=0)
    assert all(r.prompt_tokens <= 40_000 for r in trace if r.round_index)


def test_chain_blocks() -> None:
    hashes, nxt = chain_blocks((), 0, 1100, 512, 0)
    assert hashes == (0, 1, 2) and nxt == 3
    grown, nxt = chain_blocks(hashes, 1100, 1700, 512, nxt)  # 1100 // 512 = 2 full blocks kept
    assert grown == (0, 1, 3, 4) and nxt == 5


@pytest.mark.parametrize("rate", [1.0, 10.0, 37.5])
def test_rescale_hits_target_rate(rate: float) -> None:
    source = azure_code()
    scaled = rescale(source, rate=rate)
    assert scaled.stats.mean_rate_per_s == pytest.approx(rate, rel=0.01)
    assert [r.request_id for r in scaled] == [r.request_id for r in source]
    assert [r.prompt_tokens for r in scaled] == [r.prompt_tokens for r in source]
    assert scaled.stats.interarrival_cv == pytest.approx(source.stats.interarrival_cv, rel=1e-9)


def test_rescale_by_factor_and_errors() -> None:
    trace = poisson(2.0, count=1000, seed=0)
    assert rescale(trace, factor=2.0).stats.mean_rate_per_s == pytest.approx(2 * trace.stats.mean_rate_per_s)
    with pytest.raises(JalapenoError, match="exactly one"):
        rescale(trace)
    with pytest.raises(JalapenoError, match="factor"):
        rescale(trace, factor=0.0)
    with pytest.raises(JalapenoError, match="no rate"):
        rescale(poisson(2.0, count=1, seed=0), rate=3.0)


def test_slice_trace() -> None:
    source = azure_code()
    window = slice_trace(source, 600.0, 60.0)
    assert [r.request_id for r in window] == [r.request_id for r in source if 600 <= r.arrival_s < 660]
    assert all(0 <= r.arrival_s < 60 for r in window)
    assert len(slice_trace(source, 1e6)) == 0
    assert len(slice_trace(source, 0.0)) == len(source)
    with pytest.raises(JalapenoError, match="duration_s"):
        slice_trace(source, 0.0, -1.0)
