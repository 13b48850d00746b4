"""Expert parallelism with data-parallel attention (cost.expert): hand-computed all-to-all, imbalance,
EPLB placement, two-batch overlap, the plan's rules, and ep = dp = 1 reproducing the numbers before it."""

from __future__ import annotations

import json
import math

import pytest

from jalapeno.cli import main
from jalapeno.cost.estimate import estimate
from jalapeno.cost.expert import EP_EXPERTS, eplb_imbalance, uniform_imbalance
from jalapeno.cost.oracle import CostOracle
from jalapeno.cost.params import setup_for
from jalapeno.cost.pipeline import Parallel, transfer
from jalapeno.cost.step import Estimator
from jalapeno.errors import JalapenoError
from jalapeno.hardware import resolve_chip
from jalapeno.models import resolve_model
from jalapeno.serving.oracle import StepShape

# (decode s, decode J, prefill s, oracle mixed-step s, J, KV capacity) at commit f24a74d, before issue 12:
# batch 32 x context 2000, prompt 1000; oracle StepShape(16, 24000, 1, 512, 131328, 512)
# The tp-4 H100 row re-pinned when the H100's NVSwitch got its sourced in-network reduction (NVLink SHARP):
# its all-reduces run in the switch (5/4 B / bw + 2 a, not the ring's 3/2 B / bw + 6 a; bf16, so the
# residual-stream dtype rule moves nothing): decode -3.4%, prefill -2.9%; tp 2 keeps the ring (unchanged).
# Re-pinned when the in-network all-reduce ran at its measured share of the line rate (nccl-tests NVLS
# busbw 480 GB/s on 8 H100s: 0.686 of it) and a ring on the switch at NCCL's 370 of 450 GB/s (the logits
# gather; tp 2's all-reduces): tp 4 decode +0.13%, prefill +1.9%, mixed +1.1%; tp 2 x pp 2 decode +0.03%,
# prefill +0.2%, mixed +0.1%. Re-pinned when the NVSwitch hop latency went from the 2 us placeholder to the
# measured 3 us (small-message all-reduce on 8 H100s, tests/test_collective_latency.py): tp 4 decode +0.89%,
# prefill +0.53%, mixed +0.56%; tp 2 x pp 2 decode +0.72%, prefill +0.31%, mixed +0.31%.
BEFORE = {
    ("gpt-oss-120b", "h100-sxm", 4, 1): (
        0.016665930432752142,
        24.5824545249754,
        0.028003766903712753,
        0.026374278195447257,
        46.123230046525805,
        737056,
    ),
    ("qwen3-coder-30b-a3b", "h200-sxm", 1, 1): (
        0.01818092853259336,
        8.940403411552166,
        0.026156879529256213,
        0.02248153177507257,
        14.981135796265171,
        669715,
    ),
    ("gpt-oss-120b", "h100-sxm", 2, 2): (
        0.020308024951158334,
        30.376360175486063,
        0.07090412251423195,
        0.0465719305307096,
        79.61637873716622,
        737056,
    ),
}


