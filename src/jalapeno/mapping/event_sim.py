"""An event model of one mapped step, tile by tile: the cross-check of the analytical mapper.

The mapper prices an op in closed form (``max(compute + prologue, memory + latency)`` and friends). This
module replays the same mapping (tiles, dataflow, double buffering, split-K, units and waves, the bytes it
moves at each level) as events on explicit resources and reports the time the replay takes:

* per core, a **DMA queue**: each transfer (an operand stage, a K/V tile, a result tile) first holds the
  queue for ``dma_setup_s``, then its bytes move; the queue sets up the next transfer meanwhile;
* one **DRAM** server (peak x the architecture's achievable fraction for the access pattern, FIFO, plus
  the DRAM latency per transfer) and one **NoC** server (the bisection bandwidth, FIFO), shared by all
  cores: contention is explicit, not an average;
* per core, **SRAM buffers**: two stages when double buffered (the next load may start when a slot frees),
  one otherwise (load, compute, load, ...);
* per core, the **matrix engine**: a stage's compute is its share of the unit's engine cycles (SCALE-Sim's
  fold count, ``engine.py``) or its SRAM time, whichever is longer; attention overlaps the softmax of a tile
  with the next tile's matrix work, one softmax per unit exposed;
* units go to cores round robin (the last wave leaves cores idle: load imbalance); after the last unit,
  **split-K / flash-decoding combines** run ``ceil(log2(parts))`` rounds, each moving every partial tile over
  the shared NoC and waiting at a barrier; every op ends with a **barrier**.

What it takes from the mapping rather than re-deriving: the traffic at each level (which share of a
stage comes from DRAM rather than from a resident panel or a multicast). So it checks the timing model
(overlap, pipeline fill, contention, queues, imbalance, combines), not the traffic counts.
Elementwise ops fused into their neighbours keep their analytical time; unfused streaming ops are
replayed as per-core chunks through the same DRAM and NoC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from jalapeno.graph.builder import Graph
from jalapeno.graph.ops import Op
from jalapeno.mapping.attention import map_attention
from jalapeno.mapping.gemm import GemmProblem, map_gemm
from jalapeno.mapping.mapper import MATMUL_KINDS, Mapper
from jalapeno.mapping.target import ACC_BYTES, Target

CHUNK_BYTES = 65536  # streaming ops move their bytes in 64 KiB DMA transfers


class Fifo:
    """A bandwidth server: requests are served in arrival order, one at a time, at ``rate`` bytes/s."""

    def __init__(self, rate: float) -> None:
        self.rate, self.free_at, self.busy_s = rate, 0.0, 0.0

    def serve(self, ready_s: float, nbytes: float) -> float:
        start = max(ready_s, self.free_at)
        dt = nbytes / self.rate
        self.free_at = start + dt
        self.busy_s += dt
        return self.free_at


@dataclass
class Chip:
    """The shared resources of one replay: DRAM and NoC servers, the per-core DMA queues."""

    t: Target
    dram: Fifo
    noc: Fifo
    dma_free: list[float]

    @classmethod
    def of(cls, t: Target, dram_eff: float) -> Chip:
        return cls(t, Fifo(t.main_bw * dram_eff), Fifo(t.level2_bw), [0.0] * t.cores)

    def transfer(self, core: int, ready_s: float, dram_bytes: float, noc_bytes: float) -> float:
        """A DMA transfer issued at ``ready_s`` on ``core``'s queue: setup, DRAM (plus latency), NoC."""
        t = self.t
        issued = max(ready_s, self.dma_free[core]) + t.dma_setup_s()
        self.dma_free[core] = issued
        # cut-through: the bytes stream from DRAM over the NoC; each server is held for its own share
        done = max(issued, self.noc.serve(issued, noc_bytes) if noc_bytes > 0 else issued)
        if dram_bytes > 0:
            done = max(done, self.dram.serve(issued, dram_bytes)) + t.main_latency_s
        return done


@dataclass(frozen=True)
class Stream:
    """One unit of work on one core: ``loads`` transfers (DRAM bytes, NoC bytes), each feeding a compute of
    ``compute_s`` seconds; then a result write (DRAM bytes, NoC bytes). ``first_extra_s``: compute the first
    stage pays on top (a softmax left exposed)."""

    loads: list[tuple[float, float]]
    compute_s: list[float]
    write: tuple[float, float]
    first_extra_s: float = 0.0


