"""Presets for the chips people buy now (issue 11 item 3): B300, GB200/GB300 NVL72, MI355X, TPU v7
(Ironwood), Trainium3, Gaudi 3. Values hand-checked against the datasheets the YAML files cite."""

from __future__ import annotations

import pytest

from jalapeno.cost.estimate import estimate
from jalapeno.errors import JalapenoError
from jalapeno.graph.precision import Precision
from jalapeno.hardware import resolve_chip
from jalapeno.models import resolve_model

GIB = 2**30

# name: (bf16 dense FLOP/s, fp8 dense FLOP/s, fp4 dense FLOP/s or None, HBM bytes, HBM B/s,
#        link B/s per direction, scale-up domain, TDP W)
DATASHEET = {
    # HGX B300: 36 PF bf16 / 72 PF fp8 (8 GPUs, sparse) -> / 8 / 2; 108 PF dense fp4 / 8
    "b300": (36e15 / 16, 72e15 / 16, 108e15 / 8, 270e9, 7.7e12, 1.8e12 / 2, 8, 1100),
    # GB200 NVL72: 360 PF bf16, 720 PF fp8, 1,440 PF fp4 (72 GPUs, sparse); 13.4 TB; 576 TB/s; 130 TB/s NVLink
    # (130 TB/s is 72 x 1.8 TB/s rounded up: 1.8 TB/s per GPU, bidirectional)
    "gb200-nvl72": (360e15 / 144, 720e15 / 144, 1440e15 / 144, 186e9, 576e12 / 72, 1.8e12 / 2, 72, 1200),
    # GB300 NVL72: as GB200 for bf16/fp8 (sparse), 1,080 PF dense fp4; 576 TB/s
    "gb300-nvl72": (360e15 / 144, 720e15 / 144, 1080e15 / 72, 279e9, 576e12 / 72, 1.8e12 / 2, 72, 1400),
    # MI355X: 256 CUs x 8,192 FP8 FLOP/clk x 2.4 GHz; bf16 half, MXFP4 double; 288 GB, 8 TB/s; 7 x 153.6 GB/s
    "mi355x": (
        256 * 4096 * 2.4e9,
        256 * 8192 * 2.4e9,
        256 * 16384 * 2.4e9,
        288e9,
        8e12,
        7 * 153.6e9 / 2,
        8,
        1400,
    ),
    # TPU7x: 2,307 bf16 / 4,614 fp8 TFLOPs, 192 GiB, 7.37 TB/s, 1.2 TB/s ICI bidirectional, 9,216 chips
    "tpu-v7": (2307e12, 4614e12, None, 192 * GIB, 7.37e12, 1.2e12 / 2, 9216, 1000),
    # Trainium3: 671 bf16 / 2,517 MXFP8 = MXFP4 TFLOPS dense, 144 GiB, 4.9 TB/s, 2.56 TB/s NeuronLink-v4
    "trainium3": (671e12, 2517e12, 2517e12, 144 * GIB, 4.9e12, 2.56e12 / 2, 144, 1000),
    # Gaudi 3 (Hot Chips 2024): 1,835 TFLOPS bf16 = fp8 (MME), 128 GB HBM2e at 3.67 TB/s, 21 x 25 GB/s
    "gaudi3": (1835e12, 1835e12, None, 128e9, 3.67e12, 525e9, 8, 900),
}


@pytest.mark.parametrize("name", sorted(DATASHEET))
def test_datasheet_figures(name: str) -> None:
    bf16, fp8, fp4, mem, bw, link, domain, tdp = DATASHEET[name]
    c = resolve_chip(name)
    assert c.peak_flops("bf16") == pytest.approx(bf16, rel=2e-3)
    assert c.peak_flops("fp8") == pytest.approx(fp8, rel=2e-3)
    assert (
        (c.peak_flops("fp4") is None) if fp4 is None else c.peak_flops("fp4") == pytest.approx(fp4, rel=2e-3)
    )
    assert c.memory_bytes == pytest.approx(mem, rel=1e-3)
    assert c.memory_bandwidth_bytes_per_s == pytest.approx(bw, rel=1e-3)
    assert c.interconnect is not None
    assert c.interconnect.bandwidth_bytes_per_s.value == pytest.approx(link, rel=2e-3)
    assert c.interconnect.domain_size.value == domain
    assert c.tdp_w.value == tdp


def test_ridge_points() -> None:
    """FLOPs per HBM byte at which fp8 GEMMs turn compute-bound: B300 584, MI355X 629, Ironwood 626."""
    for name, want in (
        ("b300", 4.5e15 / 7.7e12),
        ("mi355x", 5033.2e12 / 8e12),
        ("tpu-v7", 4614e12 / 7.37e12),
    ):
        c = resolve_chip(name)
        assert c.peak_flops("fp8") / c.memory_bandwidth_bytes_per_s == pytest.approx(want, rel=1e-3)
    assert pytest.approx(584.4, abs=0.1) == 4.5e15 / 7.7e12


def test_blackwell_ultra_lists_no_int8() -> None:
    """Blackwell Ultra cut INT8 to a sliver: the presets must not offer it as a fast matrix dtype."""
    for name in ("b300", "gb300-nvl72"):
        assert resolve_chip(name).peak_flops("int8") is None
    assert resolve_chip("gb200-nvl72").peak_flops("int8") == pytest.approx(5e15)


@pytest.mark.parametrize("name", ["b300", "gb200-nvl72", "gb300-nvl72", "mi355x", "tpu-v7", "trainium3"])
def test_decode_respects_the_roofline(name: str) -> None:
    """Batch-1 decode of Llama-3.1-8B (bf16) streams every weight once: never faster than bytes / peak
    bandwidth, and within a few times of it (launch overheads) on a chip this fast."""
    chip = resolve_chip(name)
    e = estimate(resolve_model("llama-3.1-8b"), chip, batch=1, context=1024, precision=Precision.of("bf16"))
    floor_s = 2 * 8.03e9 / chip.memory_bandwidth_bytes_per_s
    assert floor_s < e.decode.time_s < 4 * floor_s


def test_nvl72_domain_allows_tensor_parallel_beyond_a_board() -> None:
    m, fp8 = resolve_model("llama-3.1-405b"), Precision.of("fp8")
    e = estimate(m, resolve_chip("gb200-nvl72"), batch=8, context=2048, tp=16, precision=fp8)
    assert e.decode.comm_s > 0 and e.decode.time_s > e.decode.comm_s
    with pytest.raises(JalapenoError, match="8-chip scale-up domain"):
        estimate(m, resolve_chip("b300"), batch=8, context=2048, tp=16, precision=fp8)


def test_aliases() -> None:
    for alias, name in (
        ("ironwood", "tpu-v7"),
        ("tpu7x", "tpu-v7"),
        ("gb200", "gb200-nvl72"),
        ("gb300", "gb300-nvl72"),
        ("trn3", "trainium3"),
        ("hgx-b300", "b300"),
        ("mi355", "mi355x"),
    ):
        assert resolve_chip(alias).name == name
