"""The NVSwitch hop latency (the alpha of cost.network) against the measured small-message all-reduce on
8 H100s (sglang PR #2904: TensorRT-LLM's one-shot kernel 5.9 / 5.7 / 7.8 us at 512 B / 4 KB / 32 KB, vLLM's
custom all-reduce 10.1 / 9.3 / 11.8 us): the presets' figure and source, the all-reduce by hand, and the
paper chips at parity with the H100's hop."""

from __future__ import annotations

import pytest

from jalapeno.cost import network as N
from jalapeno.hardware import resolve_chip
from jalapeno.hardware.network import network_of

NVLS_CHIPS = ("h100-sxm", "h200-sxm", "h800", "b200", "b300", "gb200-nvl72", "gb300-nvl72")
PAPER_CHIPS = ("h100-sxm-arch", "jalapeno-1", "jalapeno-moe-1")
MEASURED_8GPU_S = (5.7e-6, 11.8e-6)  # fastest TRT-LLM to slowest vLLM kernel, 512 B - 32 KB


@pytest.mark.parametrize("name", NVLS_CHIPS)
def test_nvswitch_presets_carry_the_measured_hop(name: str) -> None:
    fig = resolve_chip(name).interconnect.latency_s
    assert fig.value == 3e-6
    assert fig.range == (2.85e-6, 5.9e-6)  # half of 5.7 us to half of 11.8 us: two hops a collective
    assert "sglang" in fig.source and "2904" in fig.source
    assert fig.secondary


@pytest.mark.parametrize("name", PAPER_CHIPS)
def test_paper_chips_keep_the_h100_hop(name: str) -> None:
    h100 = resolve_chip("h100-sxm").interconnect.latency_s.value
    assert resolve_chip(name).interconnect.latency_s.value == h100


def test_small_all_reduce_on_8_h100s_by_hand() -> None:
    net = network_of(resolve_chip("h100-sxm"))
    up = net.scale_up
    # in the switch (NVLS): 9/8 b / (450 GB/s x e) + 2 x 3 us; e = 0.686 (nccl-tests busbw 480 GB/s)
    for b in (512.0, 4096.0, 32768.0):
        t, algo = N.tp_collective(net, "all_reduce", b, 8)
        assert algo == "in_network"
        assert t == pytest.approx(9 / 8 * b / (up.bw_bytes_per_s * up.in_network_eff) + 6e-6)
        assert MEASURED_8GPU_S[0] <= t <= MEASURED_8GPU_S[1]
    # 4 KB: 4608 B / 308.6 GB/s = 0.015 us on top of the 6 us floor
    assert N.tp_collective_s(net, "all_reduce", 4096.0, 8) == pytest.approx(6.0149e-6, rel=1e-4)
    # the ring would pay 14 hops: 42 us, the in-network form wins by 7x at this size
    assert N.collective_s(net, "all_reduce", 4096.0, 8, "ring")[0] == pytest.approx(
        14 * 3e-6 + 2 * 7 / 8 * 4096 / (up.bw_bytes_per_s * up.ring_eff)
    )


def test_405b_decode_step_pays_the_measured_latency_252_times() -> None:
    # Llama-3.1-405B on 8 H200s: 126 layers x 2 all-reduces a decode step; the latency floor moves from
    # 2 x 2 us to 2 x 3 us: 252 x 2 us = 0.50 ms more a step, against the 10-12 ms step gap of the logs
    net = network_of(resolve_chip("h200-sxm"))
    b = 9 * 16384 * 2.0  # 9 requests decoding (the Nebius interactive log), 16-bit residual
    up = net.scale_up
    t = N.tp_collective_s(net, "all_reduce", b, 8)
    floor_old, floor_new = 4e-6, 6e-6
    assert t - floor_new == pytest.approx(9 / 8 * b / (up.bw_bytes_per_s * up.in_network_eff))
    assert 252 * (floor_new - floor_old) == pytest.approx(0.504e-3)


@pytest.mark.parametrize("name", ["h100-sxm-arch", "jalapeno-1"])
def test_paper_switch_small_all_reduce_runs_one_shot(name: str) -> None:
    # a switch without in-network reduction: the engines' one-shot kernel (flag hop + the peers' buffers),
    # 2 hops like the measured 5.7-5.9 us, not the ring's 14 (42 us)
    net = network_of(resolve_chip(name))
    up = net.scale_up
    if up.in_network_reduction or up.domain_size < 8:
        pytest.skip(f"{name}: not a plain switch of 8")
    t, algo = N.tp_collective(net, "all_reduce", 4096.0, 8)
    assert algo == "one_shot"
    assert t == pytest.approx(7 * 4096.0 / (up.bw_bytes_per_s * up.ring_eff) + 2 * up.latency_s)
    assert t < N.collective_s(net, "all_reduce", 4096.0, 8, "ring")[0] / 5
