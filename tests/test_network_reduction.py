"""Tensor-parallel all-reduces as the engines run them: in the residual stream's 16-bit format, and in the
switch where the preset says it reduces (NVLink SHARP): closed forms by hand, the step-by-step schedule
(cost.netsim), the sourced flag's parsing, and the same rules for a paper chip."""

from __future__ import annotations

import copy
import math

import pytest

from jalapeno.cost import netsim as S
from jalapeno.cost import network as N
from jalapeno.cost.params import CostParams
from jalapeno.cost.step import Estimator
from jalapeno.errors import JalapenoError
from jalapeno.graph.batch import Batch
from jalapeno.graph.builder import build_graph
from jalapeno.graph.precision import Precision
from jalapeno.hardware import resolve_chip
from jalapeno.hardware.loader import chip_from_dict, chip_to_dict
from jalapeno.hardware.network import Network, ScaleUp, in_network_eff_of, network_of
from jalapeno.models import resolve_model

BW, LAT, B = 450e9, 2e-6, 64e6


def sharp(n: int = 8, lat: float = LAT) -> ScaleUp:
    return ScaleUp("switch", n, BW, 18, lat, (), True)


# -- closed forms -----------------------------------------------------------------------------------


def test_ring_and_in_network_all_reduce_by_hand():
    net, plain = Network(sharp()), Network(ScaleUp("switch", 8, BW, 18, LAT))
    # 8 chips, 64 MB: ring 2 x 7/8 x 64e6 / 450e9 + 14 x 2 us = 248.9 + 28 = 276.9 us; in the switch
    # 9/8 x 64e6 / 450e9 + 2 x 2 us = 160 + 4 = 164 us
    ring = N.collective_s(net, "all_reduce", B, 8, "ring")[0]
    assert ring == pytest.approx(2 * 7 / 8 * B / BW + 14 * LAT) == pytest.approx(276.888889e-6)
    assert N.in_network_all_reduce_s(sharp(), B, 8) == pytest.approx(164e-6)
    assert N.tp_collective(net, "all_reduce", B, 8) == (pytest.approx(164e-6), "in_network")
    assert N.tp_collective(plain, "all_reduce", B, 8) == (pytest.approx(ring), "ring")
    # two chips: the ring sends b/2 twice (b in all), the switch b + b/2: the ring wins, 146.2 us vs 217.3 us
    assert N.tp_collective(net, "all_reduce", B, 2) == (pytest.approx(B / BW + 2 * LAT), "ring")
    assert N.in_network_all_reduce_s(sharp(), B, 2) == pytest.approx(1.5 * B / BW + 2 * LAT)
    # a decode-sized buffer (64 tokens x 16384 x 2 bytes): latency-bound, 14 hops against 2
    small = 64 * 16384 * 2.0
    assert N.tp_collective(net, "all_reduce", small, 8)[0] == pytest.approx(9 / 8 * small / BW + 4e-6)
    # gathers gain nothing from the switch: still the ring
    assert N.tp_collective(net, "all_gather", B, 8) == N.tp_collective(plain, "all_gather", B, 8)


def test_in_network_only_where_the_switch_reduces():
    plain = ScaleUp("switch", 8, BW, 18, LAT)
    assert N.in_network_all_reduce_s(plain, B, 8) is None
    with pytest.raises(JalapenoError, match="in_network"):
        N.scale_up_s(plain, "all_reduce", B, 8, "in_network")
    with pytest.raises(JalapenoError, match="in_network"):  # reduce-scatter alone has no in-switch form
        N.scale_up_s(sharp(), "reduce_scatter", B, 8, "in_network")
    with pytest.raises(JalapenoError, match="switch"):
        ScaleUp("mesh", 8, BW, 7, LAT, (), True)
    with pytest.raises(JalapenoError, match="switch"):
        ScaleUp("torus2d", 16, BW, 4, LAT, (4, 4), True)


def test_sent_bytes_per_algorithm():
    n = 8
    assert N.sent_bytes("all_reduce", "ring", B, n) == pytest.approx(2 * 7 / 8 * B)
    assert N.sent_bytes("all_reduce", "in_network", B, n) == pytest.approx(9 / 8 * B)
    assert N.sent_bytes("all_gather", "ring", B, n) == pytest.approx(7 / 8 * B)
    assert N.sent_bytes("all_reduce", "in_network", B, 1) == 0.0


