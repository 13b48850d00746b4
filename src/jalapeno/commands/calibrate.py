"""``jalapeno calibrate``: fit chips to published benchmark results, with a real hold-out and error bands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from jalapeno.commands.options import emit_json, json_option, renamed
from jalapeno.errors import JalapenoError
from jalapeno.jsonio import check_writable
from jalapeno.report.markdown import apct, pct


def _command_line(
    chips: tuple[str, ...], all_: bool, sources: tuple[str, ...], knobs: str, write: bool, doc: str | None
) -> str:
    return (
        "jalapeno calibrate"
        + (" --all" if all_ else "".join(f" --chip {c}" for c in chips))
        + "".join(f" --fit-sources {s}" for s in sources)
        + (f" --knobs {knobs}" if knobs else "")
        + (" --write" if write else "")
        + (f" --doc {doc}" if doc else "")
    )


MAX_CSV_BYTES = 64 * 2**20  # a published-results CSV: the bundled ones are a few hundred kB


def _readable(path: str) -> Path:
    """A regular file of bounded size (``/dev/zero`` would be read forever)."""
    p = Path(path)
    if not p.is_file():
        raise JalapenoError(f"{path!r} is not a regular file", field="--published")
    if p.stat().st_size > MAX_CSV_BYTES:
        raise JalapenoError(f"{path!r} is over {MAX_CSV_BYTES // 2**20} MiB", field="--published")
    return p


def _load(load: Any, paths: list[Path] | None) -> Any:
    """``load(paths)``, with undecodable or malformed CSV as one error naming ``--published``."""
    import csv

    try:
        for p in (
            paths or ()
        ):  # each file must hold rows: a JSON or a CSV of other columns is not a result set
            if not load([p]):
                raise JalapenoError(
                    f"{str(p)!r} holds no published rows (a CSV with the columns of "
                    "src/jalapeno/data/published/*.csv)",
                    field="--published",
                )
        return load(paths)
    except (UnicodeDecodeError, csv.Error, OSError) as e:
        raise JalapenoError(f"cannot read the CSV: {str(e)[:200]}", field="--published") from None


@click.command(name="calibrate")
@click.option("--chip", "chips", multiple=True, help="Chip preset to calibrate (repeatable).")
@click.option(
    "--all",
    "all_",
    is_flag=True,
    help="Every chip with published rows, and its family members without any (family priors).",
)
@click.option(
    "--fit-sources",
    "sources",
    multiple=True,
    help="Rows a fit may use, ROUND/MODEL/SCENARIO with * and + (repeatable); every other row of the "
    "chip is held out. Default: the newest round's llama-2-70b/offline+interactive.",
)
@click.option(
    "--knobs",
    default="",
    help="Comma-separated knobs to fit: compute, memory, step_overhead (default: compute,step_overhead).",
)
@click.option(
    "--published",
    "paths",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Published-results CSV files (default: the bundled ones).",
)
@click.option(
    "--check-with",
    type=click.Choice(["bench"]),
    default=None,
    help="Also re-predict every row with the serving simulator (jalapeno bench) under the fitted "
    "parameters; slow (seconds to a minute a row).",
)
@click.option("--check-models", default="", help="With --check-with: only these models (comma-separated).")
@click.option(
    "--write", is_flag=True, help="Save fitted parameters and error bands into the package's calibration."
)
@click.option("--doc", type=click.Path(dir_okay=False), default=None, help="Write the Markdown page here.")
@json_option
def command(
    chips: tuple[str, ...],
    all_: bool,
    sources: tuple[str, ...],
    knobs: str,
    paths: tuple[str, ...],
    check_with: str | None,
    check_models: str,
    write: bool,
    doc: str | None,
    as_json: bool,
) -> None:
    """Fit chips' efficiencies to published MLPerf results and report held-out errors and bands."""
    from jalapeno.cost.published import load_published, serving_json
    from jalapeno.cost.published_checks import error_summary, order_checks, ratio_checks
    from jalapeno.cost.published_fit import DEFAULT_KNOBS, KNOBS
    from jalapeno.cost.published_run import calibrate_all, fit_record, write_results
    from jalapeno.hardware.registry import normalize
    from jalapeno.report.published_doc import render

    if not chips and not all_:
        raise JalapenoError("name a chip (--chip b200) or pass --all", field="--chip")
    knob_list = tuple(k.strip() for k in knobs.split(",") if k.strip()) or DEFAULT_KNOBS
    bad = [k for k in knob_list if k not in KNOBS]
    if bad:
        raise JalapenoError(f"unknown knob {bad[0]!r}; valid: {', '.join(KNOBS)}", field="--knobs")
    if doc:
        check_writable("--doc", doc)  # before the fit, not after it
    rows = renamed("--published", _load, load_published, [_readable(p) for p in paths] or None)
    names = None if all_ else [normalize(c) for c in chips]
    fits, skipped = calibrate_all(rows, names, sources or None, knobs=knob_list)
    cmd = _command_line(chips, all_, sources, knobs, write, doc)
    written = write_results(fits, cmd, unseen=all_) if write else []
    checks = []
    if check_with == "bench":
        from jalapeno.explore.published_bench import bench_check

        checks = bench_check(list(fits.values()), [m.strip() for m in check_models.split(",") if m.strip()])
    if doc:
        Path(doc).write_text(
            render(list(fits.values()), skipped, cmd, len(rows), "closed-form scenario") + "\n"
        )
    if as_json:
        emit_json(
            {
                "command": cmd,
                "skipped_no_preset": skipped,
                "written": [str(p) for p in written],
                "fits": {
                    k: {
                        **fit_record(f, cmd),
                        "error_summary": error_summary(f),
                        "rows": [
                            {
                                "id": c.row.id,
                                "key": c.row.key,
                                "published_per_chip": c.row.per_chip,
                                "predicted_per_chip": c.predicted,
                                "error": c.error,
                                "set": "fit" if c.fitted else "held-out",
                                "url": c.row.url,
                                "serving": serving_json(c.row),
                                # the board its system had (cost/published_board.py): "6x ... NVLink" = mesh
                                "system_interconnect": c.row.interconnect or None,
                            }
                            for c in f.checked
                        ],
                        # the MoE path's check (cost.published_ep): never fitted, outside the band
                        "ep_rows": [
                            {
                                "id": c.row.id,
                                "key": c.row.key,
                                "published_per_chip": c.row.per_chip,
                                "predicted_per_chip": c.predicted,
                                "error": c.error,
                                "set": "held-out (MoE path)",
                                "url": c.row.url,
                                "serving": serving_json(c.row),
                            }
                            for c in f.ep_checked
                        ],
                    }
                    for k, f in fits.items()
                },
                "unseen_chip_band": _unseen_json(fits, cmd) if all_ else None,
                "order_checks": order_checks(list(fits.values())),
                "ratios": ratio_checks(list(fits.values())),
                "bench_check": checks,
            }
        )
        return
    _print(fits, skipped)
    if checks:
        t = Table(title="re-predicted with the serving simulator (jalapeno bench), fitted parameters")
        for col in ("chip", "row", "set", "published/GPU", "closed form", "bench", "bench error"):
            t.add_column(col)
        for c in checks:
            t.add_row(
                c["chip"],
                c["key"],
                c["set"],
                f"{c['published']:,.1f}",
                "-" if c["closed_form"] is None else f"{c['closed_form']:,.1f}",
                "-" if c["bench"] is None else f"{c['bench']:,.1f}",
                "-" if c["bench_error"] is None else pct(c["bench_error"]),
            )
        Console().print(t)


