"""The mapper: every operator of a graph onto a parameterized processor, memoized per shape.

``Mapper(arch).timer`` is an ``OpTimer`` (``Op -> OpTime``) for ``Estimator(chip, params, tp, timer=...)``.
``Mapper.map(op)`` returns an ``OpMapping`` that explains itself: engine, dataflow, loop order,
tiles, double buffering, split-K, waves, utilization, bytes at each memory level, energy.

Physics: an op's time is never below its roofline, ``max(FLOPs / peak, bytes / bandwidth)`` over the
bytes it must move (for a fused op, bytes from the level its data lives in); bytes moved are never
below compulsory (each operand once, the result once).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any

from jalapeno.graph.builder import Graph
from jalapeno.graph.ops import Op
from jalapeno.hardware.arch.spec import ArchSpec
from jalapeno.mapping.attention import map_attention
from jalapeno.mapping.fusion import fused_consumer, producer_write_share, remaining_main_bytes
from jalapeno.mapping.gemm import GemmMapping, GemmProblem, map_gemm
from jalapeno.mapping.static import StaticSchedule
from jalapeno.mapping.target import Target
from jalapeno.memo import remember
from jalapeno.seams.op_timing import OpTime

MATMUL_KINDS = ("matmul", "lm_head", "router", "moe")
MEMO_SIZE = 4096


@dataclass(frozen=True)
class OpMapping:
    name: str
    kind: str
    engine: str  # matrix | vector | fused
    time: OpTime
    bytes_main: float
    bytes_level2: float
    bytes_sram: float
    energy_j: float
    utilization: float  # useful FLOPs / (time x peak of its engine)
    detail: dict[str, Any] = field(default_factory=dict)
    # the counted work ``energy_j`` prices (Target.energy_j): matrix FLOPs, vector FLOPs, bytes at main
    # memory, level 2, core SRAM (all cores) and the accumulators/register file; at the compiled shape
    work: tuple[float, float, float, float, float, float] = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    dtype: str = "bf16"

    @property
    def counts(self) -> dict[str, float]:
        return dict(
            zip(
                ("matrix_flops", "vector_flops", "main_bytes", "level2_bytes", "sram_bytes", "rf_bytes"),
                self.work,
                strict=True,
            )
        )

    def explain(self) -> str:
        d = ", ".join(f"{k}={v}" for k, v in self.detail.items())
        return (
            f"{self.name} [{self.kind} on {self.engine}] {self.time.time_s * 1e6:.2f} us "
            f"({self.time.bound}-bound, {100 * self.utilization:.0f}% util); main "
            f"{self.bytes_main / 1e6:.3g} MB, "
            f"level2 {self.bytes_level2 / 1e6:.3g} MB, sram {self.bytes_sram / 1e6:.3g} MB; {d}"
        )

    def to_json(self) -> dict[str, Any]:
        t = self.time
        return {
            "name": self.name,
            "kind": self.kind,
            "engine": self.engine,
            "time_s": t.time_s,
            "compute_s": t.compute_s,
            "memory_s": t.memory_s,
            "roofline_s": t.roofline_s,
            "bound": t.bound,
            "kernels": t.kernels,
            "bytes_by_level": {"main": self.bytes_main, "level2": self.bytes_level2, "sram": self.bytes_sram},
            "energy_j": self.energy_j,
            "counts": self.counts,
            "utilization": self.utilization,
            **self.detail,
        }


class Mapper:
    """Maps ops onto one architecture. Build once per architecture; ``map``/``timer`` are memoized."""

    def __init__(self, arch: ArchSpec) -> None:
        self.arch = arch
        self.target = Target.of(arch)
        self._memo: OrderedDict[Op, OpMapping] = OrderedDict()
        self._rep_memo: OrderedDict[Op, OpMapping] = OrderedDict()
        # padded ops of different token counts often pose the same GEMM (same compiled rows, same bytes)
        self._gemm_memo: dict[GemmProblem, GemmMapping] = {}

    def timer(self, op: Op) -> OpTime:
        """The op's time, carrying its per-level energy (``OpTime.energy_j``) for the Estimator."""
        return self.map(op).time

    def map(self, op: Op) -> OpMapping:
        hit = self._memo.get(op)
        if hit is not None:
            return hit
        out = self._at_compiled_shape(op)
        self._memo[op] = out
        if len(self._memo) > MEMO_SIZE:
            self._memo.popitem(last=False)
        return out

    def map_graph(self, graph: Graph) -> tuple[OpMapping, ...]:
        return tuple(self.map(op) for op in graph.ops)

    def _rep(self, rep: Op) -> OpMapping:
        """A representative attention shape, mapped as it is (already padded), memoized."""
        hit = self._rep_memo.get(rep)
        if hit is None:
            hit = self._rep_memo[rep] = self._map(rep)
            if len(self._rep_memo) > MEMO_SIZE:
                self._rep_memo.popitem(last=False)
        return hit

    def _at_compiled_shape(self, op: Op) -> OpMapping:
        """Map ``op`` at the shape a static schedule compiled for it (padded token rows and KV lengths);
        utilization counts the real op's FLOPs. The time carries the mapping's energy."""
        st = self.target.static
        padded = (_attention_shape(_padded, op, st) if op.attention is not None else st.pad(op)) if st else op
        out = self._map(padded)
        o = out.time
        ot = OpTime(o.time_s, o.compute_s, o.memory_s, o.roofline_s, o.bound, o.kernels, out.energy_j)
        util, detail = out.utilization, out.detail
        if padded is not op:
            t, peak = o.time_s, self.target.peak_flops(op.dtype)
            if op.m:
                pad = {"m": f"{op.m}->{padded.m}"}
            else:  # padded in its KV length: an attention op, which carries its shape
                assert op.attention is not None and padded.attention is not None
                pad = {"kv": f"{op.attention.kv_tokens}->{padded.attention.kv_tokens}"}
            util = op.flops / (t * peak) if t > 0 else 0.0
            detail = {**out.detail, "padded": pad["m" if op.m else "kv"]}
        # built directly, not with dataclasses.replace: this runs for every new op shape of a serving replay
        return OpMapping(
            out.name,
            out.kind,
            out.engine,
            ot,
            out.bytes_main,
            out.bytes_level2,
            out.bytes_sram,
            out.energy_j,
            util,
            detail,
            out.work,
            out.dtype,
        )

    # -- per kind ------------------------------------------------------------------------------
    def _map(self, op: Op) -> OpMapping:
        if op.kind in MATMUL_KINDS and op.m:
            return self._matmul(op)
        if op.kind == "attention" and op.attention is not None:
            return self._attention(op)
        rule = fused_consumer(op) if self.target.fusion else None
        return self._fused(op, rule) if rule is not None else self._stream(op)

    def _roofline(self, op: Op, main_bytes: float) -> float:
        t = self.target
        peak = t.peak_flops(op.dtype) if op.kind in (*MATMUL_KINDS, "attention") else t.vector_flops
        return max(op.flops / peak, main_bytes / t.main_bw)

    def _finish(
        self, op: Op, body: float, compute: float, memory: float, main: float, kernels: int
    ) -> OpTime:
        t = self.target
        roof = self._roofline(op, main)
        fixed = t.fixed_s(kernels)
        time = max(body, roof) + fixed
        bound = "overhead" if fixed > body else ("compute" if compute >= memory else "memory")
        return OpTime(time, compute, memory, roof, bound, kernels)

    def _matmul(self, op: Op) -> OpMapping:
        t = self.target
        share = producer_write_share(op) if t.fusion else 1.0
        a_bytes = op.act_read_bytes + op.kv_read_bytes
        parts = (
            _moe_parts(op, a_bytes, share)
            if op.kind == "moe"
            else [
                GemmProblem(
                    op.m,
                    op.n,
                    op.k,
                    op.groups,
                    a_bytes,
                    op.weight_bytes,
                    op.act_write_bytes * share,
                    op.dtype,
                )
            ]
        )
        maps = [self._gemm(p) for p in parts]
        body = sum(g.time_s for g in maps)
        scale = max(1.0, op.flops / max(sum(2.0 * p.m * p.n * p.k * p.groups for p in parts), 1.0))
        body *= scale  # MoE groups of unequal size: never fewer FLOPs than the op has
        main = sum(g.bytes_main for g in maps)
        work = (
            sum(2.0 * p.m * p.n * p.k * p.groups for p in parts) * scale,
            0.0,
            main * scale,
            sum(g.bytes_level2 for g in maps) * scale,
            sum(g.bytes_sram for g in maps) * scale,
            sum(g.bytes_rf for g in maps) * scale,
        )
        ot = self._finish(
            op,
            body,
            sum(g.compute_s for g in maps) * scale,
            max(g.memory_s for g in maps),
            main,
            t.kernels(op.name),
        )
        g = maps[0]
        util = op.flops / (ot.time_s * t.peak_flops(op.dtype)) if ot.time_s > 0 else 0.0
        detail = {
            "dataflow": g.dataflow,
            "order": g.order,
            "tile": "x".join(map(str, g.tile)),
            "double_buffer": g.double_buffer,
            "split_k": g.split_k,
            "waves": g.waves,
            "cores": g.cores_used,
            "buffer_kib": round(g.buffer_bytes / 1024, 1),
            "level_bound": g.bound,
            "candidates": g.candidates,
            "dma_transfers": sum(x.transfers for x in maps),
            "reduce_us": round(sum(x.reduce_s for x in maps) * 1e6, 3),
            "barrier_us": round(g.barrier_s * 1e6, 3),
        }
        if share != 1.0:
            detail["fused_epilogue"] = f"writes {share:g} of its output"
        return OpMapping(
            op.name,
            op.kind,
            "matrix",
            ot,
            main,
            sum(x.bytes_level2 for x in maps),
            sum(x.bytes_sram for x in maps),
            t.energy_j(op.dtype, *work[:1], *work[2:], work[1]),
            util,
            detail,
            work,
            op.dtype,
        )

    def _gemm(self, p: GemmProblem) -> GemmMapping:
        """``map_gemm`` memoized on the exact problem (a pure function of the target and the problem)."""
        hit = self._gemm_memo.get(p)
        if hit is None:
            if len(self._gemm_memo) >= MEMO_SIZE:
                self._gemm_memo.clear()
            hit = self._gemm_memo[p] = map_gemm(self.target, p)
        return hit

    def _attention(self, op: Op) -> OpMapping:
        rep = _attention_shape(_attention_rep, op)
        if rep is not op:  # map the representative shape (memoized), scale to this one
            return self._scaled(op, self._rep(rep), rep)
        t = self.target
        am = map_attention(t, op)
        ot = self._finish(
            op, am.time_s, am.matmul_s + am.softmax_s, am.memory_s, am.bytes_main, t.kernels(op.name)
        )
        util = op.flops / (ot.time_s * t.peak_flops(op.dtype)) if ot.time_s > 0 else 0.0
        detail = {
            "tile": f"bq{am.bq}xbkv{am.bkv}",
            "kv_splits": am.kv_splits,
            "units": am.units,
            "waves": am.waves,
            "engine_util": round(am.engine_util, 3),
            "softmax_us": round(am.softmax_s * 1e6, 2),
            "buffer_kib": round(am.buffer_bytes / 1024, 1),
            "dma_transfers": am.transfers,
            "combine_us": round(am.combine_s * 1e6, 3),
        }
        work = (op.flops, 0.0, am.bytes_main, am.bytes_level2, am.bytes_sram, am.bytes_rf)
        return OpMapping(
            op.name,
            op.kind,
            "matrix",
            ot,
            am.bytes_main,
            am.bytes_level2,
            am.bytes_sram,
            t.energy_j(op.dtype, op.flops, *work[2:]),
            util,
            detail,
            work,
            op.dtype,
        )

    def _scaled(self, op: Op, m: OpMapping, rep: Op) -> OpMapping:
        """A mapping of ``rep`` (at most GRID larger in every dimension) applied to ``op``: the time scales
        with the larger of the FLOP and byte ratios, and never drops below ``op``'s own roofline."""
        t = self.target
        fb = op.bytes / rep.bytes if rep.bytes else 1.0
        f = max(op.flops / rep.flops if rep.flops else 1.0, fb)
        k = t.fixed_s(m.time.kernels)
        roof = self._roofline(op, m.bytes_main * fb)
        body = max((m.time.time_s - k) * f, roof)
        ot = OpTime(body + k, m.time.compute_s * f, m.time.memory_s * fb, roof, m.time.bound, m.time.kernels)
        util = op.flops / (ot.time_s * t.peak_flops(op.dtype)) if ot.time_s > 0 else 0.0
        ff = op.flops / rep.flops if rep.flops else 1.0
        w = m.work
        work = (w[0] * ff, w[1] * ff, w[2] * fb, w[3] * fb, w[4] * fb, w[5] * ff)
        return OpMapping(
            op.name,
            op.kind,
            m.engine,
            ot,
            m.bytes_main * fb,
            m.bytes_level2 * fb,
            m.bytes_sram * fb,
            t.energy_j(op.dtype, work[0], *work[2:], work[1]),
            util,
            {**m.detail, "mapped_at": "shape rounded up by <= 2.2%"},
            work,
            op.dtype,
        )

    def _stream(self, op: Op) -> OpMapping:
        t = self.target
        tc = op.flops / t.vector_flops
        tm = op.bytes / (t.main_bw * t.main_eff) + t.main_latency_s
        ot = self._finish(op, max(tc, tm) + t.barrier_s(), tc, tm, op.bytes, t.kernels(op.name))
        work = (
            0.0,
            op.flops,
            op.bytes,
            op.bytes,
            op.bytes,
            0.0,
        )  # every byte from DRAM over the NoC into SRAM
        return OpMapping(
            op.name,
            op.kind,
            "vector",
            ot,
            op.bytes,
            op.bytes,
            op.bytes,
            t.energy_j(op.dtype, 0.0, *work[2:], op.flops),
            op.flops / (ot.time_s * t.vector_flops) if ot.time_s > 0 else 0.0,
            {},
            work,
            op.dtype,
        )

    def _fused(self, op: Op, rule: tuple[float, float]) -> OpMapping:
        t = self.target
        main = remaining_main_bytes(op, rule)
        onchip = op.bytes - main
        tc = op.flops / t.vector_flops
        tm = max(main / (t.main_bw * t.main_eff), onchip / (t.sram_bw * t.cores))
        roof = max(op.flops / t.vector_flops, main / t.main_bw, onchip / (t.sram_bw * t.cores))
        time = max(tc, tm, roof)
        ot = OpTime(time, tc, tm, roof, "compute" if tc >= tm else "memory", 0)
        # main-memory bytes cross the NoC into SRAM; the bytes fusion keeps on chip are read from SRAM only
        work = (0.0, op.flops, main, main, op.bytes, 0.0)
        return OpMapping(
            op.name,
            op.kind,
            "fused",
            ot,
            main,
            main,
            onchip,
            t.energy_j(op.dtype, 0.0, *work[2:], op.flops),
            op.flops / (time * t.vector_flops) if time > 0 else 0.0,
            {"fused": "into its producer/consumer", "fused_saved_bytes": onchip},
            work,
            op.dtype,
        )


