"""``jalapeno measure engine``: the serving replay's decode and prefill steps, taken apart.

The replay (``jalapeno measure serve``) records only when each step starts and ends. These two jobs run the
replay's own code (``SlotModel``, ``DecodeGraphs``, ``TorchBackend``, in its timing mode: padded decode
attention, prefills on any SDPA backend) on each model given (default ``qwen2.5-coder-7b``, a fit model, and
``llama-3.1-8b``, the replay's) and time its pieces against the step sweep's, so one GPU run says whether a
gap between the replay and the sweep-calibrated cost model is kernels or host work. Rows go to the record's
``engine`` section; every row of a job has the same keys (``DECODE_KEYS`` / ``PREFILL_KEYS``), null where a
mode does not measure one; a mode that fails gives a row with ``error``.

``serve-decode``, at every ``(bucket, L)`` of the grid (FULL: bucket {1, 4, 16} x L {1024, 4096, 8192}),
``bucket`` rows all real (``batch == bucket``), each at position ``L - 1`` (attention over ``L``). One row a
``mode``:

- ``engine_graph``: the replay's decode CUDA graph (cos/sin gather, index_put K/V writes, folded-GQA flash
  SDPA over the padded ``L``, argmax into ``out``) replayed back to back, a CUDA-event pair around each:
  its kernels alone, host hidden.
- ``engine_step``: the replay's decode step exactly as the engine runs it, ``TorchBackend.decode``:
  ``set_positions`` (blocking H2D copy), graph replay, ``accept``, synchronize, one step at a time.
  ``s`` is the wall time of the call (what a replay step row's ``end_s - start_s`` measures), with the
  medians of its ``host_prep_s``/``launch_s``/``accept_s``/``sync_s``/``device_s`` (see ``serve_engine``).
  ``s`` - ``engine_graph.s`` is the per-step host cost the replay pays and back-to-back timing hides.
- ``sweep_graph``: the step sweep's decode graph (``TorchDecoder.decode``: slice K/V write, ``enable_gqa``
  SDPA or repeated K/V, any SDPA backend) on its own cache of exactly ``(bucket, kv_heads, L, head_dim)``
  at context ``L - 1``, back to back: what the cost model was calibrated on, at the same shape, same
  process. ``engine_graph.s`` - ``sweep_graph.s`` is the kernel-level difference.
- ``engine_attn`` / ``sweep_attn``: one CUDA graph of every layer's attention call alone (the engine's folded
  flash over the slot cache; the sweep's call over its cache), back to back; ``s`` covers all ``layers``.
- ``engine_kv_write`` / ``sweep_kv_write``: likewise for every layer's K/V write (``index_put`` at per-row
  positions vs a slice assignment).

``serve-prefill-host``, for each prompt length (FULL: 16, 64, 256 tokens; short prompts are host-bound), the
replay's prefill (``TorchBackend.prefill``, eager, batch 1, slot 0). One row a ``mode``:

- ``sweep``: the forward called back to back without synchronizing, as the step sweep times it: ``s`` from
  CUDA events, ``launch_s`` the host time of each call (it includes back-pressure once the GPU is behind).
- ``sync_each``: the engine's call, synchronized every time, back to back: ``s`` = wall per prefill with
  its breakdown.
- ``after_sleep``: the same after ``time.sleep(idle_s)`` (~50 ms) before each call, as a replay prefill
  that follows a wait for arrivals: a CPU coming back from idle (C-states, lower clocks) issues kernels
  slower, which shows as ``launch_s`` above ``sync_each``'s.
- ``after_spin``: the same after busy-waiting ``idle_s`` (the CPU stays busy, the GPU idles): if
  ``after_sleep`` is slow and this is not, the cause is the idle CPU, not the idle GPU.

``aten_ops``: aten operators (views excluded) one forward dispatches, counted once with a dispatch mode
(about the kernels launched): ``launch_s / aten_ops`` is the host time per eager kernel.

GPU time (H200, Llama-3.1-8B, FULL grid): decode ~1-1.5 s a point x 9 (7 modes: ~6 graph captures,
~450 timed steps of 4-10 ms), prefill ~3.5 s a length x 3 (80 prefills, 40 of them after 50 ms idle), plus
building the model and cache (~30 GB): about 30 s a model, about 60 s for the two default models.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from jalapeno.measure.device import capture_graph, release, sync, time_each
from jalapeno.measure.jobs import Ctx, Job, Rows, Skip, fmt_s
from jalapeno.measure.serve_engine import TIMING_KEYS
from jalapeno.measure.shapes import activation_bytes, kv_bytes
from jalapeno.measure.steps import Loaded, _decode_step, _fit, _load, _unload, model_config
from jalapeno.measure.torch_model import attention

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # reported by jalapeno.measure.device.require_torch()
    torch = None  # type: ignore[assignment]  # torch installed: a Module name (see pyproject [tool.mypy])
    F = None  # type: ignore[assignment]

SECTION = "engine"
DECODE_JOB, PREFILL_JOB = "serve-decode", "serve-prefill-host"
JOBS = (DECODE_JOB, PREFILL_JOB)
DECODE_MODES = (
    "engine_graph",
    "engine_step",
    "engine_attn",
    "engine_kv_write",
    "sweep_graph",
    "sweep_attn",
    "sweep_kv_write",
)
PREFILL_MODES = ("sweep", "sync_each", "after_sleep", "after_spin")
DECODE_KEYS = (
    "job",
    "model",
    "mode",
    "bucket",
    "batch",
    "L",
    "layers",
    "graph",
    "timer",
    "iters",
    "s",
    "s_p90",
    *TIMING_KEYS,
)
PREFILL_KEYS = (
    "job",
    "model",
    "mode",
    "prompt",
    "idle_s",
    "timer",
    "iters",
    "s",
    "s_p90",
    *TIMING_KEYS,
    "aten_ops",
)
PREFILL_REQUEST_ID = -1  # the prompt ids of the replay's warm-up prefills


@dataclass
class Serve:
    """The model and the replay's slot model built on it, once loaded."""

    base: Loaded = field(default_factory=Loaded)
    sm: Any = None
    backend: Any = None


