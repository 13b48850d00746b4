"""Chunked prefill, Sarathi-Serve style (vLLM's default scheduler today).

Each step: running decodes first (one token each), then the step's remaining token budget
(``max_num_batched_tokens``) is filled with prefill chunks: first the partial prefills already
running, then new requests from the waiting queue, each taking ``min(remaining prompt, budget left)``.
Long prompts are thus spread over steps that also carry decodes, which bounds the decode stall
(the TPOT spike) a long prefill would otherwise cause.
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
class SarathiScheduler:
    max_num_seqs: int = 256
    max_num_batched_tokens: int = 2048
    pad_decode: ClassVar[None] = None

    def schedule(self, rep: ReplicaView, now: float) -> StepPlan:
        plan = StepPlan()
        budget = schedule_running(rep, plan, self.max_num_batched_tokens, now, chunked=True)
        if rep.waiting:
            admit_waiting(rep, plan, budget, now, chunked=True, max_num_seqs=self.max_num_seqs)
        return plan

    def admits_more(self, rep: ReplicaView) -> bool:
        return len(rep.running) < self.max_num_seqs


@SCHEDULERS.register("sarathi", "chunked prefill (Sarathi-Serve, vLLM's default)")
def make(*, max_num_seqs: int, max_num_batched_tokens: int | None) -> SarathiScheduler:
    return SarathiScheduler(max_num_seqs, max_num_batched_tokens or SarathiScheduler.max_num_batched_tokens)
