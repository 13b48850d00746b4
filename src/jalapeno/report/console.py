"""Terminal output of serving runs: the metrics table and a progress bar on stderr.

``serving_table`` reads the JSON form of a ``SimResult`` (``SimResult.to_dict()``, or a stored
result), so a saved run prints the same way as a fresh one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from jalapeno.report.fmt import seconds, si


def _maybe(x: float | None, unit: str = "") -> str:
    return "-" if x is None else si(x, unit)


def _pcts(stats: Mapping[str, float | None]) -> str:
    return " / ".join(_maybe(stats.get(k), "s") for k in ("p50", "p90", "p99"))


def _share(x: float) -> str:
    return f"{100 * x:.1f}%"


def dropped_reasons(dropped: Sequence[Any]) -> list[dict[str, Any]]:
    """Drops (``{"reason": ...}`` mappings or objects with ``.reason``) grouped by kind (reasons equal up
    to their numbers), most common first; each with one example reason and its count."""
    groups: dict[str, dict[str, Any]] = {}
    for d in dropped:
        reason = d["reason"] if isinstance(d, Mapping) else d.reason
        groups.setdefault(re.sub(r"\d+", "#", reason), {"reason": reason, "count": 0})["count"] += 1
    return sorted(groups.values(), key=lambda g: (-g["count"], g["reason"]))


def serving_table(res: Mapping[str, Any], *, title: str = "serving metrics") -> Table:
    """Rows of metric, value and note; latencies as p50 / p90 / p99."""
    t = Table(title=title)
    t.add_column("metric", no_wrap=True)
    t.add_column("value", justify="right", no_wrap=True)
    t.add_column("note")
    slo = res["slo"]
    ttft_max, tpot_max = (
        slo.get("ttft_limit_s", slo.get("ttft_s")),
        slo.get("tpot_limit_s", slo.get("tpot_s")),
    )
    t.add_row("requests", f"{res['requests']:,}", f"{seconds(res['duration_s'])} simulated")
    t.add_row("completed", f"{res['completed']:,}", "")
    listed = res.get("dropped_requests", res["dropped"])  # a stored result from before `dropped` was a count
    drops = dropped_reasons(listed if isinstance(listed, Sequence) else [])
    kinds = [f"{g['count']:,} x {escape(g['reason'])}" for g in drops[:3]] + (
        ["..."] if len(drops) > 3 else []
    )
    t.add_row(
        "dropped", f"{len(listed) if isinstance(listed, Sequence) else res['dropped']:,}", "; ".join(kinds)
    )
    for name, key in (("TTFT", "ttft_s"), ("TPOT", "tpot_s"), ("E2E", "e2e_s"), ("queueing", "queue_s")):
        t.add_row(name, _pcts(res[key]), f"p50 / p90 / p99; mean {_maybe(res[key]['mean'], 's')}")
    t.add_row(
        "throughput",
        f"{si(res['throughput_tokens_per_s'])} tok/s",
        f"output; {si(res['throughput_total_tokens_per_s'])} tok/s all tokens",
    )
    t.add_row(
        "goodput",
        f"{res['goodput_rps']:.3g} req/s",
        f"SLO: TTFT <= {seconds(ttft_max)}, TPOT <= {seconds(tpot_max)}",
    )
    t.add_row("SLO attainment", _share(res["slo_attainment"]), "drops count as misses")
    jpt = res["joules_per_token"]
    t.add_row(
        "energy",
        f"{_maybe(jpt['output'], 'J')}/tok",
        f"output; {_maybe(jpt['total'], 'J')}/tok all tokens; {si(res['energy_j'], 'J')} in all",
    )
    t.add_row(
        "power avg / peak",
        f"{si(res['avg_power_w'], 'W')} / {si(res['peak_power_w'], 'W')}",
        f"{res['replicas']} replica{'s' * (res['replicas'] != 1)}; "
        f"peak of {seconds(res['power_window_s'])} windows",
    )
    pc = res.get("prefix_cache_stats", res.get("prefix_cache"))  # a stored result from before schema 2
    hits = pc["hbm_hit_tokens"] + pc["tier_hit_tokens"]
    t.add_row(
        "prefix hit rate",
        _share(res["prefix_hit_rate"]) if pc["lookup_tokens"] else "-",
        f"{hits:,} of {pc['lookup_tokens']:,} prompt tokens"
        + (f", {pc['tier_hit_tokens']:,} from the lower tier" if pc["tier_hit_tokens"] else "")
        if pc["lookup_tokens"]
        else "prefix cache off",
    )
    kv = res["kv_utilization"]
    t.add_row("KV utilization", f"{_share(kv['mean'])} / {_share(kv['peak'])}", "mean / peak replica")
    pre = res["preemptions"]
    t.add_row(
        "preemptions",
        f"{pre['recompute'] + pre['swap']:,}",
        f"{pre['recompute']:,} recompute, {pre['swap']:,} swap",
    )
    if "usd_per_mtok" in res:  # serve's TCO (hardware.tco): per token processed, prompt + output
        note = (
            f"prompt + output; {_dollars(res.get('usd_per_mtok_output'))} per output Mtok"
            if res["usd_per_mtok"] is not None
            else "no price for this chip under this price rule"
        )
        t.add_row("$ / Mtok", _dollars(res["usd_per_mtok"]), note)
    wall = res.get("timings", {}).get("event_loop_s", res.get("sim_wall_s"))
    t.add_row(
        "sim wall time",
        "-" if wall is None else seconds(wall),
        f"{res['steps']:,} steps, {res['step_events']:,} step events",
    )
    return t


def _dollars(x: float | None) -> str:
    return "-" if x is None else f"${x:.3g}"


@contextmanager
def progress(
    total: int, description: str, *, enabled: bool = True, every_s: float = 5.0
) -> Iterator[Callable[[int, int], None] | None]:
    """Progress on stderr, yielding an ``update(done, total)`` callback: a transient bar on a terminal, else
    (a log, a pipe) one ``description: done/total (pct), elapsed, ETA`` line every ``every_s`` seconds;
    yields None (silent) when disabled (``--quiet``)."""
    console = Console(stderr=True)
    if not enabled:
        yield None
        return
    if not console.is_terminal:
        yield LogProgress(description, every_s)
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(description, total=total)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


class LogProgress:
    """``update(done, total)`` that writes one plain line to stderr at most every ``every_s`` seconds."""

    def __init__(
        self,
        description: str,
        every_s: float,
        clock: Callable[[], float] | None = None,
        write: Callable[[str], Any] | None = None,
    ) -> None:
        import sys
        import time

        self.description, self.every_s = description, every_s
        self.clock = clock or time.monotonic
        self.write = write or (lambda line: print(line, file=sys.stderr, flush=True))
        self.t0 = self.clock()
        self.last = self.t0

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        if now - self.last < self.every_s:
            return
        self.last = now
        self.write(progress_line(self.description, done, total, now - self.t0))


def progress_line(description: str, done: int, total: int, elapsed_s: float) -> str:
    """``simulating: 1,200/5,000 (24%), 12 s elapsed, ETA 38 s`` (the ETA at the average rate so far)."""
    share = f" ({100 * done / total:.0f}%)" if total > 0 else ""
    eta = f", ETA {seconds(elapsed_s * (total - done) / done)}" if 0 < done <= total else ""
    return f"{description}: {done:,}/{total:,}{share}, {seconds(elapsed_s)} elapsed{eta}"