def _timer(device: Any) -> str:
    return "cuda_events" if device.type == "cuda" else "perf_counter"


def _stats(xs: list[float]) -> tuple[float | None, float | None]:
    if not xs:
        return None, None
    return float(np.median(xs)), float(np.percentile(xs, 90))


def _error(e: BaseException) -> str:
    return f"{type(e).__name__}: {(str(e).splitlines() or [''])[0]}"[:300]


def _mode(
    order: tuple[str, ...], base: dict[str, Any], mode: str, fn: Callable[[], dict[str, Any]], device: Any
) -> dict[str, Any]:
    """One row with every key of ``order`` (null unless measured); an ``error`` row when ``fn`` fails."""
    row: dict[str, Any] = dict.fromkeys(order)
    row.update(base, mode=mode)
    try:
        row.update(fn())
    except Exception as e:
        row["error"] = _error(e)
        if device.type == "cuda":
            with contextlib.suppress(Exception):
                torch.cuda.synchronize(device)
    return row


def _back_to_back(fn: Callable[[], Any], device: Any, warmup: int, iters: int) -> list[float]:
    """Seconds of each of ``iters`` calls issued back to back, after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    sync(device)
    return time_each(fn, device, iters)


def _graphed(body: Callable[[], Any], device: Any) -> tuple[Callable[[], Any], Any]:
    """``body`` captured in a CUDA graph, as the sweep's decode; eager (no graph) on a CPU."""
    if device.type != "cuda":
        return body, None
    g = capture_graph(body, device)
    return g.replay, g


def _timed_graph(ctx: Ctx, body: Callable[[], Any]) -> dict[str, Any]:
    return _timed_replay(ctx, *_graphed(body, ctx.device))