def run_units(chip: Chip, units: list[Stream], slots: int) -> float:
    """Replay ``units`` on the cores round robin; return when the last write lands."""
    t = chip.t
    per_core: list[list[Stream]] = [[] for _ in range(t.cores)]
    for i, u in enumerate(units):
        per_core[i % t.cores].append(u)
    # one generator-free loop per core, interleaved by time so shared servers see requests in order:
    # each core's next action is its next load issue; process the core whose next issue is earliest
    state = [_CoreState(q) for q in per_core]
    live = [i for i, s in enumerate(state) if s.pending()]
    while live:
        core = min(live, key=lambda i: state[i].next_request_s(chip, i, slots))
        state[core].step(chip, core, slots)
        if not state[core].pending():
            live.remove(core)
    return max((s.done_s for s in state), default=0.0)


class _CoreState:
    """One core's progress through its units: loads issue when a buffer slot is free; compute runs in
    order."""

    def __init__(self, units: list[Stream]) -> None:
        self.units, self.u, self.k = units, 0, 0
        self.engine_free = 0.0  # when the engine finishes its last stage
        self.slot_free: list[float] = []  # times the buffer slots free (compute ends), oldest first
        self.done_s = 0.0
        self.write: tuple[float, float, float] | None = None  # (ready time, DRAM bytes, NoC bytes)

    def pending(self) -> bool:
        return self.u < len(self.units) or self.write is not None

    def next_issue_s(self, slots: int) -> float:
        return self.slot_free[-slots] if len(self.slot_free) >= slots else 0.0

    def _write_first(self, slots: int) -> bool:
        """A pending result write goes before the next load only if it is ready first (the next unit's first
        load may issue while this unit's last stage still computes)."""
        return self.write is not None and (
            self.u >= len(self.units) or self.write[0] <= self.next_issue_s(slots)
        )

    def next_request_s(self, chip: Chip, core: int, slots: int) -> float:
        """When this core's next transfer reaches the shared servers (requests are replayed in this order)."""
        ready = self.write[0] if self._write_first(slots) else self.next_issue_s(slots)  # type: ignore[index]
        return max(ready, chip.dma_free[core]) + chip.t.dma_setup_s()

    def step(self, chip: Chip, core: int, slots: int) -> None:
        """The core's next transfer: a pending result write, or the next load and the compute it feeds."""
        if self._write_first(slots):
            assert self.write is not None
            ready, d, n = self.write
            self.done_s = max(self.done_s, chip.transfer(core, ready, d, n))
            self.write = None
            return
        unit = self.units[self.u]
        dram_b, noc_b = unit.loads[self.k]
        arrived = chip.transfer(core, self.next_issue_s(slots), dram_b, noc_b)
        c = unit.compute_s[self.k] + (unit.first_extra_s if self.k == 0 else 0.0)
        start = max(arrived, self.engine_free)
        self.engine_free = start + c
        self.slot_free.append(self.engine_free)
        self.done_s = max(self.done_s, self.engine_free)
        self.k += 1
        if self.k == len(unit.loads):
            if self.write is not None:  # the previous unit's write, still pending: it goes now
                ready, d, n = self.write
                self.done_s = max(self.done_s, chip.transfer(core, ready, d, n))
                self.write = None
            if unit.write[0] or unit.write[1]:
                self.write = (self.engine_free, *unit.write)
            self.u, self.k = self.u + 1, 0


# -- GEMMs -----------------------------------------------------------------------------------------


