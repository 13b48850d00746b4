"""Random traces, capacities and policies: the simulator's invariants hold for all of them."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_serving_helpers import Req as BaseReq

from jalapeno.serving import Disagg, Speculative, TierSpec
from jalapeno.serving.analytic import AffineOracle
from jalapeno.serving.config import ServingConfig
from jalapeno.serving.result import build_result
from jalapeno.serving.simulate import Simulation


@dataclass(frozen=True)
class Req(BaseReq):
    block_tokens: int | None = 64


@st.composite
def traces(draw):
    n = draw(st.integers(1, 30))
    t, out = 0.0, []
    for i in range(n):
        t += draw(st.sampled_from([0.0, 0.001, 0.01, 0.1, 1.0]))
        prompt = draw(st.integers(1, 700))
        blocks = -(-prompt // 64)
        root = draw(st.integers(0, 2))  # few roots: prefixes get shared
        hashes = tuple([root] + [draw(st.integers(0, 3)) for _ in range(blocks - 1)])
        out.append(Req(i, t, prompt, draw(st.integers(1, 80)), hashes, priority=draw(st.integers(0, 2))))
    return out


@st.composite
def configs(draw):
    scheduler = draw(st.sampled_from(["vllm", "sarathi"]))  # with disagg: the prefill pool's
    topology = draw(st.sampled_from(["colocated", "disagg"]))
    tier = draw(st.sampled_from([None, TierSpec(capacity_bytes=64 * 1000.0 * 40, bandwidth_bytes_per_s=1e8)]))
    kw = {
        "scheduler": scheduler,
        "topology": topology,
        "router": draw(st.sampled_from(["round_robin", "least_outstanding", "prefix_affinity"])),
        "prefix_cache": draw(st.booleans()),
        "block_size": draw(st.sampled_from([8, 16, 32])),
        "max_num_seqs": draw(st.integers(1, 8)),
        "max_num_batched_tokens": draw(st.sampled_from([16, 100, 512, 4096])),
        "policy": draw(st.sampled_from(["fcfs", "priority"])),
        "preemption": draw(st.sampled_from(["recompute", "swap"])),
        "tier": tier,
        "speculative": draw(
            st.sampled_from([None, Speculative(2, 0.6), Speculative(3, 1.0, draft_cost=0.1)])
        ),
        "max_decode_run": draw(st.sampled_from([1, 4, 256])),
        "power_window_s": draw(st.sampled_from([0.01, 1.0])),
    }
    if topology == "disagg":
        kw["disagg"] = Disagg(
            prefill_replicas=draw(st.integers(1, 2)),
            decode_replicas=draw(st.integers(1, 2)),
            link_bandwidth_bytes_per_s=1e8,
        )
    else:
        kw["replicas"] = draw(st.integers(1, 3))
    capacity = draw(st.integers(200, 4000))
    oracle = AffineOracle(
        fixed_s=0.002,
        per_token_s=1e-5,
        per_context_s=1e-7,
        per_pair_s=1e-9,
        kv_capacity_tokens=capacity,
        kv_bytes_per_token=1000.0,
    )
    return oracle, ServingConfig(**kw)


def simulate_checked(reqs, oracle, cfg):
    def observe(rec):
        assert 0 <= rec.kv_used_blocks <= rec.kv_blocks
        assert sum(rec.plan.values()) == rec.shape.tokens  # speculative: k + 1 a decoding sequence

    sim = Simulation(reqs, oracle, cfg, observers=[observe])
    sim.run()
    sim.check_invariants()
    return build_result(sim, 0.0)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(traces(), configs())
def test_random_traces_hold_every_invariant(reqs, setup):
    oracle, cfg = setup
    res = simulate_checked(reqs, oracle, cfg)
    assert res.completed + len(res.dropped) == len(reqs)
    assert all(d.reason for d in res.dropped)
    assert res.output_tokens == sum(
        r.output_tokens for r in reqs if r.request_id not in {d.request_id for d in res.dropped}
    )
    kv = res.kv_utilization
    assert 0.0 <= kv["mean"] <= kv["peak"] * (1 + 1e-12) and kv["peak"] <= 1.0  # time average, float sums
    assert 0.0 <= res.prefix_hit_rate <= 1.0 and 0.0 <= res.slo_attainment <= 1.0
    if res.completed:
        assert res.ttft_s.p50 <= res.ttft_s.p99 and res.e2e_s.mean >= res.ttft_s.mean
        assert res.energy_j > 0 and res.peak_power_w >= 0.999 * oracle.idle_power_w
    again = simulate_checked(reqs, oracle, cfg)
    assert again.to_json() == res.to_json()
