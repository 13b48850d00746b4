"""Seeded Monte Carlo over estimated constants: each chip's fleet re-evaluated with its constants sampled.

Sampling (docs/compare.md): every estimated constant (``jalapeno.hardware.ranges``) is drawn log-uniformly
within its range, independently of the others; constant ``k``'s i-th draw comes from its own stream,
``numpy.random.default_rng([seed, crc32(k)])``, so it does not depend on which other constants or chips are
in the comparison. Sample i uses the same draws for every chip (common random numbers: a shared constant
such as ``tco:pue`` moves all chips at once), which is what makes the ratios' spread meaningful.

Model error (``jalapeno.cost.model_error``): every chip also gets ``model_error:<chip>``, its throughput
factor within its published band (its own held-out rows, its family's) or, for a chip with neither, the band
of what it runs on (``cost.unseen_band``: a paper chip the unseen-chip band, a datasheet preset on the
default parameters the defaults band); a chip
running another's parameters draws it from that chip's stream (``stream_key``), others independently.

Cost: the fleets are fixed (found once at the nominal constants; ``max_chips`` lets a fleet that misses the
SLO in a sample grow a replica at a time). A chip whose simulation inputs (the
datasheet figures the cost model reads, the mapper's target, the cost parameters) are unchanged by a
sample is only re-priced from its nominal simulation; any other is re-simulated, in worker processes.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

import numpy as np

from jalapeno.cost import model_error
from jalapeno.cost.params import runs_on_defaults
from jalapeno.errors import JalapenoError
from jalapeno.explore.design import Deployment
from jalapeno.explore.evaluate import Evaluation, evaluate_chip, objectives
from jalapeno.explore.runner import make_executor
from jalapeno.explore.workload import Workload, workload_from_dict
from jalapeno.hardware.ranges import (
    TCO,
    TECH,
    Estimated,
    chip_constants,
    library_constants,
    perturb,
    tco_constants,
    tco_values,
)

SAMPLES = 32
QUANTILES = (("p10", 10.0), ("p50", 50.0), ("p90", 90.0))
# A model-error draw takes one of this many levels across its band (log-spaced slice middles): each level is
# simulated once and repriced per sample, which keeps `compare` near its nominal cost (32 samples: at most 8
# simulations of a GPU fleet, not 32). The factor is off by at most half a slice (the H200's band 0.88-1.09:
# 1.3%), far inside the band itself.
ERROR_LEVELS = 8


def constants_for(chips: Sequence[Any]) -> tuple[Estimated, ...]:
    """The technology library's and the TCO's estimated constants plus each chip's own and its model error
    (``model_error:<chip>``, wherever a band is written: ``cost.params.chip_error_band``), sorted by key."""
    out = {e.key: e for e in (*library_constants(), *tco_constants())}
    for c in chips:
        out.update({e.key: e for e in chip_constants(c)})
        band = model_error.band_constant(c.name, runs_on_defaults(c))
        if band is not None:
            out[band.key] = band
    return tuple(out[k] for k in sorted(out))


def throughput_factor(chip: Any, values: Mapping[str, float]) -> float:
    """The chip's sampled model error in ``values`` (1.0, the model's own prediction, when absent)."""
    return float(values.get(model_error.key_of(chip.name), 1.0))


def collapsed(constants: Sequence[Estimated]) -> tuple[Estimated, ...]:
    """Every range shrunk to its nominal value (the Monte Carlo then reproduces the point estimate)."""
    return tuple(replace(e, lo=e.value, hi=e.value) for e in constants)


def draw(constants: Sequence[Estimated], samples: int, seed: int) -> list[dict[str, float]]:
    """``samples`` dicts of constant -> value, log-uniform in each range (see the module docstring)."""
    cols = {e.key: [e.at(u) for u in _stream(e.key, seed, samples)] for e in constants}
    return [{k: v[i] for k, v in cols.items()} for i in range(samples)]


def _stream(key: str, seed: int, samples: int) -> Any:
    """``samples`` uniforms of constant ``key``'s stream (``model_error.stream_key``: shared by a chip that
    runs another's parameters). A model error's uniform is snapped to the middle of one of ``ERROR_LEVELS``
    equal slices, so its chip is simulated at most that many times, not once a sample (``run_values``)."""
    u = np.random.default_rng([seed, zlib.crc32(model_error.stream_key(key).encode())]).random(samples)
    if key.startswith(model_error.PREFIX):
        u = (np.floor(u * ERROR_LEVELS) + 0.5) / ERROR_LEVELS
    return u


def sim_inputs(chip: Any) -> tuple[Any, ...]:
    """What a chip's simulation reads: its datasheet (price, cost, area aside), its mapper target and cost
    parameters. Two chips with equal inputs simulate identically; only their price may differ."""
    from jalapeno.cost.params import params_for
    from jalapeno.hardware.arch import arch_of
    from jalapeno.mapping import cost_params_for
    from jalapeno.mapping.target import Target

    arch = arch_of(chip)
    sheet = replace(
        chip,
        price_usd=None,
        extra=MappingProxyType({}),
        die_area_mm2=None,
        **({"arch": None} if arch is not None else {}),
    )
    return (
        sheet,
        Target.of(arch) if arch is not None else None,
        cost_params_for(chip) or params_for(chip.name),
    )


def relevant(constants: Sequence[Estimated], chip: Any) -> list[str]:
    """Keys of the constants that move this chip's simulation or price when set to their upper bound
    (TCO constants always do)."""
    base = (sim_inputs(chip), _price(chip))
    out = []
    for e in constants:
        if e.key.startswith(TCO) or e.key == model_error.key_of(chip.name):
            out.append(e.key)
            continue
        if e.key.startswith(model_error.PREFIX):  # another chip's model error
            continue
        other = perturb(chip, {e.key: e.hi if e.hi != e.value else e.lo})
        if other is not chip and (sim_inputs(other), _price(other)) != base:
            out.append(e.key)
    return out


def _price(chip: Any) -> float | None:
    """The chip's price under the default rule of the one pricing path (``hardware.tco``)."""
    from jalapeno.hardware.tco import chip_price

    return chip_price(chip).price("margin")


