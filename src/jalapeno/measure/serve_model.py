"""The serving replay's model side: a ``TorchDecoder`` over a slotted KV cache, with CUDA-graph decode.

Cache: per layer ``(slots, kv_heads, max_len, head_dim)``; slot ``i`` holds one running sequence. The
engine keeps its running sequences compacted in slots ``[0, B)``.

- ``prefill(slot, ids)``: one prompt, batch 1, eager, causal SDPA over the prompt; K/V go to
  ``[0, P)`` of ``slot``; the greedy next token goes to ``tok[slot]``. (``TorchDecoder.prefill`` itself
  runs, on a one-slot view of the cache.)
- ``decode(ctx, bucket, L)``: one token for each of the ``B = len(ctx)`` sequences in slots ``[0, B)``,
  run for ``bucket >= B`` rows. Row ``i`` writes K/V at position ``ctx[i]`` of slot ``i`` and attends over
  positions ``[0, L)`` under a boolean mask ``j <= ctx[i]``; padding rows ``[B, bucket)`` use position 0
  of free slots and their outputs are ignored. GQA folds the query heads of one K/V head into the query
  length, so K/V are never copied. Inputs live in static buffers (``tok``, ``pos``), so one CUDA graph per
  ``(bucket, L)`` replays the whole step.
- ``move(src, dst, length)``: copy one slot's K/V and next token into another (compaction).

``TorchBackend`` times each prefill and decode with ``time.perf_counter`` (and, on CUDA, two reused CUDA
events around the graph/forward) and reports the breakdown through ``timing()``; the keys are documented in
``serve_engine``. It adds no synchronization: the one ``synchronize`` per step was already there.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from jalapeno.measure.device import capture_graph
from jalapeno.measure.torch_model import EPS, TorchDecoder, rope

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # jalapeno.measure.device.require_torch() reports it
    torch = None  # type: ignore[assignment]  # torch installed: a Module name (see pyproject [tool.mypy])
    F = None  # type: ignore[assignment]


SDPA_BACKENDS = ("flash", "efficient", "math")  # no cuDNN: it builds a plan per new shape (~45 ms on an H200)


def sdpa_backends(device: Any) -> Any:
    """On CUDA, let SDPA pick among ``SDPA_BACKENDS`` only: every prompt length is a new shape."""
    if device.type != "cuda":
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH])


def prompt_ids(request_id: int, tokens: int, vocab: int) -> Any:
    """Deterministic random prompt ``(1, tokens)`` of a request (CPU, int64): reproducible in tests."""
    g = torch.Generator().manual_seed((1_000_003 * request_id + 17) % 2**62)
    return torch.randint(0, vocab, (1, tokens), generator=g)


class SlotModel:
    """``TorchDecoder`` ``m`` with a cache of ``slots`` sequences of up to ``max_len`` positions."""

    def __init__(
        self, m: TorchDecoder, slots: int, max_len: int, masked: bool = True, prefill_any_sdpa: bool = False
    ) -> None:
        c, dev = m.cfg, m.device
        # masked: exact attention (boolean mask, runs on the memory-efficient SDPA kernel). Unmasked
        # ("padded"): every row attends all L positions on the flash kernel, the time a varlen
        # flash-decoding kernel takes over the padded length; padded positions hold stale K/V, which
        # changes the (random-weight) tokens but not the work. Timing runs use padded.
        self.masked = masked
        # prefill_any_sdpa: let SDPA pick any backend for prefills (cuDNN included), as the step sweep
        # does; only sensible when every prompt length is warmed up before the clock starts
        self.prefill_any_sdpa = prefill_any_sdpa
        m.alloc_cache(slots, max_len, fill=False)
        self.m, self.slots, self.max_len = m, slots, max_len
        self.k, self.v = m.cache_k, m.cache_v  # per layer (slots, kv_heads, max_len, hd)
        self.tok = torch.zeros(slots, dtype=torch.long, device=dev)  # next input token of each slot
        self.pos = torch.zeros(slots, dtype=torch.long, device=dev)  # its position (= tokens cached)
        self.out = torch.zeros(slots, dtype=torch.long, device=dev)  # greedy tokens of the last decode
        self.rows = torch.arange(slots, device=dev)
        self.cols = torch.arange(max_len, device=dev)
        self.rep = c.num_heads // c.num_kv_heads
        self.sliding = any(m._sliding(li) for li in range(c.num_layers))

    def kv_bytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (*self.k, *self.v))

    # ---- prefill ----

    def prefill(self, slot: int, ids: Any) -> Any:
        """``ids (1, P)``; fills ``[0, P)`` of ``slot``, sets ``tok[slot]``; logits ``(1, vocab)``."""
        logits = self.prefill_logits(slot, ids)
        self.first_token(slot, logits)
        return logits

    def prefill_logits(self, slot: int, ids: Any) -> Any:
        """The eager forward of ``prefill``: fills ``[0, P)`` of ``slot``; logits ``(1, vocab)``."""
        m = self.m
        m.cache_k = [k[slot : slot + 1] for k in self.k]  # (1, kv_heads, max_len, hd) views
        m.cache_v = [v[slot : slot + 1] for v in self.v]
        try:
            with contextlib.nullcontext() if self.prefill_any_sdpa else sdpa_backends(m.device):
                logits = m.prefill(ids.to(m.device))
        finally:
            m.cache_k, m.cache_v = self.k, self.v
        return logits

    def first_token(self, slot: int, logits: Any) -> None:
        """The greedy token of a prefill's ``logits`` becomes the next input of ``slot``."""
        self.tok[slot] = logits[0].argmax()

    # ---- decode ----

    def set_positions(self, ctx: list[int], bucket: int) -> None:
        """Positions of rows ``[0, bucket)``: ``ctx`` for the real rows, 0 for padding."""
        p = torch.tensor(ctx + [0] * (bucket - len(ctx)), dtype=torch.long)
        self.pos[:bucket].copy_(p, non_blocking=False)

    def decode_step(self, bucket: int, length: int) -> Any:
        """The graphable step over the static buffers: logits ``(bucket, vocab)``, greedy tokens to
        ``out``."""
        with sdpa_backends(self.m.device):
            return self._decode_step(bucket, length)

    def _decode_step(self, bucket: int, length: int) -> Any:
        m, c = self.m, self.m.cfg
        tok, pos = self.tok[:bucket], self.pos[:bucket]  # (Bp,)
        cos = m.cos[pos].unsqueeze(1)  # (Bp, 1, hd)
        sin = m.sin[pos].unsqueeze(1)
        masks = self._masks(pos, length) if self.masked else (None, None)
        x = F.embedding(tok, m.embed).unsqueeze(1)  # (Bp, 1, H)
        for li, layer in enumerate(m.layers):
            mask = masks[1] if m._sliding(li) else masks[0]
            h = F.rms_norm(x, (c.hidden_size,), layer.ln1, EPS)
            x = x + self._attn(li, layer, h, cos, sin, pos, length, mask)
            h = F.rms_norm(x, (c.hidden_size,), layer.ln2, EPS)
            gate, up = F.linear(h, layer.w_gate_up, layer.b_gate_up).chunk(2, dim=-1)  # (Bp, 1, I)
            x = x + F.linear(F.silu(gate) * up, layer.w_down, layer.b_down)
        logits = m._logits(x)  # (Bp, vocab)
        self.out[:bucket].copy_(logits.argmax(-1))
        return logits

    def _masks(self, pos: Any, length: int) -> tuple[Any, Any]:
        """Boolean ``(Bp, 1, 1, L)`` masks, True = attend: full, and sliding (None without such layers)."""
        j = self.cols[:length].unsqueeze(0)  # (1, L)
        p = pos.unsqueeze(1)  # (Bp, 1)
        full = j <= p  # (Bp, L)
        sliding = None
        if self.sliding:
            sliding = (full & (j > p - self.m.cfg.sliding_window)).unsqueeze(1).unsqueeze(1)
        return full.unsqueeze(1).unsqueeze(1), sliding

    def _attn(self, li: int, layer: Any, h: Any, cos: Any, sin: Any, pos: Any, length: int, mask: Any) -> Any:
        c = self.m.cfg
        bp = h.shape[0]
        nh, nkv, hd = c.num_heads, c.num_kv_heads, c.head_dim
        q, k, v = F.linear(h[:, 0], layer.w_qkv, layer.b_qkv).split([nh * hd, nkv * hd, nkv * hd], dim=-1)
        q, k, v = q.view(bp, nh, hd), k.view(bp, nkv, hd), v.view(bp, nkv, hd)
        if c.qk_norm:
            q = F.rms_norm(q, (hd,), layer.q_norm, EPS)
            k = F.rms_norm(k, (hd,), layer.k_norm, EPS)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        rows = self.rows[:bp]
        self.k[li][rows, :, pos] = k  # row i writes slot i at position pos[i]
        self.v[li][rows, :, pos] = v
        qg = q.view(bp, nkv, self.rep, hd)  # the query heads of one K/V head as its query length
        out = F.scaled_dot_product_attention(
            qg,
            self.k[li][:bp, :, :length],
            self.v[li][:bp, :, :length],
            attn_mask=mask if self.masked else None,
        )  # (Bp, nkv, rep, hd)
        return F.linear(out.reshape(bp, 1, nh * hd), layer.w_o, layer.b_o)

    def accept(self, batch: int) -> None:
        """The greedy tokens of the last decode become the next inputs of rows ``[0, batch)``."""
        self.tok[:batch].copy_(self.out[:batch])

    # ---- compaction ----

    def move(self, src: int, dst: int, length: int) -> None:
        for k, v in zip(self.k, self.v, strict=True):
            k[dst, :, :length].copy_(k[src, :, :length])
            v[dst, :, :length].copy_(v[src, :, :length])
        self.tok[dst] = self.tok[src]


