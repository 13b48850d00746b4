"""``jalapeno explore``: search a design space for the chips (and fleets) that serve a workload best.

Thin: loads the space and the workload, runs ``explore.run_search`` with a progress bar, prints the
Pareto set (or ``--json``). See docs/explore.md.
"""

from __future__ import annotations

import math
from typing import Any

import click

from jalapeno.commands.options import (
    as_flags,
    deprecated_n,
    emit_json,
    json_option,
    quiet_option,
    timings_option,
)
from jalapeno.errors import JalapenoError
from jalapeno.explore.samplers import REGISTRY

SEARCHERS = tuple(REGISTRY)


def _progress_bar(total: int, enabled: bool) -> Any:
    from jalapeno.report.console import progress

    return progress(total, "searching (trials)", enabled=enabled)


def result_json(res: Any, timings: bool) -> dict[str, Any]:
    """The search as JSON; its one wall-clock figure under ``timings`` (left out with --no-timings)."""
    doc = res.to_json()
    wall = doc.pop("wall_s", None)
    for trial in doc["all"]:
        spent = {k: trial["metrics"].pop(k) for k in WALL_METRICS if k in trial.get("metrics", {})}
        if timings and spent:
            trial["timings"] = spent
    if timings:
        doc["timings"] = {"total_s": wall}
    return doc


def trial_table(doc: dict[str, Any]) -> dict[str, list[Any]]:
    """The trials of ``result_json`` as columns, with ``pareto`` marking the Pareto set."""
    from jalapeno.tableio import columns

    front = {t["number"] for t in doc.get("pareto", [])}
    return columns([{**t, "pareto": t["number"] in front} for t in doc["all"]])


MAX_TRIALS = 100_000  # a search this long runs for days; beyond it is a typo
MAX_WORKERS = 1024
FLAGS = {
    "db": "--db",
    "space": "--space",
    "workload": "--workload",
    "searcher": "--searcher",
    "trials": "--trials",
}
WALL_METRICS = ("build_s", "oracle_s", "simulate_s")  # an evaluation's wall-clock seconds, not results


def read_enqueue(space: Any, files: tuple[str, ...]) -> list[dict[str, Any]]:
    """The designs named by ``--enqueue`` files, each checked against the space (errors name the file)."""
    from jalapeno.jsonio import read_json

    out: list[dict[str, Any]] = []
    for f in files:
        doc = read_json(f, "--enqueue")
        for item in doc if isinstance(doc, list) else [doc]:
            d = item.get("design", item) if isinstance(item, dict) else item
            if not isinstance(d, dict):
                raise JalapenoError(
                    f"{f}: a design is a JSON object of parameter values, got {type(d).__name__}",
                    field="--enqueue",
                )
            try:
                out.append(space.check(d))
            except JalapenoError as e:
                raise JalapenoError(f"{f}: {e}", field="--enqueue") from None
    return out


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:.{digits}g}" if isinstance(v, float) else str(v)