def test_measured_bus_bandwidth_sets_the_share_of_the_line_rate():
    # nccl-tests on 8 H100s: busbw 480 GB/s = algbw x 14/8, algbw 274.3 GB/s; the line-rate form moves
    # 9/8 b through a 450 GB/s port (algbw 400 GB/s): e = 9 x 480 / (14 x 450) = 0.6857
    e = in_network_eff_of(480e9, BW)
    assert e == pytest.approx(4320 / 6300)
    assert in_network_eff_of(1e12, BW) == 1.0  # never above the line rate
    up = ScaleUp("switch", 8, BW, 18, LAT, (), True, e)
    # so an 8-chip all-reduce of 64 MB takes b / measured algbw plus the two traversals: 233.3 + 4 us
    t = N.in_network_all_reduce_s(up, B, 8)
    assert t == pytest.approx(B / (480e9 * 8 / 14) + 2 * LAT) == pytest.approx(237.333333e-6)
    assert t == pytest.approx((N.in_network_all_reduce_s(sharp(), B, 8) - 2 * LAT) / e + 2 * LAT)
    # still faster than the ring (276.9 us) at 8 chips; 4 chips: 5/4 x 64e6 / (450e9 x 0.6857) + 4 us
    assert N.tp_collective(Network(up), "all_reduce", B, 8) == (pytest.approx(t), "in_network")
    assert N.in_network_all_reduce_s(up, B, 4) == pytest.approx(1.25 * B / (BW * e) + 2 * LAT)
    assert N.collective_s(Network(up), "all_reduce", B, 8, "ring")[0] == pytest.approx(276.888889e-6)
    with pytest.raises(JalapenoError, match="in_network_eff"):
        ScaleUp("switch", 8, BW, 18, LAT, (), True, 0.0)


@pytest.mark.parametrize(
    ("name", "busbw", "bw"),
    [
        ("h100-sxm", 480e9, 450e9),
        ("h200-sxm", 475e9, 450e9),
        ("b200", 830e9, 900e9),
        ("gb200-nvl72", 830e9, 900e9),
        ("b300", 845e9, 900e9),
    ],
)
def test_presets_carry_their_measured_in_network_share(name, busbw, bw):
    net = network_of(resolve_chip(name))
    assert net is not None and net.scale_up.in_network_eff == pytest.approx(9 * busbw / (14 * bw))
    assert 0.55 < net.scale_up.in_network_eff < 0.7  # NVLS reaches 59-69% of the line rate


def test_no_measurement_keeps_the_line_rate_in_network_and_on_a_mesh():
    for name in ("mi300x", "a100-80gb-sxm", "jalapeno-1"):
        net = network_of(resolve_chip(name))
        assert net is not None and net.scale_up.in_network_eff == 1.0
    mesh = network_of(resolve_chip("mi300x"))
    assert mesh is not None and mesh.scale_up.ring_eff == 1.0  # direct links: no switch ring to discount


def test_an_unmeasured_switch_pays_the_lowest_measured_ring_share():
    """Parity: a paper chip's switch (jalapeno-1, jalapeno-moe-1) and an unmeasured GPU's (A100) run rings at
    the lowest share measured on any bundled preset, never at the line rate a measured chip never reaches."""
    from jalapeno.hardware.datasheet import list_presets
    from jalapeno.hardware.network import RING_BUSBW_KEY, RING_EFF_UNMEASURED

    measured = []
    for name in list_presets():
        chip = resolve_chip(name)
        fig = chip.extra.get(RING_BUSBW_KEY)
        if fig is not None and chip.interconnect is not None:
            measured.append(fig.value / chip.interconnect.bandwidth_bytes_per_s.value)
    assert len(measured) >= 4 and RING_EFF_UNMEASURED == pytest.approx(min(measured)) == pytest.approx(
        0.7722, abs=1e-4
    )
    for name in ("jalapeno-1", "jalapeno-moe-1", "a100-80gb-sxm"):
        net = network_of(resolve_chip(name))
        assert net is not None and net.scale_up.topology == "switch"
        assert net.scale_up.ring_eff == pytest.approx(RING_EFF_UNMEASURED)


