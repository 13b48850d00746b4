"""How wrong the cost model may be about a chip, as a sampled constant, and a step oracle that applies it.

A chip whose throughput the model predicts from published-results calibration (``jalapeno calibrate``),
from a calibration transferred from a measured sibling, or from a family prior carries an error band: the
range of published / predicted throughput over its held-out published rows
(``hardware/calibration/published-bands.json``; a chip with no row of its own borrows its family's band
widened, ``cost.params.chip_error_band``). The Monte Carlo of ``jalapeno compare`` samples it as
``model_error:<chip>``: a throughput factor ``f``, nominal 1.0 (the model's own prediction, so nominal
figures do not move), drawn within the band.

Applied as ``ScaledOracle``: a factor ``f`` on throughput makes every step take ``1 / f`` as long at the same
power, so its energy scales by ``1 / f`` too (docs/compare.md says why power, not energy per step, is held).
A paper chip (an architecture without published rows) has no band: its model uncertainty is in its own
constants (``energy_realism``, runtime overheads, ...), sampled like every other estimated constant.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from jalapeno.cost.params import (
    CALIBRATION_FAMILY,
    FAMILY_PRIOR,
    PRIOR_BAND_WIDEN,
    bands_path,
    calibration_path,
    chip_error_band,
)
from jalapeno.hardware.ranges import Estimated
from jalapeno.seams.step_oracle import StepCost, StepOracle, StepShape

PREFIX = "model_error:"
COMMAND = "jalapeno calibrate --all --write"


def key_of(chip_name: str) -> str:
    return PREFIX + chip_name


def chip_of(key: str) -> str:
    return key[len(PREFIX) :]


@functools.lru_cache(maxsize=1)
def _bands() -> dict[str, Any]:
    p = bands_path()
    return json.loads(p.read_text()) if p.is_file() else {}


def parameters_from(chip_name: str) -> str:
    """The chip whose fitted efficiencies this one runs on (itself when it has its own calibration), as
    ``cost.params.params_for`` picks them."""
    for name in (chip_name, CALIBRATION_FAMILY.get(chip_name), FAMILY_PRIOR.get(chip_name)):
        if name and calibration_path(name).is_file():
            return name
    return chip_name


def stream_key(key: str) -> str:
    """The random stream a constant draws from: a ``model_error`` constant shares the stream of the chip
    whose parameters it runs on (the H100 and H800 run the H200's measured efficiencies, the B300 and GB300
    the B200's fitted ones: where the model errs on the one it errs the same way on the other), so their
    factors sit at the same quantile of their own bands; every other constant has its own."""
    return key_of(parameters_from(chip_of(key))) if key.startswith(PREFIX) else key


def band_constant(chip_name: str) -> Estimated | None:
    """``model_error:<chip>`` with the chip's published-results band, or None when the chip has none."""
    band = chip_error_band(chip_name)
    if band is None:
        return None
    own = _bands().get(chip_name)
    if own is not None:
        basis, prov = own.get("basis", "published rows"), own.get("provenance", "")
    else:
        fam = CALIBRATION_FAMILY.get(chip_name) or FAMILY_PRIOR.get(chip_name)
        basis = f"family prior: {fam}'s band widened x{PRIOR_BAND_WIDEN:g} each side (no published rows)"
        prov = f"{fam}'s"
    shared = parameters_from(chip_name)
    draw = f"; drawn at the same quantile as {key_of(shared)}" if shared != chip_name else ""
    source = (
        f"published / predicted throughput; band: {basis}; parameters: {prov} "
        f"({COMMAND}, docs/validation-published.md){draw}"
    )
    return Estimated(key_of(chip_name), 1.0, band[0], band[1], True, source, (chip_name,))


class ScaledOracle:
    """A step oracle whose throughput is ``factor`` times the inner one's: each step takes ``1 / factor``
    as long at the same power (energy ``1 / factor`` too); idle power, KV capacity and KV bytes are the
    inner's."""

    def __init__(self, inner: StepOracle, factor: float) -> None:
        if not factor > 0:
            raise ValueError(f"a throughput factor must be positive, got {factor}")
        self.inner, self.factor = inner, factor

    def step(self, shape: StepShape) -> StepCost:
        c = self.inner.step(shape)
        return StepCost(c.time_s / self.factor, c.energy_j / self.factor)

    @property
    def kv_capacity_tokens(self) -> int:
        return self.inner.kv_capacity_tokens

    @property
    def kv_bytes_per_token(self) -> float:
        return self.inner.kv_bytes_per_token

    @property
    def idle_power_w(self) -> float:
        return self.inner.idle_power_w


def scaled(oracle: Any, factor: float) -> Any:
    """``oracle`` itself at a factor of exactly 1 (nominal figures bit for bit), else ``ScaledOracle``."""
    return oracle if factor == 1.0 else ScaledOracle(oracle, factor)
