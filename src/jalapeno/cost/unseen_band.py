"""The unseen-chip band: how far the cost model lands on a chip before it has seen any of that chip's results.

A chip on paper (an architecture timed by the mapper, a ``jalapeno-*`` preset) has no published rows and no
calibrated family, so no held-out rows and no band of its own. What the published results can say about
it is how the model does when it is moved to a chip it was not fitted on.
For every chip with published rows whose parameters start from another chip's (its family prior, or a
measured sibling's calibration: ``published_run._prior``), every row of it is predicted with those
parameters as they are before any fit on its own rows (``published_fit.ChipFit.unseen``), and published /
predicted throughput is taken: a leave-the-chip-out error. The measured H200 is not in the pool: its
parameters come from its own measurements.

One value a chip, the median over its rows, so a chip with 19 rows counts as much as one with a single row;
the band is the **minimum to maximum of these per-chip medians**. With five to seven chips a p10-p90 would
interpolate between two chips and shave the one chip the model missed most, the case a paper chip is
exposed to; min-max claims only what a reader can check in the file (every chip the model was moved to
landed in it, at its median row). The spread of single rows is recorded too (``rows_lo``/``rows_hi``), and
not used: a row's scatter around its chip's median is mostly the scenario and model mix of the published
rows (offline against interactive, Llama against Mixtral), not the move to a new chip.

The same rule for a datasheet preset with no published rows and no calibrated family (TPU, Trainium,
Gaudi, Groq, A100): its band is how the parameters it runs on, the cost model's defaults, did on chips they
were not fitted to; every published chip's rows under ``CostParams()`` give the **defaults band** (min-max of
per-chip medians again, the H200 included: nothing was fitted to it either).

Computed by ``jalapeno calibrate --all --write`` from whatever the scenario model then predicts, and stored
with its chips and rows in ``hardware/calibration/unseen-chip-band.json`` (``cost.params.unseen_chip_band``
reads it).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from statistics import median
from typing import Any

from jalapeno.cost.params import CALIBRATION_FAMILY, CostParams, unseen_band_path
from jalapeno.cost.published_fit import ChipFit, Predictor, with_four_bit

RULE = (
    "min-max over chips of each chip's median published / predicted throughput, its rows predicted with "
    "its prior's parameters before any fit on its own rows (docs/compare.md, 'Model error')"
)


@dataclass(frozen=True)
class ChipMove:
    """One chip's rows predicted from the chip it took its parameters from: (row id, published per chip,
    predicted per chip) each."""

    chip: str
    prior: str
    rows: tuple[tuple[str, float, float], ...]

    @property
    def ratios(self) -> tuple[float, ...]:
        """published / predicted of each row."""
        return tuple(pub / pred for _, pub, pred in self.rows)

    @property
    def median(self) -> float:
        return float(median(self.ratios))

    def to_json(self) -> dict[str, Any]:
        return {
            "chip": self.chip,
            "prior": self.prior,
            "n": len(self.rows),
            "median": self.median,
            "lo": min(self.ratios),
            "hi": max(self.ratios),
            "rows": [
                {"id": i, "published_per_chip": pub, "predicted_per_chip": pred, "ratio": pub / pred}
                for i, pub, pred in self.rows
            ],
        }


@dataclass(frozen=True)
class UnseenBand:
    """published / predicted for a chip the model has not seen: min-max of the per-chip medians."""

    lo: float
    hi: float
    moves: tuple[ChipMove, ...]
    # every published chip's rows under the cost model's default parameters: the band of a datasheet preset
    # with no published rows and no calibrated family, which runs on them
    defaults: tuple[ChipMove, ...] = ()

    @property
    def rows_lo(self) -> float:
        return min(x for m in self.moves for x in m.ratios)

    @property
    def rows_hi(self) -> float:
        return max(x for m in self.moves for x in m.ratios)

    @property
    def basis(self) -> str:
        chips = ", ".join(f"{m.chip} {m.median:.2f}" for m in self.moves)
        n = sum(len(m.rows) for m in self.moves)
        return (
            f"unseen-chip band: min-max of {len(self.moves)} chips' median published / predicted under "
            f"their priors ({chips}; {n} rows)"
        )

    def to_json(self, command: str) -> dict[str, Any]:
        return {
            "lo": self.lo,
            "hi": self.hi,
            "rule": RULE,
            "basis": self.basis,
            "chips": len(self.moves),
            "rows": sum(len(m.rows) for m in self.moves),
            "rows_lo": self.rows_lo,
            "rows_hi": self.rows_hi,
            "command": command,
            "date": datetime.date.today().isoformat(),
            "per_chip": [m.to_json() for m in self.moves],
            "defaults_band": _defaults(self.defaults),
        }


def _defaults(moves: Sequence[ChipMove]) -> dict[str, Any] | None:
    """The defaults band: per-chip medians and their min-max, without the rows (the same rows as
    ``per_chip``, plus the H200's)."""
    if not moves:
        return None
    medians = [m.median for m in moves]
    chips = ", ".join(f"{m.chip} {m.median:.2f}" for m in moves)
    return {
        "lo": min(medians),
        "hi": max(medians),
        "basis": f"defaults band: min-max of {len(moves)} chips' median published / predicted under the cost "
        f"model's default parameters ({chips}; {sum(len(m.rows) for m in moves)} rows)",
        "rule": "as the unseen-chip band, every chip's rows predicted under CostParams() (no chip was fitted "
        "to them); the band of a datasheet preset with no published rows and no calibrated family",
        "per_chip": [
            {"chip": m.chip, "n": len(m.rows), "median": m.median, "lo": min(m.ratios), "hi": max(m.ratios)}
            for m in moves
        ],
    }


def chip_move(fit: ChipFit) -> ChipMove | None:
    """The chip's rows under its prior (rows no replica of it fits are left out), or None: a chip on its own
    measurements, or one with no predictable row."""
    rows = tuple((c.row.id, c.row.per_chip, c.predicted) for c in fit.unseen if c.predicted)
    prior = CALIBRATION_FAMILY.get(fit.chip, fit.prior)  # the H100's "own" parameters are the H200's
    return ChipMove(fit.chip, prior, rows) if rows else None


def unseen_band(moves: Iterable[ChipMove | None]) -> UnseenBand | None:
    """The band over the chips that have rows under a prior (None without any)."""
    kept = tuple(sorted((m for m in moves if m is not None), key=lambda m: m.chip))
    if not kept:
        return None
    medians = [m.median for m in kept]
    return UnseenBand(min(medians), max(medians), kept)


def band_of_fits(fits: Sequence[ChipFit], predictor: Predictor | None = None) -> UnseenBand | None:
    """The band of these fits; with ``predictor``, also the check of the default parameters (``defaults``)."""
    band = unseen_band(chip_move(f) for f in fits)
    if band is None or predictor is None:
        return band
    return replace(band, defaults=tuple(m for m in (default_move(f, predictor) for f in fits) if m))


def default_move(fit: ChipFit, predictor: Predictor) -> ChipMove | None:
    """Every row of the chip predicted under the cost model's default parameters (``CostParams()``, 4-bit
    dtypes at their fp8 efficiencies as for any prior), or None without a preset or a predictable row."""
    from jalapeno.hardware.registry import list_presets, resolve_chip

    if fit.chip not in list_presets():
        return None
    chip, prm = resolve_chip(fit.chip), with_four_bit(CostParams())
    rows = tuple(
        (c.row.id, c.row.per_chip, p) for c in fit.checked for p in [predictor(c.row, chip, prm)] if p
    )
    return ChipMove(fit.chip, "defaults", rows) if rows else None


def write_band(band: UnseenBand, command: str, path: Path | None = None) -> Path:
    p = path or unseen_band_path()
    p.write_text(json.dumps(band.to_json(command), indent=1) + "\n")
    return p
