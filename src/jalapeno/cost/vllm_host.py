"""What AMD's vLLM MLPerf harnesses add to a step beyond the device's work: the V0 engine's host bubble and
the v4.1 harness's request batcher.

Host bubble. vLLM's V0 engine syncs with the host after every scheduler call: the sampled tokens come back
to the CPU, are turned into Python objects and handed to the client, the scheduler runs and the next step's
inputs are prepared while the GPU idles. vLLM's multi-step RFC measured 5-13 ms of such GPU bubble per
decode step (github.com/vllm-project/vllm/issues/6854; about 4 ms in its traces); multi-step scheduling
(``num_scheduler_steps`` N, vLLM 0.6.0 on) runs N decode steps per scheduler call and pays it once per N,
while a prefill forces a single step (github.com/vllm-project/vllm/pull/7000). vLLM 0.4.3, AMD's MLPerf
v4.1 engine, predates it: every step pays the bubble. ``HOST_BUBBLE_S`` is the RFC's midpoint, an estimate
(range ``HOST_BUBBLE_RANGE_S``); rows without ``scheduler_steps`` (TensorRT-LLM, vLLM's V1 engine, which
overlaps the host's work with the device's) pay none.

Harness batcher. AMD's v4.1 server harness (closed/AMD/code/llama2-70b-99/VllmFp8/sync_sut.py,
``batch_samples_loop``, run with ``--enable-batcher``: test_VllmFp8_SyncServer_perf.sh) holds the system's
arriving queries until ``batcher_threshold`` (0.3 s) has passed since the last send or ``gpu_batch_size``
(96) have gathered, then sends them all to one replica, round robin. So a replica's prompts arrive in
bursts of k = min(max, 1 + rate x hold) (the first query of a burst, then the system's arrivals during
the hold), and vLLM 0.4.3, which has no chunked prefill, prefills a burst in one step of k prompts. A
request's decode steps meet whole bursts: the count of prompts they share their steps with has k times
a Poisson count's variance (compound Poisson), and a prompt waits up to the hold before the engine sees it.

Multi-step admission. The same holds inside a multi-step V0 engine without a batcher: it admits waiting
prompts only at a scheduler call, so every ``scheduler_steps`` decode steps one prefill step takes the
prompts that arrived meanwhile, and a prompt waits up to that interval (AMD's v5.1 Llama-2-70B scheduler
patch, VLLM_LLAMA2_MLPERF_MIN_REQUIRE_PREFILL_QUERY, also lets a call skip the prefill while fewer than 8-10
prompts wait, at most every other call; its runs gather about that many an interval anyway: not priced).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jalapeno.cost.published import ServingConfig

HOST_BUBBLE_S = 9e-3  # vLLM V0 host bubble per scheduler call: estimate, vLLM issue 6854
HOST_BUBBLE_RANGE_S = (5e-3, 13e-3)  # the range that issue reports


def decode_bubble_s(cfg: ServingConfig | None, bubble_s: float = HOST_BUBBLE_S) -> float:
    """Host bubble a decode step pays: the scheduler call's, shared by its ``scheduler_steps`` steps."""
    if cfg is None or not cfg.scheduler_steps:
        return 0.0
    return bubble_s / cfg.scheduler_steps


def prefill_bubble_s(cfg: ServingConfig | None, bubble_s: float = HOST_BUBBLE_S) -> float:
    """Host bubble a separate prefill step pays: a whole one (a prefill forces a single step)."""
    return bubble_s if cfg is not None and cfg.scheduler_steps else 0.0


def bursty(cfg: ServingConfig | None) -> bool:
    """Prompts reach the prefill in bursts: a harness batcher, or a multi-step V0 engine (which admits new
    prompts only at its scheduler calls, every ``scheduler_steps`` decode steps)."""
    return cfg is not None and bool(cfg.harness_batch_s or (cfg.scheduler_steps or 1) > 1)


def hold_s(cfg: ServingConfig | None, decode_step_s: float) -> float:
    """The longest a prompt waits before an engine step can take it (its p99 wait, near the whole hold):
    the harness batcher's hold, else a multi-step engine's ``scheduler_steps`` decode steps; 0 otherwise."""
    if cfg is None:
        return 0.0
    if cfg.harness_batch_s:
        return cfg.harness_batch_s
    n = cfg.scheduler_steps or 1
    return n * decode_step_s if n > 1 else 0.0


def burst_prompts(
    cfg: ServingConfig | None, system_rate_per_s: float, replica_rate_per_s: float, decode_step_s: float
) -> float:
    """Prompts one prefill step takes at once. Harness batcher: the first query and the system's arrivals
    during the hold (at most ``harness_batch_max``), all to one replica. Multi-step engine: the replica's
    arrivals over one scheduler interval, m = rate x hold, given that at least one came (m / (1 - e^-m)).
    1 otherwise (each query is prefilled in the step after it arrives, as ``PREFILL_BATCH`` prices)."""
    if cfg is None or not bursty(cfg):
        return 1.0
    if cfg.harness_batch_s:
        k = 1.0 + system_rate_per_s * cfg.harness_batch_s
        return min(float(cfg.harness_batch_max), k) if cfg.harness_batch_max else k
    m = replica_rate_per_s * hold_s(cfg, decode_step_s)
    return m / -math.expm1(-m) if m > 1e-9 else 1.0
