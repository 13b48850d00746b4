"""A minimal continuous-batching engine that replays requests by wall clock: policy ``prefill_first``.

The policy (vLLM v0's default scheduler without chunked prefill, simplified to one prefill a step; the
serving simulator mirrors it exactly). Before every step the engine moves each request whose
``arrival_s`` has passed on the replay clock to the back of the FCFS waiting queue, then:

1. if a request is waiting, fewer than ``max_num_seqs`` are running (so a cache slot is free) and the
   budget still admits work: **prefill** the head of the queue alone (batch 1, its whole prompt). It gets
   its first token at the end of the step (TTFT = prefill end - arrival). With ``output_tokens == 1`` it
   finishes there; otherwise it joins the running batch in slot ``B``.
2. else, if requests are running: **one decode step** for all ``B`` of them; each gets one token. The step
   runs for ``bucket(B)`` rows (the smallest batch bucket >= B) over positions ``[0, L)``, L = the longest
   context + 1 rounded up to ``context_bucket``. Finished requests leave; the last slot's K/V move into
   each freed slot (compaction) after the step, outside its timing (``compact_s``).
3. else: wait for the next arrival (sleep, then spin for the last 2 ms).

Vs vLLM v0: it batches several prefills a step up to a token budget and keeps paged KV; here a step
prefills one request and the cache is one slot a sequence. Prompt and output lengths are capped upstream.

The replay clock can pause: CUDA-graph capture and checkpoint writes happen between steps with the clock
stopped, so they add nothing to any latency. Budget: once ``budget_left()`` reaches 0, no request is
admitted any more; the running ones drain for at most ``drain_s`` wall seconds; everything not finished
is listed as incomplete.

Step rows. Every row has ``kind``, ``start_s`` and ``end_s`` (replay clock, around the backend call), the
queue state at the step's start (``waiting``, ``running``) and, per kind, ``request_id``/``tokens`` (prefill)
or ``batch``/``bucket``/``L``/``graph``/``compact_s`` (decode). Both kinds also carry where the step's wall
time went, from ``time.perf_counter`` inside the backend (``backend.timing()``, read after ``end_s`` is taken;
a backend without it reports zeros and ``device_s: null``). No synchronization is added for them:

- ``host_prep_s``: inputs to the device. Decode: ``set_positions`` (a list to a tensor, then its blocking
  host-to-device copy). Prefill: the prompt ids made on the CPU and their blocking copy to the device.
- ``launch_s``: until the work is issued and control is back on the host. Decode: the CUDA-graph replay call
  (or the eager step's Python forward when no graph runs). Prefill: the eager Python forward, i.e. the host
  issue time of all its kernels (the GPU may run behind or idle in between).
- ``accept_s``: issuing the greedy tokens as the next inputs (decode: ``accept``; prefill: argmax into
  ``tok[slot]``).
- ``sync_s``: the final synchronize, i.e. how long the host waits for the device after issuing everything.
- ``device_s``: device time from just before the graph/forward was issued to its end (two CUDA events;
  null on a CPU). It overlaps the host keys and is not part of their sum: on an idle GPU it includes the
  launch latency, so ``device_s`` vs the same graph timed back to back (``jalapeno measure engine``) is the
  cost of issuing one step at a time.

The four host keys are disjoint intervals inside ``[start_s, end_s]``, so their sum is at most the step's wall
time; the rest is the backend's own Python. ``compact_s`` (decode) stays outside the step, as before.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from jalapeno.workload.request import Request

Action = Literal["prefill", "decode", "wait"]
BATCH_BUCKETS: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
CONTEXT_BUCKET = 256
HOST_TIMING_KEYS: tuple[str, ...] = ("host_prep_s", "launch_s", "accept_s", "sync_s")  # disjoint, sum <= wall
TIMING_KEYS: tuple[str, ...] = (*HOST_TIMING_KEYS, "device_s")  # device_s overlaps them (null on a CPU)


def choose(waiting: int, running: int, max_num_seqs: int, admitting: bool = True) -> Action:
    """The ``prefill_first`` decision for one step, from the state at its start."""
    if admitting and waiting > 0 and running < max_num_seqs:
        return "prefill"
    return "decode" if running > 0 else "wait"


def batch_buckets(max_num_seqs: int) -> tuple[int, ...]:
    """The standard buckets below ``max_num_seqs``, then ``max_num_seqs`` itself."""
    return (*(b for b in BATCH_BUCKETS if b < max_num_seqs), max_num_seqs)


def bucket_of(batch: int, buckets: Sequence[int]) -> int:
    return next(b for b in buckets if b >= batch)


def context_length(longest: int, max_len: int, step: int = CONTEXT_BUCKET) -> int:
    """Positions a decode step attends over: ``longest + 1`` rounded up to ``step``, at most ``max_len``."""
    return min(-(-(longest + 1) // step) * step, max_len)


class Backend(Protocol):
    """What the engine runs; every call returns after the device work is done (synchronized)."""

    def prefill(self, slot: int, request_id: int, prompt_tokens: int) -> None: ...

    def prepare(self, ctx: list[int], bucket: int, length: int) -> None: ...  # e.g. capture a graph

    def decode(self, ctx: list[int], bucket: int, length: int) -> bool: ...  # True: a CUDA graph ran

    def move(self, src: int, dst: int, length: int) -> None: ...

    def tokens(self, batch: int) -> list[int]: ...  # next input token of slots [0, batch)

    def sync(self) -> None: ...

    # optional: ``timing() -> dict`` with ``TIMING_KEYS`` of the last prefill/decode (module docstring)


def step_timing(backend: Any) -> dict[str, float | None]:
    """``TIMING_KEYS`` of the backend's last step: zeros and ``device_s: None`` when it does not report
    them."""
    out: dict[str, float | None] = dict.fromkeys(HOST_TIMING_KEYS, 0.0)
    out["device_s"] = None
    get = getattr(backend, "timing", None)
    if get is not None:
        got = get()
        out.update({k: got[k] for k in TIMING_KEYS if k in got})
    return out


class ReplayClock:
    """Seconds since ``start()``, minus the time spent paused (tests substitute a virtual clock)."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.paused_s = 0.0

    def start(self) -> None:
        self.t0, self.paused_s = time.perf_counter(), 0.0

    def now(self) -> float:
        return time.perf_counter() - self.t0 - self.paused_s

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    @contextmanager
    def paused(self) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.paused_s += time.perf_counter() - t