def _timed_replay(ctx: Ctx, fn: Callable[[], Any], g: Any) -> dict[str, Any]:
    """A row's timing of ``fn`` (graph ``g``'s replay, or eager when ``g`` is None), back to back; the
    graph is released afterwards."""
    try:
        s, p90 = _stats(_back_to_back(fn, ctx.device, ctx.grid.warmup, ctx.grid.serve_iters))
    finally:
        if g is not None:
            g.reset()
    return {
        "graph": g is not None,
        "timer": _timer(ctx.device),
        "iters": ctx.grid.serve_iters,
        "s": s,
        "s_p90": p90,
    }


@contextlib.contextmanager
def _own_cache(m: Any, b: int, length: int) -> Iterator[tuple[list[Any], list[Any]]]:
    """The sweep's cache layout for the duration: ``(b, kv_heads, length, head_dim)``, random; then back to
    the slot model's cache and rope tables."""
    saved = (m.cache_k, m.cache_v, m.cos, m.sin)
    try:
        m.alloc_cache(b, length)
        yield m.cache_k, m.cache_v
    finally:
        m.cache_k, m.cache_v, m.cos, m.sin = saved


def count_ops(fn: Callable[[], Any]) -> int | None:
    """Aten operators (views excluded) that ``fn`` dispatches, about the kernels it launches; None if the
    dispatch mode is unavailable or fails."""
    try:
        from torch.utils._python_dispatch import TorchDispatchMode

        class Count(TorchDispatchMode):
            n = 0

            def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
                if not getattr(func, "is_view", False):
                    self.n += 1
                return func(*args, **(kwargs or {}))

        with Count() as c:
            fn()
        return c.n
    except Exception:
        return None


# ---- load / free ----


def _load_serve(ctx: Ctx, cfg: Any, st: Serve) -> tuple[Rows, str]:
    from jalapeno.measure.serve_model import DecodeGraphs, SlotModel, TorchBackend

    _, line = _load(ctx, cfg, st.base)
    m, g = st.base.model, ctx.grid
    assert m is not None
    slots, max_len = max(g.serve_bucket), max(max(g.serve_length), max(g.serve_prompt) + 1)
    item = m.dtype.itemsize
    slot_kv = kv_bytes(cfg, slots, max_len, item)
    try:  # the slot cache, the sweep's own cache at the largest point, activations
        _fit(
            st.base,
            slot_kv + kv_bytes(cfg, slots, max(g.serve_length), item),
            activation_bytes(cfg, max(max(g.serve_prompt), slots), slots, item),
        )
    except Skip as s:
        st.base.why = s.why
        raise
    st.sm = SlotModel(m, slots, max_len, masked=False, prefill_any_sdpa=True)  # the replay's timing mode
    st.backend = TorchBackend(st.sm, DecodeGraphs(st.sm, enabled=False))
    for p in g.serve_prompt:  # as the replay's warm-up: every prompt length once, and one eager decode
        st.backend.prefill(0, PREFILL_REQUEST_ID, p)
    length = min(g.serve_length)
    st.sm.set_positions([length - 1], 1)
    st.sm.decode_step(1, length)
    st.backend.sync()
    return [], f"{line}; slot cache {slots} x {max_len} positions ({slot_kv / 1e9:.1f} GB)"


def _free_serve(ctx: Ctx, st: Serve) -> tuple[Rows, str]:
    st.sm = st.backend = None
    return _unload(ctx, st.base)


def _need(st: Serve) -> tuple[Any, Any]:
    if st.backend is None:
        raise Skip(st.base.why)
    return st.sm, st.backend


# ---- serve-decode ----


