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
from jalapeno.mapping.target import ACC_BYTES, Target
from jalapeno.memo import remember

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
    s = _Search(t, op)
    rows: list[tuple[Any, ...]] = []  # every candidate, bq major
    for bq in BQ:
        if bq > s.top:
            break
        rows += s.candidates(bq)
    return _best(rows, t.sram_bytes, s.energy)


class _Search:
    """One search's scalars (the op's TP share, tile traffic and rates, computed once) and its candidates."""

    def __init__(self, t: Target, op: Op) -> None:
        a = op.attention
        assert a is not None
        self.t, self.op, self.a = t, op, a
        s = op.flops / max(2.0 * a.pairs * a.heads * (a.head_dim_qk + a.head_dim_v), 1.0)  # TP share
        heads, kv_heads = max(1.0, round(a.heads * s, 6)), max(1.0, round(a.kv_heads * s, 6))
        self.kv_heads, self.group = kv_heads, max(1, round(heads / kv_heads))
        self.d = d = a.head_dim_qk + a.head_dim_v
        self.kv_per_token = (op.kv_read_bytes or op.act_read_bytes) / max(a.kv_tokens, 1)  # all KV heads
        self.ab = op.act_write_bytes / max(a.query_tokens * heads * a.head_dim_v, 1)  # activation bytes/elem
        self.kb = self.kv_per_token / max(kv_heads * d, 1) if self.kv_per_token else self.ab
        self.q_seq = max(1, a.query_tokens // max(a.seqs, 1))  # query tokens per sequence
        self.q_rows = self.q_seq * self.group  # query rows per (seq, kv head)
        self.top = max(8, 1 << (self.q_rows - 1).bit_length())  # q_rows up to a power of two: ceil(log2)
        self.keys_per_seq = max(1, a.kv_tokens // max(a.seqs, 1))
        self.base = a.seqs * max(1, round(kv_heads))
        self.decode = a.phase == "decode"
        self.prefill_keys = max(1, -(-a.pairs // max(a.query_tokens, 1)))
        # engine utilization of one unit streaming its keys: S = Q K^T (m x dqk x keys), O += P V (m x keys
        # x dv); stationary operands are double buffered, so the pipeline fills once per unit, not per tile
        self.rate = t.rate(op.dtype)
        geometry = (t.kind, t.rows, t.cols, t.depth, t.load, t.engines, t.dataflows)  # all the cycles read
        self.geometry = _GEOMETRIES.setdefault(geometry, len(_GEOMETRIES))
        self.pe_macs = t.engines * t.rows * t.cols * t.depth * self.rate
        self.all_macs = t.cores * (self.pe_macs * t.f_matrix * t.issue_eff)
        self.macs = a.pairs * heads * d
        # the softmax runs on each unit's core: the last wave's idle cores idle their SFUs too
        self.soft = max(a.pairs * heads / t.sfu_ops, 4.0 * a.pairs * heads / t.vector_flops)
        self.kv_main_min = op.kv_read_bytes + op.act_read_bytes  # compulsory: Q (+ MLA's K/V) + KV
        self.scores = a.pairs * heads * ACC_BYTES * 2  # scores written and read once in SRAM
        eff = t.kv_eff if self.decode else t.main_eff  # decode reads the KV cache; prefill streams
        self.main_bw, self.l2_bw, self.sram_bw = t.main_bw * eff, t.level2_bw, t.sram_bw * t.cores
        self.dma, self.lat, self.static = t.dma_setup_s(), t.main_latency_s, t.static
        self.in_l2_cap = 0.5 * t.shared_bytes if t.shared_bytes > 0 else -1.0
        # static: the first K/V tile's setup and latency before compute, the last output's after it
        self.tail = (self.dma + self.lat) if self.static is not None else 0.0
        self.rf_tile = 2.0 * a.query_tokens * heads * a.head_dim_v * ACC_BYTES
        self.pairs_q = a.pairs / max(a.query_tokens, 1)
        # K/V tiles through two buffers (static schedules): each tile's load against its compute
        self.loads = _stage_loads(t, d, self.kb) if self.static is not None else {}

    def candidates(self, bq: int) -> list[tuple[Any, ...]]:
        """The rows (``_Row``'s order, energy left 0) of the candidates with Q tiles of ``bq`` rows.

        Hot (~20 rows a search, hundreds of searches a design): ``b if b > a else a`` stands for
        ``max(a, b)`` (and ``b if b < a else a`` for ``min(a, b)``), the same value without a call."""
        t, d, kb, lat, dma, static = self.t, self.d, self.kb, self.lat, self.dma, self.static
        main_bw, loads, cores, end, barrier = self.main_bw, self.loads, t.cores, self.tail, t.barrier_s()
        kps, rf_tile, pairs_q = self.keys_per_seq, self.rf_tile, self.pairs_q
        tiles_q = -(-self.q_rows // bq)
        tb = tiles_q * self.base
        most = max(cores // tb, 1) if tb < cores else 1  # KV splits before the keys cap them
        q_buf = bq * d * self.ab
        by_splits: dict[int, tuple[Any, ...]] = {}  # what depends on the KV splits only (not on bkv)
        out = []
        for bkv in BKV:
            buf = q_buf + 2 * bkv * d * kb + bq * bkv * ACC_BYTES
            splits = -(-kps // bkv) if tb < cores and -(-kps // bkv) < most else most
            blk = by_splits.get(splits)
            if blk is None:
                blk = by_splits[splits] = self._per_split(bq, tiles_q, splits)
            (units, waves, keys, util, t_mm, t_soft, busy, main, l2, sram, t_comb), fixed, f = blk
            slow, fast, t_l2, t_sram = fixed
            bw = main_bw
            if lat > 0:
                x = busy * 2 * bkv * d * kb / lat
                bw = x if x < main_bw else main_bw
            t_mem = main / bw
            t_mem = t_l2 if t_l2 > t_mem else t_mem
            t_mem = t_sram if t_sram > t_mem else t_mem
            # the softmax runs on the SFU/vector units while the matrix engine works on the next tile
            # (pipelined, as in FlashAttention-3); one tile's softmax per unit stays exposed
            t_c = slow + fast * bkv / (bkv if bkv > keys else keys)
            # static schedules: each core's DMA queue sets up a K and a V transfer per KV tile plus Q in and
            # O out; flash-decoding's partial outputs (and their max/sum) are combined over the NoC; one
            # barrier per op
            kv_tiles = -(-keys // bkv)
            transfers = waves * (2 * kv_tiles + 2)
            x = transfers * dma
            t_mem = x if x > t_mem else t_mem
            if static is not None:  # ``gemm.stage_time`` written out (two buffers; f: its DRAM share)
                steps = waves * kv_tiles
                c = t_c / steps
                lo, ld = loads[bkv]
                x, y = (ld + c) / 2, (lo + c) / 2
                t_c = steps * (f[0] * (x if x > c else c) + f[1] * (y if y > c else c))
            x = t_mem if t_mem > t_c else t_c
            time = x + lat + dma + end + t_comb + barrier
            x = pairs_q / bkv
            out.append(
                (
                    buf,
                    time,
                    0.0,
                    bq,
                    bkv,
                    units,
                    waves,
                    splits,
                    util,
                    t_mm,
                    t_soft,
                    t_mem,
                    main,
                    l2,
                    sram,
                    rf_tile * (x if x > 1 else 1),
                    transfers,
                    t_comb,
                    t_c,
                )
            )
        return out

    def _per_split(self, bq: int, tiles_q: int, splits: int) -> tuple[Any, ...]:
        """Units, waves, utilization, matrix/softmax time and traffic of ``bq``-row Q tiles in ``splits``
        KV splits, and what the bkv loop derives from them."""
        t, op, a = self.t, self.op, self.a
        m_eff = min(bq, self.q_rows)
        units = self.base * tiles_q * splits
        waves = -(-units // t.cores)
        keys = max(1, self.keys_per_seq // splits) if self.decode else self.prefill_keys
        cyc = _cycles(t, self.geometry, m_eff, keys, a.head_dim_qk, a.head_dim_v, self.rate)
        util = min(1.0, m_eff * keys * self.d / self.pe_macs / cyc)
        quant = max(waves * t.cores / units, 1.0)
        t_mm = self.macs / (self.all_macs * util) * quant
        t_soft = self.soft * quant
        busy = min(units, t.cores)
        reread = max(
            a.pairs / min(max(1, bq // self.group), self.q_seq) * self.kv_per_token, op.kv_read_bytes
        )
        if busy * self.keys_per_seq * self.kv_per_token / max(self.kv_heads, 1) <= self.in_l2_cap:  # in L2
            main = self.kv_main_min + op.act_write_bytes
        else:
            main = reread - op.kv_read_bytes + self.kv_main_min + op.act_write_bytes
        l2 = max(main, reread + op.act_read_bytes + op.act_write_bytes)
        part = m_eff * (a.head_dim_v + 2) * ACC_BYTES
        comb = self.static.combine_s(splits, part, t.noc_link_bw) if self.static is not None else 0.0
        sram = l2 + self.scores
        return (
            (units, waves, keys, util, t_mm, t_soft, busy, main, l2, sram, comb),
            (max(t_mm, t_soft), min(t_mm, t_soft), l2 / self.l2_bw, sram / self.sram_bw),
            _dram_share(max(main - op.act_write_bytes, 0.0), max(l2 - op.act_write_bytes, 1.0)),
        )

    def energy(self, r: tuple[Any, ...]) -> float:
        """A row's dynamic energy (its main, level-2, SRAM and accumulator bytes, the op's FLOPs)."""
        return float(self.t.energy_j(self.op.dtype, self.op.flops, r[12], r[13], r[14], r[15]))


def _stage_loads(t: Target, d: int, kb: float) -> dict[int, tuple[float, float]]:
    """``gemm.stage_loads`` of a K/V tile of each width (``2 b d kb`` bytes), written out: the same
    operations on the target's figures read once."""
    dma, l2, lat = t.dma_setup_s(), t.level2_bw, t.main_latency_s
    dram = min(l2, t.main_bw * t.gemm_eff)
    out = {}
    for b in BKV:
        stage = 2 * b * d * kb
        out[b] = (dma + stage / l2, dma + stage / dram + lat)
    return out


def _dram_share(dram_in: float, loads: float) -> tuple[float, float]:
    """(f, 1 - f): the share of the stage pipeline's loads that come from DRAM (``gemm.stage_time``)."""
    f = min(max(dram_in / max(loads, 1.0), 0.0), 1.0)
    return f, 1 - f


# The best dataflow's cycles of one attention tile depend on the engine's geometry and the tile only, not on
# the rest of the chip: designs that share an array shape (a few dozen in a design space) share the entries.
_CYCLES: dict[tuple[Any, ...], int] = {}
_GEOMETRIES: dict[tuple[Any, ...], int] = {}  # an engine geometry -> its number (a short key for _CYCLES)


def _cycles(t: Target, geometry: int, m: int, keys: int, d_qk: int, d_v: int, rate: float) -> int:
    """min over ``t``'s dataflows of ``t.attention_cycles`` (an exact minimum: any order gives the same),
    memoized on every input of ``engine_cycles``: ``geometry`` numbers ``t``'s (``_GEOMETRIES``)."""
    key = (geometry, m, keys, d_qk, d_v, rate)
    hit = _CYCLES.get(key)
    if hit is None:
        best = min(t.attention_cycles(m, keys, d_qk, d_v, df, rate) for df in t.dataflows)
        hit = remember(_CYCLES, key, best)
    return hit


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