@dataclass
class Seq:
    """One request inside the engine; times are on the replay clock."""

    req: Request  # capped prompt and output
    slot: int = -1
    generated: int = 0
    prefill_start_s: float | None = None
    first_token_s: float | None = None
    last_token_s: float | None = None
    finish_s: float | None = None
    tokens: list[int] = field(default_factory=list)  # generated ids, when the engine keeps them

    @property
    def cached(self) -> int:
        """Positions in the cache: the prompt and every generated token but the last."""
        return self.req.prompt_tokens + self.generated - 1

    def row(self) -> dict[str, Any]:
        r, out = self.req, self.req.output_tokens
        done = self.finish_s is not None
        return {
            "request_id": r.request_id,
            "arrival_s": r.arrival_s,
            "prompt_tokens": r.prompt_tokens,
            "output_tokens": out,
            "generated": self.generated,
            "first_token_s": self.first_token_s,
            "finish_s": self.finish_s,
            "ttft_s": None if self.first_token_s is None else self.first_token_s - r.arrival_s,
            "tpot_s": (self.finish_s - self.first_token_s) / (out - 1)  # type: ignore[operator]
            if done and out > 1
            else None,
            "queue_s": None if self.prefill_start_s is None else self.prefill_start_s - r.arrival_s,
        }


@dataclass(frozen=True)
class EngineConfig:
    max_num_seqs: int = 64
    max_len: int = 8192  # positions per slot
    drain_s: float = 15.0  # wall seconds the running requests may drain after the budget
    checkpoint_s: float = 10.0  # wall seconds between checkpoints (clock paused while writing)
    keep_tokens: bool = False  # record every generated token id (tests)

    @property
    def buckets(self) -> tuple[int, ...]:
        return batch_buckets(self.max_num_seqs)


