"""How wrong the cost model may be about a chip, as a sampled constant, and a step oracle that applies it.

A chip whose throughput the model predicts from published-results calibration (``jalapeno calibrate``),
from a calibration transferred from a measured sibling, or from a family prior carries an error band: the
range of published / predicted throughput over its held-out published rows
(``hardware/calibration/published-bands.json``; a chip with no row of its own borrows its family's band
widened, ``cost.params.chip_error_band``). The Monte Carlo of ``jalapeno compare`` samples it as
``model_error:<chip>``: a throughput factor ``f``, nominal 1.0 (the model's own prediction, so nominal
figures do not move), drawn within the band.

Applied as ``ScaledOracle``: a factor ``f`` on throughput makes every step take ``1 / f`` as long. The work
is the same, so its dynamic energy is too; the replica's static power (idle plus the active static power of
its calibration, ``idle_w + active_static_w`` a chip) is paid over the longer or shorter step, and a faster
step's power stays under the replica's power limit (docs/compare.md, "Model error", compares this with
holding power or energy per step constant).
A chip with no published rows and no calibrated family takes the band of what it runs on, measured on chips
it was not fitted to (``cost.unseen_band``): a paper chip (an architecture timed by the mapper) the
unseen-chip band, a datasheet preset on the default parameters the defaults band; sampled and applied alike.
"""

from __future__ import annotations

import functools
import json
import math
from typing import Any

from jalapeno.cost.params import (
    CALIBRATION_FAMILY,
    FAMILY_PRIOR,
    UNSEEN_FILE,
    bands_path,
    error_band_basis,
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
    """The chip whose efficiencies this one runs on: the measured sibling it is transferred from (the H100's
    H200), the family whose prior it keeps when it has no published rows of its own (the B300's B200), else
    itself."""
    if chip_name in CALIBRATION_FAMILY:
        return CALIBRATION_FAMILY[chip_name]
    own = _bands().get(chip_name)
    if chip_name in FAMILY_PRIOR and (own is None or not own.get("n")):
        return FAMILY_PRIOR[chip_name]
    return chip_name


def stream_key(key: str) -> str:
    """The random stream a constant draws from: a ``model_error`` constant shares the stream of the chip
    whose parameters it runs on (the H100 and H800 run the H200's measured efficiencies, the B300 the
    B200's fitted ones: where the model errs on the one it errs the same way on the other; a chip with
    published rows fitted on its own, the GB300 too, keeps its own stream), so their factors sit at the
    same quantile of their own bands; every other constant has its own."""
    return key_of(parameters_from(chip_of(key))) if key.startswith(PREFIX) else key


def band_constant(chip_name: str, on_defaults: bool = False) -> Estimated | None:
    """``model_error:<chip>`` with the chip's band (its own held-out rows, its family's widened, or for a chip
    with neither the band of what it runs on: ``on_defaults`` the defaults band, else the unseen-chip band),
    or None when there is none (no band file written yet)."""
    got = error_band_basis(chip_name, on_defaults)
    if got is None:
        return None
    lo, hi, basis = got
    own = _bands().get(chip_name)
    fam = CALIBRATION_FAMILY.get(chip_name) or FAMILY_PRIOR.get(chip_name)
    where = "docs/validation-published.md"
    if own is not None:
        prov = own.get("provenance", "")
    elif fam is not None:
        prov = f"{fam}'s"
    else:
        where = f"hardware/calibration/{UNSEEN_FILE}, docs/compare.md"
        prov = "the cost model's defaults" if on_defaults else "an architecture's mapper and constants"
        prov += ", fitted to no published row"
    shared = parameters_from(chip_name)
    draw = f"; drawn at the same quantile as {key_of(shared)}" if shared != chip_name else ""
    source = f"published / predicted throughput; band: {basis}; parameters: {prov} ({COMMAND}, {where}){draw}"
    return Estimated(key_of(chip_name), 1.0, lo, hi, True, source, (chip_name,))


class ScaledOracle:
    """A step oracle whose throughput is ``factor`` times the inner one's: each step takes ``1 / factor``
    as long; its energy is the inner step's plus ``static_w`` over the time added (less over the time
    saved), at most ``cap_w`` x the new duration. Idle power, KV capacity and KV bytes are the inner's."""

    def __init__(
        self, inner: StepOracle, factor: float, static_w: float = 0.0, cap_w: float = math.inf
    ) -> None:
        if not factor > 0:
            raise ValueError(f"a throughput factor must be positive, got {factor}")
        self.inner, self.factor, self.static_w, self.cap_w = inner, factor, static_w, cap_w

    def step(self, shape: StepShape) -> StepCost:
        c = self.inner.step(shape)
        t = c.time_s / self.factor
        return StepCost(t, min(c.energy_j + self.static_w * (t - c.time_s), self.cap_w * t))

    @property
    def kv_capacity_tokens(self) -> int:
        return self.inner.kv_capacity_tokens

    @property
    def kv_bytes_per_token(self) -> float:
        return self.inner.kv_bytes_per_token

    @property
    def idle_power_w(self) -> float:
        return self.inner.idle_power_w


def replica_power_w(oracle: Any) -> tuple[float, float]:
    """(static power while a step runs, power limit) of a cost-model oracle's replica, as ``cost.step``
    prices them: ``idle_w + active_static_w`` and ``tdp_w`` a chip, times the replica's chips. An oracle
    without them (a closed-form one): its idle power, and no limit."""
    est, par = getattr(oracle, "est", None), getattr(oracle, "parallel", None)
    if est is None or par is None:
        return float(oracle.idle_power_w), math.inf
    return (est.idle_w + est.params.active_static_w) * par.chips, est.tdp_w * par.chips


def scaled(oracle: Any, factor: float) -> Any:
    """``oracle`` itself at a factor of exactly 1 (nominal figures bit for bit), else ``ScaledOracle`` with
    the replica's static power and power limit."""
    if factor == 1.0:
        return oracle
    static_w, cap_w = replica_power_w(oracle)
    return ScaledOracle(oracle, factor, static_w, cap_w)