def sample_task(
    chip_ref: str,
    values: Mapping[str, float],
    dep: Mapping[str, Any],
    workload_doc: Mapping[str, Any],
    max_chips: int = 0,
) -> dict[str, Any]:
    """What a worker runs: one chip (resolved by name or path) with sampled constants, served at its fleet.
    With ``max_chips``, a fleet that misses the SLO grows a replica at a time (same tp and scheduler) until it
    meets it or would exceed ``max_chips``; the outcome is the first that meets it, else the original one."""
    from jalapeno.hardware import resolve_chip

    try:
        chip = perturb(resolve_chip(chip_ref), values)
    except (JalapenoError, ArithmeticError, ValueError) as e:
        return unbuildable(e)
    d = {k: v for k, v in dep.items() if k != "chips"}
    w, tco, f = workload_from_dict(workload_doc), tco_values(values), throughput_factor(chip, values)
    first = _outcome(evaluate_chip(chip, Deployment(**d), w, tco_values=tco, throughput_factor=f))
    grown = Deployment(**{**d, "replicas": d["replicas"] + 1})
    while not first["feasible"] and max_chips and grown.chips <= max_chips:
        ev = evaluate_chip(chip, grown, w, tco_values=tco, throughput_factor=f)
        if ev.feasible:
            return {**_outcome(ev), "replicas": grown.replicas}
        grown = Deployment(**{**d, "replicas": grown.replicas + 1})
    return first


def unbuildable(e: Exception) -> dict[str, Any]:
    """A sample whose constants make the chip impossible to build (no good die): it serves nothing."""
    return {
        "goodput_per_watt": 0.0,
        "usd_per_mtok": float("inf"),
        "feasible": False,
        "error": f"{type(e).__name__}: {e}",
    }


def _outcome(ev: Evaluation) -> dict[str, Any]:
    o = ev.objectives
    return {
        "goodput_per_watt": o.get("goodput_per_watt", 0.0),
        "usd_per_mtok": o.get("usd_per_mtok", float("inf")),
        "feasible": ev.feasible,
    }


@dataclass
class Fleet:
    """A chip at its (nominal) best fleet: the reference it was asked by, its spec, the nominal simulation."""

    ref: str
    chip: Any
    dep: Deployment
    nominal: Evaluation  # evaluated with keep_result=True


def nominal_fleet(ref: str, chip: Any, dep: Deployment, workload: Workload) -> Fleet:
    return Fleet(ref, chip, dep, evaluate_chip(chip, dep, workload, keep_result=True))


