"""Whole-model steps: decode (CUDA graph on a GPU) and prefill (eager), with timing and sustained energy.

Decode: ``B`` sequences, each with ``context`` cached tokens, generate one token (write K/V at position
``context``, attend over ``context + 1``). Prefill: one ``prompt``-token sequence, nothing cached, causal.
One model is built per model (random weights), its points run, then it is freed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jalapeno.measure.device import capture_graph, free_bytes, release, sustained_energy, time_calls
from jalapeno.measure.jobs import Ctx, Job, Rows, Skip, fmt_s
from jalapeno.measure.shapes import (
    activation_bytes,
    check_supported,
    kv_bytes,
    resolve,
    tiny,
    weight_elements,
)
from jalapeno.measure.torch_model import TorchDecoder
from jalapeno.models.config import ModelConfig

try:
    import torch
except ImportError:  # reported by jalapeno.measure.device.require_torch()
    torch = None

MEM_FRACTION = 0.85  # weights + KV + activations must fit in this share of the free memory


def model_config(name: str, ctx: Ctx) -> ModelConfig:
    cfg = resolve(name)
    check_supported(cfg)
    return tiny(cfg) if ctx.grid.tiny_models else cfg


@dataclass
class Loaded:
    """The model of the current sweep, once built; ``why`` says why it is not."""

    model: TorchDecoder | None = None
    weights: int = 0  # bytes allocated by the weights
    cap: float | None = None  # bytes the model, cache and activations may use (None: unchecked, CPU)
    free0: int | None = None
    why: str = "model not loaded"


def _load(ctx: Ctx, cfg: ModelConfig, st: Loaded) -> tuple[Rows, str]:
    release(ctx.device)
    st.free0 = free_bytes(ctx.device)
    st.cap = None if st.free0 is None else MEM_FRACTION * st.free0
    need = 2 * weight_elements(cfg)
    if st.cap is not None and need > st.cap:
        st.why = (
            f"weights {need / 1e9:.1f} GB > {MEM_FRACTION:.0%} of free {st.cap / MEM_FRACTION / 1e9:.1f} GB"
        )
        raise Skip(st.why)
    try:
        st.model = TorchDecoder(cfg, ctx.device)
    except Exception as e:
        st.why = f"model build failed: {type(e).__name__}: {e}"
        raise
    st.weights = st.model.weight_bytes()
    return [], f"{st.weights / 1e9:.2f} GB of weights, GQA via SDPA {st.model.mode}"


def _unload(ctx: Ctx, st: Loaded) -> tuple[Rows, str]:
    had = st.model is not None
    st.model, st.why = None, "model freed"
    release(ctx.device)
    return [], "freed" if had else "nothing loaded"


def _fit(st: Loaded, kv: int, act: int) -> None:
    if st.cap is None:
        return
    need = st.weights + kv + act
    if need > st.cap:
        free = (st.free0 or 0) / 1e9
        raise Skip(f"weights+KV+act {need / 1e9:.1f} GB > {MEM_FRACTION:.0%} of free {free:.1f} GB")


def _decode_step(m: TorchDecoder, tokens: Any, pos: int, warmup: int) -> tuple[Callable[[], Any], Any]:
    """A callable that runs one decode step: a CUDA graph replay on a GPU (None graph: eager)."""
    if m.device.type != "cuda":
        return (lambda: m.decode(tokens, pos)), None
    g = capture_graph(lambda: m.decode(tokens, pos), m.device, warmups=max(warmup, 2))
    return g.replay, g


def _step_row(
    ctx: Ctx, fn: Callable[[], Any], tokens_per_call: int, keys: dict[str, Any], graphed: bool
) -> tuple[Rows, str]:
    g = ctx.grid
    t = time_calls(fn, ctx.device, warmup=g.warmup, iters=g.iters, target_s=g.target_s)
    e = sustained_energy(fn, ctx.device, ctx.nvml, t.s, ctx.energy_s, tokens_per_call)
    row = {
        **keys,
        "cuda_graph": graphed,
        "s": t.s,
        "s_p90": t.s_p90,
        "tokens_per_s": tokens_per_call / t.s,
        **e,
    }
    line = f"{fmt_s(t.s)} (p90 {fmt_s(t.s_p90)}), {row['tokens_per_s']:.0f} tok/s"
    if e["J_per_token"] is not None:
        line += f", {e['J_per_token']:.4g} J/tok at {e['avg_W']:.0f} W"
    return [row], line + (", graph" if graphed else ", eager")


def _decode(ctx: Ctx, st: Loaded, b: int, c: int, keys: dict[str, Any]) -> tuple[Rows, str]:
    m = _need(st)
    cfg = m.cfg
    _fit(st, kv_bytes(cfg, b, c + 1, m.dtype.itemsize), activation_bytes(cfg, b, b, m.dtype.itemsize))
    graph = None
    try:
        m.alloc_cache(b, c + 1)
        tokens = torch.randint(0, cfg.vocab_size, (b,), device=ctx.device)
        try:
            fn, graph = _decode_step(m, tokens, c, ctx.grid.warmup)
        except Exception as e:
            ctx.notes.append(
                (f"cuda graph {keys['model']} B={b} ctx={c}", f"capture failed, eager: {e}"[:300])
            )
            torch.cuda.synchronize(ctx.device)
            fn, graph = (lambda: m.decode(tokens, c)), None
        return _step_row(ctx, fn, b, keys, graph is not None)
    finally:
        if graph is not None:
            graph.reset()
        del graph
        m.free_cache()
        release(ctx.device)


def _prefill(ctx: Ctx, st: Loaded, s: int, keys: dict[str, Any]) -> tuple[Rows, str]:
    m = _need(st)
    cfg = m.cfg
    _fit(st, kv_bytes(cfg, 1, s, m.dtype.itemsize), activation_bytes(cfg, s, 1, m.dtype.itemsize))
    try:
        m.alloc_cache(1, s, fill=False)
        tokens = torch.randint(0, cfg.vocab_size, (1, s), device=ctx.device)
        return _step_row(ctx, lambda: m.prefill(tokens), s, keys, False)
    finally:
        m.free_cache()
        release(ctx.device)


def _need(st: Loaded) -> TorchDecoder:
    if st.model is None:
        raise Skip(st.why)
    return st.model


def model_jobs(name: str, ctx: Ctx) -> list[Job]:
    """Build, measure (decode at the first context, prefill, decode at longer contexts), free."""
    cfg = model_config(name, ctx)
    st, g, alias = Loaded(), ctx.grid, cfg.name
    jobs = [Job(f"load {alias}", None, lambda: _load(ctx, cfg, st))]

    def dec(b: int, c: int) -> Job:
        keys = {"model": alias, "phase": "decode", "batch": b, "context": c}
        return Job(f"decode {alias} B={b} ctx={c}", "steps", lambda: _decode(ctx, st, b, c, keys), keys)

    def pre(s: int) -> Job:
        keys = {"model": alias, "phase": "prefill", "batch": 1, "prompt": s}
        return Job(f"prefill {alias} S={s}", "steps", lambda: _prefill(ctx, st, s, keys), keys)

    first, *rest = g.decode_context
    jobs += [dec(b, first) for b in g.decode_batch]
    jobs += [pre(s) for s in g.prefill_prompt]
    jobs += [dec(b, c) for c in rest for b in g.decode_batch]
    jobs.append(Job(f"free {alias}", None, lambda: _unload(ctx, st), always=True))
    return jobs