def _moe_parts(op: Op, a_bytes: float, share: float) -> list[GemmProblem]:
    """An expert MLP as two grouped GEMMs: (m x h) @ (h x up) then (m x ie) @ (ie x h).

    ``up`` is 2 ie for a gated MLP (gate and up), ie otherwise; inferred from the op's FLOPs.
    """
    h, ie, g, m = op.k, op.n, op.groups, op.m
    mats = max(2, round(op.flops / max(2.0 * m * g * h * ie, 1.0)))
    up_n = (mats - 1) * ie
    r_up = h / (h + ie)
    w_up = op.weight_bytes * (mats - 1) / mats
    w_up_c = up_n / (up_n + h)
    return [
        GemmProblem(m, up_n, h, g, a_bytes * r_up, w_up, op.act_write_bytes * w_up_c, op.dtype),
        GemmProblem(
            m,
            h,
            ie,
            g,
            a_bytes * (1 - r_up),
            op.weight_bytes - w_up,
            op.act_write_bytes * (1 - w_up_c) * share,
            op.dtype,
        ),
    ]


# Chip-independent shapes of attention ops (their compiled shape, their representative on the grid), for every
# mapper of the process: a design search maps the same shared op objects (``explore.FastOracle``) on every
# design. Keyed by the function, the op's identity and the schedule that pads (the entry holds the op, so its
# id cannot be reused); an op seen once costs one entry.
_SHAPES: dict[tuple[Any, ...], tuple[Op, Op]] = {}


