"""SGLang's published prefill breakdown and EPLB balancedness (cost.published_profile, cost.published_eplb)
against the rows they describe and the model's step, by hand."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

import jalapeno.cost.published_glue as glue
from jalapeno.cost import published_moe as pm
from jalapeno.cost.expert import node_fraction
from jalapeno.cost.published_eplb import (
    BALANCEDNESS_EP32_RANGE,
    BALANCEDNESS_WITH_EPLB,
    BALANCEDNESS_WITHOUT_EPLB,
    SGLANG_PREFILL_IMBALANCE,
    eplb_imbalance,
)
from jalapeno.cost.published_glue import glue_bytes, output_glue_bytes, sglang_moe_glue
from jalapeno.cost.published_profile import (
    COMMUNICATION,
    COMPUTE,
    PREFILL_BREAKDOWN_MS,
    ROW_PROFILE,
    TBO_ABLATION_COMPUTE_MS,
    UNIT_TEST_MS,
    category,
    model_breakdown,
)
from jalapeno.graph.batch import Batch
from jalapeno.graph.builder import build_graph
from jalapeno.hardware.network import network_of
from jalapeno.hardware.registry import resolve_chip
from jalapeno.models import resolve_model

ROWS = {r.id: r for r in pm.ROWS}


def test_figure_overall_is_the_published_step_over_61_layers():
    # "Scaled Mean Time per Layer": 8 GPUs x 16,384 tokens / tok/s a node / 61 layers
    for rid, prof in ROW_PROFILE.items():
        r = ROWS[rid]
        step_ms = 8 * r.per_gpu / r.published / 61 * 1e3
        assert PREFILL_BREAKDOWN_MS[prof]["overall"] == pytest.approx(step_ms, rel=0.015), rid
    assert pytest.approx(42.71, abs=0.01) == 8 * 16384 / 50302 / 61 * 1e3


def test_each_stream_adds_up_to_the_overall_time():
    for prof, bars in PREFILL_BREAKDOWN_MS.items():
        for stream in (COMPUTE, COMMUNICATION):
            assert sum(bars[k] for k in stream) == pytest.approx(bars["overall"], rel=0.025), prof
    # the unit tests are faster than every overlapped run (the blog: "slower than unit test results")
    for k, v in UNIT_TEST_MS.items():
        assert v < PREFILL_BREAKDOWN_MS["deepseek-profile"][k]


def test_eplb_balancedness_is_the_reciprocal_of_the_hottest_rank():
    assert eplb_imbalance(32) == 1.25 == SGLANG_PREFILL_IMBALANCE  # 1 / 0.800
    assert 1 / BALANCEDNESS_EP32_RANGE[1] == pytest.approx(1.2346, abs=1e-4)
    assert eplb_imbalance(32, BALANCEDNESS_WITHOUT_EPLB) == pytest.approx(1 / 0.551, abs=1e-4)
    # EPLB always helps, and balance worsens with scale without it
    assert all(BALANCEDNESS_WITH_EPLB[g] > BALANCEDNESS_WITHOUT_EPLB[g] for g in (8, 16, 32))
    w = BALANCEDNESS_WITHOUT_EPLB
    assert w[8] > w[16] > w[32] > w[64]


def test_default_rows_carry_eplb_imbalance_and_the_perfect_row_none():
    for rid in ("sglang-prefill-1k", "sglang-prefill-2k", "sglang-prefill-4k"):
        assert pm._plan(ROWS[rid], None).ep_imbalance == 1.25
    assert pm._plan(ROWS["sglang-prefill-4k-perfect-eplb"], None).ep_imbalance == 1.0
    assert pm._plan(ROWS["deepseek-profile-prefill"], None).ep_imbalance is None  # uniform floor
    # the imbalance slows the step: the 4K default row at 1.25 over the same row at the floor; with the
    # all-to-alls hidden stage by stage the hottest rank's longer combine now shows (every rank waits for
    # it): 0.898 (0.93 when the step hid every all-to-all; SGLang published 50,302 / 59,337 = 0.848)
    r = ROWS["sglang-prefill-4k"]
    slow, floor = pm.predict_prefill(r), pm.predict_prefill(replace(r, ep_imbalance=0.0))
    assert 0.89 < slow / floor < 0.91


def test_categories_of_the_model_ops():
    assert category("ep_experts", "moe") == "moe"
    assert category("attn_prefill", "attention") == "attention"
    assert category("o_proj", "matmul") == "gemm" and category("lm_head", "lm_head") == "gemm"
    assert category("router", "router") == "other" and category("rope", "rope") == "other"


def test_model_breakdown_adds_up_and_prices_the_dispatch_by_hand():
    r = ROWS["sglang-prefill-4k-perfect-eplb"]
    m = model_breakdown(r)
    # the four compute categories (power-stretched) are the step, less its overhead and the waits the
    # stage-by-stage overlap leaves (cost.tbo_stages: the combine outlasts the stage it hides under)
    parts = m["moe"] + m["attention"] + m["gemm"] + m["other"]
    assert parts + m["comp_bubble"] == pytest.approx(m["overall"], rel=0.005)
    # the compute stream waits more on the hottest rank's longer all-to-alls: 3.2 against 1.1 ms a layer
    # (SGLang published 11.3 against 1.2); DeepSeek's H800 rows, at DeepEP's faster NIC share, 0.1 (2.5)
    hot = model_breakdown(ROWS["sglang-prefill-4k"])
    assert 1.0 < m["comp_bubble"] < 1.2 and 3.1 < hot["comp_bubble"] < 3.4
    assert 0.0 < model_breakdown(ROWS["deepseek-profile-prefill"])["comp_bubble"] < 0.2
    assert m["dispatch"] + m["combine"] < parts  # the step's all-to-alls are shorter than its compute
    # dispatch by hand: 2 prompts of 4,096 a half, 8 experts x 7,168 FP8 bytes a token; a token crosses the
    # NICs once a remote node (0.2745 of the per-expert bytes) at the 0.679 of 50 GB/s SGLang's DeepEP unit
    # tests reached (cost.published_kernels); 58 MoE layers x 2 halves over 61 layers
    cfg, chip = resolve_model("deepseek-v3"), resolve_chip("h100-sxm")
    net = network_of(chip)
    assert net is not None and net.scale_out is not None
    f = node_fraction(cfg, pm._plan(r, None), 8)
    assert f == pytest.approx(0.2745, abs=1e-4)
    b = 8192 * 8 * 7168 * 1.0
    nic_s = f * b / (0.679 * net.scale_out.bw_bytes_per_s) + net.scale_out.latency_s
    assert m["dispatch"] == pytest.approx(nic_s * 58 * 2 / 61 * 1e3, abs=5e-4)  # rounded to 1 us
    assert m["combine"] == pytest.approx(2 * m["dispatch"], rel=0.01)  # BF16 combine, twice the bytes
    assert m["imbalance"] == 1.0 and model_breakdown(ROWS["sglang-prefill-4k"])["imbalance"] == 1.25


def test_published_overlap_slowdown_matches_the_sms_the_model_takes():
    # the blog's TBO ablation: the computation kernels at 8k tokens a kernel, with and without overlap;
    # DeepEP holds 20 of 132 SMs under overlap (cost.published_kernels): compute-bound kernels 132/112 slower
    pub = {k: sum(v.values()) for k, v in TBO_ABLATION_COMPUTE_MS.items()}
    ratio = pub["tbo-16k"] / pub["no-tbo-8k"]
    assert ratio == pytest.approx(31.3 / 25.7, abs=1e-9)
    assert ratio == pytest.approx(132 / 112, abs=0.05)


def test_sglang_moe_glue_bytes_by_hand():
    cfg = resolve_model("deepseek-v3")
    par = pm._plan(ROWS["sglang-prefill-4k-perfect-eplb"], None)  # EP32, balanced
    t, h, i, k = 8192, 7168, 2048, 8
    b = glue_bytes(cfg, par, t)
    # distinct ranks a token reaches: 8 groups of 32 experts, each over 4 GPUs of 8; a GPU is hit when its
    # group is one of the token's 4 (1/2) and one of the 8 picks among the 4 groups' 128 experts is its
    miss = math.comb(120, 8) / math.comb(128, 8)
    d = 32 * 0.5 * (1 - miss)
    assert d == pytest.approx(6.5965, abs=1e-4)
    assert b["moe_dispatch_quant"] == pytest.approx((t * h * 2, t * h * (1 + 4 / 128)))
    assert b["moe_silu_mul"] == pytest.approx((t * k * 2 * i * 2, t * k * i * 2))
    assert b["moe_ep_gather"] == pytest.approx((t * k * h * 2, t * d * h * 2))
    assert sum(r + w for r, w in b.values()) == pytest.approx(3.988e9, rel=1e-3)  # ~4 GB a micro-batch
    # the hottest rank under EPLB's 1.25 moves 1.25x the routed rows, the same local tokens
    hot = glue_bytes(cfg, pm._plan(ROWS["sglang-prefill-4k"], None), t)
    assert hot["moe_silu_mul"][0] == pytest.approx(1.25 * b["moe_silu_mul"][0])
    assert hot["moe_dispatch_quant"] == b["moe_dispatch_quant"]


def test_sglang_moe_glue_replaces_the_weighted_sum():
    cfg = resolve_model("deepseek-v3")
    par = pm._plan(ROWS["sglang-prefill-4k-perfect-eplb"], None)
    g = build_graph(cfg, Batch.prefill(4096, 0, batch=2), pm._precision())
    out = sglang_moe_glue(g, cfg, par)
    names = [o.name for o in out.ops]
    assert "moe_combine" not in names and names.count("moe_ep_gather") == 1
    glue = [o for o in out.ops if o.name.startswith("moe_") and o.kind == "elementwise"]
    assert len(glue) == 5 and all(o.repeat == 58 for o in glue)  # every MoE layer
    assert sglang_moe_glue(g, cfg, par, on=False) is g
    # only SGLang's rows run it (its prefill kernels here; its decode row the decode kernels of
    # cost.published_glue_decode), and it stays under the "other kernels" SGLang measured
    assert [r.id for r in pm.ROWS if r.moe_glue] == [
        "sglang-prefill-1k",
        "sglang-prefill-2k",
        "sglang-prefill-4k",
        "sglang-prefill-4k-perfect-eplb",
        "sglang-decode-ep72",
    ]
    for rid in ("sglang-prefill-4k", "sglang-prefill-4k-perfect-eplb"):
        other = model_breakdown(ROWS[rid])["other"]
        assert 4.5 < other < PREFILL_BREAKDOWN_MS[ROW_PROFILE[rid]]["other"]


def test_sglang_output_copies_bytes_by_hand():
    # sglang 0.4.6.post3: tma_align_input_scale on both grouped GEMMs' FP32 scales (R rows of 7168/128 and
    # 2048/128 values), the routed output scaled in place and the shared expert's output added (T x 7168
    # BF16), FA3's log-sum-exp transposed (T x 128 heads FP32)
    cfg = resolve_model("deepseek-v3")
    t = 8192
    b = output_glue_bytes(cfg, pm._plan(ROWS["sglang-prefill-4k-perfect-eplb"], None), t)
    rows = t * 8
    assert b["tma_scale_align"] == pytest.approx((rows * (56 + 16) * 4, rows * (56 + 16) * 4))
    assert b["routed_scale"] == (t * 14336, t * 14336)
    assert b["shared_add"] == (t * 28672, t * 14336)
    assert b["mla_lse_transpose"] == (t * 512, t * 512)
    per_token = sum(r + w for r, w in b.values()) / t
    assert per_token == 4608 + 28672 + 43008 + 1024  # 77,312 B a token and MoE layer
    hot = output_glue_bytes(cfg, pm._plan(ROWS["sglang-prefill-4k"], None), t)
    # the hottest rank's rows, its own tokens
    assert hot["tma_scale_align"][0] == pytest.approx(1.25 * b["tma_scale_align"][0])
    assert hot["shared_add"] == b["shared_add"]


def test_sglang_output_copies_sit_after_attention_and_combine_and_cost_hbm_time(monkeypatch):
    cfg = resolve_model("deepseek-v3")
    par = pm._plan(ROWS["sglang-prefill-4k-perfect-eplb"], None)
    g = build_graph(cfg, Batch.prefill(4096, 0, batch=2), pm._precision())
    names = [o.name for o in sglang_moe_glue(g, cfg, par).ops]
    assert names.count("mla_lse_transpose") == 2 and names.count("routed_scale") == 1  # dense + MoE nodes
    i = names.index("moe_ep_gather")
    assert names[i + 1 : i + 4] == ["tma_scale_align", "routed_scale", "shared_add"]
    assert names[names.index("attn_prefill") + 1] == "mla_lse_transpose"
    row = ROWS["sglang-prefill-4k-perfect-eplb"]
    with_all = model_breakdown(row)
    monkeypatch.setattr(glue, "_output_glue", lambda g, cfg, par: g)
    added_ms = with_all["other"] - model_breakdown(row)["other"]
    # 77,312 B a token on 58 MoE layers (+1,024 on 3 dense), two micro-batches of 8,192 tokens, per layer of
    # 61: at least at the H100's 3.35 TB/s, under 1.6x that (the model's HBM efficiency and power stretch)
    bw = resolve_chip("h100-sxm").memory_bandwidth_bytes_per_s
    floor_ms = 2 * 8192 * (58 * 77312 + 3 * 1024) / bw / 61 * 1e3
    assert floor_ms == pytest.approx(0.3598, abs=1e-4)
    assert floor_ms < added_ms < 1.6 * floor_ms


def test_deepep_nic_shares_by_hand():
    # DeepEP README (H800, EP32): 58 / 57 GB/s counted once a reached node incl. its own; its routing reaches
    # 3.614 nodes, 2.711 remote; SGLang's unit tests: 7.3 / 14.3 ms a layer for 0.2745 of 8,192 x 8 x 7,168
    # bytes (BF16 combine twice that) a micro-batch, 2 x 58 of them over 61 layers
    from jalapeno.cost.published_kernels import (
        DEEPEP_NIC_FRACTION,
        deepep_nic,
        deepep_readme_fraction,
        sglang_unit_test_fraction,
    )

    local = 2.7106607 / 3.6142143
    assert deepep_readme_fraction() == pytest.approx((58 + 57) / 2 * local / 50, rel=1e-6)
    b = 0.2745197 * 8192 * 8 * 7168
    per = 61 / 116 * 1e-3
    rates = (b / (7.3 * per), 2 * b / (14.3 * per))
    assert sglang_unit_test_fraction() == pytest.approx(sum(rates) / 2 / 50e9, rel=1e-6)
    assert DEEPEP_NIC_FRACTION == {"deepseek": 0.863, "sglang": 0.679}
    chip = resolve_chip("h100-sxm")
    slow = network_of(deepep_nic(chip, 0.679))
    assert slow is not None and slow.scale_out is not None
    assert slow.scale_out.bw_bytes_per_s == pytest.approx(0.679 * 50e9)
    assert deepep_nic(chip, 1.0) is chip and network_of(chip).scale_out.bw_bytes_per_s == 50e9