def _unseen_json(fits: dict, cmd: str) -> dict[str, Any] | None:
    """The unseen-chip band of these fits (``cost.unseen_band``), as ``--write`` stores it."""
    from jalapeno.cost.published_fit import analytic_predictor
    from jalapeno.cost.unseen_band import band_of_fits

    band = band_of_fits(list(fits.values()), analytic_predictor)
    return None if band is None else band.to_json(cmd)


def _print(fits: dict, skipped: list[str]) -> None:
    from jalapeno.cost.published_checks import error_summary

    t = Table(title="published results: prediction error per chip")
    for col in ("chip", "parameters", "fit", "held-out", "median |err|", "max |err|", "band"):
        t.add_column(col)
    for f in fits.values():
        s = error_summary(f)
        h = s["held_out_errors"]
        t.add_row(
            f.chip,
            f.provenance,
            str(s["fit_errors"]["n"]),
            str(h["n"]),
            apct(h["median_abs_error"]) if h["n"] else "-",
            apct(h["max_abs_error"]) if h["n"] else "-",
            f"{f.band.lo:.2f}-{f.band.hi:.2f}" if f.band else "-",
        )
    Console().print(t)
    for f in fits.values():
        t = Table(title=f.chip)
        for col in ("row", "published/GPU", "predicted", "error", "set"):
            t.add_column(col)
        for c in f.checked + f.ep_checked:
            t.add_row(
                c.row.key,
                f"{c.row.per_chip:,.1f}",
                "-" if c.predicted is None else f"{c.predicted:,.1f}",
                "-" if c.error is None else pct(c.error),
                "fit" if c.fitted else "held-out (MoE path)" if c.row.expert_parallel else "held-out",
            )
        Console().print(t)
    if skipped:
        Console().print(f"no preset, not calibrated: {', '.join(skipped)}")
