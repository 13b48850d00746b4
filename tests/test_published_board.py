"""The board a published result ran on: 4-GPU HGX H100 servers are a switchless full mesh (6 NVLinks a
peer), priced by cost.network's mesh forms; hand-computed all-reduce times against the 8-GPU board."""

from __future__ import annotations

from dataclasses import replace

import pytest

from jalapeno.cost.network import scale_up_s, tp_collective
from jalapeno.cost.params import params_for
from jalapeno.cost.published import load_published
from jalapeno.cost.published_board import published_links, system_chip, system_url
from jalapeno.cost.published_fit import analytic_result
from jalapeno.cost.step import Estimator
from jalapeno.errors import JalapenoError
from jalapeno.hardware import resolve_chip
from jalapeno.hardware.boards import switchless_mesh
from jalapeno.hardware.network import ScaleUp, network_of

H100 = resolve_chip("h100-sxm")
LAT = 3e-6  # the H100 preset's per-hop latency (measured: tests/test_collective_latency.py)
STEP = 4096 * 8192 * 2  # one all-reduce of a 4096-token Llama-2-70B step, 16-bit residual: 67,108,864 B


def _row(rid: str):
    return next(r for r in load_published() if r.id == rid)


DELL = "4.1-Dell-XE9640_H100_SXM_80GBx4_TRT:llama2-70b-99:Offline"
FUJITSU = "4.1-Fujitsu-GX2560M7_H100_SXM_80GBx4_TRT:llama2-70b-99:Server"
DGX = "4.1-NVIDIA-DGX-H100_H100-SXM-80GBx8_TRT:llama2-70b-99:Server"


def test_the_4gpu_board_is_a_mesh_of_6_links_a_peer():
    board = switchless_mesh(H100, 4, 6, "test")
    ic = board.interconnect
    assert ic is not None and ic.topology == "mesh" and not ic.reduces_in_network
    assert ic.links.value == 3 and ic.domain_size.value == 4  # a link (bundle) a peer
    assert ic.bandwidth_bytes_per_s.value == pytest.approx(450e9)  # all 18 links used: 3 x 6 x 25 GB/s
    up = network_of(board).scale_up  # type: ignore[union-attr]
    assert up.link_bytes_per_s == pytest.approx(150e9)
    assert board.name == "h100-sxm" and board.memory == H100.memory  # only the network changes


@pytest.mark.parametrize(("chips", "per_peer"), [(4, 7), (1, 6), (4, 0)])
def test_a_board_needs_links_for_every_peer(chips, per_peer):
    with pytest.raises(JalapenoError):
        switchless_mesh(H100, chips, per_peer, "test")


def test_tp2_all_reduce_on_the_mesh_is_2_42x_the_switched_board():
    # 8-GPU board: the ring of a pair over the NVSwitch port at NCCL's measured 370 of 450 GB/s,
    # 2 x (B/2 / 370e9 + a) = 187.38 us (155.13 us at the line rate)
    switched, algo = tp_collective(network_of(H100), "all_reduce", STEP, 2)  # type: ignore[arg-type]
    assert algo == "ring" and switched == pytest.approx(STEP / 370e9 + 2 * LAT)
    assert switched == pytest.approx(187.375e-6, rel=1e-4)
    # 4-GPU board: the pair's 6 links only, 2 x (B/2 / 150e9 + a) = 453.39 us
    meshed, _ = tp_collective(network_of(switchless_mesh(H100, 4, 6, "t")), "all_reduce", STEP, 2)  # type: ignore[arg-type]
    assert meshed == pytest.approx(STEP / 150e9 + 2 * LAT)
    assert meshed == pytest.approx(453.39e-6, rel=1e-4)
    assert meshed / switched == pytest.approx(2.4197, rel=1e-3)


def test_a_pair_on_a_full_mesh_has_one_link():
    # MI300X-like mesh, 7 links of 64 GB/s: the two counter-rotating rings of a pair cross the same link,
    # so the ring is the direct exchange, B / 64e9 + 2a (before: the ring counted the link twice)
    up = ScaleUp("mesh", 8, 448e9, 7, LAT)
    ring, _ = scale_up_s(up, "all_reduce", STEP, 2, "ring")
    direct, _ = scale_up_s(up, "all_reduce", STEP, 2, "direct")
    assert ring == pytest.approx(direct) == pytest.approx(STEP / 64e9 + 2 * LAT)
    # three chips: two distinct neighbour links, 2 x 2 x (B/3 / 128e9 + a)
    ring3, _ = scale_up_s(up, "all_reduce", STEP, 3, "ring")
    assert ring3 == pytest.approx(4 * (STEP / 3 / 128e9 + LAT))


def test_step_collectives_on_each_board_by_hand():
    prm = params_for("h100-sxm")
    mesh = switchless_mesh(H100, 4, 6, "t")
    # 80 layers x 2 all-reduces of a 4096-token step, no logits gather
    t_sw, _ = Estimator(H100, prm, tp=2).comm_for(80, 4096, 8192, 0, 0, 2)
    t_mesh, _ = Estimator(mesh, prm, tp=2).comm_for(80, 4096, 8192, 0, 0, 2)
    assert t_sw == pytest.approx(160 * (STEP / 370e9 + 2 * LAT))  # 29.98 ms (the ring at NCCL's share)
    assert t_mesh == pytest.approx(160 * (STEP / 150e9 + 2 * LAT))  # 72.54 ms


def test_rows_pick_the_board_their_system_names():
    rows = {r.id: r for r in load_published()}
    for rid in (DELL, FUJITSU):
        r = rows[rid]
        assert published_links(r) == 6 and r.n_chips == 4
        ic = system_chip(r, H100).interconnect
        assert ic is not None and ic.topology == "mesh" and ic.links.value == 3
        assert system_url(r) in ic.links.source
    assert system_url(rows[DELL]) == (
        "https://github.com/mlcommons/inference_results_v4.1/blob/main/closed/Dell/systems/"
        "XE9640_H100_SXM_80GBx4_TRT.json"
    )
    assert published_links(rows[DGX]) == 18 and system_chip(rows[DGX], H100) is H100  # the 8-GPU board
    # descriptions without a link count keep the preset: RedHat "NVLink", AMD "XGMI", GB200's switches
    for r in rows.values():
        if published_links(r) is None:
            chip = resolve_chip(r.chip) if r.chip != "h100-sxm" else H100
            assert system_chip(r, chip) is chip
    # 6 links a peer cannot wire 8 GPUs (42 of 18 links): the preset's board
    assert system_chip(replace(rows[DGX], interconnect="6x 4th Gen NVLink"), H100) is H100


def test_the_mesh_lowers_only_the_4gpu_rows():
    prm = params_for("h100-sxm")
    r = _row(FUJITSU)
    on_board = analytic_result(r, H100, prm)
    switched = analytic_result(replace(r, interconnect=""), H100, prm)
    assert on_board is not None and switched is not None and on_board.tp == switched.tp == 2
    assert on_board.tokens_per_s_per_chip < 0.95 * switched.tokens_per_s_per_chip
    dgx = _row(DGX)
    assert analytic_result(dgx, H100, prm) == analytic_result(replace(dgx, interconnect=""), H100, prm)