@pytest.mark.parametrize("key", sorted(BEFORE))
def test_ep1_dp1_reproduces_the_numbers_from_before(key):
    m, h, tp, pp = key
    cfg, chip = resolve_model(m), resolve_chip(h)
    par = Parallel(tp, pp, ep=1, dp=1)
    e = estimate(cfg, chip, batch=32, context=2000, prompt=1000, parallel=par, engine="calibration")
    prm, timer = setup_for(chip)
    o = CostOracle(cfg, chip, prm, timer=timer, parallel=par)
    s = o.step(StepShape(16, 16 * 1500, 1, 512, 512 * 513 // 2, 512))
    # to 1e-8: a refit of the H200 calibration after f24a74d moved its parameters in the ninth digit
    assert (
        e.decode.time_s,
        e.decode.energy_j,
        e.prefill.time_s,
        s.time_s,
        s.energy_j,
        o.kv_capacity_tokens,
    ) == pytest.approx(BEFORE[key], rel=1e-8)


GPT = "gpt-oss-120b"  # 36 MoE layers, 128 experts, top-4, hidden 2880


def test_two_way_ep_all_to_all_by_hand():
    """ep=2 (dp=2) on H200, balanced: each chip's 32 tokens x top-4 x 2880 x 2 bytes, direct on the
    NVSwitch: (n-1)/n x B / 450 GB/s + 3 us (the preset hop), dispatch and combine, 36 layers."""
    cfg, chip = resolve_model(GPT), resolve_chip("h200-sxm")
    e = estimate(cfg, chip, batch=64, context=1000, parallel=Parallel(1, 1, ep=2, dp=2, ep_imbalance=1.0))
    x = e.decode_ep
    b = 32 * 4 * 2880 * 2
    assert x.dispatch_bytes_per_chip == b
    one = 0.5 * b / 450e9 + 3e-6
    assert x.all_to_all_s == pytest.approx(2 * 36 * one, rel=1e-12)
    assert x.algorithm == "direct" and x.imbalance == 1.0
    # the step: the hottest rank's compute, then the all-to-alls, then the host gap between steps
    assert not e.decode.power_capped
    assert e.decode.time_s == pytest.approx(
        x.compute_s + x.all_to_all_s + e.params.step_overhead_s, rel=1e-12
    )
    assert e.chips == 2 and e.to_json()["chips"] == 2
    # link bytes: each chip sends half its buffer, twice a layer
    assert e.decode.link_bytes == pytest.approx(2 * 36 * 2 * 0.5 * b)


def test_imbalance_scales_the_hottest_rank():
    cfg, chip = resolve_model(GPT), resolve_chip("h200-sxm")
    runs = {
        g: estimate(cfg, chip, batch=64, context=1000, parallel=Parallel(1, 1, ep=2, dp=2, ep_imbalance=g))
        for g in (1.0, 1.5)
    }
    ops = {g: [c for c in e.decode.ops if c.op.name == EP_EXPERTS] for g, e in runs.items()}
    assert len(ops[1.0]) == 2  # the sliding- and the full-attention MoE layers
    # the hottest rank runs 1.5 x the mean token-expert pairs: FLOPs and activation bytes scale by 1.5
    for hot, mean in zip(ops[1.5], ops[1.0], strict=True):
        assert hot.op.flops == pytest.approx(1.5 * mean.op.flops, rel=1e-12)
        assert hot.op.act_read_bytes == pytest.approx(1.5 * mean.op.act_read_bytes, rel=1e-12)
    # and its all-to-all bandwidth term by 1.5 (latency unchanged)
    lat = 2 * 36 * 3e-6
    a2a = {g: e.decode_ep.all_to_all_s for g, e in runs.items()}
    assert a2a[1.5] - lat == pytest.approx(1.5 * (a2a[1.0] - lat), rel=1e-9)
    # the step grows by exactly the hottest rank's extra expert time and all-to-all
    extra = sum(c.total_s for c in ops[1.5]) - sum(c.total_s for c in ops[1.0]) + a2a[1.5] - a2a[1.0]
    assert runs[1.5].decode.time_s - runs[1.0].decode.time_s == pytest.approx(extra, rel=1e-9)
    assert extra > 0
    # energy counts the mean rank on every chip: only the longer step's static power differs
    assert runs[1.5].decode.energy_j > runs[1.0].decode.energy_j


def test_imbalance_statistics():
    # uniform routing's floor: 1 + sd sqrt(2 ln ep) / mean, with mean = P/ep, sd = sqrt(P/ep (1 - 1/ep))
    p, ep = 2048.0, 16
    assert uniform_imbalance(p, ep) == pytest.approx(
        1 + math.sqrt(p / ep * (15 / 16)) * math.sqrt(2 * math.log(16)) / (p / ep)
    )
    assert uniform_imbalance(p, 1) == 1.0 and uniform_imbalance(1e9, 16) < 1.001
    # EPLB: [3, 1] on 2 ranks is 1.5; two redundant slots both go to the hot expert (3/2, then 3/3 < 1? no:
    # 3/2 = 1.5 > 1, then 3/3 = 1 ties expert 1 at 1 and the lower id wins): four replicas of load 1
    assert eplb_imbalance([3, 1], 2) == 1.5
    assert eplb_imbalance([3, 1], 2, redundant=2) == 1.0
    # a hot expert among 8 on 4 ranks: LPT packing gives ranks 8+1, 2+1, 1+1, 1+1 -> 9 / 4
    loads = [8, 1, 1, 1, 1, 1, 1, 2]
    assert eplb_imbalance(loads, 4) == 9 / 4
    assert 1.0 <= eplb_imbalance(loads, 4, redundant=4) < eplb_imbalance(loads, 4)
    assert eplb_imbalance([1.0] * 16, 4) == 1.0
    with pytest.raises(JalapenoError):
        eplb_imbalance(loads, 3)  # 8 experts do not split over 3 ranks


def test_redundant_experts_cost_memory_and_weight_reads():
    cfg, chip = resolve_model(GPT), resolve_chip("h200-sxm")
    prm, timer = setup_for(chip)
    kv = {
        r: CostOracle(
            cfg, chip, prm, timer=timer, parallel=Parallel(1, 1, ep=8, dp=8, redundant_experts=r)
        ).kv_capacity_tokens
        for r in (0, 8)
    }
    assert kv[8] < kv[0]  # one more expert a chip
    with pytest.raises(JalapenoError, match="split"):
        Parallel(1, 1, ep=8, dp=8, redundant_experts=4).check_model(cfg)


def test_two_batch_overlap_takes_the_max_per_half():
    cfg, chip = resolve_model("deepseek-v3"), resolve_chip("h200-sxm")
    from jalapeno.graph.precision import Precision

    fp8 = Precision.of("fp8")
    base = {"batch": 4096, "context": 1000, "precision": fp8}
    e = estimate(cfg, chip, parallel=Parallel(1, 1, ep=16, dp=16, tbo=True), **base)
    x = e.decode_ep
    assert x.micro_batches == 2
    # two identical halves: each max(compute / 2, all-to-all / 2) (then stretched if at the power limit)
    device = e.decode.time_s - e.params.step_overhead_s - e.decode.throttle_s
    assert device == pytest.approx(max(x.compute_s, x.all_to_all_s), rel=1e-9)
    assert x.hidden_s == pytest.approx(min(x.compute_s, x.all_to_all_s), rel=1e-9)


def test_plan_rules():
    assert Parallel(2, 1, ep=16, dp=8).chips == 16
    assert Parallel(2, 1, ep=16, dp=8).to_json()["ep"] == 16
    assert Parallel(8, 2).to_json() == {"tp": 8, "pp": 2, "chips": 16}  # unchanged without ep
    for bad, field in (
        ({"tp": 2, "ep": 16, "dp": 2}, "ep"),
        ({"dp": 2}, "dp"),
        ({"ep": 8, "dp": 8, "pp": 2}, "pp"),
        ({"tbo": True}, "ep"),
        ({"ep": 2, "dp": 2, "ep_imbalance": 0.5}, "ep_imbalance"),
        ({"ep": 0}, "ep"),
    ):
        with pytest.raises(JalapenoError) as ei:
            Parallel(**bad)
        assert ei.value.field == field
    with pytest.raises(JalapenoError, match="no experts"):
        Parallel(1, 1, ep=2, dp=2).check_model(resolve_model("llama-3.1-8b"))
    with pytest.raises(JalapenoError, match="whole domains"):
        Parallel(1, 1, ep=12, dp=12).check(resolve_chip("h200-sxm"), 61)
    with pytest.raises(JalapenoError, match="scale-out"):
        Parallel(1, 1, ep=16, dp=16).check(resolve_chip("mi300x"), 61)


def test_oracle_ep_decode_agrees_with_estimate():
    cfg, chip = resolve_model(GPT), resolve_chip("h200-sxm")
    par = Parallel(1, 1, ep=8, dp=8)
    e = estimate(cfg, chip, batch=256, context=1000, parallel=par, engine="calibration")
    prm, timer = setup_for(chip)
    o = CostOracle(cfg, chip, prm, timer=timer, parallel=par)
    s = o.step(StepShape(256, 256 * 1000))
    assert s.time_s == pytest.approx(e.decode.time_s, rel=0.05)
    assert s.energy_j == pytest.approx(e.decode.energy_j, rel=0.05)
    assert o.idle_power_w == pytest.approx(8 * o.est.idle_w)


def test_pipeline_boundary_between_domains_crosses_the_nics():
    chip = resolve_chip("h100-sxm")
    prm, timer = setup_for(chip)
    est = Estimator(chip, prm, 4, timer)
    hidden = 1e6
    inside = transfer(est, hidden, 2)  # 8 chips: one domain
    assert inside == pytest.approx(hidden / 450e9 + 3e-6)
    # tp 4 x pp 4: boundaries after chips 4, 8, 12; the one at 8 leaves the domain over a 400G NIC
    assert transfer(est, hidden, 4) == pytest.approx((2 * inside + hidden / 50e9 + 5e-6) / 3)


def test_cli_ep_json_and_errors(capsys):
    assert (
        main(
            [
                "estimate",
                "-m",
                "deepseek-v3",
                "-H",
                "h200-sxm",
                "--dtype",
                "fp8",
                "-b",
                "256",
                "--ep",
                "16",
                "--json",
            ]
        )
        == 0
    )
    d = json.loads(capsys.readouterr().out)
    assert d["chips"] == 16 and d["parallel"]["dp"] == 16
    assert d["decode_expert_parallel"]["algorithm"] == "hierarchical(direct)"
    for args, field in (
        (["-m", GPT, "--ep", "3"], "ep"),
        (["-m", GPT, "--dp", "2"], "dp"),
        (["-m", "llama-3.1-8b", "--ep", "2"], "ep"),
    ):
        assert main(["estimate", "-H", "h200-sxm", *args]) == 2
        assert field in capsys.readouterr().err


def test_serve_ep_disagg_runs_and_echoes(capsys):
    assert (
        main(
            [
                "serve",
                "-m",
                GPT,
                "-H",
                "h200-sxm",
                "--ep",
                "8",
                "--topology",
                "disagg",
                "--limit",
                "40",
                "--json",
            ]
        )
        == 0
    )
    d = json.loads(capsys.readouterr().out)
    dep = d["deployment"]
    assert dep["chips_per_replica"] == 8 and dep["parallel"]["ep"] == 8
    # a request's KV sits on one tp-1 attention replica of the eight: one 400G NIC (cost.kv_transfer); the
    # default was every chip's NIC, 8 x 400, before the KV transfer model
    assert dep["kv_link_gbps"] == 400
    assert d["completed"] == 40


@pytest.mark.parametrize("model", ["gpt-oss-120b", "qwen3-coder-480b-a35b"])
def test_issue12_moe_coding_models_serve_on_a_bundled_trace_with_ep_and_disagg(model, capsys):
    # issue 12's must-show: both models from the CLI, the bundled Azure code trace, EP 8 (dp 8 attention)
    # in a prefill pool and a decode pool (docs/parallel.md, "Serving gpt-oss-120b and Qwen3-Coder-480B-A35B")
    assert (
        main(
            [
                "serve",
                "-m",
                model,
                "-t",
                "azure-code",
                "-H",
                "h200-sxm",
                "--dtype",
                "fp8",
                "--ep",
                "8",
                "--topology",
                "disagg",
                "--limit",
                "40",
                "--rate",
                "5",
                "--json",
            ]
        )
        == 0
    )
    d = json.loads(capsys.readouterr().out)
    dep = d["deployment"]
    assert dep["trace"] == "azure-code" and d["workload_stats"]["source"].endswith(
        "AzureLLMInferenceTrace_code.csv"
    )
    assert dep["topology"] == "disagg" and dep["prefill_replicas"] == 1 and dep["decode_replicas"] == 1
    assert dep["parallel"]["ep"] == 8 and dep["parallel"]["dp"] == 8 and dep["chips_per_replica"] == 8
    assert d["completed"] == 40 and d["output_tokens"] > 0 and d["ttft_s"]["p50"] > 0
