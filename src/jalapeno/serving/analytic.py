"""A closed-form step oracle, for tests, examples and quick what-ifs without the cost model.

``time_s = fixed_s + per_token_s * tokens + per_context_s * decode_context + per_pair_s * prefill_context``
and ``energy_j = busy_power_w * time_s`` (a speculative verify step's tokens count ``k + 1`` a decoding
sequence, its context once). Being affine in ``decode_context``, decode runs priced from
their first and last step are exact with it (see ``replica.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from jalapeno.serving.oracle import StepCost, StepShape


@dataclass(frozen=True)
class AffineOracle:
    fixed_s: float = 0.005
    per_token_s: float = 1e-5
    per_context_s: float = 0.0
    per_pair_s: float = 0.0
    busy_power_w: float = 500.0
    idle_power_w: float = 100.0
    kv_capacity_tokens: int = 1_000_000
    kv_bytes_per_token: float = 131072.0

    def step(self, shape: StepShape) -> StepCost:
        t = (
            self.fixed_s
            + self.per_token_s * shape.tokens
            + self.per_context_s * shape.decode_context
            + self.per_pair_s * shape.prefill_context
        )
        return StepCost(t, self.busy_power_w * t)