def gemm_units(t: Target, p: GemmProblem) -> tuple[list[Stream], int, dict[str, Any], Any]:
    """The mapper's chosen mapping of ``p`` as per-unit streams of stage loads and computes."""
    g = map_gemm(t, p)
    tm_, tn_, tk_ = g.tile
    m, n, k = p.m, p.n, p.k
    tm, tn, tk = min(tm_, m), min(tn_, n), min(tk_, k)
    ae, we = p.a_bytes / max(p.groups * m * k, 1), p.b_bytes / max(p.groups * k * n, 1)
    tiles_m, tiles_n = -(-m // tm), -(-n // tn)
    sk = g.split_k
    ku = -(-k // sk)
    steps = -(-ku // tk)
    units = tiles_m * tiles_n * p.groups * sk
    n_e = -(-tn // t.engines)
    cyc = float(t.engine_cycles(tm, n_e, ku, g.dataflow, t.rate(p.dtype), overlap=g.double_buffer))
    unit_compute = cyc / t.f_matrix / t.issue_eff
    # bytes: a stage reads tm x tk of A and tk x tn of B; the mapping says how much of it comes from DRAM
    stage = tm * tk * ae + tk * tn * we
    loads_total = units * steps * stage
    partial = 2.0 * p.groups * m * n * ACC_BYTES if sk > 1 else 0.0
    dram_in = max(g.bytes_main - p.c_bytes - (0.0 if t.shared_bytes else partial), 0.0)
    noc_in = max(g.bytes_level2 - p.c_bytes - partial, dram_in)
    f_dram, f_noc = dram_in / loads_total, noc_in / loads_total
    sram_unit = g.bytes_sram / units  # all cores' SRAM bytes, per unit
    sram_s = sram_unit / t.sram_bw
    per_step = max(unit_compute, sram_s) / steps
    out = p.c_bytes / (units / sk)  # one result tile (written once, after the combine when split)
    streams = []
    credit = 0.0  # the share f_dram of stages comes from DRAM (whole stages, spread evenly), the rest from
    for _ in range(units):  # another core's SRAM over the NoC
        loads = []
        for j in range(steps):
            kk = min(tk, ku - j * tk)
            b = tm * kk * ae + kk * tn * we
            credit += f_dram
            from_dram = credit >= 1.0 - 1e-9
            credit -= 1.0 if from_dram else 0.0
            loads.append((b if from_dram else 0.0, b * f_noc))
        streams.append(Stream(loads, [per_step] * steps, (out, out) if sk == 1 else (0.0, 0.0)))
    info = {
        "tile": f"{tm}x{tn}x{tk}",
        "units": units,
        "steps": steps,
        "split_k": sk,
        "double_buffer": g.double_buffer,
    }
    return streams, 2 if g.double_buffer else 1, info, (sk, tm * tn * ACC_BYTES, units // sk, out)


def combine(
    chip: Chip, start_s: float, parts: int, tile_bytes: float, outputs: int, write_bytes: float
) -> float:
    """Tree combine of ``parts`` partial tiles per output, all outputs at once over the shared NoC, a barrier
    each round; then each output tile is written once."""
    t = chip.t
    now = start_s
    left = parts
    while left > 1:
        pairs = outputs * (left // 2)
        now = chip.noc.serve(now, pairs * tile_bytes) + t.barrier_s()
        left = -(-left // 2)
    if parts > 1 and write_bytes:
        now = (
            chip.dram.serve(chip.noc.serve(now, outputs * write_bytes), outputs * write_bytes)
            + t.main_latency_s
        )
    return now


def replay_gemm(t: Target, p: GemmProblem) -> float:
    streams, slots, _, (sk, tile_b, outputs, out_b) = gemm_units(t, p)
    chip = Chip.of(t, t.gemm_eff)
    end = run_units(chip, streams, slots)
    end = combine(chip, end, sk, tile_b, outputs, out_b)
    return end + t.barrier_s()


# -- attention ----------------------------------------------------------------------------------------


def replay_attention(t: Target, op: Op) -> float:
    """FlashAttention units (sequence, KV head, Q tile, KV split) streaming K/V tiles, as the mapper maps
    them."""
    a = op.attention
    assert a is not None
    am = map_attention(t, op)
    s = op.flops / max(2.0 * a.pairs * a.heads * (a.head_dim_qk + a.head_dim_v), 1.0)
    heads, kv_heads = max(1.0, round(a.heads * s, 6)), max(1.0, round(a.kv_heads * s, 6))
    group = max(1, round(heads / kv_heads))
    q_rows = max(1, a.query_tokens // max(a.seqs, 1)) * group
    keys_per_seq = max(1, a.kv_tokens // max(a.seqs, 1))
    bq, bkv, splits = am.bq, am.bkv, am.kv_splits
    keys = (
        max(1, keys_per_seq // splits)
        if a.phase == "decode"
        else max(1, -(-a.pairs // max(a.query_tokens, 1)))
    )
    m_eff = min(bq, q_rows)
    rate = t.rate(op.dtype)
    cyc = min(
        float(t.attention_cycles(m_eff, keys, a.head_dim_qk, a.head_dim_v, df, rate)) for df in t.dataflows
    )
    units = am.units
    # the unit's matrix work at the mapping's engine utilization: all units together do the op's MACs
    macs_unit = a.pairs * heads * (a.head_dim_qk + a.head_dim_v) / units
    ideal = m_eff * keys * (a.head_dim_qk + a.head_dim_v) / (t.engines * t.rows * t.cols * t.depth * rate)
    util = min(1.0, ideal / cyc)
    per_core_macs = t.engines * t.rows * t.cols * t.depth * rate * t.f_matrix * t.issue_eff
    mm_unit = macs_unit / (per_core_macs * util)
    soft_unit = max(a.pairs * heads / t.sfu_ops, 4.0 * a.pairs * heads / t.vector_flops) * t.cores / units
    tiles = -(-keys // bkv)
    # bytes: K and V tiles in, Q in first, O out last; DRAM vs NoC shares from the mapping
    kv_in = am.bytes_level2 - op.act_read_bytes - op.act_write_bytes
    f_dram = min(1.0, max(am.bytes_main - op.act_write_bytes - op.act_read_bytes, 0.0) / max(kv_in, 1.0))
    kv_tile = kv_in / (units * tiles)
    q_b, o_b = op.act_read_bytes / units, op.act_write_bytes / units
    sram_s = am.bytes_sram / units / t.sram_bw
    per_tile = max(max(mm_unit, soft_unit) / tiles, sram_s / tiles)
    exposed = min(mm_unit, soft_unit) / tiles
    streams, credit = [], 0.0
    for _ in range(units):
        loads = []
        for j in range(
            tiles
        ):  # the share f_dram of K/V tiles from DRAM (whole tiles), the rest re-read on chip
            credit += f_dram
            from_dram = credit >= 1.0 - 1e-9
            credit -= 1.0 if from_dram else 0.0
            q = q_b if j == 0 else 0.0
            loads.append((q + (kv_tile if from_dram else 0.0), q + kv_tile))
        streams.append(Stream(loads, [per_tile] * tiles, (o_b, o_b) if splits == 1 else (0.0, 0.0), exposed))
    chip = Chip.of(t, t.kv_eff if a.phase == "decode" else t.main_eff)
    end = run_units(chip, streams, 2)
    part = m_eff * (a.head_dim_v + 2) * ACC_BYTES
    end = combine(chip, end, splits, part, units // splits, o_b * splits)
    return end + t.barrier_s()


# -- streaming ops ---------------------------------------------------------------------------------------


def replay_stream(t: Target, op: Op) -> float:
    """An unfused elementwise op: its bytes in 64 KiB chunks over the cores, vector work overlapped."""
    chunks = max(1, math.ceil(op.bytes / CHUNK_BYTES))
    per_chunk = op.bytes / chunks
    comp = op.flops / t.vector_flops * t.cores / chunks
    chip = Chip.of(t, t.main_eff)
    streams = [Stream([(per_chunk, per_chunk)], [comp], (0.0, 0.0)) for _ in range(chunks)]
    return run_units(chip, streams, 2) + t.barrier_s()


# -- ops and steps ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpReplay:
    name: str
    repeat: int
    event_s: float  # one instance, fixed per-kernel cost included (as the mapper's time)
    mapper_s: float
    roofline_s: float  # of the op at its compiled shape: max(FLOPs / peak, main bytes / peak bandwidth)
    how: str  # event | analytical (fused ops, MoE)


def replay_op(mapper: Mapper, op: Op) -> OpReplay:
    """One op at its compiled shape: the event replay against the mapper's time."""
    t = mapper.target
    m = mapper.map(op)
    p = t.static.pad(op) if t.static is not None else op
    fixed = t.fixed_s(m.time.kernels)
    if p.kind in MATMUL_KINDS and p.m and p.kind != "moe":
        from jalapeno.mapping.fusion import producer_write_share

        share = producer_write_share(p) if t.fusion else 1.0
        prob = GemmProblem(
            p.m,
            p.n,
            p.k,
            p.groups,
            p.act_read_bytes + p.kv_read_bytes,
            p.weight_bytes,
            p.act_write_bytes * share,
            p.dtype,
        )
        body, how = replay_gemm(t, prob), "event"
    elif p.kind == "attention" and p.attention is not None:
        body, how = replay_attention(t, p), "event"
    elif m.engine == "vector":
        body, how = replay_stream(t, p), "event"
    else:
        body, how = m.time.time_s - fixed, "analytical"
    peak = t.peak_flops(p.dtype) if p.kind in (*MATMUL_KINDS, "attention") else t.vector_flops
    roof = max(p.flops / peak, m.bytes_main / t.main_bw)
    return OpReplay(op.name, op.repeat, body + fixed, m.time.time_s, roof, how)


def replay_step(mapper: Mapper, graph: Graph) -> list[OpReplay]:
    return [replay_op(mapper, op) for op in graph.ops]


def totals(rows: list[OpReplay]) -> dict[str, float]:
    ev = sum(r.event_s * r.repeat for r in rows)
    an = sum(r.mapper_s * r.repeat for r in rows)
    roof = sum(r.roofline_s * r.repeat for r in rows)
    return {"event_s": ev, "mapper_s": an, "roofline_s": roof, "ratio": an / ev if ev > 0 else float("nan")}


__all__ = ["OpReplay", "replay_op", "replay_step", "totals"]
