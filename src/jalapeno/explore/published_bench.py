"""The serving simulator as a published-results predictor, to check the closed-form fit against it.

``bench_predictor(row, chip, params)`` has the fit's ``Predictor`` signature (cost/published_fit.py), so
it can replace the closed-form scenario model; a bench run takes seconds (a server or interactive rate
search, tens of seconds) where the closed form takes milliseconds, so ``jalapeno calibrate`` fits with the
closed form and ``--check-with bench`` re-predicts the rows with the simulator under the fitted parameters.
The tensor-parallel degree is the closed form's choice (or the vendor row's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jalapeno.cost.params import CostParams, fused_engine
from jalapeno.cost.published import PublishedRow
from jalapeno.cost.published_board import system_chip
from jalapeno.cost.published_fit import ChipFit, analytic_result, row_lengths
from jalapeno.hardware.spec import ChipSpec

OFFLINE_REQUESTS = 4000  # offline / fixed runs: enough for ramp-up and drain to be a small share


def bench_predictor(row: PublishedRow, chip: ChipSpec, params: CostParams) -> float | None:
    """Output tokens/s per chip that ``jalapeno bench`` predicts for the row (None: no replica fits)."""
    from jalapeno.cost.scenario import precision_of
    from jalapeno.explore.bench import run_bench
    from jalapeno.models.registry import resolve_model
    from jalapeno.workload.benchsets import DEFAULT_SET

    placed = analytic_result(row, chip, params)
    if placed is None:
        return None
    kwargs: dict[str, Any] = {}
    if row.scenario == "fixed" or row.model not in DEFAULT_SET:  # no bundled length set: the mean lengths
        isl, osl, _ = row_lengths(row)
        kwargs = {"isl": isl, "osl": osl}
    rep = run_bench(
        resolve_model(row.model),
        system_chip(row, chip),  # the board its system had, as the closed form prices it
        row.scenario,
        tp=row.tp or placed.tp,
        precision=precision_of(row.precision),
        params=fused_engine(params),
        requests=OFFLINE_REQUESTS if row.scenario in ("offline", "fixed") else None,
        **kwargs,
    )
    return rep.result.output_tokens_per_s_per_chip or None


def bench_check(fits: Sequence[ChipFit], models: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Every row of the fitted chips (of ``models``, if named): published, closed form and bench."""
    from jalapeno.hardware.registry import resolve_chip

    out = []
    for f in fits:
        chip = resolve_chip(f.chip)
        for c in f.checked:
            if models and c.row.model not in models:
                continue
            b = bench_predictor(c.row, chip, f.params)
            out.append(
                {
                    "chip": f.chip,
                    "key": c.row.key,
                    "set": "fit" if c.fitted else "held-out",
                    "published": c.row.per_chip,
                    "closed_form": c.predicted,
                    "bench": b,
                    "bench_error": None if b is None else b / c.row.per_chip - 1.0,
                }
            )
    return out
