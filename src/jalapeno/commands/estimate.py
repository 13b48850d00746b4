"""``jalapeno estimate``: step latency, tokens/s, power and J/token with a per-operator breakdown."""

from __future__ import annotations

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from jalapeno.commands.options import (
    MAX_BATCH,
    MAX_CHIPS,
    MODEL_CHIP_FLAGS,
    as_flags,
    dtype_options,
    emit_json,
    engine_option,
    hardware_option,
    json_option,
    model_option,
    positive,
    valid_tp,
    within_context,
)
from jalapeno.commands.parallel_options import check_on_chip, parallel_options, plan
from jalapeno.cost.estimate import Estimate, estimate
from jalapeno.cost.params import chip_band
from jalapeno.cost.step import StepCost
from jalapeno.graph.precision import Precision
from jalapeno.report.fmt import pct, seconds, si


def ops_table(title: str, c: StepCost, link: str = "all-reduce") -> Table:
    t = Table(title=title)
    for col in ("op", "layers", "shape", "time", "share", "bound", "roofline"):
        t.add_column(col, justify="left" if col in ("op", "layers", "shape", "bound") else "right")
    for oc in sorted(c.ops, key=lambda oc: -oc.total_s):
        t.add_row(
            escape(oc.op.name),
            oc.op.layers,
            oc.op.shape,
            seconds(oc.total_s),
            pct(oc.total_s / c.time_s),
            oc.time.bound,
            pct(oc.roofline_fraction),
        )
    if c.comm_s:
        t.add_row(
            link,
            "",
            f"tp={c.chips}" if link == "all-reduce" else "",
            seconds(c.comm_s),
            pct(c.comm_s / c.time_s),
            "link",
            "",
        )
    for name, v, bound in (
        ("(waiting on eager launches)", c.host_wait_s, "host"),
        ("(clock lowered at the power limit)", c.throttle_s, "power"),
        ("(host work between steps)", c.overhead_s, "host"),
    ):
        if v > 0:
            t.add_row(name, "", "", seconds(v), pct(v / c.time_s), bound, "")
    return t


def print_estimate(e: Estimate) -> None:
    con = Console()
    d = e.decode
    split = f" (tp {e.tp} x pp {e.pp})" if e.pp > 1 else ""
    con.print(
        f"[bold]{escape(e.model.name)}[/] on [bold]{e.chips} x {escape(e.chip.name)}[/]{split} "
        f"({e.precision.label}), {e.engine} engine; cost parameters: {escape(e.params.source)}"
    )
    if not e.model.source.startswith("bundled:"):
        con.print(f"model config: {escape(e.model.source)}")
    summary = Table(show_header=True)
    for col in ("phase", "shape", "latency", "tokens/s", "power", "J/token", "note"):
        summary.add_column(col)
    summary.add_row(
        "decode step",
        f"batch {e.batch} x context {e.context}",
        seconds(d.time_s),
        si(e.batch / d.time_s),
        si(d.power_w, "W"),
        f"{d.energy_j / e.batch:.4g}",
        "power-capped" if d.power_capped else "",
    )
    if e.prefill is not None and e.prompt is not None:
        p = e.prefill
        summary.add_row(
            "prefill",
            f"{e.prompt} tokens" + (f" after {e.cached} cached" if e.cached else ""),
            seconds(p.time_s),
            si(e.prompt / p.time_s),
            si(p.power_w, "W"),
            f"{p.energy_j / e.prompt:.4g}",
            "power-capped" if p.power_capped else "",
        )
    con.print(summary)
    band = chip_band(e.chip)
    if band is not None:
        tps = e.batch / d.time_s
        con.print(
            f"model-error band for {e.chip.name}: x{band[0]:.2f}-x{band[1]:.2f} "
            f"(decode {si(tps * band[0])}-{si(tps * band[1])} tokens/s; {band[2]}; "
            "`jalapeno calibrate --all`)"
        )
    for phase, pc in (("decode", e.decode_pipe), ("prefill", e.prefill_pipe)):
        if pc is not None:
            con.print(
                f"{phase} pipeline: {pc.micro_batches} micro-batches, latency {seconds(pc.latency_s)} "
                f"(stages + transfers), slowest stage {seconds(pc.slowest_s)}, transfer "
                f"{seconds(pc.transfer_s)}; per-operator rows are one micro-batch over all stages"
            )
    for phase, xc in (("decode", e.decode_ep), ("prefill", e.prefill_ep)):
        if xc is not None:
            con.print(
                f"{phase} expert parallel ({e.parallel.to_json() if e.parallel else ''}): hottest rank x"
                f"{xc.imbalance:.3f}, all-to-alls {seconds(xc.all_to_all_s)} ({xc.algorithm}), compute "
                f"{seconds(xc.compute_s)}, hidden by overlap {seconds(xc.hidden_s)}"
            )
    link = "all-reduce" if e.pp == 1 else "all-reduces + stage transfers"
    if e.decode_ep is not None:
        link = "all-to-alls + all-reduces"
    con.print(ops_table("decode step by operator", d, link))
    if e.prefill is not None:
        con.print(ops_table("prefill by operator", e.prefill, link))


@click.command(name="estimate")
@model_option
@hardware_option
@click.option("--batch", "-b", default=1, show_default=True, help="Decode requests per step.")
@click.option(
    "--context", "-c", default=2048, show_default=True, help="Tokens each decode request attends to."
)
@click.option(
    "--prompt", "-p", default=None, type=int, help="Also estimate the prefill of one prompt of this length."
)
@click.option(
    "--cached", default=0, show_default=True, help="Prefix tokens of the prompt already in the KV cache."
)
@click.option("--tp", default=1, show_default=True, help="Tensor-parallel chips per pipeline stage.")
@click.option(
    "--pp",
    default=1,
    show_default=True,
    help="Pipeline stages (layers split over them); the replica uses tp x pp chips, --batch is its whole "
    "batch.",
)
@parallel_options
@dtype_options
@engine_option
@json_option
def command(
    model: str,
    hardware: str,
    batch: int,
    context: int,
    prompt: int | None,
    cached: int,
    tp: int,
    pp: int,
    dtype: str,
    act_dtype: str | None,
    kv_dtype: str | None,
    engine: str,
    as_json: bool,
    **ep: object,
) -> None:
    """Time, power and energy of a decode step and (with --prompt) a prefill on a chip."""
    from jalapeno.hardware import resolve_chip
    from jalapeno.models import resolve_model

    with as_flags(MODEL_CHIP_FLAGS):
        for name, v, lo, hi in (
            ("batch", batch, 1, MAX_BATCH),
            ("context", context, 1, None),
            ("prompt", prompt, 1, None),
            ("cached", cached, 0, None),
            ("tp", tp, 1, MAX_CHIPS),
            ("pp", pp, 1, MAX_CHIPS),
        ):
            positive(name, v, lo, hi)
        cfg = resolve_model(model)
        within_context(cfg, "--context", context)
        within_context(cfg, "--prompt", None if prompt is None else prompt + cached)
        valid_tp(cfg, tp)
        chip, par = resolve_chip(hardware), plan(tp, pp, ep)
        check_on_chip(par, chip)
        e = estimate(
            cfg,
            chip,
            batch=batch,
            context=context,
            prompt=prompt,
            cached=cached,
            precision=Precision.of(dtype, act_dtype, kv_dtype),
            parallel=par,
            engine=engine,
        )
        if as_json:
            emit_json(e.to_json())
        else:
            print_estimate(e)
