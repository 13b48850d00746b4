"""Serving simulator end to end, against hand-computed latencies and queueing theory."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from test_serving_helpers import Req

from jalapeno.errors import JalapenoError
from jalapeno.serving import SLO, Disagg, Speculative, StepCost, TierSpec, TimelineRecorder, simulate
from jalapeno.serving.analytic import AffineOracle
from jalapeno.serving.config import ServingConfig
from jalapeno.serving.simulate import Simulation, max_rate_at_attainment
from jalapeno.serving.speculative import emitted

ORACLE = AffineOracle(fixed_s=0.01, per_token_s=1e-4, per_context_s=1e-6, per_pair_s=1e-8)


def run(requests, oracle=ORACLE, **kwargs):
    """Simulate, check the conservation invariants and KV bounds at every step, return (sim, result)."""
    from jalapeno.serving.result import build_result

    steps = []

    def observe(rec):
        assert 0 <= rec.kv_used_blocks <= rec.kv_blocks
        assert rec.end_s >= rec.start_s
        steps.append(rec)

    sim = Simulation(requests, oracle, ServingConfig(**kwargs), observers=[observe])
    sim.run()
    sim.check_invariants()
    sim.steps_seen = steps
    return sim, build_result(sim, 0.0)


def prefill_time(o, prompt, cached=0):
    return o.fixed_s + o.per_token_s * prompt + o.per_pair_s * (cached * prompt + prompt * (prompt + 1) // 2)


def decode_time(o, context, seqs=1):
    return o.fixed_s + o.per_token_s * seqs + o.per_context_s * context


# --- one request, by hand -----------------------------------------------------------------------------
@pytest.mark.parametrize("max_decode_run", [1, 3, 256])
def test_lone_request_latency_is_prefill_plus_its_decode_steps(max_decode_run):
    p, o = 1000, 5
    _, res = run([Req(0, 2.0, p, o)], max_decode_run=max_decode_run)
    pre = prefill_time(ORACLE, p)  # 0.01 + 0.1 + 1e-8 * 500500
    decodes = [decode_time(ORACLE, p + i) for i in range(o - 1)]  # contexts 1000..1003
    assert res.ttft_s.mean == pytest.approx(pre, rel=1e-12)
    assert res.e2e_s.mean == pytest.approx(pre + sum(decodes), rel=1e-12)
    assert res.tpot_s.mean == pytest.approx(sum(decodes) / (o - 1), rel=1e-12)
    assert res.queue_s.mean == 0.0 and res.completed == 1 and res.steps == o
    assert res.energy_j == pytest.approx(500.0 * (pre + sum(decodes)))  # busy all along: no idle energy


def test_chunked_prefill_splits_the_prompt_by_the_token_budget():
    p = 1000
    _, res = run([Req(0, 0.0, p, 2)], scheduler="sarathi", max_num_batched_tokens=512)
    chunk1 = ORACLE.fixed_s + ORACLE.per_token_s * 512 + ORACLE.per_pair_s * (512 * 513 // 2)
    chunk2 = ORACLE.fixed_s + ORACLE.per_token_s * 488 + ORACLE.per_pair_s * (512 * 488 + 488 * 489 // 2)
    assert res.ttft_s.mean == pytest.approx(chunk1 + chunk2, rel=1e-12)
    assert res.e2e_s.mean == pytest.approx(chunk1 + chunk2 + decode_time(ORACLE, p), rel=1e-12)


def test_decodes_batch_with_a_new_prefill_in_vllm_and_sarathi():
    reqs = [Req(0, 0.0, 100, 50), Req(1, 0.05, 100, 5)]
    for sched in ("vllm", "sarathi"):
        sim, _ = run(reqs, scheduler=sched)
        mixed = [r for r in sim.steps_seen if r.shape.prefill_seqs and r.shape.decode_seqs]
        assert len(mixed) == 1 and mixed[0].shape.decode_seqs == 1 and mixed[0].shape.prefill_tokens == 100


def test_a_prompt_over_the_vllm_budget_joins_the_running_decodes_one_a_step():
    """Regression: a whole prompt larger than ``max_num_batched_tokens`` used to wait until every running
    request had finished (MLPerf Llama-3.1-405B, prompts of 9,429 tokens on average against 8,192, ran
    at a batch of 1-5: 7 output tokens/s a GPU on 8 x H200 against MLPerf's 69). It now runs as the only
    prefill of its step, beside the decodes; a second one waits for the next step."""
    reqs = [Req(0, 0.0, 100, 50), Req(1, 0.05, 1000, 5), Req(2, 0.05, 1000, 5)]
    sim, res = run(reqs, scheduler="vllm", max_num_batched_tokens=512)
    pre = [r.shape for r in sim.steps_seen if r.shape.prefill_seqs]
    assert [(s.prefill_seqs, s.prefill_tokens) for s in pre] == [(1, 100), (1, 1000), (1, 1000)]
    assert [s.decode_seqs for s in pre] == [0, 1, 2]  # with request 0's decode, then with 0 and 1
    assert res.completed == 3
    done0 = next(st.finish_s for st in sim.states if st.rid == 0)
    assert max(st.first_token_s for st in sim.states) < done0  # both long prompts start before 0 ends


def test_bulk_decode_runs_match_step_by_step_pricing_on_a_nonlinear_oracle():
    class Convex(AffineOracle):
        def step(self, shape):
            t = 0.004 + 2e-5 * shape.tokens + 2e-9 * shape.decode_context**1.3 + 1e-9 * shape.prefill_context
            return StepCost(t, 400 * t)

    rng = np.random.default_rng(3)
    reqs = [
        Req(i, float(t), int(p), int(o))
        for i, (t, p, o) in enumerate(
            zip(
                np.cumsum(rng.exponential(0.05, 300)),
                rng.integers(50, 3000, 300),
                rng.integers(1, 300, 300),
                strict=True,
            )
        )
    ]
    _, exact = run(reqs, Convex(), max_decode_run=1)
    _, bulk = run(reqs, Convex())
    assert bulk.step_events < exact.step_events / 2
    assert bulk.steps == exact.steps
    for name in ("ttft_s", "tpot_s", "e2e_s"):
        assert getattr(bulk, name).mean == pytest.approx(getattr(exact, name).mean, rel=2e-3)
    assert bulk.energy_j == pytest.approx(exact.energy_j, rel=2e-3)


# --- queueing theory ----------------------------------------------------------------------------------
def test_single_server_matches_pollaczek_khinchine():
    """max_num_seqs=1 makes a replica an M/G/1 FCFS server: mean wait = lambda E[S^2] / (2 (1 - rho))."""
    o = AffineOracle(fixed_s=0.002, per_token_s=1e-5)
    rng = np.random.default_rng(7)
    n, prompt = 20000, 500
    outputs = rng.integers(1, 41, n)  # uniform 1..40
    service = prefill_time(o, prompt) + (outputs - 1) * decode_time(o, 0)
    levels = prefill_time(o, prompt) + (np.arange(1, 41) - 1) * decode_time(o, 0)
    es, es2 = levels.mean(), (levels**2).mean()
    lam = 0.6 / es
    arrivals = np.cumsum(rng.exponential(1 / lam, n))
    reqs = [Req(i, float(a), prompt, int(k)) for i, (a, k) in enumerate(zip(arrivals, outputs, strict=True))]
    _, res = run(reqs, o, max_num_seqs=1)
    expected = lam * es2 / (2 * (1 - lam * es))
    assert res.queue_s.mean == pytest.approx(expected, rel=0.08)
    assert res.e2e_s.mean == pytest.approx(expected + service.mean(), rel=0.05)


# --- prefix caching, preemption, tiers ----------------------------------------------------------------
def test_prefix_caching_lowers_computed_tokens_by_the_hit():
    shared = (11, 12, 13)
    reqs = [Req(0, 0.0, 1600, 3, (*shared, 1)), Req(1, 10.0, 1600, 3, (*shared, 2))]
    sim0, res0 = run(reqs)
    sim1, res1 = run(reqs, prefix_cache=True)
    a, b = sim1.states
    assert a.hit_tokens == 0 and a.prefill_tokens == 1600
    assert b.hit_tokens == 3 * 512 and b.prefill_tokens == 1600 - 3 * 512
    assert sim0.states[1].prefill_tokens == 1600
    assert res1.prefix_hit_rate == pytest.approx(1536 / 3200)
    assert res1.prefix_cache["hbm_hit_tokens"] == 1536
    assert res1.ttft_s.p99 < res0.ttft_s.p99
    assert b.first_token_s - b.arrival_s == pytest.approx(prefill_time(ORACLE, 64, cached=1536))


def test_a_request_arriving_mid_prefill_hits_only_the_chunks_already_computed():
    """Sarathi, 768-token budget, 512-token trace blocks. A's 2049-token prompt (4 full units) is
    prefilled in chunks of 768, 768 and 513 tokens; step 1 ends at 0.0898 s (0.01 + 1e-4 x 768 + 1e-8 x
    295,296 pairs), step 2 at 0.1854 s. B, with the same prompt, arrives at 0.1 s, waits while A's chunks
    fill the budget, and is admitted into step 3 next to A's last 513 tokens: A has computed 1,536
    tokens by then, so exactly 3 units are registered (not the 4th, allocated but not computed, nor 0,
    as if units were named only when the whole prompt is done)."""
    shared = (21, 22, 23, 24, 25)
    reqs = [Req(0, 0.0, 2049, 2, shared), Req(1, 0.1, 2049, 2, shared)]
    sim, res = run(reqs, prefix_cache=True, scheduler="sarathi", max_num_batched_tokens=768)
    a, b = sim.states
    step1 = prefill_time(ORACLE, 768)
    assert step1 < 0.1 < step1 + prefill_time(ORACLE, 768, cached=768)
    assert a.hit_tokens == 0 and a.prefill_tokens == 2049
    assert b.hit_tokens == 1536 and b.prefill_tokens == 2049 - 1536
    assert res.prefix_cache["hbm_hit_tokens"] == 1536


def test_a_trace_with_its_own_block_size_caches_in_those_units():
    """Trace blocks of 64 tokens (not Mooncake's 512) on 16-token pages: a repeat of a 200-token prompt
    hits its 3 full 64-token units = 192 tokens."""
    reqs = [
        Req(0, 0.0, 200, 2, (1, 2, 3, 4), block_tokens=64),
        Req(1, 5.0, 200, 2, (1, 2, 3, 4), block_tokens=64),
    ]
    sim, res = run(reqs, prefix_cache=True)
    assert sim.states[1].hit_tokens == 192 and sim.states[1].prefill_tokens == 8
    assert res.prefix_hit_rate == pytest.approx(192 / 400)


def test_evicted_prefix_comes_back_from_the_tier_at_its_bandwidth():
    tier = TierSpec(capacity_bytes=1e12, bandwidth_bytes_per_s=1e9)
    o = AffineOracle(kv_capacity_tokens=16 * 64, kv_bytes_per_token=1000.0)
    reqs = [Req(0, 0.0, 600, 2, (1, 2)), Req(1, 10.0, 600, 2, (3, 4)), Req(2, 20.0, 600, 2, (1, 2))]
    sim, res = run(reqs, o, prefix_cache=True, tier=tier)
    c = sim.states[2]
    assert c.loaded_tokens == 512 and c.prefill_tokens == 88
    load = 32 * 16 * 1000.0 / 1e9
    assert c.first_token_s - c.arrival_s == pytest.approx(load + prefill_time(o, 88, cached=512))
    assert res.prefix_cache["tier_hit_tokens"] == 512 and res.prefix_cache["evictions"] >= 1


@pytest.mark.parametrize("mode", ["recompute", "swap"])
def test_preemption_under_tiny_kv_completes_everything(mode):
    o = AffineOracle(kv_capacity_tokens=16 * 20, kv_bytes_per_token=1000.0)
    reqs = [Req(i, 0.001 * i, 100, 100) for i in range(8)]
    tier = TierSpec(capacity_bytes=1e9, bandwidth_bytes_per_s=1e9) if mode == "swap" else None
    sim, res = run(reqs, o, preemption=mode, tier=tier)
    assert res.completed == 8 and res.preemptions[mode] > 0
    assert res.kv_utilization["peak"] <= 1.0
    if mode == "recompute":
        assert sum(st.discarded_tokens for st in sim.states) > 0
    else:
        assert res.preemptions["recompute"] == 0


def test_drops_are_reported_with_reasons():
    o = AffineOracle(kv_capacity_tokens=1000)
    reqs = [Req(0, 0.0, 500, 10), Req(1, 0.0, 2000, 10), Req(2, 0.0, 300, 300), Req(3, 0.0, 0, 5)]
    _, res = run(reqs, o, max_model_len=550)
    assert res.completed == 1 and res.requests == 4
    reasons = {d.request_id: d.reason for d in res.dropped}
    assert set(reasons) == {1, 2, 3}
    assert "max_model_len" in reasons[1] and "max_model_len" in reasons[2] and ">= 1" in reasons[3]
    _, res = run(reqs[:2], o)
    assert "KV" in res.dropped[0].reason
    assert res.slo_attainment == 0.5  # the dropped request counts as a miss


# --- disaggregation, speculation, priorities, routers -------------------------------------------------
def test_disagg_adds_the_kv_transfer_and_conserves_requests():
    p, o = 1000, 6
    d = Disagg(link_bandwidth_bytes_per_s=1e9, link_latency_s=1e-3)
    _, uni = run([Req(0, 0.0, p, o)])
    sim, dis = run([Req(0, 0.0, p, o)], topology="disagg", scheduler="sarathi", disagg=d)
    transfer = p * ORACLE.kv_bytes_per_token / 1e9 + 1e-3
    assert dis.ttft_s.mean == pytest.approx(uni.ttft_s.mean)
    assert dis.e2e_s.mean == pytest.approx(uni.e2e_s.mean + transfer)
    assert sim.kv_link.transfer_s == pytest.approx(transfer) and dis.replicas == 2
    rng = np.random.default_rng(1)
    reqs = [
        Req(i, float(t), int(a), int(b))
        for i, (t, a, b) in enumerate(
            zip(
                np.cumsum(rng.exponential(0.02, 400)),
                rng.integers(10, 2000, 400),
                rng.integers(1, 100, 400),
                strict=True,
            )
        )
    ]
    sim, res = run(
        reqs,
        topology="disagg",
        scheduler="sarathi",
        router="least_outstanding",
        disagg=Disagg(prefill_replicas=2, decode_replicas=3, decode_oracle=AffineOracle()),
    )
    assert res.completed == 400 and res.replicas == 5
    assert {st.replica for st in sim.states if st.output > 1} <= {2, 3, 4}  # decoded in the decode pool


def test_speculative_decoding_emits_the_expected_tokens_per_verify_step():
    p, o, k, a = 1000, 20, 3, 0.5
    spec = Speculative(k, a)
    rate = spec.tokens_per_step  # 1.875
    _, res = run([Req(0, 0.0, p, o)], speculative=spec, max_decode_run=1)
    verify, ctx = [], p
    while sum(verify) < o - 1:  # each verify step: a decode step of 4 query tokens, ctx cached tokens
        verify.append(emitted(0.0, len(verify) + 1, rate, o - 1) - sum(verify))
    steps, t = len(verify), 0.0
    for n in verify:  # 4 tokens through the model, the cache read once (graph.verify)
        t += ORACLE.fixed_s + ORACLE.per_token_s * (k + 1) + ORACLE.per_context_s * ctx
        ctx += n
    assert steps == 11 and res.steps == 1 + steps
    assert res.e2e_s.mean == pytest.approx(prefill_time(ORACLE, p) + t, rel=1e-12)
    _, bulk = run([Req(0, 0.0, p, o)], speculative=spec)
    assert bulk.e2e_s.mean == pytest.approx(res.e2e_s.mean, rel=1e-3)
    _, drafted = run([Req(0, 0.0, p, o)], speculative=Speculative(k, a, draft_cost=0.1), max_decode_run=1)
    draft = sum(k * 0.1 * decode_time(ORACLE, c) for c in p + np.cumsum([0, *verify[:-1]]))
    assert drafted.e2e_s.mean == pytest.approx(res.e2e_s.mean + draft, rel=1e-12)


def test_priority_policy_serves_urgent_requests_first():
    reqs = [Req(0, 0.0, 100, 20), Req(1, 0.01, 100, 5, priority=5), Req(2, 0.02, 100, 5, priority=1)]
    sim, _ = run(reqs, max_num_seqs=1, policy="priority")
    s = {st.rid: st for st in sim.states}
    assert s[2].scheduled_s < s[1].scheduled_s
    sim, _ = run(reqs, max_num_seqs=1)  # fcfs
    s = {st.rid: st for st in sim.states}
    assert s[1].scheduled_s < s[2].scheduled_s


def test_routers():
    reqs = [Req(i, 0.001 * i, 100 if i else 5000, 10) for i in range(8)]
    _, rr = run(reqs, replicas=4)
    assert sorted(rr.per_request["replica"].tolist()) == [0, 0, 1, 1, 2, 2, 3, 3]
    _, lo = run(reqs, replicas=4, router="least_outstanding")
    assert lo.per_request["replica"][0] == 0 and 0 not in lo.per_request["replica"][1:4].tolist()
    sessions = [(100 + s, 200 + s) for s in range(3)]
    reqs = [Req(i, 0.5 * i, 1100, 4, sessions[i % 3] + (i,)) for i in range(12)]
    sim, aff = run(reqs, replicas=4, router="prefix_affinity", prefix_cache=True)
    by_session = {}
    for st in sim.states:
        by_session.setdefault(st.request.block_hashes[:2], set()).add(st.replica)
    assert all(len(r) == 1 for r in by_session.values())
    _, rr = run(reqs, replicas=4, prefix_cache=True)
    assert aff.prefix_hit_rate > rr.prefix_hit_rate


# --- metrics, export, determinism ---------------------------------------------------------------------
def test_energy_power_and_cost_accounting():
    o = AffineOracle(busy_power_w=600.0, idle_power_w=100.0)
    reqs = [Req(0, 0.0, 200, 10), Req(1, 5.0, 200, 10)]
    _, res = run(reqs, o, replicas=2, dollars_per_replica_hour=3.6, power_window_s=0.5)
    busy = 2 * (prefill_time(o, 200) + sum(decode_time(o, 200 + i) for i in range(9)))
    assert res.duration_s == pytest.approx(5.0 + busy / 2)
    idle = 100.0 * (2 * res.duration_s - busy)
    assert res.energy_j == pytest.approx(600.0 * busy + idle)
    assert res.avg_power_w == pytest.approx(res.energy_j / res.duration_s)
    assert 200.0 <= res.avg_power_w < res.peak_power_w <= 700.0
    assert res.joules_per_token.output == pytest.approx(res.energy_j / 20)
    assert res.joules_per_token.total == pytest.approx(res.energy_j / 420)
    cost = 3.6 * 2 * res.duration_s / 3600
    assert res.usd_per_mtok_replica_hour.output == pytest.approx(cost / 20 * 1e6)
    assert res.throughput_tokens_per_s == pytest.approx(20 / res.duration_s)
    assert res.goodput_rps == pytest.approx(2 / res.duration_s) and res.slo_attainment == 1.0
    assert 0 < res.kv_utilization["mean"] < res.kv_utilization["peak"]


def test_slo_attainment_counts_ttft_and_tpot():
    reqs = [Req(i, 0.0, 4000, 30) for i in range(10)]  # a burst: later requests wait for TTFT
    _, res = run(reqs, slo=SLO(ttft_s=0.5, tpot_s=1.0))
    ttft = res.per_request["ttft_s"]
    assert res.slo_attainment == pytest.approx(np.mean(ttft <= 0.5))
    _, strict = run(reqs, slo=SLO(ttft_s=100.0, tpot_s=1e-4))
    assert strict.slo_attainment == 0.0 and strict.goodput_rps == 0.0


def test_same_input_gives_identical_json_and_timeline_is_bounded(tmp_path):
    rng = np.random.default_rng(5)
    reqs = [
        Req(i, float(t), int(a), int(b), tuple(int(x) for x in rng.integers(0, 3, 4)))
        for i, (t, a, b) in enumerate(
            zip(
                np.cumsum(rng.exponential(0.01, 300)),
                rng.integers(600, 3000, 300),
                rng.integers(1, 60, 300),
                strict=True,
            )
        )
    ]
    kwargs = {"replicas": 2, "scheduler": "sarathi", "router": "least_outstanding", "prefix_cache": True}
    tl = TimelineRecorder(max_events=100)
    first = simulate(reqs, ORACLE, timeline=tl, **kwargs)
    second = simulate(list(reversed(reqs)), ORACLE, **kwargs)
    assert first.to_json() == second.to_json()
    assert "sim_wall_s" not in json.loads(first.to_json()) and "sim_wall_s" in json.loads(
        first.to_json(include_wall=True)
    )
    doc = tl.to_dict()
    kinds = {e["ph"] for e in doc["traceEvents"]}
    assert {"X", "b", "n", "e", "C", "M"} <= kinds
    assert (
        len([e for e in doc["traceEvents"] if e["ph"] != "M"]) <= 100
        and doc["metadata"]["omitted_events"] > 0
    )
    tl.write(tmp_path / "t.json")
    assert json.loads((tmp_path / "t.json").read_text())["traceEvents"]


def test_progress_callback_and_rate_scale():
    calls = []
    reqs = [Req(i, float(i), 100, 5) for i in range(400)]
    res = simulate(reqs, ORACLE, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (400, 400) and len(calls) >= 100
    fast = simulate(reqs, ORACLE, rate_scale=4.0)
    assert fast.duration_s == pytest.approx(res.duration_s - 299.25, rel=1e-6)


def test_max_rate_at_attainment_finds_the_knee_on_both_sides():
    rng = np.random.default_rng(2)
    reqs = [Req(i, float(t), 2000, 20) for i, t in enumerate(np.cumsum(rng.exponential(0.5, 300)))]
    slo = SLO(ttft_s=0.5, tpot_s=0.05)
    rate, res = max_rate_at_attainment(reqs, ORACLE, slo=slo, iterations=6)
    assert res is not None and res.slo_attainment >= 0.9
    base = (len(reqs) - 1) / (reqs[-1].arrival_s - reqs[0].arrival_s)  # the trace's own rate, req/s
    scale = rate / base
    assert 0.125 < scale < 8.0  # the knee lies inside the bracket, not at an end of it
    # bisection in log space over [1/8, 8] for 6 rounds: the bracket is 64^(1/64) wide. The rate one
    # bracket above the answer was tried and missed; the answer itself, re-run, attains.
    step = math.exp((math.log(8.0) - math.log(0.125)) / 2**6)
    above = simulate(reqs, ORACLE, slo=slo, rate_scale=scale * step)
    assert above.slo_attainment < 0.9
    assert simulate(reqs, ORACLE, slo=slo, rate_scale=scale).slo_attainment == res.slo_attainment
    _, none = max_rate_at_attainment(reqs, ORACLE, slo=SLO(ttft_s=1e-3, tpot_s=0.05), iterations=1)
    assert none is None


def test_bad_configuration_names_the_field():
    with pytest.raises(JalapenoError, match="scheduler"):
        simulate([], ORACLE, scheduler="fifo")
    with pytest.raises(JalapenoError, match="replicas"):
        simulate([], ORACLE, replicas=0)
    with pytest.raises(JalapenoError, match="replicas"):
        simulate([], ORACLE, replicas=2, topology="disagg")
    with pytest.raises(JalapenoError, match="topology='disagg'"):  # disaggregation is not a scheduler
        simulate([], ORACLE, scheduler="disagg")
    with pytest.raises(JalapenoError, match="one of least_outstanding, prefix_affinity, round_robin"):
        simulate([], ORACLE, router="random")
    with pytest.raises(JalapenoError, match="acceptance"):
        Speculative(2, 1.5)
    res = simulate([], ORACLE)
    assert res.requests == 0 and res.completed == 0


def test_unlimited_prefix_cache_reproduces_the_mooncake_hit_rate():
    """The trace README: with an unlimited prefix cache, 65.1% of mooncake-synthetic input tokens hit."""
    workload = pytest.importorskip("jalapeno.workload")
    reqs = workload.load_trace("mooncake-synthetic").requests
    o = AffineOracle(fixed_s=1e-4, per_token_s=1e-8, kv_capacity_tokens=10**9)
    res = simulate(reqs, o, prefix_cache=True, scheduler="sarathi", max_num_batched_tokens=1 << 20)
    # slightly below: only full 512-token units are cached, and a prompt's last token is always computed
    assert 0.645 <= res.prefix_hit_rate <= 0.651
