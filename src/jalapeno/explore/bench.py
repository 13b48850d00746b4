"""Benchmark a model on a chip under an MLPerf-style scenario: the one call behind ``jalapeno bench``.

Stable API (``jalapeno calibrate`` calls it with fitted parameters):

``run_bench(model, chip, scenario, *, tp=1, replicas=1, dataset=None, isl=None, osl=None, requests=None,
seed=0, precision=None, params=None, engine="fused", concurrency=None, limits=None, rel_tol=REL_TOL,
max_num_seqs=BENCH_MAX_NUM_SEQS, **sim_options) -> BenchReport``

``model``/``chip`` are ``ModelConfig``/``ChipSpec`` values; ``params`` replaces the chip's cost parameters
(else ``cost.params.setup_for(chip, engine)``: the same defaults as ``serve``). The request lengths are
the bundled set ``dataset`` (``workload.benchsets``), or fixed ``isl``/``osl``; by default the model's
MLPerf set (``benchsets.DEFAULT_SET``) for offline/server/interactive, and fixed lengths are required for
the fixed scenario. ``limits`` default to MLPerf's for the model and scenario (``serving.bench``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jalapeno.errors import JalapenoError
from jalapeno.serving.bench import (
    BENCH_MAX_NUM_SEQS,
    REL_TOL,
    BenchResult,
    Limits,
    bench,
    check_args,
    limits_for,
)
from jalapeno.workload.benchsets import DEFAULT_SET, LengthSet, fixed, load_set

if TYPE_CHECKING:
    from jalapeno.cost.params import CostParams
    from jalapeno.graph.precision import Precision
    from jalapeno.hardware import ChipSpec
    from jalapeno.models.config import ModelConfig

MIN_KV_TOKENS = 16  # one KV block


@dataclass(frozen=True)
class BenchReport:
    """A ``BenchResult`` with what was benchmarked: model, chip, parallelism, precision, engine, lengths."""

    model: str
    chip: str
    tp: int
    precision: str
    engine: str
    cost_params: str
    lengths: LengthSet
    result: BenchResult

    def to_dict(self) -> dict[str, Any]:
        r = self.result
        return {
            "command": "bench",
            "scenario": r.scenario,
            "model": self.model,
            "hardware": self.chip,
            "tp": self.tp,
            "replicas": r.replicas,
            "chips": r.chips,
            "precision": self.precision,
            "engine": self.engine,
            "cost_params": self.cost_params,
            "dataset": {
                "name": self.lengths.name,
                "samples": len(self.lengths),
                "mean_prompt_tokens": self.lengths.mean_prompt,
                "mean_output_tokens": self.lengths.mean_output,
                "attribution": self.lengths.attribution,
            },
            **{k: v for k, v in r.to_dict().items() if k not in ("scenario", "dataset", "replicas", "chips")},
        }


def resolve_lengths(
    model_name: str, scenario: str, dataset: str | None, isl: int | None, osl: int | None
) -> LengthSet:
    """The request-length set the options name (module docstring)."""
    if (isl is None) != (osl is None):
        raise JalapenoError("give both --isl and --osl", field="--isl" if isl is None else "--osl")
    if isl is not None and dataset is not None:
        raise JalapenoError("give either --dataset or --isl/--osl", field="--dataset")
    if isl is not None and osl is not None:
        return fixed(isl, osl)
    if dataset is not None:
        return load_set(dataset)
    if scenario == "fixed":
        raise JalapenoError("the fixed scenario needs --isl and --osl", field="--isl")
    if model_name not in DEFAULT_SET:
        raise JalapenoError(
            f"no bundled MLPerf set for {model_name}; give --dataset or --isl/--osl", field="--dataset"
        )
    return load_set(DEFAULT_SET[model_name])


def run_bench(
    model: ModelConfig,
    chip: ChipSpec,
    scenario: str,
    *,
    tp: int = 1,
    replicas: int = 1,
    dataset: str | None = None,
    isl: int | None = None,
    osl: int | None = None,
    requests: int | None = None,
    seed: int = 0,
    precision: Precision | None = None,
    params: CostParams | None = None,
    engine: str = "fused",
    concurrency: int | None = None,
    limits: Limits | None = None,
    rel_tol: float = REL_TOL,
    max_num_seqs: int = BENCH_MAX_NUM_SEQS,
    **sim_options: Any,
) -> BenchReport:
    """Benchmark ``model`` on ``replicas`` x ``tp`` x ``chip`` under ``scenario`` (module docstring)."""
    from jalapeno.cost.oracle import CostOracle
    from jalapeno.cost.params import setup_for
    from jalapeno.graph.precision import Precision

    check_args(scenario, replicas, tp, requests, concurrency, rel_tol, max_num_seqs)
    prec = precision or Precision.of("bf16")
    lengths = resolve_lengths(model.name, scenario, dataset, isl, osl)
    default_params, timer = setup_for(chip, engine)
    prm = params or default_params
    oracle = CostOracle(model, chip, prm, tp=tp, precision=prec, timer=timer)
    if oracle.kv_capacity_tokens < MIN_KV_TOKENS:
        raise JalapenoError(
            f"{model.name} leaves room for {oracle.kv_capacity_tokens} KV tokens on {tp} x "
            f"{chip.name}; raise --tp or use a smaller --dtype/--kv-dtype",
            field="memory",
        )
    if limits is None and scenario in ("server", "interactive"):
        limits = limits_for(model.name, scenario)
    res = bench(
        scenario,
        lengths,
        oracle,
        replicas=replicas,
        chips_per_replica=tp,
        limits=limits,
        requests=requests,
        seed=seed,
        concurrency=concurrency,
        rel_tol=rel_tol,
        max_num_seqs=max_num_seqs,
        **sim_options,
    )
    return BenchReport(model.name, chip.name, tp, prec.label, engine, prm.source, lengths, res)
