"""Tiling and dataflow search for one GEMM (``groups`` independent (m x k) @ (k x n) products).

The search space, evaluated at once with numpy (one row a candidate):

* per-core tile ``tm x tn x tk`` (powers of two up to the problem size),
* the engine's dataflow (ws / os / is, those the engine supports),
* the loop order above the cores: ``c`` (output tile stationary, K innermost: A and B re-read per tile
  row/column), ``a`` (an A row-panel stays on chip while B streams) or ``b`` (a B column-panel, the
  weights, stays on chip while A streams),
* double buffering (a second operand stage in SRAM hides the next load behind the current compute),
* split-K when there are fewer output tiles than cores (partial sums reduced through level 2).

No candidate may exceed a capacity: operand stages (x2 when double buffered) plus any partial-sum tile
that does not fit the accumulators must fit the core SRAM; a resident panel must fit the on-chip
SRAM (shared SRAM, else half the cores' SRAM). Traffic at every level is at least compulsory (each
operand read once, the result written once). Among feasible candidates the fastest wins; within
1e-6 of the fastest, the one moving the least energy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from jalapeno.mapping.target import ACC_BYTES, Target

ORDERS = ("c", "a", "b")
REG_BLOCK = 4  # register blocking of a dot-product engine (fragments reused across 4 MMAs each way)


@dataclass(frozen=True)
class GemmProblem:
    m: int
    n: int
    k: int
    groups: int
    a_bytes: float  # compulsory bytes of the streamed input (all groups)
    b_bytes: float  # weights
    c_bytes: float  # output written
    dtype: str


@dataclass(frozen=True)
class GemmMapping:
    """The chosen mapping of one GEMM and why it costs what it costs."""

    dataflow: str
    order: str
    tile: tuple[int, int, int]  # tm, tn, tk per core
    double_buffer: bool
    split_k: int
    waves: int
    cores_used: int
    compute_s: float
    memory_s: float  # the slowest level
    time_s: float  # without the per-kernel overhead
    bytes_main: float
    bytes_level2: float
    bytes_sram: float
    buffer_bytes: float  # per core
    utilization: float  # useful MACs / (time x peak MACs)
    energy_j: float
    candidates: int
    bound: str  # compute | main | level2 | sram | dma
    bytes_rf: float = 0.0  # accumulator (register-file) reads and writes of partial sums
    transfers: int = 0  # DMA transfers per core (operand stages in, result tiles out)
    reduce_s: float = 0.0  # split-K combine over the NoC (static schedules)
    barrier_s: float = 0.0  # the end-of-op cross-core barrier (static schedules)


def _pow2s(lo: int, hi: int, cap: int) -> np.ndarray:
    top = 1 << max(0, int(np.ceil(np.log2(max(cap, 1)))))
    vals = [v for v in (1 << i for i in range(15)) if lo <= v <= min(hi, top)]
    return np.array(vals or [min(lo, top)], dtype=np.int64)


def _axes(t: Target, p: GemmProblem) -> tuple[np.ndarray, ...]:
    """The values of each search axis: tm, tn, tk, dataflow index, loop order, buffers."""
    tms = _pow2s(1 if p.m < 8 else 8, 2048, p.m)
    tns = _pow2s(16, 4096, p.n)
    tks = _pow2s(16, 2048, p.k)
    return tms, tns, tks, np.arange(len(t.dataflows)), np.arange(3), np.array([1, 2])


KEYS = ("tm", "tn", "tk", "df", "order", "db")


def candidates(t: Target, p: GemmProblem) -> dict[str, np.ndarray]:
    """Every (tile, dataflow, order, double-buffer) combination as flat arrays (one row a candidate)."""
    grids = np.meshgrid(*_axes(t, p), indexing="ij")
    return {kk: g.ravel() for kk, g in zip(KEYS, grids, strict=True)}


def open_grid(t: Target, p: GemmProblem) -> dict[str, np.ndarray]:
    """The same candidates as an open grid: each axis an array along its own dimension, so ``evaluate``
    computes every quantity only over the axes it depends on (numpy broadcasting); element for element
    the same arithmetic as on the flat rows, hence the same values (tests/test_explore_speed_identity.py)."""
    return dict(zip(KEYS, np.ix_(*_axes(t, p)), strict=True))


def map_gemm(t: Target, p: GemmProblem) -> GemmMapping:
    c = open_grid(t, p)
    shape = tuple(len(v.ravel()) for v in c.values())
    ev = evaluate(t, p, c)
    ok = np.broadcast_to(ev["feasible"], shape)
    if not ok.any():  # nothing fits: smallest tile, single buffered (still reported, never silently dropped)
        ok = np.broadcast_to(
            (c["tm"] == c["tm"].min())
            & (c["tn"] == c["tn"].min())
            & (c["tk"] == c["tk"].min())
            & (c["db"] == 1),
            shape,
        )
    time = np.where(ok, ev["time"], np.inf)  # full shape, flattened in the order of ``candidates``
    best = time.min()
    near = ok & (time <= best * (1 + 1e-6))
    i = int(np.argmin(np.where(near, ev["energy"], np.inf)))
    at = np.unravel_index(i, shape)

    where: dict[tuple[int, ...], tuple[Any, ...]] = {}  # an array's shape -> the chosen candidate's index

    def pick(name: str) -> float:  # the chosen candidate's value of an array broadcast over the grid
        x = ev[name]
        if not np.ndim(x):
            return float(x)
        idx = where.get(x.shape)
        if idx is None:
            idx = where[x.shape] = tuple(a if n > 1 else 0 for a, n in zip(at, x.shape, strict=True))
        return float(x[idx])

    tile = tuple(int(c[kk].ravel()[at[j]]) for j, kk in enumerate(KEYS))
    return GemmMapping(
        dataflow=t.dataflows[tile[3]],
        order=ORDERS[tile[4]],
        tile=(tile[0], tile[1], tile[2]),
        double_buffer=tile[5] == 2,
        split_k=int(pick("sk")),
        waves=int(pick("waves")),
        cores_used=int(pick("active")),
        compute_s=pick("t_c"),
        memory_s=pick("t_mem"),
        time_s=pick("time"),
        bytes_main=pick("main"),
        bytes_level2=pick("l2"),
        bytes_sram=pick("sram"),
        buffer_bytes=pick("buf"),
        utilization=pick("util"),
        energy_j=pick("energy"),
        candidates=int(ok.sum()),
        bound=_bound(*(pick(x) for x in ("t_dma", "t_c", "t_main", "t_l2", "t_sram", "t_mem"))),
        bytes_rf=pick("rf"),
        transfers=int(pick("transfers")),
        reduce_s=pick("t_red"),
        barrier_s=t.barrier_s(),
    )


def _bound(t_dma: float, t_c: float, t_main: float, t_l2: float, t_sram: float, t_mem: float) -> str:
    """The level that bounds a candidate: the first of dma, compute, main, level2 that holds, else sram."""
    if t_dma > 0 and t_dma >= max(t_c, max(max(t_main, t_l2), t_sram)):
        return "dma"
    if t_c >= t_mem:
        return "compute"
    if t_main >= max(t_l2, t_sram):
        return "main"
    return "level2" if t_l2 >= t_sram else "sram"


def evaluate(t: Target, p: GemmProblem, c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Time, traffic, capacity and energy of every candidate (vectorized; ``c`` flat rows or an open grid)."""
    m, n, k, g = p.m, p.n, p.k, p.groups
    ae = p.a_bytes / max(g * m * k, 1)
    we = p.b_bytes / max(g * k * n, 1)
    tm, tn, tk = np.minimum(c["tm"], m), np.minimum(c["tn"], n), np.minimum(c["tk"], k)
    db, order, df = c["db"], c["order"], c["df"]
    tiles_m, tiles_n = -(-m // tm), -(-n // tn)
    tiles = tiles_m * tiles_n * g
    sk = np.where(tiles < t.cores, np.minimum(np.maximum(t.cores // tiles, 1), -(-k // tk)), 1)
    units = tiles * sk
    waves = -(-units // t.cores)
    active = np.minimum(units, t.cores)
    ku = -(-k // sk)
    ksteps = -(-ku // tk)  # K stages of one unit
    # -- compute: the core's engines share the tile along n
    n_e = -(-tn // t.engines)
    cyc: Any = 0.0
    rate = t.rate(p.dtype)
    for j, flow in enumerate(t.dataflows):
        cyc = np.where(
            df == j,
            t.engine_cycles(tm, n_e, ku, flow, rate, overlap=db == 2),
            cyc,
        )
    t_c = waves * cyc / t.f_matrix / t.issue_eff
    # -- capacity
    stage = tm * tk * ae + tk * tn * we
    acc = tm * tn * ACC_BYTES
    buf = db * stage + np.where(acc > t.acc_bytes, acc, 0.0)
    onchip = t.shared_bytes if t.shared_bytes else 0.5 * t.cores * t.sram_bytes
    # the cores of a wave work on a pm x pn block of tiles (a swizzled raster): pick the block shape that
    # moves the least from main memory, with the loop order's resident panel when it fits on chip
    reuse_a, reuse_b, fits_a, fits_b = _raster(p, t, tm, tn, tiles_m, tiles_n, active, order, ae, we, onchip)
    feasible = (buf <= t.sram_bytes) & ((order == 0) | ((order == 1) & fits_a) | ((order == 2) & fits_b))
    # -- traffic per level (each >= compulsory)
    partial = np.where(sk > 1, 2.0 * g * m * n * ACC_BYTES, 0.0)
    # cluster multicast: one level-2 read of a tile feeds the cluster's cores that share it (an A row-panel
    # is shared across n-tiles, a B column-panel across m-tiles); the cluster lies along whichever saves more
    a_rd, b_rd = units * tm * ku * ae, units * ku * tn * we
    shared = np.minimum(
        a_rd / np.minimum(t.multicast, tiles_n) + b_rd, a_rd + b_rd / np.minimum(t.multicast, tiles_m)
    )
    per_core = shared + p.c_bytes + partial
    main = p.a_bytes * reuse_a + p.b_bytes * reuse_b + p.c_bytes + (0.0 if t.shared_bytes else partial)
    l2 = np.maximum(per_core, main)
    if t.kind == "dot_product":
        fa, fb = -(-tn // (t.cols * REG_BLOCK * t.engines)), -(-tm // (t.rows * REG_BLOCK))
    else:
        fa = np.where(_is(t, "is")[df], 1, -(-tn // (t.cols * t.engines)))
        fb = np.where(_is(t, "ws")[df], 1, -(-tm // t.rows))
    sram = waves * (tm * ku * ae * fa + ku * tn * we * fb + tm * tn * ACC_BYTES)
    # -- time: main-memory bandwidth capped by bytes in flight (Little's law)
    # Little's law: each core keeps ``db`` stages in flight, the share ``f`` of them from DRAM, each for the
    # DRAM latency plus its DMA setup and transfer; the last wave's cores alone keep fewer (load imbalance
    # slows memory-bound ops too)
    bw_cap = t.main_bw * t.gemm_eff
    loads = units * ksteps * stage  # all stage bytes the cores load
    f_dram = np.minimum(np.maximum((main - p.c_bytes) / np.maximum(loads, 1.0), 1e-9), 1.0)
    flight = db * stage * f_dram / (t.main_latency_s + t.dma_setup_s() + stage / bw_cap)
    bw = np.minimum(bw_cap, active * flight)
    tail = units - (waves - 1) * t.cores
    bw_tail = np.minimum(bw_cap, tail * flight)
    w_tail = tail / units
    t_main, t_l2 = main * (1 - w_tail) / bw + main * w_tail / bw_tail, l2 / t.level2_bw
    t_sram = sram / t.sram_bw
    t_mem = np.maximum(np.maximum(t_main, t_l2), t_sram)
    pro = active * stage / np.minimum(bw, t.level2_bw) + t.main_latency_s
    # static schedules: each core's DMA queue sets up every transfer (an A and a B stage per K step, the
    # result tile at the end), pipelined with the data it moves; split-K partials are combined over the NoC
    transfers = waves * (2 * ksteps + 1)
    t_dma = transfers * t.dma_setup_s()
    t_red: Any = 0.0
    t_pipe = t_c  # GPU kernels run 3-4 stage pipelines; their latency hiding is in what was measured
    if t.static is not None:
        t_mem = np.maximum(t_mem, t_dma)
        pro = pro + t.dma_setup_s()
        t_red = np.where(sk > 1, t.static.combine_s(sk, tm * tn * ACC_BYTES, t.noc_link_bw), 0.0)
        t_pipe = _stage_pipeline(t, t_c, waves * ksteps, stage, main - p.c_bytes, loads, db)
        # the last result tile leaves after the last compute: its DMA setup, transfer and DRAM write latency
        t_red = t_red + t.dma_setup_s() + p.c_bytes / np.maximum(units / sk, 1) / bw_cap + t.main_latency_s
    drain = t_c / (waves * ksteps)  # the last stage's compute, after its bytes have arrived
    time = np.where(
        db == 2,
        np.maximum(t_pipe + pro, t_mem + t.main_latency_s + drain),
        np.maximum(t_c + t_mem + t.main_latency_s, t_pipe),
    )
    time = time + t_red + t.barrier_s()
    flops = 2.0 * g * m * n * k
    # accumulators: a weight/input-stationary array emits a partial-sum tile per K fold (read, added,
    # written); an output-stationary array keeps sums in its PEs and writes each output once
    k_fold = t.depth * REG_BLOCK if t.kind == "dot_product" else t.rows
    folds_k = np.ceil(ku / (k_fold * t.rate(p.dtype)))
    os_df = _is(t, "os")[df] & (t.kind != "dot_product")
    rf = units * tm * tn * ACC_BYTES * np.where(os_df, 1, 2 * folds_k)
    sram = sram * units / waves  # all cores' bytes (t_sram above is one core's)
    energy = t.energy_j(p.dtype, flops, main, l2, sram, rf)
    util = flops / (time * t.peak_flops(p.dtype))
    return {
        "time": time,
        "t_c": t_c,
        "t_mem": t_mem,
        "main": main,
        "l2": l2,
        "sram": sram,
        "buf": buf,
        "feasible": feasible,
        "energy": energy,
        "util": util,
        "sk": sk,
        "waves": waves,
        "active": active,
        "rf": rf,
        "transfers": transfers,
        "t_red": t_red,
        "t_dma": t_dma,
        "t_main": t_main,
        "t_l2": t_l2,
        "t_sram": t_sram,
    }


def _stage_pipeline(t: Target, t_c: Any, steps: Any, stage: Any, dram_in: Any, loads: Any, db: Any) -> Any:
    """Compute time as the stage pipeline sees it: each of a core's ``steps`` stages is loaded (DMA setup,
    the DRAM latency and DRAM bandwidth for the share ``f`` of stages that come from DRAM rather than from
    another core's SRAM, the stage over the NoC) and then computed. With two buffers a stage's load overlaps
    the other buffer's compute: a step costs ``max(c, (load + c) / 2)``; with one, ``load + c``. Bandwidth
    totals, where all cores contend, are bounded elsewhere (``t_mem``); this is the latency side."""
    return stage_time(t_c, steps, dram_in, loads, db, *stage_loads(t, stage))


def stage_loads(t: Target, stage: Any) -> tuple[Any, Any]:
    """(load time of a stage from another core's SRAM over the NoC, load time of a stage from DRAM)."""
    lo = t.dma_setup_s() + stage / t.level2_bw
    ld = t.dma_setup_s() + stage / min(t.level2_bw, t.main_bw * t.gemm_eff) + t.main_latency_s
    return lo, ld


def stage_time(t_c: Any, steps: Any, dram_in: Any, loads: Any, db: Any, lo: Any, ld: Any) -> Any:
    """``_stage_pipeline`` given ``stage_loads``: numpy arrays, or floats (one candidate; the same
    operations, so the same values)."""
    c = t_c / steps
    if isinstance(c, float):
        f = min(max(dram_in / max(loads, 1.0), 0.0), 1.0)
        two = f * max(c, (ld + c) / 2) + (1 - f) * max(c, (lo + c) / 2)
        return steps * (two if db == 2 else c + f * ld + (1 - f) * lo)
    f = np.minimum(np.maximum(dram_in / np.maximum(loads, 1.0), 0.0), 1.0)
    two = f * np.maximum(c, (ld + c) / 2) + (1 - f) * np.maximum(c, (lo + c) / 2)
    one = c + f * ld + (1 - f) * lo
    return steps * np.where(db == 2, two, one)


def _raster(
    p: GemmProblem,
    t: Target,
    tm: Any,
    tn: Any,
    tiles_m: Any,
    tiles_n: Any,
    active: Any,
    order: Any,
    ae: Any,
    we: Any,
    onchip: Any,
) -> tuple[Any, Any, Any, Any]:
    """Re-read factors of A and B for the best wave block shape (pm x pn tiles) of each candidate.

    Block heights pm = 1, 2, 4, ... are tried at once along a new leading axis; each candidate takes the
    first that moves the least. Heights past the cores or past the tallest tile column change nothing
    (pm saturates), so the tries stop there."""
    k = p.k
    stop = min(t.cores, int(np.max(tiles_m)))
    tries = [1 << i for i in range(12) if i == 0 or (1 << (i - 1)) < stop]
    pm_try = np.array(tries).reshape((-1,) + (1,) * np.ndim(tm))
    pm = np.maximum(1, np.minimum(np.minimum(tiles_m, pm_try), active))

    def factors(pm: Any) -> tuple[Any, Any, Any, Any]:
        pn = np.maximum(1, np.minimum(tiles_n, active // pm))
        fa = pm * tm * k * ae <= 0.5 * onchip
        fb = k * pn * tn * we <= 0.5 * onchip
        ra = np.where((order == 1) & fa, 1, -(-tiles_n // pn))
        rb = np.where((order == 2) & fb, 1, -(-tiles_m // pm))
        return ra, rb, fa, fb

    ra, rb, _, _ = factors(pm)
    traffic = p.a_bytes * ra + p.b_bytes * rb
    first = np.argmin(traffic, axis=0)[None]  # the first of equal minima, as a strict-improvement scan keeps
    # the chosen height's factors, recomputed from it (elementwise: the values at ``first``, one gather)
    ra, rb, fa, fb = factors(np.take_along_axis(np.broadcast_to(pm, traffic.shape), first, 0)[0])
    shape = traffic.shape[1:]
    return (
        np.broadcast_to(ra, shape).astype(np.float64),
        np.broadcast_to(rb, shape).astype(np.float64),
        np.broadcast_to(fa, shape),
        np.broadcast_to(fb, shape),
    )


def _is(t: Target, df: str) -> np.ndarray:
    """Whether each of the target's dataflow indices is ``df`` (indexed by the candidates' ``df``)."""
    return np.array([d == df for d in t.dataflows], dtype=bool)
