"""The scalar (plain-Python) paths of the mapper's hot functions give exactly what their numpy paths give.

``map_attention`` prices its at most 30 tile candidates in Python floats and ints (a numpy call costs more
than the arithmetic on 5-30 values); it must choose and price exactly as the vectorized search it replaced
(``_vectorized`` below, kept verbatim as the reference), field for field and bit for bit, on every kind of
target (static ASIC/LPU/TPU, a dynamically scheduled GPU with dot-product engines, SRAM-only) and every
attention shape (decode, prefill, chunked prefill, MLA, sliding window, tensor-parallel shares, padded).
The cycle counts, the stage pipeline and the NoC combine take ints/floats or arrays: both agree.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jalapeno.cost.step import shard
from jalapeno.graph.batch import Batch
from jalapeno.graph.builder import build_graph
from jalapeno.graph.ops import Op
from jalapeno.graph.precision import Precision
from jalapeno.hardware.arch import resolve_arch
from jalapeno.mapping.attention import BKV, BQ, AttentionMapping, map_attention
from jalapeno.mapping.engine import dot_product_cycles, systolic_cycles
from jalapeno.mapping.gemm import _stage_pipeline
from jalapeno.mapping.static import StaticSchedule
from jalapeno.mapping.target import ACC_BYTES, Target
from jalapeno.models import resolve_model

GRID_BQ, GRID_BKV = (g.ravel() for g in np.meshgrid(np.array(BQ), np.array(BKV), indexing="ij"))
ARCHS = ["jalapeno-1", "groq-lpu-arch", "h100-sxm-arch", "tpu-v5e-arch", "trainium2-arch"]
MODELS = ["llama-3.1-70b", "deepseek-v3", "gemma-2-9b", "qwen2.5-coder-7b"]
BATCHES = [
    Batch.decode(1, 100),
    Batch.decode(7, 900),
    Batch.decode(64, 2000),
    Batch.decode(256, 30000),
    Batch.prefill(1),
    Batch.prefill(300),
    Batch.prefill(1000, 0, 3),
    Batch.prefill(5000, 2000),
    Batch.prefill(512, 60000, 2),
]


def _attention_ops(model: str) -> list[Op]:
    cfg = resolve_model(model)
    ops = []
    for b in BATCHES:
        for prec in (Precision.of("bf16"), Precision.of("fp8")):
            ops += [
                o for o in build_graph(cfg, b, prec).ops if o.kind == "attention" and o.attention is not None
            ]
    return ops


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("model", MODELS)
def test_map_attention_equals_the_vectorized_search(arch: str, model: str) -> None:
    t = Target.of(resolve_arch(arch))
    seen = 0
    for op in _attention_ops(model):
        for tp in (1, 2, 8):
            s = shard(op, tp)
            for x in {s, t.static.pad(s) if t.static is not None else s}:
                got, ref = map_attention(t, x), _vectorized(t, x)
                assert got == ref, (arch, model, tp, x)
                assert repr(got) == repr(ref)  # the same floats to the last bit, the same types
                seen += 1
    assert seen >= 50


def test_a_tiny_sram_falls_back_to_the_smallest_buffer() -> None:
    """No tile fits: both searches report the smallest buffer's candidates, the same one."""
    t = replace(Target.of(resolve_arch("jalapeno-1")), sram_bytes=1.0)
    for op in _attention_ops("llama-3.1-70b")[:6]:
        got = map_attention(t, op)
        assert got == _vectorized(t, op)
        assert (got.bq, got.bkv) == (8, 32)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 5000),
    st.integers(1, 5000),
    st.integers(1, 5000),
    st.sampled_from([8, 16, 32, 128]),
    st.sampled_from([8, 16, 64, 128]),
    st.sampled_from(["ws", "os", "is"]),
    st.sampled_from([1.0, 2.0, 4.0, 0.5]),
    st.sampled_from([False, True]),
    st.integers(1, 8),
)
def test_cycles_of_ints_equal_cycles_of_arrays(
    m: int, n: int, k: int, rows: int, cols: int, df: str, rate: float, overlap: bool, load: int
) -> None:
    one = systolic_cycles(m, n, k, rows, cols, df, rate, overlap, load)
    arr = systolic_cycles(np.array([m]), np.array([n]), np.array([k]), rows, cols, df, rate, overlap, load)
    assert type(one) is int and one == int(arr[0])
    sel = systolic_cycles(m, n, k, rows, cols, df, rate, np.array([overlap]), load)
    assert one == int(np.ravel(sel)[0])
    dp = dot_product_cycles(m, n, k, rows, cols, 4, rate)
    assert type(dp) is int and dp == int(dot_product_cycles(np.array([m]), n, k, rows, cols, 4, rate)[0])


