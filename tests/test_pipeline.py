"""Pipeline parallelism (``cost.pipeline``): the plan value, stage split, closed forms, estimate/serve."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jalapeno.cli import main
from jalapeno.cost.estimate import check_fits, estimate
from jalapeno.cost.network import p2p_s
from jalapeno.cost.oracle import ACTIVATION_RESERVE, CostOracle, kv_bytes_per_token, weight_bytes
from jalapeno.cost.params import setup_for
from jalapeno.cost.pipeline import (
    FIRST,
    LAST,
    Parallel,
    PipelineCost,
    graph_pipeline,
    split_graph,
    stage_counts,
    stage_ranges,
)
from jalapeno.cost.step import Estimator
from jalapeno.errors import JalapenoError
from jalapeno.graph.batch import Batch
from jalapeno.graph.builder import build_graph
from jalapeno.graph.precision import BF16
from jalapeno.hardware import resolve_chip
from jalapeno.hardware.network import Network, ScaleUp, network_of
from jalapeno.models import resolve_model
from jalapeno.serving.oracle import StepShape

L70 = "llama-3.1-70b"

# Numbers of the code before pipeline parallelism existed (commit e90b9cb), tp only: pp=1 must keep them.
BEFORE = {
    # Re-pinned when the H100's NVSwitch got its sourced in-network reduction (NVLink SHARP): its tp-4
    # all-reduces run in the switch, 5/4 B / bw + 2 a instead of the ring's 3/2 B / bw + 6 a (bf16, so
    # the residual-stream dtype rule moves nothing here): decode -6.3%, prefill -2.7%. Re-pinned when the
    # in-network all-reduce ran at its measured share of the line rate (nccl-tests NVLS busbw 480 GB/s on
    # 8 H100s: 0.686 of it), and a ring on the switch (the logits all-gather) at NCCL's 370 of 450 GB/s:
    # decode +0.14%, prefill +3.3%, mixed +2.9%. Re-pinned when the NVSwitch hop latency went from the 2 us
    # placeholder to the measured 3 us (tests/test_collective_latency.py): decode +1.7%, prefill +0.31%,
    # mixed +0.54%.
    ("h100-sxm", 4): {
        "dec": (0.019484159078102307, 26.532790107655977),
        "pre": (0.08017075212246412, 224.47810594289956),
        "kv": 448280,
        "o_dec": (0.019484159078102307, 26.532790107655984),
        "o_mix": (0.04483995031333265, 125.55186087733144),
    },
    # Re-pinned after the merges of a-board and a2-floor (board-level power: energies) and c-static
    # (derived static-schedule efficiency: compiled buckets, barriers, DMA setup; times; per-level energies
    # as board energies): pp=1 keeps them. Re-pinned when the tensor-parallel logits all-gather moved
    # to cost.network's torus ring (dimension by dimension, 6 hops on a 4x4 torus instead of one ring
    # of 16 chips at the chip's full bandwidth, 15 hops): decode -0.15%, prefill -0.04%.
    ("trainium2-arch", 16): {
        "dec": (0.009668134018418123, 21.787216334986073),
        "pre": (0.039406948279667925, 114.83915387066774),
        "kv": 4099222,
        "o_dec": (0.009668134018418125, 21.787216334986077),
        "o_mix": (0.023159019962413766, 66.07148473077933),
    },
}


@pytest.mark.parametrize(("hw", "tp"), sorted(BEFORE))
def test_pp1_reproduces_the_numbers_from_before_pipelines_exactly(hw, tp):
    """To 1e-8: a refit of the H200 calibration moves its parameters in the ninth digit
    (docs/validation.md)."""

    def same(x, y):
        return tuple(x) == pytest.approx(y, rel=1e-8)

    b, chip, cfg = BEFORE[(hw, tp)], resolve_chip(hw), resolve_model(L70)
    e = estimate(
        cfg, chip, batch=8, context=2000, prompt=1000, parallel=Parallel(tp, 1), engine="calibration"
    )
    assert same((e.decode.time_s, e.decode.energy_j), b["dec"])
    assert same((e.prefill.time_s, e.prefill.energy_j), b["pre"])
    prm, timer = setup_for(chip)
    o = CostOracle(cfg, chip, prm, timer=timer, parallel=Parallel(tp, 1))
    assert o.kv_capacity_tokens == b["kv"]
    assert same(o.step(StepShape(8, 16000)), b["o_dec"])
    assert same(o.step(StepShape(3, 3000, 1, 500, 500 * 1000, 1000)), b["o_mix"])


def test_parallel_is_validated_and_counts_chips():
    assert Parallel(8, 72).chips == 576
    assert Parallel(8, 72).to_json() == {"tp": 8, "pp": 72, "chips": 576}
    for bad in ({"tp": 0}, {"pp": 0}, {"pp": 1.5}):
        with pytest.raises(JalapenoError):
            Parallel(**bad)


def test_stage_ranges_are_balanced_contiguous_and_reject_more_stages_than_layers():
    assert stage_ranges(80, 72) == tuple(
        [(2 * i, 2 * i + 2) for i in range(8)] + [(16 + i, 17 + i) for i in range(64)]
    )
    assert stage_ranges(10, 3) == ((0, 4), (4, 7), (7, 10))
    with pytest.raises(JalapenoError) as e:
        stage_ranges(32, 33)
    assert e.value.field == "pp"


@given(st.integers(1, 200).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n))))
def test_stage_ranges_cover_every_layer_once_in_order_and_balanced(case):
    n, pp = case
    r = stage_ranges(n, pp)
    assert len(r) == pp and r[0][0] == 0 and r[-1][1] == n
    assert all(a[1] == b[0] for a, b in itertools.pairwise(r))
    sizes = [b - a for a, b in r]
    assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


@given(st.lists(st.floats(1e-6, 1e-2), min_size=1, max_size=8), st.floats(0, 1e-4), st.integers(1, 8))
def test_pipeline_interval_is_bounded_by_latency_and_slowest_stage(stages, x, m):
    pc = PipelineCost(tuple(stages), x, m, 0.0, 1.0, 0.0, 10.0)
    assert pc.interval_s >= pc.latency_s - 1e-15 and pc.interval_s >= m * max(stages) - 1e-15
    assert pc.makespan_s >= pc.interval_s - 1e-15  # latency >= the slowest stage
    assert pc.makespan_s <= pc.latency_s + m * max(stages)
    # energy over the interval: never below the busy energy, idle only in bubbles
    assert pc.energy_over(pc.interval_s) >= m * 1.0


def test_stage_counts_put_embedding_first_and_head_last_and_cover_every_layer_once():
    cfg = resolve_model("gpt-oss-20b")  # alternating sliding/full layers, MoE: several groups
    counts = stage_counts(cfg, 5)
    assert counts[0][FIRST] == 1 and counts[-1][LAST] == 1
    assert all(FIRST not in c for c in counts[1:]) and all(LAST not in c for c in counts[:-1])
    assert sum(c["layers"] for c in counts) == cfg.num_layers
    kinds = {k for c in counts for k in c if isinstance(k, tuple)}
    for k in kinds:
        assert sum(c.get(k, 0) for c in counts) == sum(1 for a in cfg.layer_attention if a == k[1])


@pytest.mark.parametrize(
    ("model", "pp"), [(L70, 2), (L70, 7), ("gpt-oss-20b", 5), ("mixtral-8x7b", 4), ("deepseek-v3", 3)]
)
def test_stage_split_conserves_flops_bytes_and_weights(model, pp):
    cfg = resolve_model(model)
    g = build_graph(cfg, Batch.decode(4, 1000), BF16)
    stages = split_graph(cfg, g, pp)
    for attr in ("flops", "bytes", "params"):
        assert sum(getattr(s, attr) for s in stages) == pytest.approx(getattr(g, attr), rel=1e-12)
    # every stage but the ends holds only layers: its weights are about 1/pp of the layers' weights
    assert len(stages) == pp


def test_pipeline_stage_times_sum_to_the_unsplit_work_plus_transfers():
    chip, cfg = resolve_chip("h100-sxm"), resolve_model(L70)
    prm, timer = setup_for(chip)
    est = Estimator(chip, prm, 2, timer)
    g = build_graph(cfg, Batch.decode(8, 2000), BF16)
    _, t_dev, e_dyn, _ = est.price_ops(g)
    comm_s, comm_bytes = est.comm(g)
    pc, _ = graph_pipeline(est, cfg, g, 4, 1, cuda_graph=True)
    ovh, static = prm.step_overhead_s, est.tp * (est.idle_w + prm.active_static_w)
    # one micro-batch through 4 stages: the unsplit step's device work and collectives (the logits gather
    # once, on the last stage), plus three activation transfers, plus the host gap once
    hidden = 8 * cfg.hidden_size * 2
    x = p2p_s(network_of(chip), hidden)
    assert chip.interconnect.topology == "switch"  # all the chip's links carry it, one hop
    ic = chip.interconnect
    assert x == pytest.approx(hidden / ic.bandwidth_bytes_per_s.value + ic.latency_s.value)
    assert pc.transfer_s == pytest.approx(x)
    assert sum(pc.stage_s) == pytest.approx(t_dev + comm_s, rel=1e-9)
    assert pc.latency_s == pytest.approx(t_dev + comm_s + 3 * x + ovh, rel=1e-9)
    assert pc.link_bytes == pytest.approx(comm_bytes + 3 * hidden * est.tp, rel=1e-9)
    assert pc.collective_s == pytest.approx(comm_s, rel=1e-9) and pc.power_capped is False
    busy = pc.busy_energy_j
    dyn = e_dyn + comm_bytes * prm.pj_per_byte_link * 1e-12
    assert busy == pytest.approx(dyn + static * (t_dev + comm_s), rel=1e-9)


def test_two_stage_closed_form_by_hand():
    # stages of 3 ms and 5 ms, a 0.5 ms transfer, 1 ms host gap, 2 micro-batches
    pc = PipelineCost(
        (3e-3, 5e-3), 0.5e-3, 2, 1e-3, busy_energy_j=10.0, transfer_energy_j=0.1, idle_w_per_stage=100.0
    )
    assert pc.latency_s == pytest.approx(9.5e-3)  # 3 + 0.5 + 5 + 1
    assert pc.slowest_s == 5e-3
    assert pc.makespan_s == pytest.approx(14.5e-3)  # latency + (2 - 1) x 5
    assert pc.interval_s == pytest.approx(10e-3)  # max(9.5, 2 x 5): the slowest stage limits throughput
    # energy over the interval: 2 x (busy + transfer) + idle bubbles: stage 0 idle 10 - 6 ms, stage 1 0 ms
    assert pc.energy_over(pc.interval_s) == pytest.approx(2 * 10.1 + 100.0 * 4e-3)
    # one micro-batch: no overlap, the interval is the latency
    one = PipelineCost((3e-3, 5e-3), 0.5e-3, 1, 1e-3, 10.0, 0.1, 100.0)
    assert one.interval_s == one.latency_s == one.makespan_s == pytest.approx(9.5e-3)


def test_stage_transfer_uses_the_neighbour_link_on_direct_topologies_and_all_on_a_switch():
    def net(topology: str, bw: float, links: int, hop: float, dims: tuple[int, ...] = ()) -> Network:
        return Network(ScaleUp(topology, 16, bw, links, hop, dims))

    # a torus2d chip has 4 neighbours: a quarter of its bandwidth to the next stage, one hop
    assert p2p_s(net("torus2d", 240e9, 4, 5e-7, (4, 4)), 16384) == pytest.approx(16384 / 60e9 + 5e-7)
    assert p2p_s(net("switch", 450e9, 18, 1e-6), 16384) == pytest.approx(16384 / 450e9 + 1e-6)
    # a dragonfly's next stage is one local plus one global hop away, over one link
    assert p2p_s(net("dragonfly", 240e9, 16, 5e-7), 16384) == pytest.approx(16384 / 15e9 + 1e-6)
    # a full mesh: one link a peer
    assert p2p_s(net("mesh", 240e9, 16, 5e-7), 16384) == pytest.approx(16384 / 15e9 + 5e-7)


@pytest.mark.parametrize("hw", ["h100-sxm", "trainium2-arch"])
def test_serving_oracle_equals_estimate_for_a_pipelined_decode(hw):
    chip, cfg = resolve_chip(hw), resolve_model(L70)
    prm, timer = setup_for(chip)
    par = Parallel(4, 2)
    e = estimate(cfg, chip, batch=8, context=2000, parallel=par, params=prm)  # the same engine's parameters
    o = CostOracle(cfg, chip, prm, timer=timer, parallel=par)
    c = o.step(StepShape(8, 8 * 2000))
    assert c.time_s == pytest.approx(e.decode.time_s, rel=1e-9)
    assert c.energy_j == pytest.approx(e.decode.energy_j, rel=1e-9)
    assert o.idle_power_w == pytest.approx(8 * o.est.idle_w)


def test_micro_batches_fill_the_pipeline_so_decode_throughput_follows_the_slowest_stage():
    chip, cfg = resolve_chip("h100-sxm"), resolve_model(L70)
    e = estimate(cfg, chip, batch=64, context=1000, parallel=Parallel(2, 4))
    p = e.decode_pipe
    assert p.micro_batches == 4
    assert e.decode.time_s == pytest.approx(max(p.latency_s, 4 * p.slowest_s))
    assert e.chips == 8 and e.to_json()["chips"] == 8
    # batch below pp: one sequence a micro-batch, the pipeline is not full, each token takes the latency
    small = estimate(cfg, chip, batch=2, context=1000, parallel=Parallel(2, 4))
    assert small.decode_pipe.micro_batches == 2
    assert small.decode.time_s == pytest.approx(small.decode_pipe.latency_s)


def test_prefill_is_micro_batched_with_its_bubble():
    chip, cfg = resolve_chip("h100-sxm"), resolve_model(L70)
    e1 = estimate(cfg, chip, batch=1, context=10, prompt=4096, parallel=Parallel(2, 1))
    e4 = estimate(cfg, chip, batch=1, context=10, prompt=4096, parallel=Parallel(2, 4))
    p = e4.prefill_pipe
    assert p.micro_batches == 4
    assert e4.prefill.time_s == pytest.approx(p.latency_s + 3 * p.slowest_s)
    # four stages cut TTFT, but the bubble keeps it above a quarter of one stage's
    assert e1.prefill.time_s / 4 < e4.prefill.time_s < e1.prefill.time_s


def test_memory_per_chip_drops_by_pp():
    chip, cfg = resolve_chip("h100-sxm"), resolve_model(L70)
    with pytest.raises(JalapenoError):
        check_fits(cfg, chip, BF16, 1, tokens=1000)  # 141 GB of weights on one 80 GB chip
    check_fits(cfg, chip, BF16, 1, tokens=1000, pp=2)
    prm, timer = setup_for(chip)
    w, kv = weight_bytes(cfg, BF16), kv_bytes_per_token(cfg, BF16)
    for tp, pp in ((2, 1), (2, 2), (1, 4)):
        o = CostOracle(cfg, chip, prm, timer=timer, parallel=Parallel(tp, pp))
        assert o.kv_capacity_tokens == int((chip.memory_bytes * tp * pp * (1 - ACTIVATION_RESERVE) - w) // kv)
    g = build_graph(cfg, Batch.decode(1, 1), BF16)
    table = cfg.vocab_size * cfg.hidden_size  # embedding and (untied) LM head
    layer = (g.params - 2 * table) / cfg.num_layers
    stages = split_graph(cfg, g, 4)  # 80 layers: 20 a stage
    assert [s.params for s in stages] == pytest.approx(
        [20 * layer + table, 20 * layer, 20 * layer, 20 * layer + table], rel=1e-6
    )


def test_estimate_cli_pp_json_and_bad_input(capsys):
    assert (
        main(
            [
                "estimate",
                "-m",
                L70,
                "-H",
                "h100-sxm",
                "--tp",
                "2",
                "--pp",
                "2",
                "-b",
                "4",
                "-p",
                "512",
                "--json",
            ]
        )
        == 0
    )
    d = json.loads(capsys.readouterr().out)
    assert (d["tp"], d["pp"], d["chips"]) == (2, 2, 4)
    assert d["decode_pipeline"]["micro_batches"] == 2 and len(d["decode_pipeline"]["stage_s"]) == 2
    assert d["decode_step_s"] == pytest.approx(d["decode_pipeline"]["interval_s"])
    assert d["prefill_s"] == pytest.approx(d["prefill_pipeline"]["makespan_s"])
    for args, field in ((["--pp", "0"], "pp"), (["--pp", "200"], "pp")):
        assert main(["estimate", "-m", L70, "-H", "h100-sxm", "--tp", "4", *args]) == 2
        assert field in capsys.readouterr().err
    # 16 chips exceed the 8-chip domain: refused on a chip without scale-out NIC figures (MI300X) ...
    assert main(["estimate", "-m", L70, "-H", "mi300x", "--tp", "4", "--pp", "4"]) == 2
    assert "pp" in capsys.readouterr().err
    # ... and on HGX H100 the boundary between the two 8-GPU domains crosses the 400G NICs (issue 12)
    assert main(["estimate", "-m", L70, "-H", "h100-sxm", "--tp", "4", "--pp", "4", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["chips"] == 16


def test_serve_cli_pp_runs_and_echoes_the_plan(capsys):
    assert (
        main(["serve", "-m", "llama-3.1-8b", "-H", "h100-sxm", "--pp", "2", "--limit", "30", "--json"]) == 0
    )
    d = json.loads(capsys.readouterr().out)
    dep = d["deployment"]
    assert (dep["tp"], dep["pp"], dep["chips_per_replica"]) == (1, 2, 2)
    assert d["completed"] == 30


# The table of docs/validation-architectures.md (scripts/validate_nongpu.py): each row's error as documented.
DOCUMENTED_ERRORS = {
    "groq-llama2-70b-llmperf": 0.158,
    "groq-llama2-70b-claim": -0.276,
    "trn2-llama3.3-70b-tpot": -0.517,
    "trn2-llama3.3-70b-ttft": -0.242,
    "trn2-llama3.1-405b-tpot": -0.208,
    "trn2-llama3.1-405b-ttft": -0.234,
}


def test_nongpu_validation_table_stays_at_its_documented_errors():
    from jalapeno.studies.nongpu import BOUND, table

    rows = {r["key"]: r for r in table()}
    assert set(rows) == set(DOCUMENTED_ERRORS)
    for key, err in DOCUMENTED_ERRORS.items():
        r = rows[key]
        assert r["error"] == pytest.approx(err, abs=0.005), key
        assert r["within_bound"] == (abs(err) <= BOUND), key
    # the goal: Groq and one more system within 25%. Groq's measured (LLMPerf) row is; the vendor
    # claim misses at -27.6% since the derived static-schedule costs (see the page); Trainium2's 70B decode
    # misses
    assert (
        rows["groq-llama2-70b-llmperf"]["within_bound"] and not rows["groq-llama2-70b-claim"]["within_bound"]
    )
    assert sum(rows[k]["within_bound"] for k in DOCUMENTED_ERRORS if k.startswith("trn2")) == 3
    assert rows["groq-llama2-70b-llmperf"]["chips"] == 576
