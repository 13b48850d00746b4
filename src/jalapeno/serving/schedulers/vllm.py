"""Continuous batching, vLLM style without chunked prefill.

Each step: every running decode gets its token first; then whole prefills are admitted from the
waiting queue while they fit ``max_num_batched_tokens`` (the step's token budget) and
``max_num_seqs``. A prompt larger than the whole budget still runs, as the only prefill of its step
(beside the running decodes), so neither it nor the queue behind it waits for the batch to drain: vLLM
without chunked prefill requires ``max_num_batched_tokens >= max_model_len``, so there such a prompt
is always admitted with the decodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from jalapeno.serving.schedulers.base import (
    SCHEDULERS,
    ReplicaView,
    StepPlan,
    admit_waiting,
    schedule_running,
)


@dataclass(frozen=True)
class VLLMScheduler:
    max_num_seqs: int = 256
    max_num_batched_tokens: int = 8192
    pad_decode: ClassVar[None] = None

    def schedule(self, rep: ReplicaView, now: float) -> StepPlan:
        plan = StepPlan()
        budget = schedule_running(rep, plan, self.max_num_batched_tokens, now, chunked=False)
        if rep.waiting:
            admit_waiting(rep, plan, budget, now, chunked=False, max_num_seqs=self.max_num_seqs)
        return plan

    def admits_more(self, rep: ReplicaView) -> bool:
        return len(rep.running) < self.max_num_seqs


@SCHEDULERS.register("vllm", "continuous batching, whole prefills (vLLM without chunked prefill)")
def make(*, max_num_seqs: int, max_num_batched_tokens: int | None) -> VLLMScheduler:
    return VLLMScheduler(max_num_seqs, max_num_batched_tokens or VLLMScheduler.max_num_batched_tokens)
