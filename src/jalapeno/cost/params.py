"""Efficiency and energy parameters of a chip: loading, calibration families and the chip's setup.

``CostParams`` itself is a seam type (``jalapeno.seams.cost_params``, re-exported here). Defaults are
first-principles guesses for an uncalibrated chip; a calibrated chip loads fitted values from
``jalapeno/hardware/calibration/<preset>.json`` (written by ``jalapeno validate --fit``), which also
records the measurements they came from and the held-out error.
"""

from __future__ import annotations

import json
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jalapeno.cost.engines import ENGINES
from jalapeno.seams.cost_params import CostParams as CostParams  # re-exported: cost.params.CostParams
from jalapeno.seams.op_timing import OpTimer

if TYPE_CHECKING:
    from jalapeno.hardware.spec import ChipSpec


CALIBRATION_DIR = "hardware/calibration"
# jalapeno.measure's plain-PyTorch engine (see kernels_per_op)
TORCH_REFERENCE_KERNELS = {"rope": 10, "kv_write": 2, "act": 2, "attn_prefill": 2, "attn_decode": 2}


def calibration_path(chip_name: str) -> Path:
    return Path(str(resources.files("jalapeno"))) / CALIBRATION_DIR / f"{chip_name}.json"


BANDS_FILE = "published-bands.json"


def bands_path() -> Path:
    return Path(str(resources.files("jalapeno"))) / CALIBRATION_DIR / BANDS_FILE


UNSEEN_FILE = "unseen-chip-band.json"


def unseen_band_path() -> Path:
    return Path(str(resources.files("jalapeno"))) / CALIBRATION_DIR / UNSEEN_FILE


def unseen_chip_band() -> dict[str, Any] | None:
    """The unseen-chip band's record (``cost.unseen_band``: how far the model landed on chips it had not
    been fitted on), or None before ``jalapeno calibrate --all --write`` has written one."""
    p = unseen_band_path()
    return json.loads(p.read_text()) if p.is_file() else None


def chip_error_band(chip_name: str, on_defaults: bool = False) -> tuple[float, float] | None:
    """(lo, hi): the range of published / predicted throughput over the chip's held-out published rows
    (``jalapeno calibrate --all --write``), so a prediction P reads as P x lo .. P x hi. A chip without
    published rows borrows its calibration family's band; a chip with neither takes the band of the
    parameters it runs on, measured on chips they were not fitted to: ``on_defaults`` (a datasheet preset on
    the cost model's default parameters) the defaults band, else (a paper chip) the unseen-chip band
    (``cost.unseen_band``); None only before those are written."""
    basis = error_band_basis(chip_name, on_defaults)
    return None if basis is None else (basis[0], basis[1])


def error_band_basis(chip_name: str, on_defaults: bool = False) -> tuple[float, float, str] | None:
    """(lo, hi, where the band comes from), as ``chip_error_band`` chooses it."""
    p = bands_path()
    bands = json.loads(p.read_text()) if p.is_file() else {}
    if chip_name in bands:
        b = bands[chip_name]
        return float(b["lo"]), float(b["hi"]), str(b.get("basis", "published rows"))
    fam = CALIBRATION_FAMILY.get(chip_name) or FAMILY_PRIOR.get(chip_name)
    if fam in bands:
        lo, hi = float(bands[fam]["lo"]) / PRIOR_BAND_WIDEN, float(bands[fam]["hi"]) * PRIOR_BAND_WIDEN
        widen = f"x{PRIOR_BAND_WIDEN:g} each side"
        return lo, hi, f"family prior: {fam}'s band widened {widen} (no published rows)"
    unseen = unseen_chip_band()
    if unseen is None:
        return None
    rec = unseen.get("defaults_band") if on_defaults else None
    rec = rec or unseen
    return float(rec["lo"]), float(rec["hi"]), str(rec["basis"])


