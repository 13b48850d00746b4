"""The seam between serving and cost, as the simulator sees it: ``StepShape`` in, ``StepCost`` out.

The types live in ``jalapeno.seams.step_oracle`` (below both cost and serving: ``cost.oracle`` implements
``StepOracle`` without importing serving); this module names them for serving and its callers.
"""

from __future__ import annotations

from jalapeno.seams.step_oracle import StepCost, StepOracle, StepShape

__all__ = ["StepCost", "StepOracle", "StepShape"]
