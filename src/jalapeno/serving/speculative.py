"""Speculative decoding as a fluid model: each decode step drafts ``k`` tokens and verifies them.

With per-token acceptance probability ``a`` (independent), one verify step emits on average

    E = (1 - a**(k + 1)) / (1 - a)        (E = k + 1 when a = 1)

tokens per sequence: the accepted run of drafts plus the target model's own token. The simulator
emits tokens deterministically: a sequence carries a fractional credit, each step adds ``E`` and
emits the whole part, so after ``s`` steps it has emitted ``floor(credit0 + s * E)`` tokens.

Pricing: the verify step computes ``k + 1`` tokens per decoding sequence: a decode step with
``StepShape.decode_queries = k + 1`` (``graph.verify``: every token through every layer, attention reading
each sequence's cache once; not a prefill chunk, which for MLA would decompress the whole cache). Drafting
costs ``k * draft_cost`` times a plain decode step of the same batch on the target model:
``draft_cost`` is the draft model's time per token as a fraction of the target's (e.g. 0.05 for a
small draft model); 0 models prompt lookup (n-gram) drafting, which costs nothing on the chip.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import floor

from jalapeno.errors import JalapenoError


@dataclass(frozen=True)
class Speculative:
    k: int  # draft tokens per step
    acceptance: float  # per-token acceptance probability, in [0, 1]
    draft_cost: float = 0.0  # draft time per token / target decode step time; 0 = prompt lookup

    def __post_init__(self) -> None:
        if self.k < 1:
            raise JalapenoError(f"must be >= 1, got {self.k}", field="speculative.k")
        if not 0.0 <= self.acceptance <= 1.0:
            raise JalapenoError(f"must be in [0, 1], got {self.acceptance}", field="speculative.acceptance")
        if self.draft_cost < 0:
            raise JalapenoError(f"must be >= 0, got {self.draft_cost}", field="speculative.draft_cost")

    @property
    def tokens_per_step(self) -> float:
        a, k = self.acceptance, self.k
        return float(k + 1) if a >= 1.0 else (1.0 - a ** (k + 1)) / (1.0 - a)


def emitted(credit: float, steps: int, per_step: float, remaining: int) -> int:
    """Tokens a sequence with ``credit`` has emitted after ``steps`` verify steps (at most ``remaining``)."""
    return min(remaining, floor(credit + steps * per_step))


def steps_to_emit(credit: float, per_step: float, remaining: int) -> int:
    """Fewest verify steps after which ``remaining`` tokens are out."""
    s = max(1, int((remaining - credit) / per_step))
    while s > 1 and floor(credit + (s - 1) * per_step) >= remaining:
        s -= 1
    while floor(credit + s * per_step) < remaining:
        s += 1
    return s
