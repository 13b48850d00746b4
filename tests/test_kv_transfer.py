"""KV transfer between differently sharded pools (cost/kv_transfer.py), the serving link queues
(serving/disagg.py: KVHandoff) and the decode pool's own EP knobs on `serve` (docs/parallel.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from fractions import Fraction
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_serving_helpers import Req

from jalapeno.cli import main
from jalapeno.cost.kv_transfer import KVLayout, KVTransfer, heads_of, kv_layout, kv_transfer, reshard
from jalapeno.cost.pipeline import Parallel
from jalapeno.errors import JalapenoError
from jalapeno.hardware import resolve_chip
from jalapeno.hardware.network import Network, network_of
from jalapeno.models import resolve_model
from jalapeno.serving.analytic import AffineOracle
from jalapeno.serving.config import ServingConfig
from jalapeno.serving.disagg import Disagg, KVHandoff
from jalapeno.serving.oracle import StepShape
from jalapeno.serving.simulate import Simulation

_NET = network_of(resolve_chip("h200"))  # HGX: one 50 GB/s NIC a GPU, 5 us; NVLink 450 GB/s, 3 us
assert _NET is not None and _NET.scale_out is not None
NET: Network = _NET
NIC, LAT = 50e9, 5e-6
GQA = KVLayout(layers=80, heads=8)
F = Fraction


def price(layout: KVLayout, src: Parallel, dst: Parallel, net: Network = NET) -> KVTransfer:
    return KVTransfer(reshard(layout, src, dst), net, net)


def test_network_figures_the_hand_checks_use():
    assert NET.scale_out is not None
    assert (NET.scale_out.bw_bytes_per_s, NET.scale_out.latency_s) == (NIC, LAT)


def test_same_sharding_pairs_ranks_one_to_one():
    """TP8 -> TP8: rank r sends its 1/8 to rank r; 8 NICs drain a copy; one message: write + notice."""
    k = price(GQA, Parallel(8), Parallel(8))
    assert k.map.shares == {(r, r): F(1, 8) for r in range(8)}
    assert k.map.total == 1 and not k.map.gather
    assert k.link() == (8 * NIC, 2 * LAT)  # exactly the old default link (8 x 400G, 10 us)
    assert k.seconds(8e9) == pytest.approx(1e9 / NIC + 2 * LAT, rel=1e-12)


def test_tp8_to_tp4_is_a_two_to_one_fan_in():
    """Each TP4 rank holds two heads that sat on two TP8 ranks: 1/4 of a copy in two messages."""
    k = price(GQA, Parallel(8), Parallel(4))
    assert k.map.shares == {(s, s // 2): F(1, 8) for s in range(8)}
    assert [k.map.received(d) for d in range(4)] == [F(1, 4)] * 4
    assert [k.map.messages(d, sender=False) for d in range(4)] == [2] * 4
    assert k.link() == (4 * NIC, 2 * 2 * LAT)
    assert k.seconds(8e9) == pytest.approx(2e9 / NIC + 4 * LAT, rel=1e-12)


def test_tp4_to_tp8_is_a_one_to_two_fan_out():
    """Each TP8 rank needs half a TP4 rank's heads: every sender sends 1/4 in two messages."""
    k = price(GQA, Parallel(4), Parallel(8))
    assert k.map.shares == {(d // 2, d): F(1, 8) for d in range(8)}
    assert [k.map.sent(s) for s in range(4)] == [F(1, 4)] * 4
    assert k.link() == (4 * NIC, 4 * LAT)


def test_fewer_kv_heads_than_ranks_copies_once_per_destination():
    """2 KV heads, TP4 -> TP8: heads are replicated (ranks 0-1 hold head 0 at the source, 0-3 at the
    destination); every destination rank gets its own half copy, split over the two holders: 4 copies."""
    lay = KVLayout(layers=10, heads=2)
    assert [heads_of(t, 4, lay)[0] for t in range(4)] == [0, 0, 1, 1]
    k = price(lay, Parallel(4), Parallel(8))
    assert k.map.total == 4
    for d in range(8):
        src = (0, 1) if d < 4 else (2, 3)
        assert {s: v for (s, dd), v in k.map.shares.items() if dd == d} == {s: F(1, 4) for s in src}
    # a sender ships a whole copy in four messages: the busiest NIC
    assert [k.map.sent(s) for s in range(4)] == [1] * 4
    assert k.link() == (NIC, 4 * 2 * LAT)
    assert k.seconds(1e9) == pytest.approx(1e9 / NIC + 8 * LAT, rel=1e-12)


def test_mla_latent_moves_once_split_over_the_senders():
    """MLA's latent is on every TP rank: one copy moves, TP8 -> TP4 in eighths (2:1 fan-in), and the
    destination all-gathers it over NVLink, overlapped (the NIC is the bound here)."""
    lay = kv_layout(resolve_model("deepseek-v3"))
    assert lay.replicated and lay.heads == 1
    k = price(lay, Parallel(8), Parallel(4))
    assert k.map.shares == {(s, s // 2): F(1, 8) for s in range(8)} and k.map.total == 1
    assert k.map.gather
    nic = 1e9 / 4 / NIC + 4 * LAT
    gather = 3 * (1e9 / 4 / 450e9 + 3e-6)  # ring all-gather of one copy over 4 ranks
    assert gather < nic and k.seconds(1e9) == pytest.approx(nic, rel=1e-12)
    one = price(lay, Parallel(1), Parallel(1))
    assert one.map.shares == {(0, 0): 1} and not one.map.gather


def test_mla_gather_bounds_when_the_nic_is_fast():
    """With NICs 10x faster, the destination's all-gather over NVLink sets the time: NCCL's ring on the
    H200's switch, at its measured 370 of the links' 450 GB/s (nccl-tests ring bus bandwidth)."""
    assert NET.scale_out is not None
    fast = replace(NET, scale_out=replace(NET.scale_out, nic_bytes_per_s=500e9))
    k = price(KVLayout(61, 1, replicated=True), Parallel(8), Parallel(8), fast)
    gather = 7 * (1e9 / 8 / 370e9 + 3e-6)
    assert k.seconds(1e9) == pytest.approx(gather, rel=1e-9)
    bw, lat = k.link()
    assert 1e9 / bw + lat >= k.seconds(1e9) * (1 - 1e-12)


def test_pipeline_stages_regroup_layers():
    """TP2 x PP2 -> TP2: destination rank 0 (head 0, all 4 layers) gets layers 0-1 from stage 0's rank 0
    and layers 2-3 from stage 1's rank 0 (source rank 2)."""
    k = price(KVLayout(4, 2), Parallel(2, pp=2), Parallel(2))
    assert k.map.shares == {(0, 0): F(1, 4), (2, 0): F(1, 4), (1, 1): F(1, 4), (3, 1): F(1, 4)}
    assert k.link() == (2 * NIC, 4 * LAT)


def test_data_parallel_attention_keeps_a_request_on_one_attention_replica():
    """EP8 with dp 8 (tp 1): one chip's NIC a request, whatever the group's size."""
    k = kv_transfer(
        resolve_model("gpt-oss-120b"), Parallel(1, ep=8, dp=8), Parallel(1, ep=16, dp=16), NET, NET
    )
    assert k.map.shares == {(0, 0): 1} and k.link() == (NIC, 2 * LAT)


def test_a_chip_without_nic_figures_is_refused():
    net = network_of(resolve_chip("mi300x"))
    assert net is not None and net.scale_out is None
    with pytest.raises(JalapenoError, match="scale-out"):
        price(GQA, Parallel(8), Parallel(8), net)


@st.composite
def plans(draw: Any) -> tuple[KVLayout, Parallel, Parallel]:
    layers = draw(st.integers(1, 40))
    replicated = draw(st.booleans())
    heads = 1 if replicated else draw(st.sampled_from((1, 2, 4, 8, 16, 96)))
    tps = st.sampled_from((1, 2, 3, 4, 6, 8, 16))
    pp = st.integers(1, min(4, layers))
    return KVLayout(layers, heads, replicated), Parallel(draw(tps), draw(pp)), Parallel(draw(tps), draw(pp))


def _expected_copies(lay: KVLayout, dst: Parallel) -> Fraction:
    """Each destination rank's held share of a copy, summed (MLA: one copy, gathered after)."""
    if lay.replicated:
        return F(1)
    return sum((F(len(heads_of(t, dst.tp, lay)), lay.heads) for t in range(dst.tp)), F(0))


@settings(max_examples=150, deadline=None)
@given(plans(), st.floats(1e3, 1e11))
def test_bytes_conserved_and_time_bounded(case, nbytes):
    lay, src, dst = case
    k = price(lay, src, dst)
    m = k.map
    total = _expected_copies(lay, dst)
    assert m.total == total
    assert sum(m.sent(s) for s in range(src.tp * src.pp)) == total
    assert sum(m.received(d) for d in range(dst.tp * dst.pp)) == total
    # every destination rank gets exactly what it holds: its stage's share of its heads
    t = k.seconds(nbytes)
    assert t >= nbytes * float(total) / (src.tp * src.pp * NIC)  # no faster than every sender's NIC
    assert t >= nbytes * float(total) / (dst.tp * dst.pp * NIC)  # ... or every receiver's
    bw, lat = k.link()
    assert nbytes / bw + lat >= t * (1 - 1e-12)  # the simulator's form never undercuts the map


# -- the serving link queues ----------------------------------------------------------------------------


class _First:
    def choose(self, st: Any, pool: Any) -> int:
        return 0


def _handoff(spec: Disagg) -> tuple[KVHandoff, list[Any]]:
    dec = [
        SimpleNamespace(index=spec.prefill_replicas + i, outstanding=0, nic_busy=None)
        for i in range(spec.decode_replicas)
    ]
    src = [
        SimpleNamespace(index=i, oracle=SimpleNamespace(kv_bytes_per_token=1.0), nic_busy=None)
        for i in range(spec.prefill_replicas)
    ]
    return KVHandoff(spec, dec, _First()), src  # type: ignore[arg-type]


def _req(tokens: float) -> Any:
    return SimpleNamespace(computed=tokens, output=2)


def _done(events: list[Any]) -> float:
    return events[0][0]


def test_two_transfers_into_one_decode_replica_take_twice_as_long():
    """1 GB at 1 GB/s: alone 1 s; two prefill replicas sending to one decode replica at once share its
    NICs (1 s and 2 s: bytes conserved); with two decode NIC groups they run side by side."""
    spec = Disagg(prefill_replicas=2, link_bandwidth_bytes_per_s=1e9, link_latency_s=0.0)
    h, src = _handoff(spec)
    assert _done(h.send(src[0], _req(1e9), 0.0)) == 1.0
    h, src = _handoff(spec)
    ends = [_done(h.send(s, _req(1e9), 0.0)) for s in src]
    assert ends == [1.0, 2.0] and h.transfer_s == 3.0
    h, src = _handoff(replace(spec, decode_groups=2))
    assert [_done(h.send(s, _req(1e9), 0.0)) for s in src] == [1.0, 1.0]


def test_transfers_from_one_prefill_group_queue_and_groups_take_turns():
    spec = Disagg(decode_replicas=1, link_bandwidth_bytes_per_s=1e9, link_latency_s=1e-3, decode_groups=2)
    h, src = _handoff(spec)
    assert [_done(h.send(src[0], _req(1e9), 0.0)) for _ in range(2)] == [1.001, 2.001]
    h, src = _handoff(replace(spec, prefill_groups=2))  # round robin over the source's two NIC groups
    assert [_done(h.send(src[0], _req(1e9), 0.0)) for _ in range(3)] == [1.001, 1.001, 2.001]


def test_nic_groups_must_be_positive():
    with pytest.raises(JalapenoError, match="decode_groups"):
        Disagg(decode_groups=0)


# -- serve: the decode pool's own EP knobs and its KV link ------------------------------------------------

GPT = ("-m", "gpt-oss-120b", "-H", "h200-sxm", "--dtype", "fp8", "--limit", "20", "--topology", "disagg")


def _serve(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["serve", *args, "--json", "--no-timings", "-q"]) == 0
    return json.loads(capsys.readouterr().out)


def test_decode_knobs_default_to_the_prefill_pools_and_set_the_decode_plan(capsys):
    plain = _serve(capsys, *GPT, "--ep", "8", "--tbo", "--ep-imbalance", "1.2")
    dep = plain["deployment"]
    assert dep["decode_parallel"] == dep["parallel"]
    dec_args = ("--decode-ep", "16", "--decode-redundant-experts", "16", "--decode-ep-imbalance", "1.5")
    own = _serve(capsys, *GPT, "--ep", "8", "--tbo", "--ep-imbalance", "1.2", *dec_args, "--no-decode-tbo")
    pre, dec = own["deployment"]["parallel"], own["deployment"]["decode_parallel"]
    assert (pre["redundant_experts"], pre["ep_imbalance"], pre["tbo"]) == (0, 1.2, True)
    assert (dec["ep"], dec["redundant_experts"], dec["ep_imbalance"], dec["tbo"]) == (16, 16, 1.5, False)


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (("--ep", "8", "--decode-redundant-experts", "-1"), "--decode-redundant-experts"),
        (("--ep", "8", "--decode-ep-imbalance", "0.9"), "--decode-ep-imbalance"),
        (("--ep", "8", "--decode-ep-imbalance", "nan"), "--decode-ep-imbalance"),
        (("--tp", "8", "--decode-tbo"), "--decode-ep"),  # a TP decode pool has no all-to-all to overlap
        (("--ep", "8", "--decode-redundant-experts", "3"), "--decode-ep"),  # 128 + 3 over 8 ranks
    ],
)
def test_bad_decode_knobs_are_one_error_line(capsys, args, flag):
    assert main(["serve", *GPT, *args, "--json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {flag}:"), err


def test_decode_knobs_only_with_disagg(capsys):
    assert main(["serve", "-m", "gpt-oss-120b", "-H", "h200-sxm", "--ep", "8", "--decode-tbo", "--json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --decode-tbo: only with --topology disagg"]


def test_serve_link_follows_the_resharding(capsys):
    """Llama-3.1-70B TP8 -> TP4 (8 KV heads): four receiving NICs, two messages each."""
    args = ("-m", "llama-3.1-70b", "-H", "h200", "--dtype", "fp8", "--limit", "10", "--topology", "disagg")
    assert _serve(capsys, *args, "--tp", "8")["deployment"]["kv_link_gbps"] == 3200.0
    assert _serve(capsys, *args, "--tp", "8", "--decode-tp", "4")["deployment"]["kv_link_gbps"] == 1600.0


# -- the all-to-all and the KV transfer on the same NICs ------------------------------------------------


@dataclass(frozen=True)
class _NicOracle(AffineOracle):
    """Steps whose all-to-alls cross the NICs for ``a2a_share`` of their time."""

    a2a_share: float = 0.5
    all_to_all_on_nics: bool = True

    def all_to_all_s(self, shape: StepShape) -> float:
        return self.a2a_share * self.step(shape).time_s


def _finish_times(oracle: Any) -> dict[int, float]:
    """Request A (0) decodes 200 tokens on the decode replica when B's KV (1,000 tokens x 131,072 bytes
    at 1 GB/s: 0.131 s) lands on its NICs; steps last 10 ms whatever the batch."""
    reqs = [Req(0, 0.0, 100, 200), Req(1, 0.5, 1000, 5)]
    d = Disagg(link_bandwidth_bytes_per_s=1e9, link_latency_s=0.0)
    sim = Simulation(reqs, oracle, ServingConfig(topology="disagg", scheduler="sarathi", disagg=d))
    sim.run()
    sim.check_invariants()
    return {st.rid: st.finish_s for st in sim.states}


def test_kv_transfer_delays_the_all_to_all_sharing_its_nics():
    """B's 0.131 s transfer falls inside A's decode run: the run's all-to-all (half of each step) waits
    for it, so A finishes 0.5 x 0.131 s later; a pool whose all-to-alls stay on the scale-up links (or
    take no time) runs as before."""
    base = AffineOracle(fixed_s=0.01, per_token_s=0.0)
    plain = _finish_times(base)
    share = _finish_times(_NicOracle(fixed_s=0.01, per_token_s=0.0, a2a_share=0.5))
    transfer = 1000 * base.kv_bytes_per_token / 1e9
    assert share[0] - plain[0] == pytest.approx(0.5 * transfer, rel=1e-9)
    assert _finish_times(_NicOracle(fixed_s=0.01, per_token_s=0.0, a2a_share=0.0)) == plain
    off = _NicOracle(fixed_s=0.01, per_token_s=0.0, all_to_all_on_nics=False)
    assert _finish_times(off) == plain


def test_nic_busy_is_the_union_of_transfers_in_the_window():
    spec = Disagg(prefill_replicas=1, link_bandwidth_bytes_per_s=1e9, link_latency_s=0.0)
    h, _ = _handoff(spec)
    h._busy[5] = [(0.0, 1.0), (0.5, 2.0), (3.0, 4.0)]
    rep = SimpleNamespace(index=5)
    assert h.nic_busy_s(rep, 0.5, 3.5) == pytest.approx(1.5 + 0.5)  # type: ignore[arg-type]
    assert h.nic_busy_s(rep, 4.0, 5.0) == 0.0  # type: ignore[arg-type]


def test_deployment_decode_tbo_axis():
    """explore's Deployment: decode_tbo gives the decode pool its own two-batch overlap (None: the prefill
    pool's), round-trips through to_json, and counts as an own plan only where the pool runs EP."""
    from jalapeno.explore.design import Deployment

    e = Deployment(tp=1, ep=8, replicas=2, topology="disagg", tbo=True, decode_tbo=False)
    assert e.own_decode_plan and e.parallel().tbo and not e.decode_deployment().parallel().tbo
    assert e.to_json()["decode_tbo"] is False and e.chips == 16
    assert Deployment(**{k: v for k, v in e.to_json().items() if k != "chips"}) == e
    on = Deployment(tp=1, ep=8, replicas=2, topology="disagg", decode_tbo=True)
    assert on.label().endswith("decode ep8 (tp1 x dp8) tbo")
    same = Deployment(tp=1, ep=8, replicas=2, topology="disagg", tbo=True, decode_tbo=True)
    assert not same.own_decode_plan and "decode_tbo" not in same.to_json()
    dense = Deployment(tp=2, replicas=2, topology="disagg", decode_tbo=True)  # no EP: nothing to overlap
    assert not dense.own_decode_plan
