"""``jalapeno traces``: list the bundled request traces with their statistics, or show one trace."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table

from jalapeno.commands.options import emit_json
from jalapeno.workload import BUNDLED, Request, Trace, TraceStats, load_trace


def _stats_json(stats: TraceStats) -> dict[str, Any]:
    return stats.as_dict()


def _request_json(r: Request) -> dict[str, Any]:
    row = asdict(r)
    row["block_hashes"] = list(r.block_hashes)
    return row


def _list_rows() -> list[dict[str, Any]]:
    rows = []
    for bundled in BUNDLED:
        trace = load_trace(bundled.name)
        rows.append(
            {
                "name": bundled.name,
                "file": bundled.file,
                "aliases": list(bundled.aliases),
                "description": bundled.description,
                "stats": _stats_json(trace.stats),
                "attribution": bundled.attribution,
            }
        )
    return rows


def _list_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(
        title="Bundled request traces",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 1, 0, 0),
        caption="CV: of inter-arrival times. in/out: tokens a request. p50s: --json.",
    )
    for header in (
        "name",
        "count",
        "span\nmin",
        "rate\nreq/s",
        "CV",
        "in\nmean",
        "in\np99",
        "out\nmean",
        "out\np99",
    ):
        table.add_column(header, justify="left" if header == "name" else "right", no_wrap=True)
    for row in rows:
        s = row["stats"]
        table.add_row(
            row["name"],
            f"{s['count']:,}",
            f"{s['span_s'] / 60:.1f}",
            f"{s['mean_rate_per_s']:.2f}",
            f"{s['interarrival_cv']:.2f}",
            *(f"{s[k]:,.0f}" for k in ("input_mean", "input_p99", "output_mean", "output_p99")),
        )
    return table


def _number(value: float) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.4g}"


def _stats_table(trace: Trace) -> Table:
    table = Table(title=trace.name, caption=trace.source)
    table.add_column("statistic")
    table.add_column("value", justify="right")
    for key, value in trace.stats.as_dict().items():
        table.add_row(key, _number(value))
    return table


def _rows_table(trace: Trace, rows: int) -> Table:
    table = Table(title=f"first {min(rows, len(trace))} of {len(trace):,} requests")
    for header in ("id", "arrival_s", "prompt", "output", "cached", "blocks", "session", "round", "think_s"):
        table.add_column(header, justify="left" if header == "session" else "right")
    for r in trace.requests[:rows]:
        table.add_row(
            str(r.request_id),
            f"{r.arrival_s:.6f}",
            str(r.prompt_tokens),
            str(r.output_tokens),
            str(r.cached_tokens_hint),
            str(len(r.block_hashes)),
            r.session_id or "",
            "" if r.round_index is None else str(r.round_index),
            f"{r.think_time_s:.3f}",
        )
    return table


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def command(ctx: click.Context, as_json: bool) -> None:
    """List bundled request traces with their statistics; `traces show NAME` shows one trace."""
    if ctx.invoked_subcommand is not None:
        return
    rows = _list_rows()
    if as_json:
        emit_json(rows, key="traces")
        return
    console = Console()
    console.print(_list_table(rows))
    console.print(
        "Credits and licences: jalapeno/workload/traces/README.md. One trace: jalapeno traces show NAME"
    )


@command.command("show")
@click.argument("name_or_path")
@click.option(
    "--rows",
    "num_rows",
    default=10,
    show_default=True,
    type=click.IntRange(min=0),
    help="How many of the first requests to print.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def show(name_or_path: str, num_rows: int, as_json: bool) -> None:
    """Statistics and first requests of one trace: a bundled name or a trace file (CSV/JSONL)."""
    trace = load_trace(name_or_path)
    if as_json:
        doc = {
            "name": trace.name,
            "source": trace.source,
            "attribution": trace.attribution,
            "stats": _stats_json(trace.stats),
            "rows": [_request_json(r) for r in trace.requests[:num_rows]],
        }
        emit_json(doc)
        return
    console = Console()
    console.print(_stats_table(trace))
    console.print(_rows_table(trace, num_rows))
    if trace.attribution:
        console.print(f"Attribution: {trace.attribution}")


@command.command("export")
@click.argument("name_or_path")
@click.option(
    "--out", "-o", "out", required=True, type=click.Path(dir_okay=False), help="The CSV file to write."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["plain", "vidur"]),
    default="plain",
    show_default=True,
    help="plain: arrival_s,prompt_tokens,output_tokens[,hash_ids]; vidur: arrived_at,num_prefill_tokens,"
    "num_decode_tokens (docs/workload.md).",
)
@click.option("--start-s", type=float, default=None, help="Keep arrivals from this second of the trace on.")
@click.option("--duration-s", type=float, default=None, help="Keep this many seconds of arrivals.")
@click.option("--limit", type=int, default=None, help="Keep the first N requests (after the window).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a line.")
def export(
    name_or_path: str,
    out: str,
    fmt: str,
    start_s: float | None,
    duration_s: float | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """Write a trace (bundled name or file, any format it reads) as a plain or Vidur CSV; serve reads both."""
    from jalapeno.commands.options import as_flags
    from jalapeno.commands.serve import MAX_TRACE_S, _check
    from jalapeno.jsonio import check_writable
    from jalapeno.workload.export import write_trace

    _check("--start-s", start_s, strict=False, maximum=MAX_TRACE_S)  # the bounds serve puts on a slice
    _check("--duration-s", duration_s, maximum=MAX_TRACE_S)
    _check("--limit", limit, minimum=1, strict=False)
    check_writable("--out", out)
    with as_flags({"start_s": "--start-s", "duration_s": "--duration-s", "limit": "--limit"}):
        trace = load_trace(name_or_path, start_s=start_s, duration_s=duration_s, limit=limit)
    n = write_trace(trace, out, fmt)
    doc = {
        "file": out,
        "format": fmt,
        "trace": trace.name,
        "requests": n,
        "prompt_tokens": sum(r.prompt_tokens for r in trace.requests),
        "output_tokens": sum(r.output_tokens for r in trace.requests),
    }
    if as_json:
        emit_json(doc)
    else:
        click.echo(f"wrote {out}: {n:,} requests of {trace.name} as {fmt} CSV")