class Engine:
    """Replays ``requests`` (sorted by arrival, capped) through ``backend``; fills ``steps`` and ``seqs``."""

    def __init__(
        self,
        backend: Backend,
        requests: Sequence[Request],
        cfg: EngineConfig,
        clock: ReplayClock | None = None,
        budget_left: Callable[[], float] = lambda: float("inf"),
        checkpoint: Callable[[Engine], None] | None = None,
    ) -> None:
        self.b, self.cfg, self.clock = backend, cfg, clock or ReplayClock()
        self.budget_left, self.checkpoint = budget_left, checkpoint
        self.seqs = [Seq(r) for r in requests]
        self.pending: deque[Seq] = deque(self.seqs)  # not yet arrived
        self.waiting: deque[Seq] = deque()
        self.running: list[Seq] = []  # running[i] is in slot i
        self.steps: list[dict[str, Any]] = []
        self.admitting = True
        self.budget_hit_s: float | None = None
        self._drain_end = float("inf")
        self._last_checkpoint = time.perf_counter()

    # ---- the loop ----

    def run(self) -> None:
        self.clock.start()
        while self.pending or self.waiting or self.running:
            self._arrivals()
            self._check_budget()
            if not self.admitting and (not self.running or time.perf_counter() > self._drain_end):
                break
            action = choose(len(self.waiting), len(self.running), self.cfg.max_num_seqs, self.admitting)
            if action == "prefill":
                self._prefill()
            elif action == "decode":
                self._decode()
            else:
                self._wait()
            self._maybe_checkpoint()

    def _arrivals(self) -> None:
        now = self.clock.now()
        while self.pending and self.pending[0].req.arrival_s <= now:
            self.waiting.append(self.pending.popleft())

    def _check_budget(self) -> None:
        if self.admitting and self.budget_left() <= 0:
            self.admitting, self.budget_hit_s = False, self.clock.now()
            self._drain_end = time.perf_counter() + self.cfg.drain_s

    def _wait(self) -> None:
        gap = self.pending[0].req.arrival_s - self.clock.now()
        self.clock.sleep(min(gap - 0.002, 0.05) if gap > 0.002 else 0.0)  # sleep(0): spin, yielding

    def _maybe_checkpoint(self) -> None:
        if self.checkpoint is None or time.perf_counter() - self._last_checkpoint < self.cfg.checkpoint_s:
            return
        with self.clock.paused():
            self.checkpoint(self)
        self._last_checkpoint = time.perf_counter()

    # ---- steps ----

    def _prefill(self) -> None:
        s, slot, waiting = self.waiting.popleft(), len(self.running), len(self.waiting)
        start = self.clock.now()
        s.prefill_start_s, s.slot = start, slot
        self.b.prefill(slot, s.req.request_id, s.req.prompt_tokens)
        end = self.clock.now()
        timing = step_timing(self.b)
        s.generated, s.first_token_s, s.last_token_s = 1, end, end
        if self.cfg.keep_tokens:
            s.tokens.append(self.b.tokens(slot + 1)[slot])
        self.steps.append(
            {
                "kind": "prefill",
                "start_s": start,
                "end_s": end,
                "request_id": s.req.request_id,
                "tokens": s.req.prompt_tokens,
                "waiting": waiting + 1,
                "running": slot,
                **timing,
            }
        )
        if s.req.output_tokens <= 1:
            s.finish_s = end
        else:
            self.running.append(s)

    def _decode(self) -> None:
        run, waiting = self.running, len(self.waiting)
        ctx = [s.cached for s in run]
        bucket = bucket_of(len(run), self.cfg.buckets)
        length = context_length(max(ctx), self.cfg.max_len)
        with self.clock.paused():
            self.b.prepare(ctx, bucket, length)
        start = self.clock.now()
        graphed = self.b.decode(ctx, bucket, length)
        end = self.clock.now()
        timing = step_timing(self.b)
        for s in run:
            s.generated, s.last_token_s = s.generated + 1, end
        if self.cfg.keep_tokens:
            for s, t in zip(run, self.b.tokens(len(run)), strict=True):
                s.tokens.append(t)
        row = {
            "kind": "decode",
            "start_s": start,
            "end_s": end,
            "batch": len(run),
            "bucket": bucket,
            "L": length,
            "graph": graphed,
            "waiting": waiting,
            "running": len(run),
            **timing,
        }
        row["compact_s"] = self._retire(end)
        self.steps.append(row)

    def _retire(self, now: float) -> float:
        """Drop finished sequences, moving the last slot into each hole; seconds spent moving K/V."""
        done = [i for i, s in enumerate(self.running) if s.generated >= s.req.output_tokens]
        t0 = time.perf_counter()
        moved = False
        for i in reversed(done):
            self.running[i].finish_s = now
            last = len(self.running) - 1
            if i != last:
                mover = self.running[last]
                self.b.move(last, i, mover.cached)
                mover.slot, self.running[i] = i, mover
                moved = True
            self.running.pop()
        if moved:
            self.b.sync()  # the copies finish inside compact_s
        return time.perf_counter() - t0 if moved else 0.0

    # ---- results ----

    def incomplete(self) -> list[int]:
        return [s.req.request_id for s in self.seqs if s.finish_s is None]
