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
"""

from __future__ import annotations

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


def burst_prompts(cfg: ServingConfig | None, system_rate_per_s: float) -> float:
    """Prompts a replica receives at once from the harness batcher at the system's arrival rate; 1 without
    a batcher (each query goes to the engine as it arrives)."""
    if cfg is None or not cfg.harness_batch_s:
        return 1.0
    k = 1.0 + system_rate_per_s * cfg.harness_batch_s
    return min(float(cfg.harness_batch_max), k) if cfg.harness_batch_max else k


def harness_hold_s(cfg: ServingConfig | None) -> float:
    """The longest a query waits in the harness batcher before an engine sees it (its p99 wait)."""
    return cfg.harness_batch_s if cfg is not None and cfg.harness_batch_s else 0.0
