"""``jalapeno measure serve``: replay a slice of a request trace through the ``prefill_first`` engine.

Steps: resolve the model (a tiny copy with ``quick``), load and slice the trace (arrivals re-based to 0),
cap prompts and outputs, build the random-weight model, size the slotted KV cache from the slice and the
free memory, warm up (prefill and one eager decode), start the replay clock, run the engine under the
wall budget, and write the JSON record (atomically; also every ~10 s during the run, clock paused).
"""

from __future__ import annotations

import datetime
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from jalapeno.errors import JalapenoError
from jalapeno.measure.device import Nvml, device_info, free_bytes, pick_device, require_torch
from jalapeno.measure.runner import _clean
from jalapeno.measure.serve_engine import (
    CONTEXT_BUCKET,
    HOST_TIMING_KEYS,
    Engine,
    EngineConfig,
    batch_buckets,
)
from jalapeno.measure.shapes import check_supported, resolve, tiny
from jalapeno.workload import load_trace, slice_trace
from jalapeno.workload.request import Request

DEFAULT_MODEL = "llama-3.1-8b"
DEFAULT_TRACE = "azure-code"
# Azure code 2023, [265, 325) s: 228 requests over ~48 s of arrivals, bursts of up to 16 in one second,
# ~0.5 M prompt tokens (~13 s of Llama-3.1-8B prefill on an H200), ~6.3 k output tokens after capping.
DEFAULT_START_S = 265.0
DEFAULT_DURATION_S = 60.0
KV_FRACTION = 0.6  # the KV cache may take this share of the free memory after the weights
QUICK_MAX_PROMPT, QUICK_MAX_OUTPUT, QUICK_MAX_DURATION_S = 128, 16, 5.0


@dataclass(frozen=True)
class ServeArgs:
    out: Path
    model: str = DEFAULT_MODEL
    trace: str = DEFAULT_TRACE
    start_s: float = DEFAULT_START_S
    duration_s: float = DEFAULT_DURATION_S
    budget_s: float | None = None
    device: str = "cuda"
    quick: bool = False
    max_num_seqs: int = 64
    max_prompt: int = 8192
    max_output: int = 256
    cuda_graph: bool = True
    decode_attention: str = "padded"  # "padded": unmasked flash over the padded length; "masked": exact

    def checked(self) -> ServeArgs:
        if self.decode_attention not in ("padded", "masked"):
            raise JalapenoError(
                f"must be 'padded' or 'masked', got {self.decode_attention!r}", field="--decode-attention"
            )
        for name in ("max_num_seqs", "max_prompt", "max_output"):
            if getattr(self, name) < 1:
                raise JalapenoError(
                    f"must be >= 1, got {getattr(self, name)}", field="--" + name.replace("_", "-")
                )
        if not (math.isfinite(self.duration_s) and self.duration_s > 0):
            raise JalapenoError(f"must be > 0, got {self.duration_s:g}", field="--duration-s")
        if self.budget_s is not None and not self.budget_s >= 0:
            raise JalapenoError(f"must be >= 0, got {self.budget_s:g}", field="--budget-s")
        if not self.quick:
            return self
        return replace(
            self,
            max_prompt=min(self.max_prompt, QUICK_MAX_PROMPT),
            max_output=min(self.max_output, QUICK_MAX_OUTPUT),
            duration_s=min(self.duration_s, QUICK_MAX_DURATION_S),
        )


# ---- the slice and the cache size (no torch) ----


def cap_requests(requests: tuple[Request, ...], max_prompt: int, max_output: int) -> list[Request]:
    """Prompts capped at ``max_prompt`` and outputs at ``max_output`` tokens (each at least 1)."""
    return [
        replace(
            r,
            prompt_tokens=min(max(r.prompt_tokens, 1), max_prompt),
            output_tokens=min(max(r.output_tokens, 1), max_output),
        )
        for r in requests
    ]


