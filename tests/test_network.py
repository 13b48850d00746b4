"""The network as data: closed-form collectives (cost.network) against a step-by-step simulation of
each algorithm on each topology (cost.netsim), conservation, hierarchical forms by hand, presets."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jalapeno.cost import netsim as S
from jalapeno.cost import network as N
from jalapeno.errors import JalapenoError
from jalapeno.hardware import resolve_chip
from jalapeno.hardware.network import Network, ScaleOut, ScaleUp, network_of

BW, LAT, B = 450e9, 2e-6, 3.0e6
TORUS2D = {
    4: (2, 2),
    6: (3, 2),
    8: (4, 2),
    9: (3, 3),
    10: (5, 2),
    12: (4, 3),
    14: (7, 2),
    15: (5, 3),
    16: (4, 4),
}
TORUS3D = {8: (2, 2, 2), 12: (3, 2, 2), 16: (4, 2, 2)}


def fabrics():
    """(label, ScaleUp, n) for n = 2..16 on a switch, a dragonfly, a ring, a full mesh and 2D/3D tori."""
    for n in range(2, 17):
        yield "switch", ScaleUp("switch", n, BW, 18, LAT), n
        yield "dragonfly", ScaleUp("dragonfly", n, BW, 18, LAT), n  # switched, a hop local-global-local
        yield "ring", ScaleUp("ring", n, BW, 2, LAT), n
        yield "mesh", ScaleUp("mesh", n, BW, n - 1, LAT), n
        if n in TORUS2D:
            yield "torus2d", ScaleUp("torus2d", n, BW, 4, LAT, TORUS2D[n]), n
        if n in TORUS3D:
            yield "torus3d", ScaleUp("torus3d", n, BW, 6, LAT, TORUS3D[n]), n


CASES = list(fabrics())
IDS = [f"{t}-{n}" for t, _, n in CASES]


def simulate(up: ScaleUp, n: int, sends: list[S.Send]) -> S.Result:
    f = S.Fabric(up, n)
    return S.run(sends, f.bw, f.latency_s)


@pytest.mark.parametrize(("label", "up", "n"), CASES, ids=IDS)
@pytest.mark.parametrize("kind", ["reduce_scatter", "all_gather", "all_reduce"])
def test_ring_closed_form_matches_simulation(label, up, n, kind):
    res = simulate(up, n, S.ring_schedule(S.Fabric(up, n), B, kind))
    closed, algo = N.scale_up_s(up, kind, B, n, "ring")
    assert algo == "ring"
    assert res.time_s == pytest.approx(closed, rel=1e-9)
    # conservation: every byte sent is received; a ring moves (n-1)/n of the buffer per phase a chip
    assert sum(res.sent.values()) == pytest.approx(sum(res.received.values()), rel=1e-12)
    phases = 2 if kind == "all_reduce" else 1
    dims = [length for length, _ in N.dims_of(up, n)]  # a switch, ring or mesh: one dimension of n
    per_chip = phases * B * sum((length - 1) / length / math.prod(dims[:d]) for d, length in enumerate(dims))
    for i in range(n):
        assert res.sent[i] == pytest.approx(per_chip, rel=1e-9)
        assert res.received[i] == pytest.approx(per_chip, rel=1e-9)


ONE_SHOT = ("switch", "dragonfly", "mesh")


@pytest.mark.parametrize(
    ("label", "up", "n"),
    [c for c in CASES if c[0] in ONE_SHOT],
    ids=[i for c, i in zip(CASES, IDS, strict=True) if c[0] in ONE_SHOT],
)
def test_direct_and_pairwise_match_simulation(label, up, n):
    f = S.Fabric(up, n)
    for kind in ("reduce_scatter", "all_gather"):
        res = simulate(up, n, S.direct_schedule(f, B, kind))
        assert res.time_s == pytest.approx(N.scale_up_s(up, kind, B, n, "direct")[0], rel=1e-9)
    res = simulate(up, n, S.direct_schedule(f, B, "all_to_all"))
    assert res.time_s == pytest.approx(N.direct_all_to_all_s(up, B, n), rel=1e-9)
    assert sum(res.sent.values()) == pytest.approx(n * (n - 1) / n * B) == sum(res.received.values())
    res = simulate(up, n, S.pairwise_schedule(f, B))
    assert res.time_s == pytest.approx(N.pairwise_all_to_all_s(up, B, n), rel=1e-9)
    assert res.sent == pytest.approx(res.received)


@pytest.mark.parametrize(
    ("label", "up", "n"),
    [c for c in CASES if c[0] in ("ring", "torus2d", "torus3d")],
    ids=[i for c, i in zip(CASES, IDS, strict=True) if c[0] in ("ring", "torus2d", "torus3d")],
)
def test_relay_all_to_all_matches_simulation(label, up, n):
    res = simulate(up, n, S.relay_schedule(S.Fabric(up, n), B))
    assert res.time_s == pytest.approx(N.relay_all_to_all_s(up, B, n), rel=1e-9)
    assert sum(res.sent.values()) == pytest.approx(sum(res.received.values()), rel=1e-12)
    # store-and-forward: at least the (n-1)/n B every chip must deliver leaves it
    assert min(res.sent.values()) >= (n - 1) / n * B * (1 - 1e-12)


@pytest.mark.parametrize("n", [2, 4, 8, 16])
@pytest.mark.parametrize(("topo", "hops"), [("switch", 1), ("dragonfly", 3)])
def test_tree_halving_matches_simulation(n, topo, hops):
    up = ScaleUp(topo, n, BW, 18, LAT)
    res = simulate(up, n, S.halving_schedule(S.Fabric(up, n), B))
    assert res.time_s == pytest.approx(N.scale_up_s(up, "reduce_scatter", B, n, "tree")[0], rel=1e-12)
    assert res.time_s == pytest.approx((n - 1) / n * B / BW + math.log2(n) * hops * LAT, rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(2, 16),
    kb=st.floats(1.0, 1e5),
    lat_us=st.floats(0.0, 20.0),
    topo=st.sampled_from(["switch", "ring", "mesh"]),
)
def test_ring_matches_simulation_any_size(n, kb, lat_us, topo):
    up = ScaleUp(topo, n, BW, n - 1 if topo == "mesh" else (2 if topo == "ring" else 18), lat_us * 1e-6)
    res = simulate(up, n, S.ring_schedule(S.Fabric(up, n), kb * 1e3, "all_reduce"))
    assert res.time_s == pytest.approx(N.scale_up_s(up, "all_reduce", kb * 1e3, n, "ring")[0], rel=1e-9)


@pytest.mark.parametrize(("d", "k"), [(2, 2), (4, 2), (8, 2), (4, 3), (2, 4), (8, 4)])
def test_hierarchical_all_reduce_matches_simulation(d, k):
    up, nic = ScaleUp("switch", d, BW, 18, LAT), ScaleOut(1, 50e9, 5e-6)
    sends = S.hierarchical_all_reduce_schedule(d, k, B)
    res = S.run(
        sends,
        lambda r: 50e9 if r[0].startswith("nic") else BW,
        lambda hop: 5e-6 if hop[0][0].startswith("nic") else LAT,
    )
    closed, algo = N.collective_s(Network(up, nic), "all_reduce", B, d * k)
    assert algo == "hierarchical(direct)"
    assert res.time_s == pytest.approx(closed, rel=1e-9)
    assert res.sent == pytest.approx(res.received)
    # each chip: (d-1)/d B in the domain twice, 2 (k-1)/k of its B/d shard over the NIC
    assert res.sent[0] == pytest.approx(2 * (d - 1) / d * B + 2 * (k - 1) / k * B / d)


@pytest.mark.parametrize("up_bw", [450e9, 60e9, 20e9])  # NIC-bound, either, scale-up-bound
@pytest.mark.parametrize(("d", "k"), [(2, 2), (4, 2), (8, 2), (4, 3), (8, 4), (8, 18)])
def test_hierarchical_all_to_all_matches_pipelined_simulation(d, k, up_bw):
    # DeepEP's normal kernels across domains: NIC to the same-rank chip, forwarded over the switch as each
    # of 16 pieces arrives. The closed form is max(NIC part, scale-up part); the simulation also pays, when
    # the NIC is the bound, the forwarding hop after the last piece (one latency and one piece's shares)
    n, nic_bw, nic_lat, pieces = d * k, 50e9, 5e-6, 16
    up, nic = ScaleUp("switch", d, up_bw, 18, LAT), ScaleOut(1, nic_bw, nic_lat)
    sends = S.hierarchical_all_to_all_schedule(d, k, B, pieces)
    res = S.run(
        sends,
        lambda r: nic_bw if r[0].startswith("nic") else up_bw,
        lambda hop: nic_lat if hop[0][0].startswith("nic") else LAT,
    )
    closed, algo = N.collective_s(Network(up, nic), "all_to_all", B, n)
    assert algo == "hierarchical(direct)"
    nic_part = (n - d) / n * B / nic_bw + nic_lat
    up_part = (d - 1) / d * B / up_bw + LAT  # a direct all-to-all of B inside the domain
    assert closed == pytest.approx(max(nic_part, up_part), rel=1e-12)
    last_piece = (d - 1) * B / n / pieces / up_bw + LAT
    assert res.time_s == pytest.approx(max(nic_part + last_piece, up_part), rel=1e-9)
    assert closed <= res.time_s * (1 + 1e-12) and res.time_s <= (closed + last_piece) * (1 + 1e-12)
    # conservation, and each chip's NIC carries exactly the (n-d)/n B bound for other domains
    assert sum(res.sent.values()) == pytest.approx(sum(res.received.values()), rel=1e-12)
    for i in range(n):
        out = sum(x.bytes_ for x in sends if x.src == i and x.route[0][0][0] == "nic_out")
        assert out == pytest.approx((n - d) / n * B, rel=1e-12)


def test_closed_forms_by_hand():
    sw = ScaleUp("switch", 8, BW, 18, LAT)
    # ring all-reduce on 8: 2 x 7 x (B/8 / bw + a); direct: 2 x (7/8 B / bw + a)
    assert N.scale_up_s(sw, "all_reduce", B, 8, "ring")[0] == pytest.approx(14 * (B / 8 / BW + LAT))
    assert N.scale_up_s(sw, "all_reduce", B, 8)[0] == pytest.approx(2 * (7 / 8 * B / BW + LAT))
    assert N.scale_up_s(sw, "all_reduce", B, 8)[1] == "direct"  # best on a switch: fewest latencies
    ring = ScaleUp("ring", 6, BW, 2, LAT)
    # even ring of 6: busiest link 6^2/8 = 4.5 shares of B/6 at bw/2, in 3 steps
    assert N.relay_all_to_all_s(ring, B, 6) == pytest.approx(4.5 * B / 6 / (BW / 2) + 3 * LAT)
    with pytest.raises(JalapenoError):
        N.scale_up_s(ring, "all_to_all", B, 6, "direct")  # no direct links on a ring


def test_hierarchical_forms_by_hand():
    up = ScaleUp("switch", 8, BW, 18, LAT)
    nic = ScaleOut(1, 50e9, 5e-6)
    net = Network(up, nic)
    # all-to-all over 16 = 2 domains: half the buffer leaves over the NIC (50 GB/s), the other half and
    # the forwarded half move over NVLink: max(0.5 B / 50e9 + 5 us, direct a2a of 15/16 B on 8)
    t, algo = N.collective_s(net, "all_to_all", B, 16)
    up_part = 7 / 8 * (15 / 16 * B * 8 / 7) / BW + LAT
    assert algo == "hierarchical(direct)"
    assert t == pytest.approx(max(0.5 * B / 50e9 + 5e-6, up_part))
    # all-reduce: reduce-scatter in the domain, ring all-reduce of B/8 over the 2 domains, all-gather
    inner = 7 / 8 * B / BW + LAT
    t, _ = N.collective_s(net, "all_reduce", B, 16)
    assert t == pytest.approx(2 * inner + 2 * (B / 8 / 2 / 50e9 + 5e-6))
    with pytest.raises(JalapenoError, match="whole domains"):
        N.collective_s(net, "all_reduce", B, 12)
    with pytest.raises(JalapenoError, match="scale-out"):
        N.collective_s(Network(up), "all_to_all", B, 16)
    # one chip to one chip: NVLink inside, the NIC across
    assert N.p2p_s(net, B, cross_domain=False) == pytest.approx(B / BW + LAT)
    assert N.p2p_s(net, B, cross_domain=True) == pytest.approx(B / 50e9 + 5e-6)


def test_presets_carry_their_network():
    net = network_of(resolve_chip("h200-sxm"))
    assert net is not None and net.scale_out is not None
    assert (net.scale_up.topology, net.scale_up.domain_size, net.scale_up.bw_bytes_per_s) == (
        "switch",
        8,
        450e9,
    )
    assert net.scale_out.bw_bytes_per_s == 50e9  # one ConnectX-7 400G NIC a GPU
    tpu = network_of(resolve_chip("tpu-v5e"))
    assert tpu is not None and tpu.scale_up.dims == (16, 16) and tpu.scale_out is None
    assert network_of(resolve_chip("mi300x")).scale_out is None
    # a designer's variant: an NVL72-style domain of 72 keeps a 16-chip group inside NVLink
    big = replace(net, scale_up=replace(net.scale_up, domain_size=72))
    assert N.collective_s(big, "all_to_all", B, 16)[1] == "direct"
    assert N.collective_s(big, "all_to_all", B, 16)[0] < N.collective_s(net, "all_to_all", B, 16)[0]


def test_bad_topology_is_refused():
    with pytest.raises(JalapenoError, match="topology"):
        ScaleUp("hypercube", 8, BW, 3, LAT)
    with pytest.raises(JalapenoError, match="collective"):
        N.scale_up_s(ScaleUp("switch", 8, BW, 18, LAT), "broadcast", B, 8)


@pytest.mark.parametrize("topo", ["switch", "dragonfly"])
@pytest.mark.parametrize("n", [3, 4, 8, 16])
@pytest.mark.parametrize("b", [512.0, 32768.0, 3.0e6])
def test_one_shot_all_reduce_matches_simulation(topo, n, b):
    up = ScaleUp(topo, n, BW, 18, LAT)
    f = S.Fabric(up, n)
    res = simulate(up, n, S.one_shot_schedule(f, b))
    closed, algo = N.scale_up_s(up, "all_reduce", b, n, "one_shot")
    assert algo == "one_shot"
    assert res.time_s == pytest.approx(closed, rel=1e-9)
    # every chip's whole buffer reaches every peer: (n-1) b each way, what sent_bytes charges the links
    assert res.sent == pytest.approx({i: N.sent_bytes("all_reduce", "one_shot", b, n) for i in range(n)})
    assert res.received == pytest.approx(res.sent)


def test_one_shot_by_hand_and_where_it_wins():
    up = ScaleUp("switch", 8, BW, 18, 3e-6)
    # 4 KB over 8: 7 x 4096 B / 450 GB/s + 2 x 3 us = 6.0637 us; the ring pays 14 hops, 42.06 us
    assert N.one_shot_all_reduce_s(up, 4096.0, 8) == pytest.approx(6.0637e-6, rel=1e-4)
    net = Network(up)
    assert N.tp_collective(net, "all_reduce", 4096.0, 8) == (pytest.approx(6.0637e-6, rel=1e-4), "one_shot")
    assert N.collective_s(net, "all_reduce", 4096.0, 8, "ring")[0] == pytest.approx(
        14 * 3e-6 + 2 * 7 / 8 * 4096 / BW
    )
    # at 64 MB the ring's 2 (n-1)/n b beats one-shot's (n-1) b
    assert N.tp_collective(net, "all_reduce", 64e6, 8)[1] == "ring"
    # two chips: one-shot is the ring itself, not offered; a mesh or ring topology has none
    assert N.one_shot_all_reduce_s(up, 4096.0, 2) is None
    assert N.one_shot_all_reduce_s(ScaleUp("mesh", 4, BW, 3, LAT), 4096.0, 4) is None
    assert N.one_shot_all_reduce_s(ScaleUp("ring", 4, BW, 2, LAT), 4096.0, 4) is None