def _attention_shape(f: Any, op: Op, *args: Any) -> Op:
    """``f(op, *args)`` memoized on (f, op's identity, args): ``f`` is pure."""
    key = (f, id(op), *args)
    hit = _SHAPES.get(key)
    if hit is None:
        hit = remember(_SHAPES, key, (op, f(op, *args)), limit=1 << 15)
    return hit[1]


def _padded(op: Op, st: StaticSchedule) -> Op:
    return st.pad(op)  # reads the schedule's buckets only (a frozen value: part of the key)


GRID = 2 ** (1 / 32)  # attention shapes vary every serving step: map them on a 2.2% grid of sizes


def _up(x: int) -> int:
    """The smallest grid size >= x; grid sizes are ceil(GRID^e), so ``_up`` is idempotent."""
    if x <= 64:
        return x
    e = math.floor(math.log(x, GRID)) - 1
    while math.ceil(GRID**e) < x:
        e += 1
    return math.ceil(GRID**e)


def _attention_rep(op: Op) -> Op:
    """``op`` with its (query, key) pairs and KV positions rounded up to the grid, work scaled to match."""
    a = op.attention
    assert a is not None
    pairs, kv = _up(a.pairs), _up(a.kv_tokens)
    if pairs == a.pairs and kv == a.kv_tokens:
        return op
    fp, fk = pairs / a.pairs, kv / max(a.kv_tokens, 1)
    shape = replace(a, pairs=pairs, kv_tokens=kv)
    return replace(op, attention=shape, flops=op.flops * fp, kv_read_bytes=op.kv_read_bytes * fk)
