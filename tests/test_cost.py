"""Cost model: physical bounds (roofline, energy floor, power limit), monotonicity, exact oracle agreement."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jalapeno.cli import main
from jalapeno.cost.estimate import estimate
from jalapeno.cost.network import collective_s, tp_collective_s
from jalapeno.cost.oracle import CostOracle, kv_bytes_per_token
from jalapeno.cost.params import CostParams, params_for
from jalapeno.cost.step import Estimator
from jalapeno.errors import JalapenoError
from jalapeno.graph.attention import chunk_kv_tokens, chunk_pairs
from jalapeno.graph.batch import Batch, Sequence
from jalapeno.graph.builder import build_graph
from jalapeno.graph.precision import Precision
from jalapeno.hardware import list_presets, resolve_chip
from jalapeno.hardware.network import Network, ScaleUp
from jalapeno.models import resolve_model
from jalapeno.serving.oracle import StepShape

CHIPS = ["h200", "h100", "b200", "mi300x", "tpu-v5e", "groq-lpu", "trainium2"]
MODELS = ["llama-3.1-8b", "qwen2.5-coder-7b", "mixtral-8x7b", "gpt-oss-20b", "deepseek-v3"]


def est(chip: str, tp: int = 1) -> Estimator:
    c = resolve_chip(chip)
    return Estimator(c, params_for(c.name), tp)


@settings(max_examples=40, deadline=None)
@given(
    chip=st.sampled_from(CHIPS),
    model=st.sampled_from(MODELS),
    batch=st.integers(1, 512),
    ctx=st.integers(1, 65536),
    prompt=st.integers(1, 16384),
)
def test_nothing_beats_the_roofline(chip, model, batch, ctx, prompt):
    e = est(chip)
    peak = max(f.value for f in e.chip.matrix_flops.values())
    bw = e.chip.memory_bandwidth_bytes_per_s
    for b, graph_mode in ((Batch.decode(batch, ctx), True), (Batch.prefill(prompt), False)):
        g = build_graph(resolve_model(model), b)
        c = e.step(g, cuda_graph=graph_mode)
        for oc in c.ops:
            assert oc.time.time_s >= oc.time.roofline_s * (1 - 1e-12)
        assert c.time_s >= max(g.flops / peak, g.bytes / bw)


@settings(max_examples=30, deadline=None)
@given(
    chip=st.sampled_from(["h200", "h100", "b200", "mi300x"]),
    batch=st.integers(1, 256),
    ctx=st.integers(16, 32768),
)
def test_energy_at_least_compulsory_bytes_times_energy_per_bit(chip, batch, ctx):
    e = est(chip)
    pj_bit = e.chip.main_memory.energy_pj_per_bit
    if pj_bit is None:
        pytest.skip("preset has no memory energy figure")
    g = build_graph(resolve_model("llama-3.1-8b"), Batch.decode(batch, ctx))
    c = e.step(g)
    assert c.energy_j >= g.bytes * 8 * pj_bit.value * 1e-12
    assert c.energy_j >= e.idle_w * c.time_s  # and at least idle power for the duration


@settings(max_examples=40, deadline=None)
@given(
    chip=st.sampled_from(CHIPS),
    model=st.sampled_from(MODELS),
    batch=st.integers(1, 300),
    ctx=st.integers(1, 50_000),
    db=st.integers(0, 64),
    dc=st.integers(0, 5000),
)
def test_step_time_non_decreasing_in_batch_and_context(chip, model, batch, ctx, db, dc):
    e, cfg = est(chip), resolve_model(model)
    t0 = e.step(build_graph(cfg, Batch.decode(batch, ctx))).time_s
    t1 = e.step(build_graph(cfg, Batch.decode(batch + db, ctx + dc))).time_s
    assert t1 >= t0 * (1 - 1e-9)


@settings(max_examples=30, deadline=None)
@given(chip=st.sampled_from(CHIPS), model=st.sampled_from(MODELS), batch=st.integers(1, 512))
def test_power_never_exceeds_the_limit(chip, model, batch):
    e = est(chip)
    cfg = resolve_model(model)
    for g, gm in (
        (build_graph(cfg, Batch.decode(batch, 4096)), True),
        (build_graph(cfg, Batch.prefill(8192)), False),
    ):
        c = e.step(g, cuda_graph=gm)
        assert c.power_w <= e.chip.tdp_w.value * (1 + 1e-9)
        assert c.power_w >= e.idle_w * (1 - 1e-9)


def test_energy_per_token_falls_with_batch_until_compute_bound():
    e, cfg = est("h200"), resolve_model("llama-3.1-8b")
    jpt = []
    for b in (1, 2, 4, 8, 16, 32, 64, 128, 256):
        c = e.step(build_graph(cfg, Batch.decode(b, 1024)))
        jpt.append(c.energy_j / b)
    assert all(a > b for a, b in itertools.pairwise(jpt))
    assert jpt[0] / jpt[-1] > 20  # weights amortized over the batch


def test_decode_is_memory_bound_and_prefill_compute_bound_on_h200():
    e, cfg = est("h200"), resolve_model("llama-3.1-8b")
    dec = e.step(build_graph(cfg, Batch.decode(1, 2048)))
    pre = e.step(build_graph(cfg, Batch.prefill(8192)), cuda_graph=False)
    big = lambda c: max(c.ops, key=lambda oc: oc.total_s)  # noqa: E731
    assert big(dec).time.bound == "memory"
    assert big(pre).time.bound == "compute"


@settings(max_examples=60, deadline=None)
@given(
    model=st.sampled_from([*MODELS, "gpt-oss-120b", "mistral-7b"]),
    chip=st.sampled_from(["h200", "b200"]),
    dec=st.lists(st.integers(1, 20_000), max_size=40),
    chunks=st.lists(st.tuples(st.integers(2, 2048), st.integers(0, 8000)), max_size=3),
    tp=st.sampled_from([1, 2, 4]),
)
def test_serving_oracle_equals_the_step_estimator(model, chip, dec, chunks, tp):
    cfg, c = resolve_model(model), resolve_chip(chip)
    if not dec and not chunks:
        return
    if cfg.sliding_window and len(set(dec)) > 1:
        dec = [dec[0]] * len(dec)  # the oracle caps sliding windows with the mean context: exact when equal
    if cfg.sliding_window and len(chunks) > 1:
        chunks = chunks[:1]
    prm = params_for(c.name)
    try:
        o = CostOracle(cfg, c, prm, tp=8 if cfg.name == "deepseek-v3" else tp)
    except JalapenoError:
        return  # does not fit this chip
    seqs = tuple(Sequence(1, x) for x in dec) + tuple(Sequence(n, k) for n, k in chunks)
    batch = Batch(seqs)
    shape = StepShape(
        decode_seqs=len(dec),
        decode_context=sum(dec),
        prefill_seqs=len(chunks),
        prefill_tokens=sum(n for n, _ in chunks),
        prefill_context=sum(chunk_pairs(n, k, None) for n, k in chunks),
        prefill_kv_tokens=sum(chunk_kv_tokens(n, k, None) for n, k in chunks),
    )
    if cfg.sliding_window and chunks:
        n, k = chunks[0]
        if n + k > cfg.sliding_window:
            return  # sliding prefill is approximated in the oracle
    graph_mode = not chunks
    want = o.est.step(build_graph(cfg, batch), cuda_graph=graph_mode)
    got = o.step(shape)
    if cfg.mla and dec and chunks:
        return  # MLA's mixed batches memoize on a representative split
    assert got.time_s == pytest.approx(want.time_s, rel=1e-9)
    assert got.energy_j == pytest.approx(want.energy_j, rel=1e-9)


def test_kv_bytes_per_token():
    assert kv_bytes_per_token(resolve_model("llama-3.1-8b"), Precision.of("bf16")) == 131_072
    assert kv_bytes_per_token(resolve_model("deepseek-v3"), Precision.of("bf16")) == 61 * 576 * 2


# -- collectives ---------------------------------------------------------------------------------
def test_ring_all_reduce_closed_form():
    b, bw, lat = 64e6, 450e9, 2e-6
    net = Network(ScaleUp("switch", 8, bw, 18, lat))
    for n in (2, 4, 8):  # tensor-parallel reductions run the ring (Patarasuk & Yuan 2009)
        expect = 2 * (n - 1) / n * b / bw + 2 * (n - 1) * lat
        assert tp_collective_s(net, "all_reduce", b, n) == pytest.approx(expect)
    assert tp_collective_s(net, "all_reduce", b, 1) == 0
    # all-reduce = reduce-scatter + all-gather
    assert tp_collective_s(net, "all_reduce", b, 8) == pytest.approx(
        collective_s(net, "reduce_scatter", b, 8, "ring")[0] + tp_collective_s(net, "all_gather", b, 8)
    )
    assert collective_s(net, "all_to_all", b, 4)[0] == pytest.approx(0.75 * b / bw + lat)


def test_tensor_parallel_speeds_up_big_decode_and_adds_all_reduces():
    cfg = resolve_model("llama-3.1-70b")
    g = build_graph(cfg, Batch.decode(32, 4096))
    t1 = est("h200").step(g)
    t8 = est("h200", 8).step(g)
    assert t8.time_s < t1.time_s / 3
    assert t8.comm_s > 0 and t1.comm_s == 0
    assert t8.link_bytes > 0


def test_tp_beyond_the_domain_and_no_links_are_rejected():
    with pytest.raises(JalapenoError, match="tp"):
        Estimator(resolve_chip("h200"), CostParams(), 16)


def test_model_that_does_not_fit_is_rejected_with_numbers():
    with pytest.raises(JalapenoError, match=r"GB.*raise --tp"):
        estimate(resolve_model("llama-3.1-405b"), resolve_chip("h100"), batch=1, context=100)


# -- CLI --------------------------------------------------------------------------------------------
def test_estimate_json_is_the_estimate_with_consistent_derived_figures(capsys):
    assert (
        main(
            [
                "estimate",
                "-m",
                "qwen2.5-coder-7b",
                "-H",
                "h200",
                "-b",
                "8",
                "-c",
                "4096",
                "-p",
                "2048",
                "--json",
            ]
        )
        == 0
    )
    d = json.loads(capsys.readouterr().out)
    e = estimate(resolve_model("qwen2.5-coder-7b"), resolve_chip("h200"), batch=8, context=4096, prompt=2048)
    assert e.prefill is not None
    assert (
        d["decode_step_s"] == e.decode.time_s and d["prefill_s"] == e.prefill.time_s
    )  # the command adds nothing
    assert d["decode_power_w"] == pytest.approx(e.decode.energy_j / e.decode.time_s, rel=1e-12)
    assert d["decode_tokens_per_s"] == pytest.approx(
        8 / d["decode_step_s"], rel=1e-12
    )  # 8 sequences, 1 token each
    assert d["decode_joules_per_token"] == pytest.approx(
        d["decode_power_w"] * d["decode_step_s"] / 8, rel=1e-12
    )
    assert d["prefill_tokens_per_s"] == pytest.approx(2048 / d["prefill_s"], rel=1e-12)
    assert d["prefill_joules_per_token"] == pytest.approx(
        d["prefill_power_w"] * d["prefill_s"] / 2048, rel=1e-12
    )
    assert d["prefill_power_capped"] and d["prefill_power_w"] == pytest.approx(
        700.0, rel=1e-12
    )  # H200 TDP: 700 W
    assert d["prefill_throttle_s"] > 0 and not d["decode_power_capped"] and d["decode_throttle_s"] == 0.0
    assert sum(o["time_s"] for o in d["decode_ops"]) <= d["decode_step_s"] * (1 + 1e-9)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["estimate", "-m", "nope-model"], "model"),
        (["estimate", "-m", "llama-3.1-8b", "-H", "h999"], "h999"),
        (["estimate", "-m", "llama-3.1-8b", "-b", "0"], "--batch"),
        (["estimate", "-m", "llama-3.1-8b", "--dtype", "fp3"], "dtype"),
        (["estimate", "-m", "llama-3.1-405b", "-H", "h100"], "memory"),
    ],
)
def test_estimate_bad_input_is_one_line_exit_2(capsys, args, field):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and field in err


def test_every_preset_estimates_within_physical_bounds_at_the_smallest_tp_that_fits():
    """Llama-3.1-8B, batch 4 x 1,024 context, 512-token prompt, bf16, on each of the 13 presets: a decode
    step reads at least its compulsory bytes at the chip's bandwidth and a prefill computes its FLOPs at
    no more than the bf16 peak (shared over ``tp`` chips); on one or two chips neither is more than 3x
    (decode) or 4x (prefill) its floor, and a 128-chip Groq deployment is bound by its links."""
    cfg = resolve_model("llama-3.1-8b")
    dec, pre = build_graph(cfg, Batch.decode(4, 1024)), build_graph(cfg, Batch.prefill(512))
    seen = []
    for name in list_presets():
        chip = resolve_chip(name)
        domain = int(chip.interconnect.domain_size.value) if chip.interconnect else 1
        for tp in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512):
            if tp > domain:
                pytest.fail(
                    f"{name}: llama-3.1-8b fits no tensor-parallel group within the {domain}-chip domain"
                )
            try:
                e = estimate(cfg, chip, batch=4, context=1024, prompt=512, tp=tp)
            except JalapenoError as err:
                assert "memory" in str(err)
                continue
            break
        assert e.prefill is not None
        mem_floor = dec.bytes / tp / chip.memory_bandwidth_bytes_per_s
        flop_floor = pre.flops / tp / chip.matrix_flops["bf16"].value
        assert e.decode.time_s >= mem_floor and e.prefill.time_s >= flop_floor, name
        if tp <= 2:
            assert e.decode.time_s <= 3 * mem_floor and e.prefill.time_s <= 4 * flop_floor, name
        else:
            assert e.decode.comm_s > 0.5 * e.decode.time_s, name  # all-reduces over many chips dominate
        seen.append((name, tp))
    tps = dict(seen)
    assert tps["groq-lpu"] == 128 and tps["tpu-v5e"] == 2  # 230 MB of SRAM per LPU; 16 GB per v5e
