"""The MoE co-design space (issue 12 item 4, docs/jalapeno-moe.md): network dimensions priced in the right
direction, expert-parallel deployments through explore, a seconds-long search, the searched preset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from short_workload import SHORT

from jalapeno.cost.network import collective_s
from jalapeno.explore import load_space, run_search
from jalapeno.explore.compare import Sweep
from jalapeno.explore.design import Deployment, build_arch
from jalapeno.explore.evaluate import evaluate_design, network_checks
from jalapeno.explore.workload import workload_from_dict
from jalapeno.hardware import resolve_chip
from jalapeno.hardware.arch import derive_chip
from jalapeno.hardware.arch import model as arch_model
from jalapeno.hardware.network import network_of
from jalapeno.hardware.tco import fleet_tco, scale_up_switch_usd, scale_up_switch_w, value

ROOT = Path(__file__).parents[1]
SPACE = load_space("moe-asic")
START = json.loads((ROOT / "docs" / "data" / "jalapeno-moe-enqueue.json").read_text())["design"]


def chip_of(**over: object):
    return derive_chip(build_arch(SPACE, {**START, **over}))


def a2a_s(chip, n: int = 8, b: float = 64e6) -> float:
    net = network_of(chip)
    assert net is not None
    return collective_s(net, "all_to_all", b, n)[0]


@pytest.mark.parametrize(("param", "lo", "hi"), [("links.count", 4, 8), ("links.lanes", 2, 4)])
def test_more_link_bandwidth_costs_area_power_and_money_and_speeds_all_to_all(
    param: str, lo: int, hi: int
) -> None:
    a, b = chip_of(**{param: lo}), chip_of(**{param: hi})

    def lanes(c):
        return c.arch.links.count.value * c.arch.links.lanes.value

    assert lanes(b) == 2 * lanes(a)
    # SerDes area: lanes x mm2 a lane (technology library), exactly
    da = arch_model.area(b.arch)["serdes"].value - arch_model.area(a.arch)["serdes"].value
    assert da == pytest.approx(lanes(a) * arch_model.tech_of(a.arch)("serdes_mm2_per_lane"))
    assert b.die_area_mm2.value > a.die_area_mm2.value
    assert b.idle_w.value > a.idle_w.value  # SerDes idle power per lane
    assert b.tdp_w.value > a.tdp_w.value  # links at their peak
    assert b.extra["cost.total_usd"].value > a.extra["cost.total_usd"].value  # a bigger die

    def bw(c):
        return c.interconnect.bandwidth_bytes_per_s.value

    assert bw(b) == pytest.approx(2 * bw(a))
    # a bandwidth-bound all-to-all of 64 MB over 8 chips on the switch: (n-1)/n B / bw + latency
    assert a2a_s(b) < a2a_s(a)
    lat = a.interconnect.latency_s.value
    assert a2a_s(a) == pytest.approx(7 / 8 * 64e6 / bw(a) + lat)


def test_rack_scale_switch_ports_are_paid_per_gbps_beyond_an_8_chip_board() -> None:
    board, rack, torus = (
        chip_of(scale_up="switch8"),
        chip_of(scale_up="switch16"),
        chip_of(scale_up="torus2d-16"),
    )
    assert (
        scale_up_switch_usd(board) == 0.0 and scale_up_switch_w(board) == 0.0
    )  # in host_usd, as HGX's NVSwitches
    assert scale_up_switch_usd(torus) == 0.0  # direct links, no switch
    gbps = rack.interconnect.bandwidth_bytes_per_s.value * 8 / 1e9
    assert scale_up_switch_usd(rack) == pytest.approx(gbps * value("system.scale_up_switch_usd_per_gbps"))
    assert scale_up_switch_w(rack) == pytest.approx(gbps * value("system.scale_up_switch_w_per_gbps"))
    wide = chip_of(scale_up="switch16", **{"links.lanes": 8})
    assert scale_up_switch_usd(wide) == pytest.approx(2 * scale_up_switch_usd(rack))
    # through the one TCO rule: the same fleet costs more capex and wall power in the rack-scale domain
    t_board = fleet_tco(board, 16, 8000.0, 1e5, 1e4)
    t_rack = fleet_tco(rack, 16, 8000.0, 1e5, 1e4)
    assert t_board is not None and t_rack is not None
    assert t_rack.system_usd - t_board.system_usd == pytest.approx(16 * scale_up_switch_usd(rack))
    assert t_rack.host_power_w - t_board.host_power_w == pytest.approx(16 * scale_up_switch_w(rack))
    assert t_rack.usd_per_mtok > t_board.usd_per_mtok


def test_the_same_rule_prices_the_gpus_switches() -> None:
    nvl = resolve_chip("gb200-nvl72")  # 72-GPU NVLink domain at 900 GB/s a direction
    assert scale_up_switch_usd(nvl) == pytest.approx(7200 * value("system.scale_up_switch_usd_per_gbps"))
    for hgx in ("h200", "b200"):  # 8-GPU boards: their NVSwitches are in the host share
        assert scale_up_switch_usd(resolve_chip(hgx)) == 0.0


def test_topology_changes_the_all_to_all_and_is_checked_for_enough_links() -> None:
    sw, torus = chip_of(scale_up="switch16"), chip_of(scale_up="torus2d-16")
    assert network_of(torus).scale_up.dims == (4, 4)
    # 16-chip all-to-all: the switch's direct form beats a 4x4 torus relay at the same per-chip bandwidth
    assert a2a_s(sw, 16) < a2a_s(torus, 16)
    mesh_short = chip_of(scale_up="mesh8", **{"links.count": 4})
    assert network_of(mesh_short).scale_up.topology == "mesh"
    assert network_checks(mesh_short) == ["network: a 8-chip mesh needs at least 7 links, the chip has 4"]
    assert network_checks(chip_of(scale_up="mesh8", **{"links.count": 8})) == []
    assert network_checks(chip_of(scale_up="torus3d-8", **{"links.count": 4})) != []


def test_expert_parallel_deployments() -> None:
    d = Deployment(tp=2, ep=8, replicas=3)
    assert (d.dp, d.group_chips, d.chips) == (4, 8, 24)
    assert d.parallel().ep == 8 and d.parallel().dp == 4
    assert Deployment(**{k: v for k, v in d.to_json().items() if k != "chips"}) == d  # the JSON round trip
    assert Deployment(tp=4, replicas=2).to_json().get("ep") is None  # dense deployments keep their JSON
    assert "ep8 (tp2 x dp4)" in d.label()
    assert any(ep > 1 for _, ep, *_ in Sweep.moe().combos())
    assert all(ep == 1 for _, ep, *_ in Sweep().combos())


SMOKE = {**SHORT, "name": "smoke-gpt-oss", "model": "gpt-oss-120b"}


def test_an_ep_plan_that_does_not_fit_tp_is_infeasible_not_an_error() -> None:
    w = workload_from_dict(SMOKE)
    ev = evaluate_design(SPACE, {**START, "tp": 8, "ep": 8, "replicas": 1}, w)  # dp 1: valid
    assert "deployment" not in " ".join(ev.reasons)
    ev = evaluate_design(
        SPACE, {**START, "tp": 8, "ep": 16, "replicas": 1}, w
    )  # 16 chips > the 8-chip domain
    assert any(r.startswith("deployment: plan:") for r in ev.reasons)


def test_a_small_moe_search_runs_in_seconds() -> None:
    w = workload_from_dict(SMOKE)
    res = run_search(SPACE, w, trials=8, searcher="random", seed=0, workers=1, enqueue=[START])
    doc = res.to_json()
    assert doc["trials"] == 8
    first = doc["all"][0]
    assert first["design"] == START
    assert first["metrics"]["deployment"]["ep"] == 8 and first["metrics"]["chips"] == 8
    assert doc["feasible_trials"] >= 1  # the warm start serves 30 s of the Azure code trace within the SLO


def test_the_preset_loads_passes_its_physical_checks_and_regenerates() -> None:
    from jalapeno.explore.evaluate import chip_checks
    from jalapeno.explore.preset import searched_preset_text

    chip = resolve_chip("jalapeno-moe-1")
    assert chip_checks(chip, SPACE.constraints) == []
    assert network_of(chip) is not None
    path = ROOT / "src" / "jalapeno" / "hardware" / "presets" / "arch" / "jalapeno-moe-1.yaml"
    design = ROOT / "src" / "jalapeno" / "explore" / "spaces" / "jalapeno-moe-1.json"
    assert path.read_text(encoding="utf-8") == searched_preset_text(
        design, "jalapeno-moe-1"
    )  # regenerating: no change