@settings(max_examples=200, deadline=None)
@given(
    st.floats(1e-9, 1e-2),
    st.integers(1, 4096),
    st.floats(1.0, 1e7),
    st.floats(-1e6, 1e9),
    st.floats(0.0, 1e9),
    st.sampled_from([1, 2]),
    st.integers(1, 512),
)
def test_stage_pipeline_and_combine_of_floats_equal_those_of_arrays(
    t_c: float, steps: int, stage: float, dram_in: float, loads: float, db: int, parts: int
) -> None:
    t = Target.of(resolve_arch("jalapeno-1"))
    one = _stage_pipeline(t, t_c, steps, stage, dram_in, loads, db)
    arr = _stage_pipeline(
        t,
        np.array([t_c]),
        np.array([steps]),
        np.array([stage]),
        np.array([dram_in]),
        np.array([loads]),
        np.array([db]),
    )
    assert one == float(arr[0])
    s = StaticSchedule(128, 128, 1e-7, 2e-7)
    assert s.combine_s(parts, stage, 1e11) == float(s.combine_s(np.array([parts]), stage, 1e11)[0])


def _vectorized(t: Target, op: Op) -> AttentionMapping:
    """``map_attention`` as it was written with numpy over the flat (bq, bkv) grid (the reference)."""
    a = op.attention
    assert a is not None
    s = op.flops / max(2.0 * a.pairs * a.heads * (a.head_dim_qk + a.head_dim_v), 1.0)  # TP share
    heads, kv_heads = max(1.0, round(a.heads * s, 6)), max(1.0, round(a.kv_heads * s, 6))
    group = max(1, round(heads / kv_heads))
    d = a.head_dim_qk + a.head_dim_v
    kv_per_token = (op.kv_read_bytes or op.act_read_bytes) / max(a.kv_tokens, 1)  # all KV heads
    ab = op.act_write_bytes / max(a.query_tokens * heads * a.head_dim_v, 1)  # activation bytes/elem
    kb = kv_per_token / max(kv_heads * d, 1) if kv_per_token else ab
    q_rows = max(1, a.query_tokens // max(a.seqs, 1)) * group  # query rows per (seq, kv head)
    n_bq = sum(1 for b in BQ if b <= max(8, 1 << int(np.ceil(np.log2(q_rows)))))
    bq, bkv = GRID_BQ[: n_bq * len(BKV)], GRID_BKV[: n_bq * len(BKV)]
    buf = bq * d * ab + 2 * bkv * d * kb + bq * bkv * ACC_BYTES
    ok = buf <= t.sram_bytes
    if not ok.any():
        ok = buf == buf.min()
    keys_per_seq = max(1, a.kv_tokens // max(a.seqs, 1))
    tiles_q = -(-q_rows // bq)
    base = a.seqs * max(1, round(kv_heads))
    splits = np.where(
        tiles_q * base < t.cores,
        np.minimum(np.maximum(t.cores // (tiles_q * base), 1), -(-keys_per_seq // bkv)),
        1,
    )
    units = base * tiles_q * splits
    waves = -(-units // t.cores)
    # engine utilization of one unit streaming its keys: S = Q K^T (m x dqk x keys), O += P V (m x keys x dv);
    # stationary operands are double buffered, so the pipeline fills once per unit, not per tile
    rate = t.rate(op.dtype)
    m_eff = np.minimum(bq, q_rows)
    keys = np.maximum(
        1, (keys_per_seq // splits) if a.phase == "decode" else -(-a.pairs // max(a.query_tokens, 1))
    )
    cyc = None
    for df in t.dataflows:  # the best dataflow per candidate (an exact minimum: any order gives the same)
        c = t.attention_cycles(m_eff, keys, a.head_dim_qk, a.head_dim_v, df, rate)
        cyc = c if cyc is None else np.minimum(cyc, c)
    ideal = m_eff * keys * d / (t.engines * t.rows * t.cols * t.depth * rate)
    util = np.minimum(1.0, ideal / cyc)
    macs = a.pairs * heads * d
    per_core_macs = t.engines * t.rows * t.cols * t.depth * rate * t.f_matrix * t.issue_eff
    quant = waves * t.cores / units
    t_mm = macs / (t.cores * per_core_macs * util) * np.maximum(quant, 1.0)
    # the softmax runs on each unit's core: the last wave's idle cores idle their SFUs too
    t_soft = max(a.pairs * heads / t.sfu_ops, 4.0 * a.pairs * heads / t.vector_flops) * np.maximum(quant, 1.0)
    tok = np.maximum(1, bq // group)
    reread = a.pairs / np.minimum(tok, max(1, a.query_tokens // max(a.seqs, 1))) * kv_per_token
    kv_main_min = op.kv_read_bytes + op.act_read_bytes  # compulsory: Q (+ MLA's decompressed K/V) + KV
    reread = np.maximum(reread, op.kv_read_bytes)
    working = np.minimum(units, t.cores) * keys_per_seq * kv_per_token / max(kv_heads, 1)
    in_l2 = (t.shared_bytes > 0) & (working <= 0.5 * t.shared_bytes)
    main = np.where(in_l2, kv_main_min, reread - op.kv_read_bytes + kv_main_min) + op.act_write_bytes
    l2 = np.maximum(main, reread + op.act_read_bytes + op.act_write_bytes)
    sram = l2 + a.pairs * heads * ACC_BYTES * 2  # scores written and read once in SRAM
    inflight = np.minimum(units, t.cores) * 2 * bkv * d * kb
    eff = t.kv_eff if a.phase == "decode" else t.main_eff  # decode reads the KV cache; prefill streams
    bw = np.minimum(t.main_bw * eff, inflight / t.main_latency_s)
    t_mem = np.maximum(np.maximum(main / bw, l2 / t.level2_bw), sram / (t.sram_bw * t.cores))
    # the softmax runs on the SFU/vector units while the matrix engine works on the next tile (pipelined,
    # as in FlashAttention-3); one tile's softmax per unit stays exposed
    t_c = np.maximum(t_mm, t_soft) + np.minimum(t_mm, t_soft) * bkv / np.maximum(keys, bkv)
    # static schedules: each core's DMA queue sets up a K and a V transfer per KV tile plus Q in and O out;
    # flash-decoding's partial outputs (and their max/sum) are combined over the NoC; one barrier per op
    kv_tiles = -(-keys // bkv)
    transfers = waves * (2 * kv_tiles + 2)
    t_dma = transfers * t.dma_setup_s()
    t_mem = np.maximum(t_mem, t_dma)
    part = np.minimum(bq, q_rows) * (a.head_dim_v + 2) * ACC_BYTES
    t_comb = t.static.combine_s(splits, part, t.noc_link_bw) if t.static else np.zeros(len(bq))
    if t.static is not None:  # K/V tiles through two buffers: each tile's DMA latency against its compute
        kv_b = 2 * bkv * d * kb
        t_c = _stage_pipeline(
            t,
            t_c,
            waves * kv_tiles,
            kv_b,
            np.maximum(main - op.act_write_bytes, 0.0),
            np.maximum(l2 - op.act_write_bytes, 1.0),
            2,
        )
    # static: the first K/V tile's setup and latency before compute, the last output's after it
    tail = (t.dma_setup_s() + t.main_latency_s) if t.static is not None else 0.0
    time = np.maximum(t_c, t_mem) + t.main_latency_s + t.dma_setup_s() + tail + t_comb + t.barrier_s()
    rf = (
        2.0
        * a.query_tokens
        * heads
        * a.head_dim_v
        * ACC_BYTES
        * np.maximum(1, a.pairs / max(a.query_tokens, 1) / bkv)
    )
    energy = t.energy_j(op.dtype, op.flops, main, l2, sram, rf)
    time = np.where(ok, time, np.inf)
    best = time.min()
    i = int(np.argmin(np.where(time <= best * (1 + 1e-6), energy, np.inf)))
    bound = "compute" if t_c[i] >= t_mem[i] else "memory"
    return AttentionMapping(
        int(bq[i]),
        int(bkv[i]),
        int(units[i]),
        int(waves[i]),
        int(splits[i]),
        float(util[i]),
        float(t_mm[i]),
        float(t_soft[i]),
        float(t_mem[i]),
        float(time[i]),
        float(main[i]),
        float(l2[i]),
        float(sram[i]),
        float(buf[i]),
        float(energy[i]),
        bound,
        float(rf[i]),
        int(transfers[i]),
        float(t_comb[i]),
    )
