"""``jalapeno bench``: an MLPerf-style scenario (offline, server, interactive) or a fixed ISL/OSL run.

Thin: resolves the model, chip and precision, calls ``explore.bench.run_bench`` and prints a table or
JSON. Scenarios, limits and defaults: ``serving/bench.py`` and docs/bench.md.
"""

from __future__ import annotations

from typing import Any

import click

from jalapeno.commands.options import (
    MAX_BATCH,
    dtype_options,
    emit_json,
    engine_option,
    hardware_option,
    json_option,
    model_option,
    valid_tp,
    within_context,
)
from jalapeno.commands.serve import MAX_CHIPS, MAX_REPLICAS, _check, _renamed
from jalapeno.errors import JalapenoError
from jalapeno.serving.bench import BENCH_MAX_NUM_SEQS, REL_TOL, SCENARIOS, Limits
from jalapeno.workload.benchsets import MLPERF_SETS


@click.command(name="bench")
@click.option(
    "--scenario",
    "-s",
    type=click.Choice(SCENARIOS),
    default="offline",
    show_default=True,
    help="offline (all requests at t=0), server/interactive (highest Poisson rate meeting the p99 "
    "TTFT/TPOT limits), fixed (fixed --isl/--osl, optionally at --concurrency).",
)
@model_option
@hardware_option
@click.option("--tp", type=int, default=1, show_default=True, help="Tensor-parallel chips per replica.")
@click.option("--replicas", "-n", type=int, default=1, show_default=True, help="Replicas (data parallel).")
@click.option(
    "--dataset", default=None, help=f"Bundled length set: {', '.join(MLPERF_SETS)} [the model's MLPerf set]."
)
@click.option("--isl", type=int, default=None, help="Fixed input length, tokens (with --osl).")
@click.option("--osl", type=int, default=None, help="Fixed output length, tokens (with --isl).")
@click.option(
    "--requests",
    type=int,
    default=None,
    help="Requests a run holds [offline: the whole set, >= 8 per running slot; server: 120 s at "
    "the offline capacity, 1,000-20,000].",
)
@click.option(
    "--concurrency", type=int, default=None, help="Fixed scenario: requests in flight (closed loop)."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Sample order and Poisson arrivals.")
@click.option("--ttft-limit", type=float, default=None, help="p99 TTFT limit, seconds [MLPerf's].")
@click.option("--tpot-limit", type=float, default=None, help="p99 TPOT limit, seconds [MLPerf's].")
@click.option(
    "--rel-tol",
    type=float,
    default=REL_TOL,
    show_default=True,
    help="Server rate search: stop when the bracket is within this fraction.",
)
@click.option(
    "--max-num-seqs",
    type=int,
    default=BENCH_MAX_NUM_SEQS,
    show_default=True,
    help="Requests a replica runs at once.",
)
@click.option("--max-num-batched-tokens", type=int, default=None, help="Token budget of a step [8192].")
@dtype_options
@engine_option
@json_option
def command(**o: Any) -> None:
    """Benchmark a model on a chip under an MLPerf-style scenario: throughput, rate, p99 latencies."""
    run(o)


def _limits(o: dict[str, Any]) -> Limits | None:
    given = (o["ttft_limit"], o["tpot_limit"])
    if given == (None, None):
        return None
    if None in given:
        raise JalapenoError(
            "give both --ttft-limit and --tpot-limit",
            field="--tpot-limit" if o["tpot_limit"] is None else "--ttft-limit",
        )
    if o["scenario"] not in ("server", "interactive"):
        raise JalapenoError("only with --scenario server or interactive", field="--ttft-limit")
    return Limits(o["ttft_limit"], o["tpot_limit"], "--ttft-limit/--tpot-limit")


MAX_REQUESTS = 1_000_000  # a run's requests: minutes of simulation; beyond it a typo, not a benchmark
# upper bounds of the integer options (issue 13: every number that could exhaust memory or time has one)
MAXIMA = {
    "tp": MAX_CHIPS,
    "replicas": MAX_REPLICAS,
    "requests": MAX_REQUESTS,
    "concurrency": MAX_BATCH,
    "max_num_seqs": MAX_BATCH,
    "isl": None,
    "osl": None,
    "max_num_batched_tokens": None,
}


def _validate(o: dict[str, Any]) -> None:
    for flag, top in MAXIMA.items():
        _check("--" + flag.replace("_", "-"), o[flag], minimum=1, strict=False, maximum=top)
    _check("--seed", o["seed"], strict=False)
    for flag in ("ttft_limit", "tpot_limit"):
        _check("--" + flag.replace("_", "-"), o[flag])
    _check("--rel-tol", o["rel_tol"], maximum=0.5)


def run(o: dict[str, Any]) -> dict[str, Any]:
    """Run one ``bench`` invocation from its option values; prints and returns the JSON document."""
    from jalapeno.explore.bench import run_bench
    from jalapeno.graph.precision import Precision
    from jalapeno.hardware import resolve_chip
    from jalapeno.models import resolve_model

    _validate(o)
    limits = _limits(o)
    model = _renamed("--model", resolve_model, o["model"])
    valid_tp(model, o["tp"])
    for flag in ("isl", "osl"):  # a fixed sequence beyond the context would be dropped whole: refuse it
        within_context(model, f"--{flag}", o[flag])
    if o["isl"] is not None and o["osl"] is not None:
        within_context(model, "--isl", o["isl"] + o["osl"])  # prompt + output share the context
    chip = _renamed("--hardware", resolve_chip, o["hardware"])
    precision = Precision.of(o["dtype"], o["act_dtype"], o["kv_dtype"])
    extra = (
        {} if o["max_num_batched_tokens"] is None else {"max_num_batched_tokens": o["max_num_batched_tokens"]}
    )
    rep = run_bench(
        model,
        chip,
        o["scenario"],
        tp=o["tp"],
        replicas=o["replicas"],
        dataset=o["dataset"],
        isl=o["isl"],
        osl=o["osl"],
        requests=o["requests"],
        seed=o["seed"],
        precision=precision,
        engine=o["engine"],
        concurrency=o["concurrency"],
        limits=limits,
        rel_tol=o["rel_tol"],
        max_num_seqs=o["max_num_seqs"],
        **extra,
    )
    doc = rep.to_dict()
    if o["as_json"]:
        emit_json(doc)
    else:
        print_bench(doc)
    return doc


def print_bench(d: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    con = Console()
    ds = d["dataset"]
    con.print(
        f"[bold]{escape(d['model'])}[/] on [bold]{d['replicas']} x {d['tp']} x {escape(d['hardware'])}[/] "
        f"({d['chips']} chips, {d['precision']}, {d['engine']} engine), scenario [bold]{d['scenario']}[/]"
    )
    con.print(
        f"lengths {escape(ds['name'])}: {ds['samples']:,} samples, mean {ds['mean_prompt_tokens']:.1f} in / "
        f"{ds['mean_output_tokens']:.1f} out; {d['requests']:,} requests; cost parameters: "
        f"{escape(d['cost_params'])}"
    )
    t = Table()
    for col in (
        "rate req/s",
        "output tok/s",
        "output tok/s/chip",
        "total tok/s",
        "p99 TTFT",
        "p99 TPOT",
        "limits",
    ):
        t.add_column(col, justify="right")
    lim = d["limits"]
    t.add_row(
        f"{d['rate_per_s']:.3g}",
        f"{d['throughput_tokens_per_s']:,.0f}",
        f"{d['throughput_tokens_per_s_per_chip']:,.0f}",
        f"{d['throughput_total_tokens_per_s']:,.0f}",
        _s(d["ttft_p99_s"]),
        _s(d["tpot_p99_s"]),
        f"TTFT {_s(lim['ttft_p99_s'])}, TPOT {_s(lim['tpot_p99_s'])}" if lim else "-",
    )
    con.print(t)
    if lim:
        con.print(
            f"limits: {escape(lim['source'])}; {d['evaluations']} simulations, bracket "
            f"{d['bracket_per_s'][0]:.4g}-{d['bracket_per_s'][1]:.4g} req/s (rel. tol. {d['rel_tol']:g})"
        )


def _s(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v * 1e3:.1f} ms" if v < 1 else f"{v:.2f} s"
