"""FlashAttention-style mapping: Q tiles stay in SRAM, K/V tiles stream through it, scores never leave.

A unit of work is one (sequence, KV head, Q tile) - prefill - or one (sequence, KV head, KV split) -
decode, where the KV sequence is split across cores (flash-decoding) to use every core's bandwidth.
The ``group`` query heads sharing a KV head are packed into the Q tile's rows. Candidate tiles
``bq x bkv`` must fit the core SRAM: Q tile + double-buffered K/V tiles + the fp32 score tile.

Traffic: Q read and O written once; each Q tile of ``t = bq / group`` tokens reads the keys its tokens
see, so K/V are read ``pairs / t`` times a token's KV bytes in total (compulsory when t covers the
whole query, as in decode); re-reads hit the shared SRAM when the working set fits there.
Compute: the two GEMMs per tile on the matrix engines at the tile's engine utilization, overlapped with
the softmax (one exp per pair per head on the special-function units, ~4 vector FLOPs) except for one
tile per unit (the pipeline's fill).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jalapeno.graph.ops import Op
from jalapeno.mapping.gemm import _stage_pipeline
from jalapeno.mapping.target import ACC_BYTES, Target

BQ = (8, 16, 32, 64, 128, 256)
BKV = (32, 64, 128, 256, 512)
# the (bq, bkv) grid, bq major: the candidates of a problem whose largest bq is BQ[j] are its first (j+1) x 5
_GRID_BQ, _GRID_BKV = (g.ravel() for g in np.meshgrid(np.array(BQ), np.array(BKV), indexing="ij"))


@dataclass(frozen=True)
class AttentionMapping:
    bq: int
    bkv: int
    units: int
    waves: int
    kv_splits: int
    engine_util: float
    matmul_s: float
    softmax_s: float
    memory_s: float
    time_s: float  # without the per-kernel overhead
    bytes_main: float
    bytes_level2: float
    bytes_sram: float
    buffer_bytes: float
    energy_j: float
    bound: str
    bytes_rf: float = 0.0  # output accumulator updates (one per KV tile)
    transfers: int = 0  # DMA transfers per core
    combine_s: float = 0.0  # flash-decoding combine of the KV splits over the NoC (static schedules)


def map_attention(t: Target, op: Op) -> AttentionMapping:
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
    bq, bkv = _GRID_BQ[: n_bq * len(BKV)], _GRID_BKV[: n_bq * len(BKV)]
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
