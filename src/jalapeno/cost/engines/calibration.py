"""``calibration``: the plain-PyTorch engine the calibration measurements ran (parameters as fitted)."""

from __future__ import annotations

from jalapeno.cost.engines import ENGINES, P


@ENGINES.register(
    "calibration", "the plain-PyTorch engine the calibration measured (kernel counts as fitted)"
)
def calibration(params: P, /) -> P:
    return params
