"""Calibrate every chip with published results, in family order, and write what came out.

Order matters only for priors: a chip starts from its family's parameters (cost/published_fit.FAMILY), so
a family root is fitted (or, if measured, loaded) before its members. Chips named in published rows but
without a bundled preset are reported as such, never guessed.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from jalapeno.cost.measured_gemm import measured_note, with_measured_gemm
from jalapeno.cost.params import CostParams, bands_path, calibration_path, params_for
from jalapeno.cost.published import KNOWN_CHIPS, PublishedRow
from jalapeno.cost.published_fit import (
    DEFAULT_KNOBS,
    FAMILY,
    MEASURED,
    MIN_BAND_ROWS,
    ChipFit,
    Predictor,
    analytic_predictor,
    calibrate_chip,
    chip_params,
    thin_band,
    widened,
)
from jalapeno.cost.unseen_band import band_of_fits, write_band
from jalapeno.errors import JalapenoError

ORDER = ("h200-sxm", "h100-sxm", "b200", "b300", "gb200-nvl72", "gb300-nvl72", "mi300x", "mi325x", "mi355x")


def preset_or_none(name: str) -> Any:
    from jalapeno.hardware.registry import list_presets, resolve_chip

    return resolve_chip(name) if name in list_presets() else None


def _prior(name: str, done: dict[str, ChipFit]) -> tuple[CostParams, str]:
    fam = FAMILY.get(name, "h200-sxm")
    if name in MEASURED:  # its own efficiencies; the serving overhead its family's published fit found
        own = params_for(name)
        if fam not in done:
            return own, name
        return replace(
            own, step_overhead_s=done[fam].params.step_overhead_s, moe_eff=done[fam].params.moe_eff
        ), name
    if fam in done:
        return done[fam].params, fam
    return params_for(fam), fam


def calibrate_all(
    rows: Sequence[PublishedRow],
    chips: Sequence[str] | None = None,
    selectors: Sequence[str] | None = None,
    predictor: Predictor = analytic_predictor,
    knobs: Sequence[str] = DEFAULT_KNOBS,
) -> tuple[dict[str, ChipFit], list[str]]:
    """Fits by chip, and the chips skipped (no preset). ``selectors`` None: each chip's default split."""
    # --all: every chip with published rows, and the family members without any (a family prior)
    wanted = list(chips) if chips else [c for c in ORDER if any(r.chip == c for r in rows) or c in FAMILY]
    unknown = [c for c in wanted if c not in KNOWN_CHIPS]
    if unknown:
        raise JalapenoError(
            f"no published rows can name {unknown}; known: {', '.join(KNOWN_CHIPS)}", field="--chip"
        )
    # family roots first, so members start from their fitted parameters
    todo = sorted(
        set(wanted) | {FAMILY[c] for c in wanted if c in FAMILY and FAMILY[c] in wanted},
        key=lambda c: ORDER.index(c) if c in ORDER else len(ORDER),
    )
    done: dict[str, ChipFit] = {}
    skipped = []
    for name in todo:
        chip = preset_or_none(name)
        if chip is None:
            skipped.append(name)
            continue
        prior, prior_name = _prior(name, done)
        family = preset_or_none(prior_name)
        # a family prior's GEMM rates by a measured rate ratio to the family chip, where one is bundled
        moved = with_measured_gemm(prior, family, chip) if family and name not in MEASURED else prior
        fit = calibrate_chip(chip, rows, selectors, moved, prior_name, predictor, knobs, prior_chip=family)
        if moved is not prior:
            note = f"; {measured_note(moved)}"
            fit.provenance += note
            fit.params = replace(fit.params, source=fit.params.source + note)
        prior_band = done[prior_name].band if prior_name in done else None
        if fit.band is None and prior_band is not None:
            fit.band = widened(prior_band, prior_name)
        elif fit.band is not None and fit.band.n < MIN_BAND_ROWS and prior_band is not None:
            fit.band = thin_band(fit.band, prior_band, prior_name)
        done[name] = fit
    return {k: v for k, v in done.items() if k in wanted}, [s for s in skipped if s in wanted]


def fit_record(fit: ChipFit, command: str) -> dict[str, Any]:
    """The calibration file's content, in the layout of the measured chips' files (params under "params")."""
    return {
        "chip": fit.chip,
        "date": datetime.date.today().isoformat(),
        "command": command,
        "provenance": fit.provenance,
        "knobs": fit.knobs,
        "prior": fit.prior,
        "fit_sources": list(fit.split.selectors),
        "fit_rows": [r.id for r in fit.split.fit],
        "held_out_rows": [r.id for r in fit.split.held_out],
        "error_band": fit.band.to_json() if fit.band else None,
        "params": chip_params(fit).to_json(),
    }


def write_results(
    fits: dict[str, ChipFit], command: str, unseen: bool = False, predictor: Predictor = analytic_predictor
) -> list[Path]:
    """Fitted chips' parameter files next to the measured ones, every chip's band in one file and, with
    ``unseen`` (every chip was calibrated: ``--all``), the unseen-chip band (``cost.unseen_band``).

    Measured chips' files are never rewritten (their parameters come from `jalapeno validate`)."""
    out = []
    for f in fits.values():
        if f.chip in MEASURED:
            continue
        p = calibration_path(f.chip)
        p.write_text(json.dumps(fit_record(f, command), indent=1) + "\n")
        out.append(p)
    bp = bands_path()
    bands = json.loads(bp.read_text()) if bp.is_file() else {}
    for f in fits.values():
        if f.band:
            bands[f.chip] = {
                **f.band.to_json(),
                "provenance": f.provenance,
                "command": command,
                "published_step_overhead_s": f.params.step_overhead_s,
            }
    bp.write_text(json.dumps(dict(sorted(bands.items())), indent=1) + "\n")
    out.append(bp)
    band = band_of_fits(list(fits.values()), predictor) if unseen else None
    if band is not None:
        out.append(write_band(band, command))
    return out