def _engine_step(ctx: Ctx, backend: Any, ctxs: list[int], b: int, length: int) -> dict[str, Any]:
    """``TorchBackend.decode`` one step at a time: wall per call and medians of its breakdown."""
    for _ in range(ctx.grid.warmup):
        backend.decode(ctxs, b, length)
    walls: list[float] = []
    parts: dict[str, list[float]] = {k: [] for k in TIMING_KEYS}
    graphed = False
    for _ in range(ctx.grid.serve_iters):
        t0 = time.perf_counter()
        graphed = backend.decode(ctxs, b, length)
        walls.append(time.perf_counter() - t0)
        for k, v in backend.timing().items():
            if v is not None:
                parts[k].append(v)
    s, p90 = _stats(walls)
    return {
        "graph": graphed,
        "timer": "perf_counter",
        "iters": ctx.grid.serve_iters,
        "s": s,
        "s_p90": p90,
        **{k: _stats(v)[0] for k, v in parts.items()},
    }


def _serve_decode(ctx: Ctx, st: Serve, b: int, length: int, keys: dict[str, Any]) -> tuple[Rows, str]:
    from jalapeno.measure.serve_model import DecodeGraphs, TorchBackend, sdpa_backends

    sm, _ = _need(st)
    m, dev = sm.m, ctx.device
    c = m.cfg
    if b > sm.slots or length > sm.max_len:
        raise Skip(f"bucket {b} x L {length} exceeds the slot cache ({sm.slots} x {sm.max_len})")
    item = m.dtype.itemsize
    _fit(
        st.base,
        kv_bytes(c, sm.slots, sm.max_len, item) + kv_bytes(c, b, length, item),
        activation_bytes(c, b, b, item),
    )
    base = {**keys, "batch": b, "layers": c.num_layers}
    ctxs = [length - 1] * b
    graphs = DecodeGraphs(sm, enabled=dev.type == "cuda")  # this point's graph only, freed at the end
    backend = TorchBackend(sm, graphs)
    rows: Rows = []
    row = _row_maker(DECODE_KEYS, base, dev)
    try:
        sm.set_positions(ctxs, b)
        graphed = graphs.ensure(b, length)
        if graphs.fallback:
            ctx.notes.append((f"{DECODE_JOB} {keys['model']} bucket={b} L={length}", graphs.fallback))

        def engine_graph() -> dict[str, Any]:
            s, p90 = _stats(
                _back_to_back(lambda: graphs.run(b, length), dev, ctx.grid.warmup, ctx.grid.serve_iters)
            )
            return {
                "graph": graphed,
                "timer": _timer(dev),
                "iters": ctx.grid.serve_iters,
                "s": s,
                "s_p90": p90,
            }

        rows.append(row("engine_graph", engine_graph))
        rows.append(row("engine_step", lambda: _engine_step(ctx, backend, ctxs, b, length)))
        nh, nkv, hd = c.num_heads, c.num_kv_heads, c.head_dim
        qg = torch.randn(b, nkv, nh // nkv, hd, dtype=m.dtype, device=dev)  # folded query heads

        def engine_attn() -> None:
            with sdpa_backends(dev):
                for li in range(c.num_layers):
                    F.scaled_dot_product_attention(qg, sm.k[li][:b, :, :length], sm.v[li][:b, :, :length])

        rows.append(row("engine_attn", lambda: _timed_graph(ctx, engine_attn)))
        kn = torch.randn(b, nkv, hd, dtype=m.dtype, device=dev)
        vn = torch.randn(b, nkv, hd, dtype=m.dtype, device=dev)
        slots, pos = sm.rows[:b], sm.pos[:b]  # pos = L - 1 (set above)

        def engine_kv_write() -> None:
            for li in range(c.num_layers):
                sm.k[li][slots, :, pos] = kn
                sm.v[li][slots, :, pos] = vn

        rows.append(row("engine_kv_write", lambda: _timed_graph(ctx, engine_kv_write)))
        graphs.reset()  # free the engine graph before the sweep's cache is allocated
        rows += _sweep_modes(ctx, m, b, length, kn, vn, row)
    finally:
        graphs.reset()
        release(dev)
    return rows, _decode_line(rows)


def _sweep_modes(
    ctx: Ctx, m: Any, b: int, length: int, kn: Any, vn: Any, row: Callable[..., dict[str, Any]]
) -> Rows:
    """The sweep's graph, attention and K/V write on its own cache (freed when this returns)."""
    c, dev = m.cfg, ctx.device
    with _own_cache(m, b, length) as (ck, cv):
        rows = [row("sweep_graph", lambda: _sweep_graph(ctx, m, b, length))]
        q = torch.randn(b, c.num_heads, 1, c.head_dim, dtype=m.dtype, device=dev)

        def sweep_attn() -> None:
            for li in range(c.num_layers):
                attention(q, ck[li], cv[li], causal=False, mode=m.mode)

        rows.append(row("sweep_attn", lambda: _timed_graph(ctx, sweep_attn)))
        k4, v4 = kn.unsqueeze(2), vn.unsqueeze(2)  # (b, kv_heads, 1, hd)

        def sweep_kv_write() -> None:
            for li in range(c.num_layers):
                ck[li][:, :, length - 1 : length] = k4
                cv[li][:, :, length - 1 : length] = v4

        rows.append(row("sweep_kv_write", lambda: _timed_graph(ctx, sweep_kv_write)))
    return rows


def _sweep_graph(ctx: Ctx, m: Any, b: int, length: int) -> dict[str, Any]:
    tokens = torch.randint(0, m.cfg.vocab_size, (b,), device=ctx.device)
    return _timed_replay(ctx, *_decode_step(m, tokens, length - 1, ctx.grid.warmup))


def _row_maker(order: tuple[str, ...], base: dict[str, Any], device: Any) -> Callable[..., dict[str, Any]]:
    def make(mode: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        return _mode(order, base, mode, fn, device)

    return make


def _decode_line(rows: Rows) -> str:
    by = {r["mode"]: r for r in rows}

    def s(mode: str) -> str:
        r = by.get(mode, {})
        return "error" if r.get("error") or r.get("s") is None else fmt_s(r["s"])

    st = by.get("engine_step", {})
    parts = ", ".join(
        f"{k[:-2]} {fmt_s(st[k])}" for k in ("host_prep_s", "launch_s", "sync_s") if st.get(k) is not None
    )
    return (
        f"engine step {s('engine_step')} ({parts}), engine graph {s('engine_graph')}, "
        f"sweep graph {s('sweep_graph')}; attn {s('engine_attn')} vs {s('sweep_attn')}, "
        f"kv write {s('engine_kv_write')} vs {s('sweep_kv_write')}"
    )


# ---- serve-prefill-host ----


def _prefill_pipelined(ctx: Ctx, sm: Any, ids: Any) -> dict[str, Any]:
    """The forward back to back, unsynchronized: device time per call and host time per call."""
    dev, n = ctx.device, ctx.grid.serve_prefill_iters

    def fn() -> Any:
        return sm.prefill_logits(0, ids)

    for _ in range(ctx.grid.warmup):
        fn()
    sync(dev)
    host: list[float] = []
    if dev.type == "cuda":
        evs = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(n)]
        for a, b in evs:
            a.record()
            t0 = time.perf_counter()
            fn()
            host.append(time.perf_counter() - t0)
            b.record()
        evs[-1][1].synchronize()
        times = [a.elapsed_time(b) / 1e3 for a, b in evs]
    else:
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            host.append(time.perf_counter() - t0)
        times = host
    s, p90 = _stats(times)
    return {"timer": _timer(dev), "iters": n, "s": s, "s_p90": p90, "launch_s": _stats(host)[0]}


def _prefill_steps(ctx: Ctx, backend: Any, prompt: int, before: Callable[[], None] | None) -> dict[str, Any]:
    """``TorchBackend.prefill`` one at a time (``before`` each: idle): wall per call and its breakdown."""
    n = ctx.grid.serve_prefill_iters
    walls: list[float] = []
    parts: dict[str, list[float]] = {k: [] for k in TIMING_KEYS}
    for i in range(n + 1):  # the first one is a warm-up
        if before is not None:
            before()
        t0 = time.perf_counter()
        backend.prefill(0, PREFILL_REQUEST_ID, prompt)
        wall = time.perf_counter() - t0
        if i == 0:
            continue
        walls.append(wall)
        for k, v in backend.timing().items():
            if v is not None:
                parts[k].append(v)
    s, p90 = _stats(walls)
    return {
        "timer": "perf_counter",
        "iters": n,
        "s": s,
        "s_p90": p90,
        **{k: _stats(v)[0] for k, v in parts.items()},
    }


def _spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def _serve_prefill(ctx: Ctx, st: Serve, prompt: int, keys: dict[str, Any]) -> tuple[Rows, str]:
    from jalapeno.measure.serve_model import prompt_ids

    sm, backend = _need(st)
    if prompt >= sm.max_len:
        raise Skip(f"prompt {prompt} >= slot length {sm.max_len}")
    dev, idle = ctx.device, ctx.grid.serve_idle_s
    ids = prompt_ids(PREFILL_REQUEST_ID, prompt, sm.m.cfg.vocab_size).to(dev)
    backend.prefill(0, PREFILL_REQUEST_ID, prompt)
    ops = count_ops(lambda: sm.prefill_logits(0, ids))
    sync(dev)
    row = _row_maker(PREFILL_KEYS, {**keys, "aten_ops": ops}, dev)
    rows = [
        row("sweep", lambda: {"idle_s": 0.0, **_prefill_pipelined(ctx, sm, ids)}),
        row("sync_each", lambda: {"idle_s": 0.0, **_prefill_steps(ctx, backend, prompt, None)}),
        row(
            "after_sleep",
            lambda: {"idle_s": idle, **_prefill_steps(ctx, backend, prompt, lambda: time.sleep(idle))},
        ),
        row(
            "after_spin",
            lambda: {"idle_s": idle, **_prefill_steps(ctx, backend, prompt, lambda: _spin(idle))},
        ),
    ]
    by = {r["mode"]: r for r in rows}

    def part(mode: str) -> str:
        r = by[mode]
        if r.get("error") or r["s"] is None:
            return f"{mode} error"
        return (
            f"{mode} {fmt_s(r['s'])} (launch {fmt_s(r['launch_s'])})"
            if r["launch_s"] is not None
            else f"{mode} {fmt_s(r['s'])}"
        )

    return rows, ", ".join(part(mo) for mo in PREFILL_MODES) + f"; {ops} aten ops"


# ---- the jobs ----


def serve_jobs(name: str, ctx: Ctx) -> list[Job]:
    """Build the model and the replay's slot model, run ``serve-decode`` then ``serve-prefill-host``, free."""
    cfg = model_config(name, ctx)
    st, g, alias = Serve(), ctx.grid, cfg.name
    jobs = [Job(f"load {alias} (serve engine)", None, lambda: _load_serve(ctx, cfg, st))]

    def dec(b: int, length: int) -> Job:
        keys = {"job": DECODE_JOB, "model": alias, "bucket": b, "L": length}
        return Job(
            f"{DECODE_JOB} {alias} bucket={b} L={length}",
            SECTION,
            lambda: _serve_decode(ctx, st, b, length, keys),
            error_row=keys,
        )

    def pre(p: int) -> Job:
        keys = {"job": PREFILL_JOB, "model": alias, "prompt": p}
        return Job(
            f"{PREFILL_JOB} {alias} P={p}", SECTION, lambda: _serve_prefill(ctx, st, p, keys), error_row=keys
        )

    jobs += [dec(b, length) for length in g.serve_length for b in g.serve_bucket]
    jobs += [pre(p) for p in g.serve_prompt]
    jobs.append(Job(f"free {alias} (serve engine)", None, lambda: _free_serve(ctx, st), always=True))
    return jobs
