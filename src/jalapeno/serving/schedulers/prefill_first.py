"""``prefill_first``: vLLM v0's default policy reduced to one prefill a step (no mixed batches).

Each step: if a request is waiting and fewer than ``max_num_seqs`` run, prefill the head of the
queue alone (its whole prompt); otherwise one decode step for every running request. This is the
policy of ``jalapeno measure serve``'s real-GPU engine, so the simulator can be checked against it.

Engines that replay CUDA graphs pad a decode step: its batch up to the next of ``batch_buckets`` and
its attention over the longest context + 1 rounded up to ``context_bucket``. ``pad_decode`` says what
such a step really computes; the replica prices that shape.
"""

from __future__ import annotations

from dataclasses import dataclass

from jalapeno.serving.schedulers.base import (
    SCHEDULERS,
    ReplicaView,
    StepPlan,
    admit_waiting,
    schedule_running,
)

_NO_LIMIT = 1 << 40


@dataclass(frozen=True)
class PrefillFirstScheduler:
    max_num_seqs: int = 64
    max_num_batched_tokens: int = _NO_LIMIT  # prefills run whole, alone
    batch_buckets: tuple[int, ...] = ()  # empty: no batch padding
    context_bucket: int = 0  # 0: attention over each sequence's true context
    max_len: int = _NO_LIMIT  # the engine's cache length caps the padded context

    def schedule(self, rep: ReplicaView, now: float) -> StepPlan:
        plan = StepPlan()
        if rep.waiting and len(rep.running) < self.max_num_seqs:
            admit_waiting(rep, plan, _NO_LIMIT, now, chunked=False, max_num_seqs=len(rep.running) + 1)
            if plan.tokens or plan.loading:
                return plan
        schedule_running(rep, plan, _NO_LIMIT, now, chunked=False)
        return plan

    def admits_more(self, rep: ReplicaView) -> bool:
        return len(rep.running) < self.max_num_seqs

    def pad_decode(self, seqs: int, longest: int) -> tuple[int, int] | None:
        """(rows, summed context) a decode step of ``seqs`` sequences computes when padded, given the
        longest cached context; None when this scheduler does not pad."""
        if not self.batch_buckets and not self.context_bucket:
            return None
        rows = next((b for b in self.batch_buckets if b >= seqs), seqs) if self.batch_buckets else seqs
        if self.context_bucket:
            length = min(-(-(longest + 1) // self.context_bucket) * self.context_bucket, self.max_len)
        else:
            length = longest + 1
        return rows, rows * (length - 1)  # each row attends ``length`` positions (context + itself)


@SCHEDULERS.register("prefill_first", "one whole prefill alone, else all decodes (measure serve's engine)")
def make(*, max_num_seqs: int, max_num_batched_tokens: int | None) -> PrefillFirstScheduler:
    return PrefillFirstScheduler(max_num_seqs=max_num_seqs)  # prefills run whole and alone: no token budget
