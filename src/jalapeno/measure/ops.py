"""Operator sweeps: device copy bandwidth, GEMMs (bf16, fp8), attention alone, small elementwise kernels.

Inputs are random and, on a GPU, rotated over enough copies to exceed twice the L2 cache, so each call
reads from HBM as a layer of a real model does (a weight is never L2-resident across decode steps).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

from jalapeno.measure.device import free_bytes, release, time_calls
from jalapeno.measure.jobs import Ctx, Job, Rows, Skip, fmt_s, skip_job
from jalapeno.measure.shapes import GEMM_MODELS, projections, resolve, tiny
from jalapeno.measure.torch_model import attention, gqa_mode

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # reported by jalapeno.measure.device.require_torch()
    torch = None  # type: ignore[assignment]  # torch installed: a Module name (see pyproject [tool.mypy])
    F = None  # type: ignore[assignment]


def _dtype(ctx: Ctx) -> Any:
    return torch.bfloat16 if ctx.device.type == "cuda" else torch.float32


def _copies(ctx: Ctx, bytes_each: int) -> int:
    if ctx.device.type != "cuda":
        return 1
    return min(64, max(1, math.ceil(2 * ctx.l2_bytes / max(bytes_each, 1))))


def _rotating(
    ctx: Ctx, bytes_each: int, make: Callable[[], tuple[Any, ...]], call: Callable[..., Any]
) -> Callable[[], Any]:
    bufs = [make() for _ in range(_copies(ctx, bytes_each))]
    i = [0]

    def fn() -> Any:
        i[0] += 1
        return call(*bufs[i[0] % len(bufs)])

    return fn


def _time(ctx: Ctx, fn: Callable[[], Any]) -> Any:
    g = ctx.grid
    return time_calls(fn, ctx.device, warmup=g.warmup, iters=g.iters, target_s=g.target_s)


# ---- copy ----


def copy_job(ctx: Ctx) -> Job:
    n = ctx.grid.copy_bytes

    def run() -> tuple[Rows, str]:
        src = torch.empty(n, dtype=torch.uint8, device=ctx.device).random_(0, 255)
        dst = torch.empty_like(src)
        t = _time(ctx, lambda: dst.copy_(src))
        bw = 2 * n / t.s / 1e9
        return [{"bytes": n, "s": t.s, "GBps_read_plus_write": bw}], f"{fmt_s(t.s)}, {bw:.0f} GB/s (r+w)"

    return Job(f"copy {n >> 20} MiB", "copy", run)


# ---- GEMM ----


def gemm_shapes(ctx: Ctx) -> list[tuple[int, int]]:
    """Distinct (N, K) of the projection matmuls of ``GEMM_MODELS``, in model order."""
    seen: dict[tuple[int, int], None] = {}
    for name in GEMM_MODELS:
        cfg = resolve(name)
        cfg = tiny(cfg) if ctx.grid.tiny_models else cfg
        for nk in projections(cfg).values():
            seen[nk] = None
    return list(seen)


def _gemm_bf16(ctx: Ctx, m: int, n: int, k: int) -> tuple[Rows, str]:
    dt = _dtype(ctx)

    def make() -> tuple[Any, Any]:
        return (
            torch.randn(m, k, dtype=dt, device=ctx.device),
            torch.randn(k, n, dtype=dt, device=ctx.device),
        )

    t = _time(ctx, _rotating(ctx, 2 * (m * k + k * n), make, torch.matmul))
    name = "bf16" if dt == torch.bfloat16 else "fp32"  # fp32 only on a CPU dry run
    return [{"M": m, "N": n, "K": k, "dtype": name, "s": t.s, "s_p90": t.s_p90}], _gemm_line(t, m, n, k)


def _gemm_fp8(ctx: Ctx, m: int, n: int, k: int, broken: dict[str, str]) -> tuple[Rows, str]:
    if "why" in broken:
        raise Skip(f"fp8 unavailable: {broken['why']}")
    dev, f8 = ctx.device, torch.float8_e4m3fn
    one = torch.ones((), dtype=torch.float32, device=dev)

    def make() -> tuple[Any, Any]:
        x = torch.randn(m, k, device=dev).to(f8)
        w = torch.randn(n, k, device=dev).to(f8).t()  # (K, N) column-major, as _scaled_mm wants
        return x, w

    def call(x: Any, w: Any) -> Any:
        return torch._scaled_mm(x, w, scale_a=one, scale_b=one, out_dtype=torch.bfloat16)

    try:
        fn = _rotating(ctx, m * k + k * n, make, call)
        fn()
    except Exception as e:
        why = f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:200]}"
        if "ok" not in broken:
            broken["why"] = why
        raise Skip(f"fp8 failed: {why}") from None
    broken["ok"] = "yes"
    t = _time(ctx, fn)
    return [{"M": m, "N": n, "K": k, "dtype": "fp8", "s": t.s, "s_p90": t.s_p90}], _gemm_line(t, m, n, k)


def _gemm_line(t: Any, m: int, n: int, k: int) -> str:
    return f"{fmt_s(t.s)}, {2 * m * n * k / t.s / 1e12:.1f} TFLOP/s"


def gemm_jobs(ctx: Ctx) -> list[Job]:
    jobs: list[Job] = []
    broken: dict[str, str] = {}
    odd: list[int] = []
    dt = "bf16" if ctx.device.type == "cuda" else "fp32"
    for n, k in gemm_shapes(ctx):
        for m in ctx.grid.gemm_m:
            jobs.append(Job(f"gemm {dt} M={m} N={n} K={k}", "gemm", partial(_gemm_bf16, ctx, m, n, k)))
            if m % 16:
                odd.append(m)
                continue
            jobs.append(Job(f"gemm fp8 M={m} N={n} K={k}", "gemm", partial(_gemm_fp8, ctx, m, n, k, broken)))
    jobs.extend(
        skip_job(f"gemm fp8 M={m} (all shapes)", "torch._scaled_mm needs M a multiple of 16")
        for m in sorted(set(odd))
    )
    return jobs


# ---- attention ----


def _attn_cap(ctx: Ctx, need: int) -> None:
    release(ctx.device)  # cached blocks of the previous point would otherwise look used
    free = free_bytes(ctx.device)
    if free is not None and need > 0.5 * free:
        raise Skip(f"needs {need / 1e9:.1f} GB > 50% of free {free / 1e9:.1f} GB")


def _attn_decode(ctx: Ctx, b: int, c: int) -> tuple[Rows, str]:
    nh, nkv, hd = ctx.grid.attn_heads
    dt, dev = _dtype(ctx), ctx.device
    kv = 2 * b * nkv * c * hd * dt.itemsize
    _attn_cap(ctx, kv)
    mode = gqa_mode(nh, nkv, hd, dt, dev)

    def make() -> tuple[Any, Any, Any]:
        return (
            torch.randn(b, nh, 1, hd, dtype=dt, device=dev),
            torch.randn(b, nkv, c, hd, dtype=dt, device=dev),
            torch.randn(b, nkv, c, hd, dtype=dt, device=dev),
        )

    t = _time(ctx, _rotating(ctx, kv, make, lambda q, k, v: attention(q, k, v, causal=False, mode=mode)))
    row = {
        "phase": "decode",
        "batch": b,
        "heads": nh,
        "kv_heads": nkv,
        "head_dim": hd,
        "context": c,
        "s": t.s,
        "s_p90": t.s_p90,
    }
    return [row], f"{fmt_s(t.s)}, {kv / t.s / 1e9:.0f} GB/s of KV ({mode} GQA)"


def _attn_prefill(ctx: Ctx, s: int) -> tuple[Rows, str]:
    nh, nkv, hd = ctx.grid.attn_heads
    dt, dev = _dtype(ctx), ctx.device
    _attn_cap(ctx, (nh + 2 * nkv) * s * hd * dt.itemsize)
    mode = gqa_mode(nh, nkv, hd, dt, dev)
    q = torch.randn(1, nh, s, hd, dtype=dt, device=dev)
    k, v = (torch.randn(1, nkv, s, hd, dtype=dt, device=dev) for _ in range(2))
    t = _time(ctx, lambda: attention(q, k, v, causal=True, mode=mode))
    flops = 2 * 2 * nh * s * s * hd / 2  # QK^T and PV, causal half
    row = {
        "phase": "prefill",
        "batch": 1,
        "heads": nh,
        "kv_heads": nkv,
        "head_dim": hd,
        "seq": s,
        "s": t.s,
        "s_p90": t.s_p90,
    }
    return [row], f"{fmt_s(t.s)}, {flops / t.s / 1e12:.1f} TFLOP/s ({mode} GQA)"


def attention_jobs(ctx: Ctx) -> list[Job]:
    g = ctx.grid
    jobs = [
        Job(f"attention decode B={b} ctx={c}", "attention", partial(_attn_decode, ctx, b, c))
        for b in g.attn_batch
        for c in g.attn_context
    ]
    jobs += [Job(f"attention prefill S={s}", "attention", partial(_attn_prefill, ctx, s)) for s in g.attn_seq]
    return jobs


# ---- elementwise ----


def _elementwise(ctx: Ctx, op: str, t_rows: int, hidden: int) -> tuple[Rows, str]:
    dt, dev = _dtype(ctx), ctx.device
    if op == "rms_norm":
        w = torch.ones(hidden, dtype=dt, device=dev)

        def make() -> tuple[Any]:
            return (torch.randn(t_rows, hidden, dtype=dt, device=dev),)

        def call(x: Any) -> Any:
            return F.rms_norm(x, (hidden,), w, 1e-6)

        nbytes = 2 * t_rows * hidden * dt.itemsize
    else:  # silu_mul: (T, 2*hidden) -> (T, hidden)

        def make() -> tuple[Any]:
            return (torch.randn(t_rows, 2 * hidden, dtype=dt, device=dev),)

        def call(x: Any) -> Any:
            g, u = x.chunk(2, dim=-1)
            return F.silu(g) * u

        nbytes = 3 * t_rows * hidden * dt.itemsize
    t = _time(ctx, _rotating(ctx, nbytes, make, call))
    return [
        {"op": op, "T": t_rows, "hidden": hidden, "s": t.s}
    ], f"{fmt_s(t.s)}, {nbytes / t.s / 1e9:.0f} GB/s"


def elementwise_jobs(ctx: Ctx) -> list[Job]:
    return [
        Job(f"{op} T={t} hidden={h}", "elementwise", partial(_elementwise, ctx, op, t, h))
        for op, h in ctx.grid.elem_hidden
        for t in ctx.grid.elem_t
    ]


def ops_jobs(ctx: Ctx) -> list[Job]:
    return [copy_job(ctx), *gemm_jobs(ctx), *attention_jobs(ctx), *elementwise_jobs(ctx)]