def test_a_ring_on_a_switch_runs_at_its_measured_share():
    # NCCL's ring on 8 H100s: bus bandwidth 370 GB/s of the 450 GB/s links (e = 0.822): a 64 MB all-reduce
    # takes 2 x 7/8 x 64e6 / 370e9 + 14 x 2 us = 302.7 + 28 = 330.7 us (276.9 us at the line rate)
    up = ScaleUp("switch", 8, BW, 18, LAT, (), False, 1.0, 370e9 / BW)
    ring = N.collective_s(Network(up), "all_reduce", B, 8, "ring")[0]
    assert ring == pytest.approx(2 * 7 / 8 * B / 370e9 + 14 * LAT) == pytest.approx(330.702703e-6)
    # a two-chip group keeps the ring over the switch's in-network form (b at 370 GB/s against 3/2 b at 309)
    both = ScaleUp("switch", 8, BW, 18, LAT, (), True, in_network_eff_of(480e9, BW), 370e9 / BW)
    assert N.tp_collective(Network(both), "all_reduce", B, 2) == (pytest.approx(B / 370e9 + 2 * LAT), "ring")
    # the direct one-shot exchange is not NCCL's ring: untouched
    assert N.direct_reduce_scatter_s(up, B, 8) == N.direct_reduce_scatter_s(sharp(), B, 8)
    with pytest.raises(JalapenoError, match="ring_eff"):
        ScaleUp("switch", 8, BW, 18, LAT, (), False, 1.0, 1.5)


@pytest.mark.parametrize(
    ("name", "ring"),
    [("h100-sxm", 370 / 450), ("h200-sxm", 370 / 450), ("b200", 695 / 900), ("b300", 695 / 900)],
)
def test_presets_carry_their_measured_ring_share(name, ring):
    net = network_of(resolve_chip(name))
    assert net is not None and net.scale_up.ring_eff == pytest.approx(ring)


# -- the step-by-step schedule ----------------------------------------------------------------------


def simulate(up: ScaleUp, n: int, b: float, chunks: int, depth: int) -> S.Result:
    f = S.Fabric(up, n)
    return S.run(S.in_network_schedule(f, b, chunks, depth), f.bw, f.hop_latency_s)


@pytest.mark.parametrize("n", [2, 3, 4, 5, 8, 16])
@pytest.mark.parametrize("chunks", [2, 8, 64])
def test_pipelined_schedule_approaches_the_closed_form(n, chunks):
    # without latency, one piece in flight: the closed form plus the pipeline's fill and drain, one
    # piece's contributions (b / chunks) and one piece's deliveries ((n-1)/n b / chunks)
    up = sharp(n, 0.0)
    res = simulate(up, n, B, chunks, 1)
    fill = (2 * n - 1) / n * B / chunks / BW
    assert res.time_s == pytest.approx(N.in_network_all_reduce_s(up, B, n) + fill, rel=1e-9)
    # each chip sends and receives b + b/n: its n shares in, its reduced share out, all shares back
    for i in range(n):
        assert res.sent[i] == pytest.approx((n + 1) / n * B, rel=1e-12)
        assert res.received[i] == pytest.approx((n + 1) / n * B, rel=1e-12)
    # the switch takes in n b and hands out n b (its sums, then the multicasts)
    assert res.received[S.SWITCH] == pytest.approx(sum(res.sent[i] for i in range(n)), rel=1e-12)
    assert res.sent[S.SWITCH] == pytest.approx(sum(res.received[i] for i in range(n)), rel=1e-12)


@pytest.mark.parametrize("n", [2, 4, 8])
@pytest.mark.parametrize("lat", [2e-6, 1e-5])
def test_unpipelined_schedule_pays_two_traversals(n, lat):
    # one piece, the phases in turn: each port carries b + b/n per phase direction, and the data crosses the
    # switch twice, one latency each: the closed form's latency term
    res = simulate(sharp(n, lat), n, B, 1, 0)
    assert res.time_s == pytest.approx(2 * (n + 1) / n * B / BW + 2 * lat, rel=1e-9)


@pytest.mark.parametrize("n", [4, 8])
def test_pipelined_schedule_with_latency_stays_near_the_closed_form(n):
    # enough pieces in flight to cover a latency: within the closed form's latency below it (the pieces'
    # latencies overlap their transfers) and one fill above it
    chunks = 64
    piece = B / chunks / BW
    depth = math.ceil(LAT / piece) + 1
    res = simulate(sharp(n, LAT), n, B, chunks, depth)
    closed = N.in_network_all_reduce_s(sharp(n, LAT), B, n)
    assert closed - 2 * LAT <= res.time_s <= closed + (depth + 1) * (n + 1) / n * piece


