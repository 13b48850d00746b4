"""SGLang's dense-GEMM FP8 quantizations and MLA key assembly (cost.published_glue_dense): bytes by hand from
DeepSeek-V3's shapes, where they go in the graph, and their time against HBM speed and SGLang's profile."""

from __future__ import annotations

import pytest

import jalapeno.cost.published_glue as glue
import jalapeno.cost.published_moe as pm
from jalapeno.cost.published_glue_dense import mla_assembly_bytes, quant_bytes, quant_k, sglang_dense_glue
from jalapeno.cost.published_profile import PREFILL_BREAKDOWN_MS, model_breakdown
from jalapeno.graph.batch import Batch
from jalapeno.graph.builder import build_graph
from jalapeno.hardware import resolve_chip
from jalapeno.models import resolve_model

# one token of one MoE layer, bytes (BF16 = 2, FP8 = 1 + one FP32 scale per 128 values = 1.03125)
QUANT_K_MOE = 7168 + 1536 + 512 + 128 * 128 + 7168 + 2048  # qkv_a, q_b, kv_b, o, shared gate-up, shared down
MLA_READ = 2 * (512 + 128 * 128 + 64 + 512)  # kv_a.contiguous, k_nope, k_pe (once), latent <- kv_a
MLA_WRITE = 2 * (512 + 128 * 128 + 128 * 64 + 512)  # the same, k_pe broadcast to 128 heads
PER_TOKEN_MOE = QUANT_K_MOE * (2 + 1.03125) + MLA_READ + MLA_WRITE


def test_bytes_by_hand():
    cfg = resolve_model("deepseek-v3")
    assert QUANT_K_MOE == 34816 and MLA_READ == 34944 and MLA_WRITE == 51200
    assert PER_TOKEN_MOE == 191680.0  # exact in binary (1.03125 = 33/32)
    assert quant_bytes(7168, 3) == pytest.approx((3 * 14336, 3 * 7392))
    assert mla_assembly_bytes(cfg, 10) == pytest.approx((10 * MLA_READ, 10 * MLA_WRITE))
    k = quant_k(cfg)
    assert k["o_proj"] == 16384 and k["down"] == 18432 and k["shared_down"] == 2048
    assert "kv_a_proj" not in k and "router" not in k  # fused with q_a; the router is BF16


def test_ops_go_before_each_gemm_and_after_rope():
    cfg = resolve_model("deepseek-v3")
    t = 8192
    g = build_graph(cfg, Batch.prefill(4096, 0, batch=2), pm._precision())
    out = sglang_dense_glue(g, cfg)
    names = [o.name for o in out.ops]
    assert len(names) == len(g.ops) + 2 * 7  # 6 quantizations + 1 assembly, dense and MoE layer nodes
    for gemm in ("q_a_proj", "q_b_proj", "kv_b_proj", "o_proj", "shared_gate_up", "shared_down"):
        i = names.index(f"quant_{gemm}")
        assert names[i + 1] == gemm
    assert names[names.index("rope") + 1] == "mla_kv_assembly"
    added = [o for o in out.ops if o.name.startswith(("quant_", "mla_kv")) and o.repeat == 58]
    assert all(o.kind == "elementwise" and o.weight_bytes == 0 for o in added)
    assert sum(o.bytes for o in added) == pytest.approx(t * PER_TOKEN_MOE)
    dense = [o for o in out.ops if o.name == "quant_down" and o.repeat == 3]
    assert dense[0].act_read_bytes == pytest.approx(t * 18432 * 2)


def test_time_is_hbm_bound_and_under_sglang_profile(monkeypatch):
    row = next(r for r in pm.ROWS if r.id == "sglang-prefill-4k-perfect-eplb")
    with_all = model_breakdown(row)
    monkeypatch.setattr(glue, "sglang_dense_glue", lambda g, cfg: g)
    without = model_breakdown(row)
    added_ms = with_all["other"] - without["other"]
    # two micro-batches of 8,192 tokens a layer (58 of 61 layers MoE), at the H100's 3.35 TB/s or slower
    bw = resolve_chip("h100-sxm").memory_bandwidth_bytes_per_s
    floor_ms = 2 * 8192 * PER_TOKEN_MOE / bw * 1e3 * with_all["power_stretch"] * 58 / 61
    assert floor_ms < added_ms < floor_ms / 0.6
    assert with_all["other"] < PREFILL_BREAKDOWN_MS["sglang-perfect-eplb"]["other"]  # 6.6 ms published
