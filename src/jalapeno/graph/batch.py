"""What one model step processes: a mix of prefill chunks and decode requests.

vLLM's vocabulary: every sequence in a step contributes ``new_tokens`` (1 for decode, a chunk for
prefill) on top of ``cached_tokens`` already in its KV cache (earlier chunks, decoded tokens, prefix hits).
"""

from __future__ import annotations

from dataclasses import dataclass

from jalapeno.errors import JalapenoError


@dataclass(frozen=True)
class Sequence:
    new_tokens: int
    cached_tokens: int = 0

    def __post_init__(self) -> None:
        if self.new_tokens < 1:
            raise JalapenoError(f"must be >= 1, got {self.new_tokens}", field="new_tokens")
        if self.cached_tokens < 0:
            raise JalapenoError(f"must be >= 0, got {self.cached_tokens}", field="cached_tokens")

    @property
    def is_decode(self) -> bool:
        return self.new_tokens == 1 and self.cached_tokens > 0


@dataclass(frozen=True)
class Batch:
    """Sequences of one step. ``logits_tokens``: rows sent through the LM head (one per sequence)."""

    seqs: tuple[Sequence, ...]

    def __post_init__(self) -> None:
        if not self.seqs:
            raise JalapenoError("a batch needs at least one sequence", field="batch")

    @property
    def new_tokens(self) -> int:
        return sum(s.new_tokens for s in self.seqs)

    @property
    def logits_tokens(self) -> int:
        return len(self.seqs)

    @classmethod
    def decode(cls, batch: int, context: int) -> Batch:
        """``batch`` requests each generating one token after ``context`` cached tokens."""
        if batch < 1:
            raise JalapenoError(f"must be >= 1, got {batch}", field="batch")
        if context < 1:
            raise JalapenoError(f"must be >= 1, got {context}", field="context")
        return cls((Sequence(1, context),) * batch)

    @classmethod
    def prefill(cls, prompt: int, cached: int = 0, batch: int = 1) -> Batch:
        """``batch`` prompts of ``prompt`` new tokens after ``cached`` prefix-hit tokens."""
        if prompt < 1:
            raise JalapenoError(f"must be >= 1, got {prompt}", field="prompt")
        return cls((Sequence(prompt, cached),) * batch)
