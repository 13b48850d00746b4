"""Mapping: operators onto a parameterized processor (tiling, dataflow, fusion); the mapper times them.

Wiring (what ``cost.params.setup_for`` does for ``estimate``, the serving oracle and anything holding a
``ChipSpec``)::

    from jalapeno.mapping import timer_for, cost_params_for
    timer = timer_for(chip)                  # None for datasheet presets: keep the calibrated model
    params = cost_params_for(chip) or params_for(chip.name)
    Estimator(chip, params, tp, timer=timer)

``timer_for`` returns the memoized mapper of the chip's architecture when the chip was derived
from one (``jalapeno.hardware.arch.derive_chip`` / ``resolve_chip("arch.yaml")``).

Layer (docs/extending.md#layers): above seams and graph, below cost. Owns op-to-engine mapping on a
parameterized architecture (tiling, dataflow, fusion, static schedules) and hands op times to cost only as a
``seams.OpTimer``. May import seams, graph, hardware, models and the bottom modules; never cost or above.
"""

from __future__ import annotations

from jalapeno.mapping.mapper import Mapper, OpMapping
from jalapeno.mapping.registry import cost_params_for, mapper_for, timer_for

__all__ = ["Mapper", "OpMapping", "cost_params_for", "mapper_for", "timer_for"]
