"""``jalapeno compare``: chips head to head on one workload, each at its best fleet, ratios with ranges.

Thin: resolves the workload and chips, runs ``explore.headtohead.compare`` (the report's sweep, then a
seeded Monte Carlo over the estimated constants), prints a table or ``--json``. See docs/compare.md.
"""

from __future__ import annotations

import time
from typing import Any

import click

from jalapeno.commands.options import deprecated_n, emit_json, json_option, positive, renamed
from jalapeno.errors import JalapenoError


def _fmt(x: Any, spec: str = ".3g") -> str:
    return "-" if x is None else format(x, spec)


def _range(q: dict[str, float] | None) -> str:
    if q is None:
        return "-"
    return f"{q['p50']:.2f}x ({q['p10']:.2f}-{q['p90']:.2f})"


def print_table(doc: dict[str, Any], wall_s: float) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    con = Console()
    t = Table(
        title=f"{escape(doc['workload'])}: every chip at its best fleet, ratios against "
        f"{escape(doc['reference'])} (p50, p10-p90 over {doc['samples']} samples, seed {doc['seed']})"
    )
    for col in (
        "chip",
        "best fleet",
        "goodput/W (req/s/kW)",
        "vs ref",
        "vs ref p50 (p10-p90)",
        "$/Mtok",
        "vs ref",
        "vs ref p50 (p10-p90)",
        "feasible samples",
    ):
        t.add_column(col, justify="left" if col in ("chip", "best fleet") else "right")
    for r in doc["rows"]:
        fleet = (
            r["fleet"]["label"] + ("" if r["feasible"] else " (misses SLO)") if r["fleet"] else "none fits"
        )
        g = r["goodput_per_watt"] * 1e3 if r["goodput_per_watt"] is not None else None
        t.add_row(
            escape(r["chip"]),
            escape(fleet),
            _fmt(g),
            _fmt(r.get("ratio_goodput_per_watt_point"), ".2f"),
            _range(r["ratio_goodput_per_watt"]),
            _fmt(r["usd_per_mtok"]),
            _fmt(r.get("ratio_usd_per_mtok_point"), ".2f"),
            _range(r["ratio_usd_per_mtok"]),
            f"{r.get('samples_feasible', 0)}/{doc['samples']}"
            + (f" ({r['samples_resized']} re-sized)" if r.get("samples_resized") else ""),
        )
    con.print(t)
    stated = sum(1 for c in doc["constants"] if c["range_basis"] == "stated")
    con.print(
        f"{len(doc['constants'])} estimated constants move these chips ({stated} with a stated range, the "
        f"rest at the default factor); sampling: {escape(doc['sampling'])}. Took {wall_s:.0f} s."
    )
    bands = [c for c in doc["constants"] if c["key"].startswith("model_error:")]
    if bands:
        con.print(
            "model error (published / predicted throughput, sampled): "
            + "; ".join(f"{c['key'].split(':', 1)[1]} {c['lo']:.2f}-{c['hi']:.2f}" for c in bands)
        )


MAX_SAMPLES = 1_000  # Monte Carlo samples: 32 take ~40 s on 2 cores; 1,000 about 20 min, beyond that a typo


@click.command(name="compare")
@click.option(
    "--workload",
    "-w",
    required=True,
    help="Bundled workload (azure-code, mooncake-conversation, agentic-coding, ...) or a workload YAML file.",
)
@click.option("--chips", "-c", required=True, help="Comma-separated chips; ratios are against the first.")
@click.option(
    "--samples",
    type=int,
    default=32,
    show_default=True,
    help="Monte Carlo samples of the estimated constants.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Monte Carlo seed.")
@click.option(
    "--quick", is_flag=True, help="The report's quick sweep (fewer tp, schedulers and fleet sizes)."
)
@click.option(
    "--sweep",
    "sweep_name",
    type=click.Choice(["auto", "dense", "moe"]),
    default="auto",
    show_default=True,
    help="Deployments tried per chip: dense = the report's (tp 1-4, 16 chips); moe = tp 1-8 and expert "
    "parallelism over 8 and 16 chips, up to 32 chips (docs/jalapeno-moe.md); auto = moe for a MoE model.",
)
@click.option(
    "--resize",
    is_flag=True,
    help="In a sample where a chip's fleet misses the SLO, add replicas (same tp "
    "and scheduler, within the sweep's chip limit) until it meets it.",
)
@click.option("--workers", type=int, default=None, help="Local worker processes [CPU count].")
@json_option
@deprecated_n("samples")
def command(
    workload: str,
    chips: str,
    samples: int,
    seed: int,
    quick: bool,
    sweep_name: str,
    resize: bool,
    workers: int | None,
    as_json: bool,
) -> None:
    """Every chip at its best fleet on a workload, with p10/p50/p90 ratios against the first chip."""
    from jalapeno.explore.compare import Sweep
    from jalapeno.explore.headtohead import compare, resolve_chips
    from jalapeno.explore.workload import resolve_workload

    positive("samples", samples, 1, MAX_SAMPLES)
    positive("seed", seed, 0)
    positive("workers", workers, 1, 1024)
    names = [c.strip() for c in chips.split(",") if c.strip()]
    if not names:
        raise JalapenoError(f"name at least one chip, got {chips!r}", field="--chips")
    w = renamed("--workload", resolve_workload, workload)
    renamed("--chips", resolve_chips, names)  # bad names fail before the sweep starts
    t0 = time.perf_counter()
    moe = sweep_name == "moe" or (sweep_name == "auto" and w.model_config().moe is not None)
    sweep = Sweep.quick() if quick else Sweep.moe() if moe else Sweep()
    doc = compare(w, names, samples=samples, seed=seed, workers=workers, sweep=sweep, resize=resize)
    if as_json:
        emit_json(doc)
    else:
        print_table(doc, time.perf_counter() - t0)