def max_len_for(requests: list[Request]) -> int:
    """Positions per slot: the longest capped prompt + the longest capped output + 256, rounded up to 256."""
    need = max(r.prompt_tokens for r in requests) + max(r.output_tokens for r in requests) + CONTEXT_BUCKET
    return -(-need // CONTEXT_BUCKET) * CONTEXT_BUCKET


def fit_slots(
    requested: int, max_len: int, kv_bytes_per_token: int, free: int | None
) -> tuple[int, str | None]:
    """Slots whose KV fits in ``KV_FRACTION`` of ``free`` bytes: ``requested``, else the largest standard
    batch bucket that fits (with the reason). ``free=None`` (a CPU) is not checked."""
    per_slot = max_len * kv_bytes_per_token
    if free is None or requested * per_slot <= KV_FRACTION * free:
        return requested, None
    fits = [b for b in batch_buckets(requested) if b * per_slot <= KV_FRACTION * free]
    if not fits:
        raise JalapenoError(
            f"one slot of {max_len} positions needs {per_slot / 1e9:.1f} GB of KV, more than "
            f"{KV_FRACTION:.0%} of the free {free / 1e9:.1f} GB; lower --max-prompt",
            field="--max-prompt",
        )
    why = (
        f"{requested} slots x {max_len} positions x {kv_bytes_per_token} B = "
        f"{requested * per_slot / 1e9:.1f} GB"
        f" > {KV_FRACTION:.0%} of free {free / 1e9:.1f} GB; reduced to {fits[-1]}"
    )
    return fits[-1], why


# ---- the record ----


def write_json(out: Path, data: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(_clean(data), indent=1) + "\n")
    os.replace(tmp, out)


def engine_fields(e: Engine, traced: dict[int, Request], graphs: Any) -> dict[str, Any]:
    rows = []
    for s in e.seqs:
        t = traced[s.req.request_id]
        rows.append(
            {**s.row(), "prompt_tokens_trace": t.prompt_tokens, "output_tokens_trace": t.output_tokens}
        )
    graph_steps = sum(1 for r in e.steps if r.get("graph"))
    return {
        "requests": rows,
        "steps": e.steps,
        "capture_s": graphs.capture_s,
        "graphs": len(graphs.graphs),
        "graph_steps": graph_steps,
        "cuda_graph_fallback": graphs.fallback,
        "replay_s": e.clock.now(),
        "budget_hit_s": e.budget_hit_s,
        "incomplete": e.incomplete(),
    }


def summary(data: dict[str, Any]) -> str:
    reqs = [r for r in data["requests"] if r["finish_s"] is not None]
    ttft = np.array([r["ttft_s"] for r in reqs]) if reqs else np.zeros(1)
    tpot = np.array([r["tpot_s"] for r in reqs if r["tpot_s"] is not None] or [0.0])
    kinds = [s["kind"] for s in data["steps"]]
    return (
        f"{len(reqs)}/{len(data['requests'])} finished, TTFT p50 {np.median(ttft) * 1e3:.1f} ms "
        f"p90 {np.percentile(ttft, 90) * 1e3:.1f} ms, TPOT p50 {np.median(tpot) * 1e3:.2f} ms; "
        f"{kinds.count('prefill')} prefills, {kinds.count('decode')} decodes "
        f"({data['graph_steps']} graphed, {data['graphs']} graphs, capture {data['capture_s']:.1f} s)"
        + "".join(_breakdown(data["steps"], k) for k in ("prefill", "decode"))
    )


def _breakdown(steps: list[dict[str, Any]], kind: str) -> str:
    """``; decode p50 us: wall W, host_prep a, launch b, accept c, sync d, device D`` from the step rows."""
    rows = [s for s in steps if s["kind"] == kind]
    if not rows:
        return ""

    def p50(key: str) -> str:
        got = [s[key] for s in rows if s.get(key) is not None]
        return f"{np.median(got) * 1e6:.0f}" if got else "-"

    wall = f"{np.median([s['end_s'] - s['start_s'] for s in rows]) * 1e6:.0f}"
    parts = ", ".join(f"{k[:-2]} {p50(k)}" for k in (*HOST_TIMING_KEYS, "device_s"))
    return f"; {kind} p50 us: wall {wall}, {parts}"


# ---- the run ----


def _model(args: ServeArgs, dev: Any) -> Any:
    from jalapeno.measure.torch_model import TorchDecoder

    cfg = resolve(args.model)
    check_supported(cfg)
    return TorchDecoder(tiny(cfg) if args.quick else cfg, dev)


def _warm_up(sm: Any, backend: Any, lengths: list[int] = ()) -> float:  # type: ignore[assignment]
    """One short prefill and one eager decode (cuBLAS, SDPA and allocator first calls), plus one prefill
    of every distinct prompt length of the slice (kernel selection and SDPA plans are per shape: a real
    engine pays that once, at start-up, not in a request's latency), all before the replay clock."""
    t0 = time.perf_counter()
    for n in sorted(set(lengths)):
        backend.prefill(0, -1, n)
    backend.prefill(0, -1, min(64, sm.max_len - 1))
    sm.set_positions([64], 1)
    sm.decode_step(1, CONTEXT_BUCKET)
    backend.sync()
    return time.perf_counter() - t0


def run_serve(args: ServeArgs, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Replay and write ``args.out``; returns the record. Raises JalapenoError for bad input."""
    t0 = time.perf_counter()
    args = args.checked()
    torch = require_torch()
    dev = pick_device(args.device)
    trace = slice_trace(load_trace(args.trace), args.start_s, args.duration_s)
    if not len(trace):
        raise JalapenoError(
            f"no requests arrive in [{args.start_s:g}, {args.start_s + args.duration_s:g}) s of {args.trace}",
            field="--start-s",
        )
    requests = cap_requests(trace.requests, args.max_prompt, args.max_output)
    max_len = max_len_for(requests)
    m = _model(args, dev)
    nvml = Nvml(dev)
    kv_per_token = 2 * m.cfg.num_layers * m.cfg.num_kv_heads * m.cfg.head_dim * m.dtype.itemsize
    free = free_bytes(dev)
    slots, note = fit_slots(args.max_num_seqs, max_len, kv_per_token, free)
    with torch.inference_mode():
        return _replay(
            args, t0, torch, dev, nvml, trace, requests, m, max_len, slots, note, kv_per_token, free, echo
        )


def _replay(
    args: ServeArgs,
    t0: float,
    torch: Any,
    dev: Any,
    nvml: Any,
    trace: Any,
    requests: list[Request],
    m: Any,
    max_len: int,
    slots: int,
    note: str | None,
    kv_per_token: int,
    free: int | None,
    echo: Callable[[str], None],
) -> dict[str, Any]:
    from jalapeno.measure.serve_model import SDPA_BACKENDS, DecodeGraphs, SlotModel, TorchBackend

    timing = args.decode_attention == "padded"
    sm = SlotModel(m, slots, max_len, masked=not timing, prefill_any_sdpa=timing)
    budget = args.budget_s
    graphs = DecodeGraphs(
        sm,
        enabled=args.cuda_graph and dev.type == "cuda",
        max_capture_s=None if budget is None else 0.25 * budget,
    )
    backend = TorchBackend(sm, graphs)
    warm_s = _warm_up(sm, backend, [r.prompt_tokens for r in requests] if timing else [])
    cfg = EngineConfig(
        max_num_seqs=slots, max_len=max_len, drain_s=15.0 if budget is None else max(5.0, 0.1 * budget)
    )
    data: dict[str, Any] = {
        "schema": 1,
        "measured": datetime.date.today().isoformat(),
        "device": device_info(dev, nvml),
        "torch": torch.__version__,
        "model": m.cfg.name,
        "trace": args.trace,
        "slice": {"start_s": args.start_s, "duration_s": args.duration_s, "requests": len(requests)},
        "policy": {
            "name": "prefill_first",
            "decode_attention": args.decode_attention,
            "max_num_seqs": slots,
            "max_num_seqs_requested": args.max_num_seqs,
            "batch_buckets": list(cfg.buckets),
            "context_bucket": CONTEXT_BUCKET,
            "max_prompt": args.max_prompt,
            "max_output": args.max_output,
            "max_len": max_len,
            "prefills_per_step": 1,
            "cuda_graph": graphs.enabled,
            "sdpa_backends": list(SDPA_BACKENDS) if dev.type == "cuda" else None,
            "prefill_sdpa": "any (every prompt length warmed up)" if timing else "decode's",
        },
        "memory": {
            "free_bytes": free,
            "weight_bytes": m.weight_bytes(),
            "kv_bytes": sm.kv_bytes(),
            "kv_bytes_per_token": kv_per_token,
            "kv_fraction": KV_FRACTION,
            "slots_note": note,
        },
        "budget_s": budget,
        "warmup_s": warm_s,
        "complete": False,
        "error": None,
    }
    traced = {r.request_id: r for r in trace.requests}

    def snapshot(e: Engine) -> None:
        data.update(engine_fields(e, traced, graphs), wall_s=time.perf_counter() - t0)
        write_json(args.out, data)

    engine = Engine(
        backend,
        requests,
        cfg,
        budget_left=lambda: math.inf if budget is None else budget - (time.perf_counter() - t0),
        checkpoint=snapshot,
    )
    echo(
        f"measure serve {m.cfg.name} on {data['device']['name']} (torch {torch.__version__}): "
        f"{len(requests)} requests of {args.trace} [{args.start_s:g}, {args.start_s + args.duration_s:g}) s, "
        f"{slots} slots x {max_len} positions, setup {time.perf_counter() - t0:.1f} s -> {args.out}"
    )
    snapshot(engine)
    try:
        engine.run()
    except Exception as e:
        data["error"] = f"{type(e).__name__}: {(str(e).splitlines() or [''])[0]}"[:300]
    data["policy"]["cuda_graph"] = any(r.get("graph") for r in engine.steps)
    snapshot(engine)
    data["complete"] = data["error"] is None
    write_json(args.out, data)
    graphs.reset()
    if data["error"] is not None:
        raise JalapenoError(f"replay stopped: {data['error']} (partial record in {args.out})")
    echo(
        f"done in {data['wall_s']:.1f} s (replay {data['replay_s']:.1f} s): {summary(data)}"
        + (f"; graphs off: {graphs.fallback}" if graphs.fallback else "")
        + f" -> {args.out}"
    )
    return data
