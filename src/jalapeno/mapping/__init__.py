"""Mapping: operators onto a parameterized processor (tiling, dataflow, fusion), models onto chips.

Wiring (for ``estimate``, the serving oracle and anything holding a ``ChipSpec``)::

    from jalapeno.mapping import timer_for, cost_params_for
    timer = timer_for(chip)                  # None for datasheet presets: keep the calibrated model
    params = cost_params_for(chip) or params_for(chip.name)
    Estimator(chip, params, tp, timer=timer)

``timer_for`` returns the memoized mapper of the chip's architecture when the chip was derived
from one (``jalapeno.hardware.arch.derive_chip`` / ``resolve_chip("arch.yaml")``).
"""

from __future__ import annotations

from jalapeno.mapping.mapper import Mapper, OpMapping
from jalapeno.mapping.registry import cost_params_for, mapper_for, timer_for

__all__ = ["Mapper", "OpMapping", "cost_params_for", "mapper_for", "timer_for"]
