"""Which latency limit binds a server or interactive row, in the published run and in the scenario model.

A published run's log summary (bundled in data/published_logs by scripts/mlperf_log_summaries.py) gives
its p99 TTFT and p99 TPOT against the round's limits, and, by Little's law, the requests it kept decoding:
samples/s x (mean latency - mean TTFT), per replica. The scenario model (``cost.scenario``) picks the
largest batch meeting both limits and the batch cap; ``model_limits`` gives its p99 TTFT, p99 TPOT and
prefill-server load at that batch, or at any other (the run's own, to test the mechanism where the step
cost is not in question). A limit binds when its p99 is the closer one to it.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from jalapeno.cost.params import CostParams, fused_engine
from jalapeno.cost.published import PublishedRow, data_dir
from jalapeno.cost.published_board import system_chip
from jalapeno.cost.published_fit import analytic_result, row_shape
from jalapeno.cost.scenario import (
    Z99,
    precision_of,
    replica_setup,
    tpot_p99_at,
    ttft_p99_at,
)
from jalapeno.models.registry import resolve_model

if TYPE_CHECKING:
    from jalapeno.cost.scenario_steps import ReplicaSteps
    from jalapeno.hardware.spec import ChipSpec

LOGS_FILE = "published_logs/mlperf_log_summaries.csv"


@dataclass(frozen=True)
class LoggedRun:
    """One run's LoadGen log summary: seconds and samples/s as logged (``source``: its URL)."""

    id: str
    samples_per_s: float
    latency_mean_s: float
    ttft_mean_s: float
    ttft_p99_s: float
    tpot_mean_s: float
    tpot_p99_s: float
    ttft_limit_s: float
    tpot_limit_s: float
    source: str

    def decoding(self, replicas: int) -> float:
        """Requests decoding in one replica: arrivals x time past the first token (Little's law)."""
        return self.samples_per_s * (self.latency_mean_s - self.ttft_mean_s) / replicas

    @property
    def ttft_share(self) -> float:
        return self.ttft_p99_s / self.ttft_limit_s

    @property
    def tpot_share(self) -> float:
        return self.tpot_p99_s / self.tpot_limit_s


def binding(ttft_share: float, tpot_share: float) -> str:
    """The limit whose p99 is the closer to it."""
    return "TTFT" if ttft_share >= tpot_share else "TPOT"


@cache
def load_logged_runs(path: Path | None = None) -> dict[str, LoggedRun]:
    """Bundled log summaries by published row id."""
    with open(path or data_dir().parent / LOGS_FILE, newline="") as f:
        return {d["id"]: _logged(d) for d in csv.DictReader(f)}


def _logged(d: dict[str, str]) -> LoggedRun:
    return LoggedRun(
        id=d["id"],
        samples_per_s=float(d["samples_per_s"]),
        latency_mean_s=float(d["latency_mean_s"]),
        ttft_mean_s=float(d["ttft_mean_s"]),
        ttft_p99_s=float(d["ttft_p99_s"]),
        tpot_mean_s=float(d["tpot_mean_s"]),
        tpot_p99_s=float(d["tpot_p99_s"]),
        ttft_limit_s=float(d["ttft_limit_s"]),
        tpot_limit_s=float(d["tpot_limit_s"]),
        source=d["source"],
    )


@dataclass(frozen=True)
class ModelLimits:
    """The scenario model at one batch of one replica: p99 TTFT and TPOT (s), the prefill server's load,
    and the batch cap's share (p99 of the Poisson number decoding over the cap)."""

    batch: int
    ttft_p99_s: float
    tpot_p99_s: float
    rho: float
    cap_share: float

    def shares(self, ttft_limit_s: float, tpot_limit_s: float) -> tuple[float, float]:
        return self.ttft_p99_s / ttft_limit_s, self.tpot_p99_s / tpot_limit_s


def replicas_of(row: PublishedRow, tp: int) -> int:
    return max(1, row.n_chips // (tp * (row.serving.pp if row.serving else 1)))


def row_replica(
    row: PublishedRow, chip: ChipSpec, params: CostParams, tp: int
) -> tuple[ReplicaSteps, int, int] | None:
    """A published row's replica at ``tp`` as ``analytic_result`` prices it (``scenario.replica_setup``): the
    board its system had, its benchmark's lengths and spreads, its serving configuration and system chips."""
    isl, osl, _, cv, fractions = row_shape(row)
    return replica_setup(
        resolve_model(row.model),
        system_chip(row, chip),
        fused_engine(params),
        precision_of(row.precision),
        tp,
        isl,
        osl,
        fractions,
        row.serving,
        row.n_chips,
        isl_cv=cv,
    )


def model_limits(
    row: PublishedRow, chip: ChipSpec, params: CostParams, batch: int | None = None
) -> tuple[ModelLimits, int] | None:
    """(the model's limits at ``batch`` (None: the batch it chooses), its replicas) for a server or
    interactive row; None where the model finds no replica."""
    res = analytic_result(row, chip, params)
    if res is None:
        return None
    _, _, _, cv, fractions = row_shape(row)
    replica = row_replica(row, chip, params, res.tp)
    assert replica is not None  # the model found this replica above
    rs, _, cap = replica
    b = batch or res.batch
    limits = ModelLimits(
        b,
        ttft_p99_at(rs, b, cv),
        tpot_p99_at(rs, b, cv, fractions),
        rs.prefill_service(b)[1],
        (b + Z99 * math.sqrt(b)) / cap,
    )
    return limits, replicas_of(row, res.tp)