def print_result(res: Any) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from jalapeno.explore.design import deployment_of

    con = Console()
    con.print(
        f"[bold]{escape(res.space.name)}[/] on [bold]{escape(res.workload.name)}[/]: "
        f"{escape(res.workload.describe())}"
    )
    con.print(
        f"{len(res.trials)} trials ({res.evaluated} evaluated now, {len(res.feasible)} feasible, "
        f"{res.screened} candidates screened out by the surrogate) in {res.wall_s:.1f} s; searcher "
        f"{escape(res.searcher)}; $/Mtok by the {res.price_rule} price rule"
    )
    t = Table(title="Pareto set (feasible designs no other design beats on all three objectives)")
    for col in (
        "trial",
        "goodput/W (req/s/kW)",
        "$/Mtok",
        "p99 TTFT s",
        "attain",
        "fleet W",
        "deployment",
        "processor",
    ):
        t.add_column(col, justify="left" if col in ("deployment", "processor") else "right")
    for r in sorted(res.pareto(), key=lambda r: -r.evaluation.objectives["goodput_per_watt"]):
        o, m = r.evaluation.objectives, r.evaluation.metrics
        proc = ", ".join(
            f"{k.split('.')[-1]}={v}" for k, v in r.design.items() if res.space.param(k).group == "processor"
        )
        t.add_row(
            str(r.number),
            _fmt(o["goodput_per_watt"] * 1e3),
            _fmt(o["usd_per_mtok"]),
            _fmt(o["ttft_p99_s"]),
            _fmt(m.get("slo_attainment")),
            _fmt(m.get("avg_power_w"), 4),
            escape(deployment_of(res.space, r.design).label()),
            escape(proc),
        )
    con.print(t)
    reasons: dict[str, int] = {}
    for r in res.trials:
        for why in r.evaluation.reasons:
            k = why.split(":")[0]
            reasons[k] = reasons.get(k, 0) + 1
    if reasons:
        con.print("infeasible trials by reason: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())))
    if res.importance is not None:
        imp = res.importance
        con.print(
            f"parameter importance for goodput/W (optuna {imp.evaluator}, {imp.trials} trials): "
            + ", ".join(f"{escape(k)} {v:.2f}" for k, v in imp.top())
        )
    if res.meta.get("storage"):
        con.print(
            f"optuna study {escape(res.meta['study_name'])!r} in {escape(res.meta['storage'])} "
            "(optuna-dashboard opens it)"
        )


@click.command(name="explore")
@click.option(
    "--space",
    "-s",
    default="coding-asic",
    show_default=True,
    help="Bundled design space or a path to a space YAML file.",
)
@click.option(
    "--workload",
    "-w",
    default="azure-code",
    show_default=True,
    help="Bundled workload (azure-code, mooncake-conversation, agentic-coding) or a workload YAML file.",
)
@click.option(
    "--trials", type=int, default=64, show_default=True, help="Trials in the study (resumes count)."
)
@click.option(
    "--searcher",
    default="nsga2",
    show_default=True,
    help=f"One of {', '.join(SEARCHERS)} (optuna samplers; gp needs the explore-gp extra).",
)
@click.option("--no-screen", is_flag=True, help="Do not screen candidates with the learned surrogate.")
@click.option("--workers", type=int, default=None, help="Local worker processes [CPU count].")
@click.option(
    "--dask",
    "dask_address",
    default=None,
    metavar="ADDRESS",
    help="Evaluate on a Dask distributed scheduler (tcp://host:8786) instead of local workers.",
)
@click.option(
    "--db",
    default=None,
    help="SQLite file holding the search as an optuna study: an interrupted "
    "search resumes from it; optuna-dashboard sqlite:///FILE opens it.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Searcher seed.")
@click.option(
    "--exact",
    is_flag=True,
    help="Price every step with the exact cost oracle (slow; default: the interpolating FastOracle).",
)
@click.option(
    "--price-rule",
    default="margin",
    show_default=True,
    help="How $/Mtok prices a chip (docs/tco.md): margin = (cost + NRE/volume) / (1 - margin), one "
    "margin for every chip; cost = cost + NRE/volume; street = the preset's reported price (a chip "
    "on paper has none: margin).",
)
@click.option(
    "--out-dir",
    "out_dir_path",
    default=None,
    metavar="DIR",
    help="Write the trials as one table, trials.csv (.parquet too with pyarrow), in DIR.",
)
@click.option(
    "--enqueue",
    "enqueue_files",
    multiple=True,
    metavar="FILE",
    help='Evaluate this design first (warm start; repeatable): a JSON design, {"design": ...} as in '
    "spaces/jalapeno-1.json, or a list of either.",
)
@quiet_option
@timings_option
@json_option
@deprecated_n("trials")
def command(
    space: str,
    workload: str,
    trials: int,
    searcher: str,
    no_screen: bool,
    workers: int | None,
    dask_address: str | None,
    db: str | None,
    seed: int,
    exact: bool,
    price_rule: str,
    enqueue_files: tuple[str, ...],
    quiet: bool,
    no_timings: bool,
    as_json: bool,
    out_dir_path: str | None = None,
) -> None:
    """Search a design space: goodput per watt, $/Mtoken and p99 TTFT through the serving simulator."""
    from jalapeno.explore import load_space, resolve_workload, run_search
    from jalapeno.hardware.tco import PRICE_RULES
    from jalapeno.tableio import out_dir, write_table

    if trials < 1:
        raise JalapenoError(f"must be >= 1, got {trials}", field="--trials")
    if trials > MAX_TRIALS:
        raise JalapenoError(f"must be <= {MAX_TRIALS:,}, got {trials:,}", field="--trials")
    if workers is not None and not 1 <= workers <= MAX_WORKERS:
        raise JalapenoError(f"must be in [1, {MAX_WORKERS}], got {workers}", field="--workers")
    if db is not None and db != ":memory:":
        from jalapeno.jsonio import check_writable

        check_writable("--db", db)
        check_writable("--db", f"{db}.lock")
    if searcher not in SEARCHERS:
        raise JalapenoError(f"must be one of {', '.join(SEARCHERS)}; got {searcher!r}", field="--searcher")
    if price_rule not in PRICE_RULES:
        raise JalapenoError(
            f"must be one of {', '.join(PRICE_RULES)}; got {price_rule!r}", field="--price-rule"
        )
    tables_dir = out_dir("--out-dir", out_dir_path) if out_dir_path is not None else None
    with as_flags(FLAGS):
        sp, wl = load_space(space), resolve_workload(workload)
        wl.requests()
        queued = read_enqueue(sp, enqueue_files)
        if len(queued) > trials:
            raise JalapenoError(
                f"{len(queued)} enqueued designs do not fit in {trials} trials", field="--trials"
            )
        with _progress_bar(trials, not quiet) as update:
            res = run_search(
                sp,
                wl,
                trials=trials,
                searcher=searcher,
                screen=not no_screen,
                workers=workers,
                dask=dask_address,
                db=db,
                seed=seed,
                fast=not exact,
                price_rule=price_rule,
                enqueue=queued,
                progress=(lambda done, total, rec: update(done, total)) if update else None,
            )
    if (
        tables_dir is not None
    ):  # one row a trial: number, status, design.*, objectives.*, metrics.* (no wall times)
        write_table(trial_table(result_json(res, False)), tables_dir / "trials")
    if as_json:
        emit_json(result_json(res, not no_timings))
    else:
        print_result(res)
