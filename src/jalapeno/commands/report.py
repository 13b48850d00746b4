"""``jalapeno report``: run the study (a small search, then every chip on every workload) and write one
self-contained HTML page, plus a summary SVG and, where headless Chromium is installed, a PNG of it.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import click

from jalapeno.commands.explore import MAX_TRIALS, MAX_WORKERS
from jalapeno.commands.options import emit_json, json_option, positive, quiet_option, timings_option
from jalapeno.jsonio import check_writable

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str | None:
    for b in BROWSERS:
        path = shutil.which(b)
        if path:
            return path
    return None


def headless_args(browser: str) -> list[str]:
    return [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
    ]


def svg_size(svg: str, default: tuple[int, int] = (900, 600)) -> tuple[int, int]:
    """The width and height attributes of an SVG document's root element, in pixels."""
    import re

    head = svg[: svg.find(">") + 1]
    w, h = re.search(r'width="([0-9.]+)"', head), re.search(r'height="([0-9.]+)"', head)
    return (int(float(w.group(1))) if w else default[0], int(float(h.group(1))) if h else default[1])


def svg_to_png(svg_path: Path, png_path: Path) -> str:
    """Screenshot ``svg_path`` (at its own size) with headless Chromium; '' on success, else why it was
    skipped."""
    width, height = svg_size(svg_path.read_text(encoding="utf-8"))
    browser = find_browser()
    if browser is None:
        return "no headless Chromium found (apt-get install -y chromium); PNG skipped"
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            *headless_args(browser),
            f"--user-data-dir={tmp}",
            f"--window-size={width},{height}",
            f"--screenshot={png_path.resolve()}",
            svg_path.resolve().as_uri(),
        ]
        try:
            subprocess.run(cmd, capture_output=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"Chromium failed ({e}); PNG skipped"
    return "" if png_path.is_file() and png_path.stat().st_size > 0 else "Chromium wrote no PNG; skipped"


@click.command(name="report")
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("report.html"),
    show_default=True,
    help="The HTML page to write (summary.svg/.png go next to it).",
)
@click.option(
    "--quick", is_flag=True, help="Fewer trials, a smaller sweep, no random baseline or sensitivity."
)
@click.option("--trials", type=int, default=None, help="Search trials [48; 16 with --quick].")
@click.option("--workers", type=int, default=None, help="Local worker processes [CPU count].")
@click.option("--db", default=None, help="SQLite trial store for the search (resumable).")
@click.option("--no-png", is_flag=True, help="Do not render the PNG summary.")
@quiet_option
@timings_option
@json_option
def command(
    out: Path,
    quick: bool,
    trials: int | None,
    workers: int | None,
    db: str | None,
    no_png: bool,
    quiet: bool,
    no_timings: bool = False,
    as_json: bool = False,
) -> None:
    """Run the co-design study and write the report: Jalapeño-1 vs H100/H200/B200 on three workloads."""
    from rich.console import Console

    from jalapeno.explore.study import run_study
    from jalapeno.report.explore_figures import summary_svg
    from jalapeno.report.explore_report import render

    positive("trials", trials, 1, MAX_TRIALS)
    positive("workers", workers, 1, MAX_WORKERS)
    svg = out.with_name(out.stem + "-summary.svg")
    for path in (out, svg) + (() if no_png else (svg.with_suffix(".png"),)):
        check_writable("--out", path)  # now, not after minutes of work
    if db is not None and db != ":memory:":
        check_writable("--db", db)
        check_writable("--db", f"{db}.lock")
    con = Console(stderr=True, quiet=quiet)
    args = " ".join(a for a in ("--quick" if quick else "", f"--trials {trials}" if trials else "") if a)
    from jalapeno.report.console import progress

    n = trials or (16 if quick else 48)
    with progress(n, "search trials", enabled=not quiet) as update:
        study = run_study(
            quick=quick,
            trials=trials,
            workers=workers,
            db=db,
            log=lambda s: con.print(f"[dim]{s}[/]"),
            command=f"jalapeno report {args}".strip(),
            progress=(lambda done, total, rec: update(done, total)) if update else None,
        )
    out.write_text(render(study), encoding="utf-8")
    files: list[Any] = [out]
    notes: list[str] = []
    svg.write_text(summary_svg(study), encoding="utf-8")
    files.append(svg)
    if not no_png:
        png = svg.with_suffix(".png")
        why = svg_to_png(svg, png)
        if why:
            con.print(f"note: {why}")
            notes.append(why)
        else:
            files.append(png)
    if as_json:
        doc: dict[str, Any] = {"files": [str(f) for f in files], "notes": notes}
        if not no_timings:
            doc["timings"] = {"total_s": study.timings["total_s"]}
        emit_json(doc)
        return
    for f in files:
        click.echo(f"wrote {f}")
    click.echo(f"took {study.timings['total_s']:.0f} s")
