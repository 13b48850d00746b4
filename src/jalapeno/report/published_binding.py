"""docs/validation-published.md, "Which latency limit binds": the published runs' logs against the model.

For every server and interactive row whose LoadGen log summary is bundled (cost.scenario_limits), the
run's p99 TTFT and p99 TPOT as shares of the round's limits and the requests it kept decoding, set
against the scenario model's at the batch it chooses and at the run's own batch.
"""

from __future__ import annotations

from collections.abc import Sequence

from jalapeno.cost.published_fit import ChipFit
from jalapeno.cost.published_run import preset_or_none
from jalapeno.cost.scenario_limits import binding, load_logged_runs, model_limits
from jalapeno.report.markdown import table

HEADER = [
    "row",
    "predicted / published",
    "published: batch",
    "p99 TTFT / limit",
    "p99 TPOT / limit",
    "binds",
    "model: batch",
    "p99 TTFT / limit",
    "p99 TPOT / limit",
    "binds",
    "model at the run's batch: TTFT, TPOT",
]


def _share(x: float) -> str:
    return f"{x:.0%}"


def binding_rows(fits: Sequence[ChipFit]) -> list[list[str]]:
    """One line a row with a bundled log summary, in the fits' row order; rows the model cannot run
    are left out."""
    logs, out = load_logged_runs(), []
    for f in fits:
        chip = preset_or_none(f.chip)
        for c in f.checked:
            g = logs.get(c.row.id)
            got = model_limits(c.row, chip, f.params) if g and chip else None
            if g is None or got is None:
                continue
            m, replicas = got
            real_b = g.decoding(replicas)
            at, _ = model_limits(c.row, chip, f.params, max(1, round(real_b))) or (m, 0)
            ms, ats = m.shares(g.ttft_limit_s, g.tpot_limit_s), at.shares(g.ttft_limit_s, g.tpot_limit_s)
            name = f"{f.chip} {c.row.round} {c.row.model} {c.row.scenario} ({c.row.submitter})"
            out.append(
                [
                    name,
                    "-" if c.error is None else f"{c.error:+.1%}",
                    f"{real_b:,.0f}",
                    _share(g.ttft_share),
                    _share(g.tpot_share),
                    binding(g.ttft_share, g.tpot_share),
                    f"{m.batch:,}",
                    _share(ms[0]),
                    _share(ms[1]),
                    binding(*ms),
                    f"{_share(ats[0])}, {_share(ats[1])}",
                ]
            )
    return out


def binding_section(fits: Sequence[ChipFit]) -> list[str]:
    rows = binding_rows(fits)
    if not rows:
        return []
    agree = sum(r[5] == r[9] for r in rows)
    return [
        "## Which latency limit binds: the published runs' logs against the model",
        "",
        (
            "Per server and interactive row, the run's LoadGen log summary (performance/run_1/"
            "mlperf_log_summary.txt, bundled in src/jalapeno/data/published_logs/ by `python "
            "scripts/mlperf_log_summaries.py V41_GIT_DIR V51_GIT_DIR`): p99 TTFT and p99 TPOT over the "
            "round's limits, and the requests decoding in one replica (samples/s x (mean latency - mean "
            "TTFT) / replicas, Little's law); a limit binds where its p99 is the closer to it. The model's "
            "columns are the scenario model's at the batch it chooses (the largest meeting both p99 limits"
            " and the batch cap) and at the run's own batch (cost/scenario_limits.py). The binding limit "
            f"agrees on {agree} of {len(rows)} rows."
        ),
        "",
        table(HEADER, rows, "lrrrrlrrrlr"),
        "",
    ]
