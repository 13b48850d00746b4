"""The simulator against the bundled real-GPU replay: its scheduling mirror, checked with measured step
times."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np

from jalapeno.cost.params import params_for
from jalapeno.hardware import resolve_chip
from jalapeno.models import resolve_model
from jalapeno.studies.serve_replay import compare, simulate_with_measured_steps, step_errors

REPLAY = Path(str(resources.files("jalapeno"))) / "data" / "measurements" / "h200-serve-2026-11-26.json"


def _setup():
    record = json.loads(REPLAY.read_text())
    return record, resolve_model(record["model"]), resolve_chip("h200"), params_for("h200-sxm")


def test_measured_step_times_reproduce_the_replays_latencies():
    """Given each step's measured duration, the simulated PrefillFirst engine must land on the measured
    TTFT and TPOT: any error left in the cost-model run is then the steps' cost, not the scheduling."""
    record, model, chip, params = _setup()
    res, oracle = simulate_with_measured_steps(record, model, chip, params)
    assert oracle.misses == 0 and oracle.hits >= len(record["steps"])
    assert len(res.per_request["ttft_s"]) == len(record["requests"])
    for c in compare(record, res):
        assert abs(c.error) < 0.03, (c.metric, c.quantile, c.error)


def test_step_errors_cover_every_replayed_step():
    record, model, chip, params = _setup()
    errs = step_errors(record, model, chip, params)
    kinds = [s["kind"] for s in record["steps"]]
    assert errs["decode"].size == kinds.count("decode") and errs["prefill"].size == kinds.count("prefill")
    assert np.all(np.isfinite(errs["decode"])) and np.all(errs["decode"] > -1.0)