def chip_band(chip: ChipSpec) -> tuple[float, float, str] | None:
    """``error_band_basis`` of a chip, knowing what it runs on (``runs_on_defaults``)."""
    return error_band_basis(chip.name, runs_on_defaults(chip))


def runs_on_defaults(chip: ChipSpec) -> bool:
    """A datasheet chip with no calibration of its own or its family's: priced on ``CostParams()``."""
    from jalapeno.mapping import cost_params_for  # lazy: keeps this module light

    if cost_params_for(chip) is not None:
        return False
    names = (chip.name, CALIBRATION_FAMILY.get(chip.name), FAMILY_PRIOR.get(chip.name))
    return not any(n and calibration_path(n).is_file() for n in names)


# Chips without their own measurements borrow the efficiencies of a measured chip of the same
# microarchitecture (the fractions of peak transfer; the peaks and bandwidths stay the chip's own).
CALIBRATION_FAMILY = {"h100-sxm": "h200-sxm", "h800": "h200-sxm"}
# Newer chips of a family with no calibration of their own start from (and, without published rows, keep)
# the family's fitted fractions of peak on their own datasheet peaks: a prior, said so in ``source``.
# The GB300 NVL72 takes the GB200 NVL72's fit, not the HGX B200's: both presets' peaks are NVIDIA's NVL72
# rack totals / 72 (the B200's are the HGX board's / 8), and the GB200's fit found those realized at a lower
# fraction (fp4 0.478 of 10 PF against the B200's 0.570 of 9 PF: its 70B rows only 2% above the HGX B200
# per GPU); the same rack, Grace host and harness (docs/validation-405b.md, "GB300 against GB200").
FAMILY_PRIOR = {
    "b300": "b200",
    "gb200-nvl72": "b200",
    "gb300-nvl72": "gb200-nvl72",
    "mi325x": "mi300x",
    "mi355x": "mi300x",
}
# a family-prior chip's error band: the family's, widened by this factor on each side (an assumption: a
# newer part's software maturity is unknown; see docs/validation-published.md)
PRIOR_BAND_WIDEN = 1.25


def fused_engine(params: CostParams) -> CostParams:
    """The same chip under a fused serving engine (vLLM-class): one kernel per graph op (RoPE, K/V write,
    SiLU*mul and attention each one kernel) instead of the calibration engine's counts. Use it to compare
    a GPU with a mapped architecture, whose mapper fuses elementwise ops too (``cost/engines/fused.py``)."""
    return ENGINES.get("fused")(params)


def setup_for(chip: ChipSpec, engine: str = "calibration") -> tuple[CostParams, OpTimer | None]:
    """Parameters and op timer for a chip: a parameterized architecture is timed by its mapper
    (jalapeno.mapping), which fuses elementwise ops; a datasheet preset by the calibrated roofline model,
    under the calibration engine's kernel counts (``engine="calibration"``, what was validated) or a fused
    serving engine's (``engine="fused"``: compare GPUs with architectures, or predict vLLM-class serving)."""
    from jalapeno.mapping import cost_params_for, timer_for  # lazy: keeps this module light

    priced_as = ENGINES.get(engine)  # a JalapenoError naming the valid engines
    timer = timer_for(chip)
    params = cost_params_for(chip) or params_for(chip.name)
    if timer is None:
        params = priced_as(params)
    return params, timer


def params_for(chip_name: str) -> CostParams:
    """Calibrated parameters for a preset (its own, else its family's), else the documented defaults."""
    for name in (chip_name, CALIBRATION_FAMILY.get(chip_name), FAMILY_PRIOR.get(chip_name)):
        if name and calibration_path(name).is_file():
            prm = CostParams.from_json(json.loads(calibration_path(name).read_text())["params"])
            if name == CALIBRATION_FAMILY.get(chip_name):
                prm = replace(prm, source=f"{prm.source}; transferred from {name} (same microarchitecture)")
            elif name != chip_name:
                prm = replace(prm, source=f"{prm.source}; family prior from {name} (fractions of peak)")
            return prm
    return CostParams()
