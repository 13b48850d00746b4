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

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from jalapeno.graph.ops import Op
from jalapeno.mapping.gemm import stage_loads, stage_time
from jalapeno.mapping.target import ACC_BYTES, Target

BQ = (8, 16, 32, 64, 128, 256)
BKV = (32, 64, 128, 256, 512)


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
    """The fastest feasible (bq, bkv) tiling of ``op`` (within 1e-6 of the fastest: the least energy).

    At most 30 candidates (5 for decode): each is priced in plain Python floats and ints, the same
    operations in the same order as numpy would do element-wise, so the values are identical to a
    vectorized evaluation and cost a fraction of its per-array overhead."""
    a = op.attention
    assert a is not None
    s = op.flops / max(2.0 * a.pairs * a.heads * (a.head_dim_qk + a.head_dim_v), 1.0)  # TP share
    heads, kv_heads = max(1.0, round(a.heads * s, 6)), max(1.0, round(a.kv_heads * s, 6))
    group = max(1, round(heads / kv_heads))
    d = a.head_dim_qk + a.head_dim_v
    kv_per_token = (op.kv_read_bytes or op.act_read_bytes) / max(a.kv_tokens, 1)  # all KV heads
    ab = op.act_write_bytes / max(a.query_tokens * heads * a.head_dim_v, 1)  # activation bytes/elem
    kb = kv_per_token / max(kv_heads * d, 1) if kv_per_token else ab
    q_seq = max(1, a.query_tokens // max(a.seqs, 1))  # query tokens per sequence
    q_rows = q_seq * group  # query rows per (seq, kv head)
    top = max(8, 1 << (q_rows - 1).bit_length())  # q_rows rounded up to a power of two: ceil(log2)
    keys_per_seq = max(1, a.kv_tokens // max(a.seqs, 1))
    base = a.seqs * max(1, round(kv_heads))
    decode = a.phase == "decode"
    prefill_keys = max(1, -(-a.pairs // max(a.query_tokens, 1)))
    # engine utilization of one unit streaming its keys: S = Q K^T (m x dqk x keys), O += P V (m x keys x dv);
    # stationary operands are double buffered, so the pipeline fills once per unit, not per tile
    rate = t.rate(op.dtype)
    pe_macs = t.engines * t.rows * t.cols * t.depth * rate
    per_core_macs = pe_macs * t.f_matrix * t.issue_eff
    all_macs = t.cores * per_core_macs
    macs = a.pairs * heads * d
    # the softmax runs on each unit's core: the last wave's idle cores idle their SFUs too
    soft = max(a.pairs * heads / t.sfu_ops, 4.0 * a.pairs * heads / t.vector_flops)
    kv_main_min = op.kv_read_bytes + op.act_read_bytes  # compulsory: Q (+ MLA's decompressed K/V) + KV
    scores = a.pairs * heads * ACC_BYTES * 2  # scores written and read once in SRAM
    eff = t.kv_eff if decode else t.main_eff  # decode reads the KV cache; prefill streams
    main_bw, l2_bw, sram_bw = t.main_bw * eff, t.level2_bw, t.sram_bw * t.cores
    dma, lat, static = t.dma_setup_s(), t.main_latency_s, t.static
    in_l2_cap = 0.5 * t.shared_bytes if t.shared_bytes > 0 else -1.0
    # static: the first K/V tile's setup and latency before compute, the last output's after it
    tail = (dma + lat) if static is not None else 0.0
    barrier = t.barrier_s()
    rf_tile = 2.0 * a.query_tokens * heads * a.head_dim_v * ACC_BYTES
    pairs_q = a.pairs / max(a.query_tokens, 1)
    cycles: dict[tuple[int, int], int] = {}  # (query rows, keys) -> the best dataflow's cycles
    # K/V tiles through two buffers (static schedules): each tile's load against its compute
    loads = {bkv: stage_loads(t, 2 * bkv * d * kb) for bkv in BKV} if static is not None else {}
    rows: list[tuple[Any, ...]] = []  # every candidate, bq major
    for bq in BQ:
        if bq > top:
            break
        tiles_q = -(-q_rows // bq)
        tb = tiles_q * base
        m_eff = min(bq, q_rows)
        reread = max(a.pairs / min(max(1, bq // group), q_seq) * kv_per_token, op.kv_read_bytes)
        part = m_eff * (a.head_dim_v + 2) * ACC_BYTES
        by_splits: dict[int, tuple[Any, ...]] = {}  # what depends on the KV splits only (not on bkv)
        for bkv in BKV:
            buf = bq * d * ab + 2 * bkv * d * kb + bq * bkv * ACC_BYTES
            splits = min(max(t.cores // tb, 1), -(-keys_per_seq // bkv)) if tb < t.cores else 1
            blk = by_splits.get(splits)
            if blk is None:
                units = base * tiles_q * splits
                waves = -(-units // t.cores)
                keys = max(1, keys_per_seq // splits) if decode else prefill_keys
                cyc = cycles.get((m_eff, keys))
                if cyc is None:  # the best dataflow (an exact minimum: any order gives the same)
                    cyc = cycles[m_eff, keys] = min(
                        t.attention_cycles(m_eff, keys, a.head_dim_qk, a.head_dim_v, df, rate)
                        for df in t.dataflows
                    )
                util = min(1.0, m_eff * keys * d / pe_macs / cyc)
                quant = max(waves * t.cores / units, 1.0)
                t_mm = macs / (all_macs * util) * quant
                t_soft = soft * quant
                busy = min(units, t.cores)
                if busy * keys_per_seq * kv_per_token / max(kv_heads, 1) <= in_l2_cap:  # K/V re-reads in L2
                    main = kv_main_min + op.act_write_bytes
                else:
                    main = reread - op.kv_read_bytes + kv_main_min + op.act_write_bytes
                l2 = max(main, reread + op.act_read_bytes + op.act_write_bytes)
                comb = static.combine_s(splits, part, t.noc_link_bw) if static is not None else 0.0
                sram = l2 + scores
                blk = by_splits[splits] = (
                    (units, waves, keys, util, t_mm, t_soft, busy, main, l2, sram, comb),
                    (max(t_mm, t_soft), min(t_mm, t_soft), l2 / l2_bw, sram / sram_bw),
                    (max(main - op.act_write_bytes, 0.0), max(l2 - op.act_write_bytes, 1.0)),
                )
            (units, waves, keys, util, t_mm, t_soft, busy, main, l2, sram, t_comb), fixed, dram = blk
            slow, fast, t_l2, t_sram = fixed
            dram_in, loaded = dram  # the stage pipeline's DRAM share: bytes from DRAM, bytes loaded
            bw = min(main_bw, busy * 2 * bkv * d * kb / lat) if lat > 0 else main_bw
            t_mem = max(max(main / bw, t_l2), t_sram)
            # the softmax runs on the SFU/vector units while the matrix engine works on the next tile
            # (pipelined, as in FlashAttention-3); one tile's softmax per unit stays exposed
            t_c = slow + fast * bkv / max(keys, bkv)
            # static schedules: each core's DMA queue sets up a K and a V transfer per KV tile plus Q in and
            # O out; flash-decoding's partial outputs (and their max/sum) are combined over the NoC; one
            # barrier per op
            kv_tiles = -(-keys // bkv)
            transfers = waves * (2 * kv_tiles + 2)
            t_mem = max(t_mem, transfers * dma)
            if static is not None:
                t_c = stage_time(t_c, waves * kv_tiles, dram_in, loaded, 2, *loads[bkv])
            time = max(t_c, t_mem) + lat + dma + tail + t_comb + barrier
            # in _Row's order (a plain tuple: the named one is built for the winner only); energy is
            # priced only where the time is within 1e-6 of the best (``_best``)
            row = (buf, time, 0.0, bq, bkv, units, waves, splits, util, t_mm, t_soft, t_mem, main, l2, sram)
            rows.append((*row, rf_tile * max(1, pairs_q / bkv), transfers, t_comb, t_c))

    def energy(r: tuple[Any, ...]) -> float:
        return float(t.energy_j(op.dtype, op.flops, r[12], r[13], r[14], r[15]))

    return _best(rows, t.sram_bytes, energy)


class _Row(NamedTuple):
    """One (bq, bkv) candidate's figures."""

    buf: float
    time: float
    energy: float
    bq: int
    bkv: int
    units: int
    waves: int
    splits: int
    util: float
    t_mm: float
    t_soft: float
    t_mem: float
    main: float
    l2: float
    sram: float
    rf: float
    transfers: int
    t_comb: float
    t_c: float


def _best(
    rows: list[tuple[Any, ...]], sram_bytes: float, energy_of: Callable[[tuple[Any, ...]], float]
) -> AttentionMapping:
    """The fastest candidate whose buffers fit (none fits: those with the smallest buffer); within 1e-6
    of the fastest, the first with the least energy (as numpy's argmin over the flat grid picks it)."""
    ok = [r[0] <= sram_bytes for r in rows]
    if not any(ok):
        smallest = min(r[0] for r in rows)
        ok = [r[0] == smallest for r in rows]
    best = min(r[1] if f else math.inf for r, f in zip(rows, ok, strict=True))
    near = best * (1 + 1e-6)
    pick, low = rows[0], math.inf
    for r, f in zip(rows, ok, strict=True):
        if f and r[1] <= near:
            e = energy_of(r)
            if e < low:
                pick, low = r, e
    w = _Row._make(pick)._replace(energy=low if low < math.inf else energy_of(pick))
    return AttentionMapping(
        int(w.bq),
        int(w.bkv),
        int(w.units),
        int(w.waves),
        int(w.splits),
        float(w.util),
        float(w.t_mm),
        float(w.t_soft),
        float(w.t_mem),
        float(w.time),
        float(w.main),
        float(w.l2),
        float(w.sram),
        float(w.buf),
        float(w.energy),
        "compute" if w.t_c >= w.t_mem else "memory",
        float(w.rf),
        int(w.transfers),
        float(w.t_comb),
    )