def run(
    fleets: Sequence[Fleet],
    workload: Workload,
    constants: Sequence[Estimated],
    *,
    samples: int = SAMPLES,
    seed: int = 0,
    workers: int | None = None,
    max_chips: int = 0,
) -> dict[str, list[dict[str, Any]]]:
    """Each fleet's outcome (goodput/W, $/Mtok, feasible) under ``samples`` draws of ``constants``
    (``max_chips``: re-size a fleet that misses the SLO, ``sample_task``)."""
    return run_values(fleets, workload, draw(constants, samples, seed), workers=workers, max_chips=max_chips)


def run_values(
    fleets: Sequence[Fleet],
    workload: Workload,
    draws: Sequence[Mapping[str, float]],
    *,
    workers: int | None = None,
    max_chips: int = 0,
) -> dict[str, list[dict[str, Any]]]:
    """Each fleet's outcome under each dict of constant values (constants absent from a dict stay nominal)."""
    samples = len(draws)
    out: dict[str, list[Any]] = {f.ref: [None] * samples for f in fleets}
    doc = workload.to_dict()
    ex = make_executor(workers)
    base = {f.ref: sim_inputs(f.chip) for f in fleets}
    try:
        jobs = {}
        level_jobs: dict[tuple[str, float], Any] = {}
        deferred: list[tuple[Fleet, int, Any, Mapping[str, float], tuple[str, float]]] = []
        for i, values in enumerate(draws):
            for f in fleets:
                try:
                    chip = perturb(f.chip, values)
                except (JalapenoError, ArithmeticError, ValueError) as e:
                    out[f.ref][i] = unbuildable(e)
                    continue
                same = chip is f.chip or sim_inputs(chip) == base[f.ref]
                factor = throughput_factor(f.chip, values)
                if same and factor == 1.0 and (f.nominal.feasible or not max_chips):
                    out[f.ref][i] = _repriced(f, chip, values)
                    continue
                if same and not max_chips:  # only the model error moves it: one simulation a level
                    key = (f.ref, factor)
                    if key not in level_jobs:
                        level_jobs[key] = ex.submit(level_task, f.ref, factor, f.dep.to_json(), doc)
                    deferred.append((f, i, chip, values, key))
                    continue
                err = model_error.key_of(f.chip.name)
                own = (TECH, TCO, f"{f.chip.name}:")
                mine = {k: v for k, v in values.items() if k == err or k.startswith(own)}
                jobs[ex.submit(sample_task, f.ref, mine, f.dep.to_json(), doc, max_chips)] = (f.ref, i)
        pending = [*jobs, *level_jobs.values()]
        while pending:
            for fut in ex.wait_one(pending):
                pending.remove(fut)
                if fut in jobs:
                    ref, i = jobs[fut]
                    out[ref][i] = fut.result()
        for f, i, chip, values, key in deferred:
            out[f.ref][i] = _priced(level_jobs[key].result(), chip, f.dep.chips, values)
    finally:
        ex.close()
    return out


def level_task(
    chip_ref: str, factor: float, dep: Mapping[str, Any], workload_doc: Mapping[str, Any]
) -> Evaluation:
    """What a worker runs for one model-error level: the chip at its nominal constants, served at its fleet
    with every step ``1 / factor`` as long, its simulation kept; the caller prices it with each sample's
    constants (``_priced``)."""
    from jalapeno.hardware import resolve_chip

    d = {k: v for k, v in dep.items() if k != "chips"}
    w = workload_from_dict(workload_doc)
    return evaluate_chip(
        resolve_chip(chip_ref), Deployment(**d), w, keep_result=True, throughput_factor=factor
    )


def _priced(ev: Evaluation, chip: Any, chips: int, values: Mapping[str, float]) -> dict[str, Any]:
    """A kept simulation priced with this sample's chip price and TCO constants (an evaluation that never
    simulated, e.g. a fleet that does not fit, keeps its own outcome)."""
    if "result" not in ev.metrics:
        return _outcome(ev)
    o = objectives(ev.metrics["result"], chip, chips, values=tco_values(values))
    return {
        "goodput_per_watt": o["goodput_per_watt"],
        "usd_per_mtok": o["usd_per_mtok"],
        "feasible": ev.feasible,
    }


def _repriced(f: Fleet, chip: Any, values: Mapping[str, float]) -> dict[str, Any]:
    """The nominal simulation priced with this sample's chip price and TCO constants."""
    return _priced(f.nominal, chip, f.dep.chips, values)


def quantiles(xs: Sequence[float]) -> dict[str, float]:
    a = np.asarray(xs, dtype=float)
    return {name: float(np.percentile(a, q)) for name, q in QUANTILES}