class DecodeGraphs:
    """One CUDA graph per ``(bucket, L)``, captured on first use and sharing one memory pool.

    Capture runs the step twice (warm-up) on the current ``tok``/``pos``: set them to the next step's
    inputs first, so the warm-up writes exactly the K/V that step writes.

    ``enabled=False`` (a CPU) runs every step eagerly. A failed capture, or ``max_capture_s`` of capture
    spent, turns capture off for the rest of the run; the reason is kept in ``fallback`` and the steps
    that follow run eagerly (each step row records ``graph``).
    """

    def __init__(self, sm: SlotModel, enabled: bool, max_capture_s: float | None = None) -> None:
        self.sm, self.enabled, self.max_capture_s = sm, enabled, max_capture_s
        self.graphs: dict[tuple[int, int], Any] = {}
        self.capture_s = 0.0
        self.fallback: str | None = None
        self.pool: Any = None

    def ensure(self, bucket: int, length: int) -> bool:
        """Capture the graph for this shape if needed and allowed; True when a graph will run."""
        key = (bucket, length)
        if key in self.graphs:
            return True
        if not self.enabled:
            return False
        if self.max_capture_s is not None and self.capture_s >= self.max_capture_s:
            self._off(f"capture time cap of {self.max_capture_s:g} s reached after {len(self.graphs)} graphs")
            return False
        t0 = time.perf_counter()
        try:
            self.graphs[key] = self._capture(bucket, length)
        except Exception as e:
            self._off(f"capture failed at bucket={bucket} L={length}: {type(e).__name__}: {e}"[:300])
            _sync_quietly(self.sm.m.device)
        self.capture_s += time.perf_counter() - t0
        return key in self.graphs

    def _off(self, why: str) -> None:
        self.enabled, self.fallback = False, why

    def _capture(self, bucket: int, length: int) -> Any:
        dev = self.sm.m.device
        if self.pool is None:
            self.pool = torch.cuda.graph_pool_handle()
        # the warm-up runs rewrite the same K/V and write only ``out``
        return capture_graph(lambda: self.sm.decode_step(bucket, length), dev, pool=self.pool)

    def run(self, bucket: int, length: int) -> bool:
        """One decode step over the static buffers; True when it replayed a graph."""
        g = self.graphs.get((bucket, length))
        if g is None:
            self.sm.decode_step(bucket, length)
            return False
        g.replay()
        return True

    def reset(self) -> None:
        for g in self.graphs.values():
            g.reset()
        self.graphs.clear()


