"""``jalapeno compare``'s work: every chip at its best fleet on one workload, ratios against the first chip,
each ratio a range (p10/p50/p90 over a seeded Monte Carlo of the estimated constants).

The best fleet of each chip is the report's sweep (``explore.compare.sweep_chips``) at the nominal
constants; the Monte Carlo then holds each fleet fixed and re-evaluates it (``explore.montecarlo``).
``$/Mtok`` comes from ``explore.evaluate.objectives``, the one pricing path of
``serve``/``explore``/``report``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from jalapeno.errors import JalapenoError
from jalapeno.explore import montecarlo as mc
from jalapeno.explore.compare import Sweep, sweep_chips
from jalapeno.explore.workload import Workload

SAMPLING = (
    "log-uniform within each estimated constant's range, independent across constants, one stream a "
    "constant from numpy default_rng([seed, crc32(key)]); the same draws for every chip of a sample; "
    "model_error:<chip> (published / predicted throughput, within the chip's held-out band, its family's, "
    "or for a chip with neither the unseen-chip band) from the stream of the chip whose parameters it runs on"
)


def resolve_chips(refs: Sequence[str]) -> dict[str, Any]:
    """Chip references -> specs (bad names raise), in order; the same chip twice is an error."""
    from jalapeno.hardware import resolve_chip

    out: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for r in refs:
        spec = resolve_chip(r)
        if spec.name in seen:
            raise JalapenoError(
                f"{r!r} and {seen[spec.name]!r} are the same chip ({spec.name}); list it once",
                field="--chips",
            )
        seen[spec.name] = r
        out[r] = spec
    return out


def compare(
    workload: Workload,
    chips: Sequence[str],
    *,
    samples: int = mc.SAMPLES,
    seed: int = 0,
    workers: int | None = None,
    sweep: Sweep | None = None,
    collapse: bool = False,
    resize: bool = False,
    log: Callable[[str], Any] = lambda s: None,
) -> dict[str, Any]:
    """The comparison as a JSON-able dict (shape in docs/compare.md). ``collapse``: every range at its
    nominal value (the ratios' quantiles then equal the point estimate). ``resize``: a fleet that misses the
    SLO in a sample grows a replica at a time, within the sweep's chip limit."""
    if samples < 1:
        raise JalapenoError(f"must be >= 1, got {samples}", field="--samples")
    if not chips:
        raise JalapenoError("name at least one chip", field="--chips")
    specs = resolve_chips(chips)
    log(f"sweep: {', '.join(chips)} on {workload.name}")
    sweep = sweep or Sweep()
    runs = sweep_chips(list(chips), workload, sweep, workers=workers)
    full = mc.constants_for(list(specs.values()))
    consts = mc.collapsed(full) if collapse else full
    log(f"monte carlo: {samples} samples of {len(consts)} estimated constants")
    rows = ratio_rows(
        {r: runs[r].best for r in chips},
        specs,
        workload,
        consts,
        samples=samples,
        seed=seed,
        workers=workers,
        max_chips=sweep.max_chips if resize else 0,
    )
    applies = {k for s in specs.values() for k in mc.relevant(full, s)}
    return {
        "workload": workload.name,
        "reference": specs[chips[0]].name,
        "samples": samples,
        "seed": seed,
        "sampling": SAMPLING,
        "resize": resize,
        "rows": rows,
        "constants": [e.to_json() for e in consts if e.key in applies],
    }


def ratio_rows(
    best: Mapping[str, Any],
    specs: Mapping[str, Any],
    workload: Workload,
    constants: Sequence[Any],
    *,
    samples: int,
    seed: int = 0,
    workers: int | None = None,
    max_chips: int = 0,
) -> list[dict[str, Any]]:
    """One row per chip of ``specs`` (in order; ratios against the first): each chip at its best deployment
    (``best[ref]``, None when no deployment fits), re-priced or re-simulated under the same seeded draws of
    ``constants``. ``compare`` and the report's headline share it."""
    fleets = [mc.nominal_fleet(r, specs[r], best[r], workload) for r in specs if best.get(r) is not None]
    outcomes = mc.run(
        fleets, workload, constants, samples=samples, seed=seed, workers=workers, max_chips=max_chips
    )
    by_ref = {f.ref: f for f in fleets}
    ref = next(iter(specs))
    return [
        _row(r, specs[r], by_ref.get(r), outcomes.get(r), by_ref.get(ref), outcomes.get(ref)) for r in specs
    ]


def rows_against(
    specs: Mapping[str, Any], fleets: Mapping[str, mc.Fleet], outcomes: Mapping[str, Any], reference: str
) -> list[dict[str, Any]]:
    """``ratio_rows``' rows with ``reference`` as the denominator, from fleets and Monte Carlo outcomes
    already computed (one set of draws serves several references)."""
    base, base_runs = fleets.get(reference), outcomes.get(reference)
    return [_row(r, specs[r], fleets.get(r), outcomes.get(r), base, base_runs) for r in specs]


def _row(
    ref: str,
    spec: Any,
    fleet: mc.Fleet | None,
    runs: list[dict[str, Any]] | None,
    base: mc.Fleet | None,
    base_runs: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    if fleet is None or runs is None:
        return {
            "chip": spec.name,
            "fleet": None,
            "feasible": False,
            "goodput_per_watt": None,
            "usd_per_mtok": None,
            "ratio_goodput_per_watt": None,
            "ratio_usd_per_mtok": None,
        }
    o = fleet.nominal.objectives
    row: dict[str, Any] = {
        "chip": spec.name,
        "fleet": {"label": fleet.dep.label(), **fleet.dep.to_json()},
        "feasible": fleet.nominal.feasible,
        "goodput_per_watt": o["goodput_per_watt"],
        "usd_per_mtok": _num(o["usd_per_mtok"]),
        "ttft_p99_s": _num(o["ttft_p99_s"]),
        "slo_attainment": fleet.nominal.metrics.get("slo_attainment"),
        "samples_feasible": sum(1 for r in runs if r["feasible"]),
        "samples_unbuildable": sum(1 for r in runs if "error" in r),
        "samples_resized": sum(1 for r in runs if "replicas" in r),
    }
    for key in ("goodput_per_watt", "usd_per_mtok"):
        point, xs = None, []
        if base is not None and base_runs is not None:
            point = _ratio(o[key], base.nominal.objectives[key])
            xs = [_ratio(a[key], b[key]) for a, b in zip(runs, base_runs, strict=True)]
        row[f"ratio_{key}"] = _quantiles(xs)
        row[f"ratio_{key}_point"] = point
    return row


def _ratio(a: float, b: float) -> float | None:
    r = a / b if b and math.isfinite(a) and math.isfinite(b) else None
    return r if r is not None and math.isfinite(r) else None


def _quantiles(xs: list[float | None]) -> dict[str, float] | None:
    """p10/p50/p90 of the samples that have a ratio (a sample whose chip cannot be built has none: counted
    in ``samples_unbuildable``); None when no sample has one."""
    ok = [x for x in xs if x is not None]
    return mc.quantiles(ok) if ok else None


def _num(x: float) -> float | None:
    return x if math.isfinite(x) else None