# -- the flag in the chip spec ----------------------------------------------------------------------


def flagged(value: object, topology: str = "switch") -> dict:
    d = copy.deepcopy(chip_to_dict(resolve_chip("h200-sxm")))
    d["interconnect"]["topology"] = topology
    d["interconnect"]["in_network_reduction"] = {"value": value, "source": "test"}
    return d


def test_flag_parses_and_round_trips():
    chip = chip_from_dict(flagged(True), origin="t.yaml")
    assert chip.interconnect is not None and chip.interconnect.reduces_in_network
    assert chip_from_dict(chip_to_dict(chip), origin="t.yaml") == chip
    off = chip_from_dict(flagged(False), origin="t.yaml")
    assert off.interconnect is not None and not off.interconnect.reduces_in_network
    net = network_of(off)
    assert net is not None and not net.scale_up.in_network_reduction


@pytest.mark.parametrize("bad", ["yes", 1, None, [True]])
def test_flag_value_must_be_a_boolean(bad):
    d = flagged(bad)
    if bad is None:  # an empty value is an absent flag, not a bad one
        d["interconnect"]["in_network_reduction"] = {"source": "test"}
    with pytest.raises(JalapenoError) as e:
        chip_from_dict(d, origin="t.yaml")
    assert e.value.field.startswith("interconnect.in_network_reduction")


def test_flag_needs_a_source_and_a_switch():
    d = flagged(True)
    del d["interconnect"]["in_network_reduction"]["source"]
    with pytest.raises(JalapenoError, match="source"):
        chip_from_dict(d, origin="t.yaml")
    with pytest.raises(JalapenoError, match="no switch") as e:
        chip_from_dict(flagged(True, "mesh"), origin="t.yaml")
    assert e.value.field == "interconnect.in_network_reduction.value"
    assert chip_from_dict(flagged(False, "mesh"), origin="t.yaml").interconnect is not None


@pytest.mark.parametrize(
    ("name", "reduces"),
    [
        ("h100-sxm", True),
        ("h200-sxm", True),
        ("b200", True),
        ("gb200-nvl72", True),
        ("a100-80gb-sxm", False),  # second-generation NVSwitch
        ("mi300x", False),  # xGMI full mesh: no switch
        ("tpu-v5e", False),  # ICI torus
        ("trainium3", False),  # a switch, no documented in-switch reduction
        ("jalapeno-1", False),  # a paper chip's switch reduces only if the design pays for it
    ],
)
def test_presets_say_whether_their_switch_reduces(name, reduces):
    net = network_of(resolve_chip(name))
    assert net is not None and net.scale_up.in_network_reduction is reduces


# -- the dtype rule ---------------------------------------------------------------------------------


def test_residual_stream_is_sixteen_bit_under_narrow_activations():
    assert Precision.of("fp8").residual.name == "bf16"
    assert Precision.of("nvfp4", "nvfp4", "fp8").residual.name == "bf16"
    assert Precision.of("bf16").residual.name == "bf16"
    assert Precision.of("fp32", "fp32").residual.name == "fp32"


@pytest.mark.parametrize("chip", ["h200-sxm", "mi300x", "jalapeno-1"])
def test_tp_collectives_price_the_residual_bytes_whatever_the_activations(chip):
    # the same rule on every chip, GPU or paper: fp8 and nvfp4 activations all-reduce 2 bytes an element
    cfg, tp = resolve_model("llama-3.1-70b"), 4
    est = Estimator(resolve_chip(chip), CostParams(), tp)
    batch = Batch.decode(64, 2048)
    by_format = {
        p: est.comm(build_graph(cfg, batch, Precision.of(*p)))
        for p in (("bf16",), ("fp8",), ("nvfp4", "nvfp4", "fp8"))
    }
    assert len(set(by_format.values())) == 1
    t, moved = by_format[("fp8",)]
    net = network_of(est.chip)
    assert net is not None
    hidden = 64 * cfg.hidden_size * 2.0
    ar, algo = N.tp_collective(net, "all_reduce", hidden, tp)
    logits = 64 * cfg.vocab_size * 2.0
    assert t == pytest.approx(2 * cfg.num_layers * ar + N.tp_collective(net, "all_gather", logits, tp)[0])
    want = 2 * cfg.num_layers * N.sent_bytes("all_reduce", algo, hidden, tp) + 3 / 4 * logits
    assert moved == pytest.approx(want * tp)
