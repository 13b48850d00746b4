"""TensorRT-LLM's published DeepSeek-R1 Blackwell kernel times (cost.published_trtllm_kernels): the tables
agree with their own derived columns, and the model's weight bytes put them under B200's HBM roofline."""

from __future__ import annotations

import pytest

from jalapeno.cost import published_trtllm_kernels as tk
from jalapeno.cost.params import params_for
from jalapeno.cost.step import Estimator
from jalapeno.graph.batch import Batch
from jalapeno.graph.builder import build_graph
from jalapeno.graph.precision import Precision
from jalapeno.hardware.registry import resolve_chip
from jalapeno.models import resolve_model


@pytest.mark.parametrize("batch", sorted(tk.A2A_EP8_US))
def test_blog18_bandwidth_is_batch_x_8_x_bf16_token_over_latency(batch):
    # e.g. 2,048 x 8 x 14,336 B / 311.8 us = 753.3 GB/s; the us are printed to 0.1 (0.6% at 17.6 us)
    d_us, d_gbs, c_us, c_gbs = tk.A2A_EP8_US[batch]
    assert tk.a2a_logical_gb_s(batch, d_us) == pytest.approx(d_gbs, rel=6e-3)
    assert tk.a2a_logical_gb_s(batch, c_us) == pytest.approx(c_gbs, rel=6e-3)


def test_post_quant_dispatch_bytes_ratios_and_speedups():
    h = 7168
    # BF16 2 B an element; MXFP8 1 B + an 8-bit scale a 32; NVFP4 0.5 B + an 8-bit scale a 16
    assert [v[0] for v in tk.POST_QUANT_DISPATCH.values()] == [2 * h, h + h // 32, h // 2 + h // 16]
    bf16_us = tk.POST_QUANT_DISPATCH["bf16"][2]
    for nbytes, ratio, us, gbs, speedup in tk.POST_QUANT_DISPATCH.values():
        assert 14336 / nbytes == pytest.approx(ratio, abs=0.006)
        assert bf16_us / us == pytest.approx(speedup, abs=0.006)
        assert tk.a2a_logical_gb_s(2048, us, nbytes) == pytest.approx(gbs, rel=2e-3)
    assert tk.POST_QUANT_DISPATCH["bf16"][2] == tk.A2A_EP8_US[2048][0]  # the same run as the EP8 table


def test_blog24_speedup_column_is_trtllm_gen_over_densegemm():
    for m, (dense, gen, _) in tk.MOE_MODULE_US.items():
        assert gen / dense == pytest.approx(tk.MOE_SPEEDUP[m], abs=0.006), m


def test_interp_hits_points_lies_between_and_clamps():
    assert tk.moe_module_us(128) == 161.87
    assert tk.moe_module_us(160) == pytest.approx((161.87 + 168.23) / 2)
    assert tk.moe_module_us(0.5) == 26.78 and tk.moe_module_us(4096) == 186.92
    d, c = tk.a2a_ep8_us(154)  # the MLPerf B200 server rank's batch: between the 128 and 256 rows
    assert d == pytest.approx(31.7 + (50.8 - 31.7) * 26 / 128)
    assert c == pytest.approx(38.1 + (53.0 - 38.1) * 26 / 128)


def test_published_moe_module_is_under_the_hbm_roofline_of_the_weights_it_reads():
    # one TP8 rank holds 1/8 of all 256 experts: 256 x 3 x 7,168 x 256 NVFP4 weights (+ scales) ~ 0.8 GB;
    # no published time may beat those bytes at B200's HBM peak (8 TB/s: ~100 us), and on the plateau
    # (every expert shard busy) TRTLLM-Gen streams 55-70% of peak
    chip, model = resolve_chip("b200"), resolve_model("deepseek-r1")
    est = Estimator(chip, params_for("b200"), tk.MOE_TP)
    bw = est.rates.mem_bw
    for m in (64, 128, 256, 384):
        g = build_graph(model, Batch.decode(m, 2048), Precision.of("nvfp4", "nvfp4", "fp8"))
        costs, _, _, _ = est.price_ops(g)
        xb = next(c.sharded.bytes for c in costs if c.op.name == "experts")
        assert 6.5e8 < xb < 8.5e8
        floor_us = xb / bw * 1e6
        assert all(t > floor_us for t in tk.MOE_MODULE_US[m])
        if m >= 128:
            assert 0.55 < xb / (tk.moe_module_us(m) * 1e-6) / bw < 0.70