def _sync_quietly(device: Any) -> None:
    if device.type == "cuda":
        with contextlib.suppress(Exception):  # a broken context fails the next step, which is recorded
            torch.cuda.synchronize(device)


class TorchBackend:
    """The engine's ``Backend`` on a ``SlotModel``: every call synchronizes before it returns.

    ``timing()`` gives the breakdown of the last prefill or decode (``serve_engine.TIMING_KEYS``): four
    disjoint ``perf_counter`` intervals and, on CUDA with ``device_timing``, the device time between two
    CUDA events recorded around the graph/forward (read only when ``timing()`` is called, after the step).
    """

    def __init__(self, sm: SlotModel, graphs: DecodeGraphs, device_timing: bool = True) -> None:
        self.sm, self.graphs = sm, graphs
        cuda = sm.m.device.type == "cuda"
        self._events = (
            (torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
            if cuda and device_timing
            else None
        )
        self._host = (0.0, 0.0, 0.0, 0.0)
        self._recorded = False

    def _mark(self, i: int) -> None:
        if self._events is not None:
            self._events[i].record()

    def prefill(self, slot: int, request_id: int, prompt_tokens: int) -> None:
        t0 = time.perf_counter()
        ids = prompt_ids(request_id, prompt_tokens, self.sm.m.cfg.vocab_size).to(self.sm.m.device)
        t1 = time.perf_counter()
        self._mark(0)
        logits = self.sm.prefill_logits(slot, ids)
        self._mark(1)
        t2 = time.perf_counter()
        self.sm.first_token(slot, logits)
        t3 = time.perf_counter()
        self.sync()
        t4 = time.perf_counter()
        self._host, self._recorded = (t1 - t0, t2 - t1, t3 - t2, t4 - t3), True

    def prepare(self, ctx: list[int], bucket: int, length: int) -> None:
        """Capture the step's graph if needed: its warm-up runs rewrite the K/V this very step will write
        (same tokens, same positions), so the positions must be this step's."""
        self.sm.set_positions(ctx, bucket)
        self.graphs.ensure(bucket, length)

    def decode(self, ctx: list[int], bucket: int, length: int) -> bool:
        t0 = time.perf_counter()
        self.sm.set_positions(ctx, bucket)
        t1 = time.perf_counter()
        self._mark(0)
        graphed = self.graphs.run(bucket, length)
        self._mark(1)
        t2 = time.perf_counter()
        self.sm.accept(len(ctx))
        t3 = time.perf_counter()
        self.sync()
        t4 = time.perf_counter()
        self._host, self._recorded = (t1 - t0, t2 - t1, t3 - t2, t4 - t3), True
        return graphed

    def timing(self) -> dict[str, float | None]:
        """The last step's ``host_prep_s``, ``launch_s``, ``accept_s``, ``sync_s`` and ``device_s``."""
        prep, launch, accept, sync = self._host
        device = None
        if self._events is not None and self._recorded:
            with contextlib.suppress(Exception):  # an event never reached (a failed step): no device time
                device = self._events[0].elapsed_time(self._events[1]) / 1e3
        return {
            "host_prep_s": prep,
            "launch_s": launch,
            "accept_s": accept,
            "sync_s": sync,
            "device_s": device,
        }

    def move(self, src: int, dst: int, length: int) -> None:
        self.sm.move(src, dst, length)

    def tokens(self, batch: int) -> list[int]:
        return [int(t) for t in self.sm.tok[:batch].tolist()]

    def sync(self) -> None:
        if self.sm.m.device.type == "cuda":
            torch.cuda.synchronize(self.sm.m.device)
