"""``jalapeno chip``: parameterized processors - spec sheets, the known-chip table, op mappings, plans.

jalapeno chip list                                   architecture presets
jalapeno chip show NAME_OR_PATH [--json]             peak per dtype, memory, area, TDP, cost
jalapeno chip table [--markdown]                     known chips: ours vs public (docs/chips.md)
jalapeno chip map -m MODEL -H ARCH [-b -c -p]        how every op maps (tiles, dataflow, bytes)
jalapeno chip plan -m MODEL -H ARCH [-b -c]          tensor/pipeline/expert-parallel plans that fit
"""

from __future__ import annotations

from typing import Any

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
    json_option,
    model_option,
    positive,
    renamed,
    valid_tp,
    within_context,
)
from jalapeno.report.fmt import nbytes, pct, seconds, si


@click.group(name="chip")
def command() -> None:
    """Parameterized processors: spec sheets, known-chip validation, operator mappings, parallel plans."""


@command.command(name="list")
@json_option
def list_cmd(as_json: bool) -> None:
    """Architecture presets."""
    from jalapeno.hardware.arch import list_arch_presets, resolve_arch

    rows = [(n, resolve_arch(n).description) for n in list_arch_presets()]
    if as_json:
        emit_json([{"name": n, "description": d} for n, d in rows], key="designs")
        return
    t = Table(title="architecture presets (jalapeno chip show NAME)")
    t.add_column("name")
    t.add_column("description")
    for n, d in rows:
        t.add_row(n, d)
    Console().print(t)


def sheet_json(name_or_path: str) -> dict[str, Any]:
    from jalapeno.hardware.arch import resolve_arch
    from jalapeno.hardware.arch.sheet_doc import sheet_json as arch_sheet_json

    return arch_sheet_json(renamed("NAME_OR_PATH", resolve_arch, name_or_path))


@command.command(name="show")
@click.argument("name_or_path")
@json_option
def show(name_or_path: str, as_json: bool) -> None:
    """Spec sheet of an architecture preset or file."""
    d = sheet_json(name_or_path)
    if as_json:
        emit_json(d)
        return
    con = Console()
    con.print(
        f"[bold]{escape(d['name'])}[/] "
        + escape(f"({d['vendor']}, {d['kind']}, {d['node']}) from {d['source_file']}")
    )
    t = Table(title="peak (dense)")
    t.add_column("dtype")
    t.add_column("matrix", justify="right")
    t.add_column("vector", justify="right")
    for k in sorted(set(d["peak_flops"]) | set(d["vector_flops"])):
        t.add_row(k, si(d["peak_flops"].get(k, 0.0), "FLOP/s"), si(d["vector_flops"].get(k, 0.0), "FLOP/s"))
    con.print(t)
    m = Table(title="memory")
    for c in ("level", "kind", "capacity", "bandwidth"):
        m.add_column(c)
    for lv in d["memory"]:
        m.add_row(
            lv["name"], lv["kind"], nbytes(lv["capacity_bytes"]), si(lv["bandwidth_bytes_per_s"], "B/s")
        )
    con.print(m)
    for key, title, unit in (
        ("area_breakdown", "die area", "mm2"),
        ("power_breakdown", "TDP (peak activity)", "W"),
        ("cost_breakdown", "cost per chip", "USD"),
    ):
        b = Table(title=title)
        for c in ("part", unit, "formula"):
            b.add_column(c)
        for k, p in d[key].items():
            b.add_row(k, f"{p['value']:,.3g}" if k == "yield" else f"{p['value']:,.1f}", p["formula"])
        con.print(b)
    bp = d["board_power_breakdown"]
    for key, title in (
        ("idle_die", "board idle, at the die (before the regulators)"),
        ("busy_floor_die", "busy floor above idle, at the die (before the regulators)"),
        ("summary", "board power (regulators included) and wall (host share per slot)"),
    ):
        if key in bp:
            b = Table(title=title)
            for c in ("part", "W", "formula"):
                b.add_column(c)
            for k, p in bp[key].items():
                b.add_row(k, f"{p['value']:,.1f}", p["formula"])
            con.print(b)
    if "vrm_efficiency" in bp:
        con.print(
            "regulator efficiency by load: "
            + ", ".join(f"{x}: {e:.3f}" for x, e in bp["vrm_efficiency"].items())
        )
    pc = Table(title="physical checks")
    for c in ("check", "value", "limit", "ok", "formula"):
        pc.add_column(c)
    for c in d["physical_checks"]:
        pc.add_row(
            c["check"],
            f"{c['value']:,.2f} {c['unit']}",
            f"{c['limit']:,.2f} {c['unit']}",
            "ok" if c["ok"] else "[red]VIOLATED[/]",
            c["formula"],
        )
    con.print(pc)
    con.print(f"price ((cost + NRE / volume) / (1 - margin), docs/tco.md): ${d['price_usd']:,.0f}")


@command.command(name="table")
@click.option("--markdown", "as_md", is_flag=True, help="Markdown (the table of docs/chips.md).")
@json_option
def table(as_md: bool, as_json: bool) -> None:
    """Known chips described as architectures: derived figures against the public ones."""
    from jalapeno.hardware.arch.compare import known_chip_rows, markdown

    rows = known_chip_rows()
    if as_json:
        emit_json(
            [
                {
                    "chip": r.chip,
                    "metric": r.metric,
                    "unit": r.unit,
                    "ours": r.ours,
                    "public": r.public,
                    "error": r.error,
                    "source": r.source,
                }
                for r in rows
            ],
            key="rows",
        )
    elif as_md:
        click.echo(markdown(rows), nl=False)
    else:
        t = Table(title="known chips: ours vs public")
        for c in ("chip", "metric", "ours", "public", "error"):
            t.add_column(c)
        for r in rows:
            t.add_row(
                r.chip,
                r.metric,
                f"{r.ours:.4g}",
                "n/a" if r.public is None else f"{r.public:.4g}",
                "" if r.error is None else f"{100 * r.error:+.1f}%",
            )
        Console().print(t)


@command.command(name="map")
@model_option
@click.option("--hardware", "-H", required=True, help="Architecture preset or file.")
@click.option("--batch", "-b", default=1, show_default=True)
@click.option("--context", "-c", default=2048, show_default=True)
@click.option("--prompt", "-p", default=None, type=int, help="Map a prefill of this many tokens instead.")
@click.option("--tp", default=1, show_default=True)
@dtype_options
@json_option
def map_cmd(
    model: str,
    hardware: str,
    batch: int,
    context: int,
    prompt: int | None,
    tp: int,
    dtype: str,
    act_dtype: str | None,
    kv_dtype: str | None,
    as_json: bool,
) -> None:
    """How each operator of one step maps onto the architecture."""
    from jalapeno.cost.step import shard
    from jalapeno.graph.batch import Batch
    from jalapeno.graph.builder import build_graph
    from jalapeno.graph.precision import Precision
    from jalapeno.hardware.arch import resolve_arch
    from jalapeno.mapping import Mapper
    from jalapeno.models import resolve_model

    with as_flags(MODEL_CHIP_FLAGS):
        for n, v, hi in (
            ("batch", batch, MAX_BATCH),
            ("context", context, None),
            ("prompt", prompt, None),
            ("tp", tp, MAX_CHIPS),
        ):
            positive(n, v, 1, hi)
        cfg = resolve_model(model)
        within_context(cfg, "--context", context)
        within_context(cfg, "--prompt", prompt)
        valid_tp(cfg, tp)
        b = Batch.prefill(prompt) if prompt else Batch.decode(batch, context)
        g = build_graph(cfg, b, Precision.of(dtype, act_dtype, kv_dtype))
    mp = Mapper(renamed("--hardware", resolve_arch, hardware))
    maps = [(o, mp.map(shard(o, tp))) for o in g.ops]
    if as_json:
        emit_json(
            {
                "model": g.model,
                "hardware": mp.arch.name,
                "tp": tp,
                "ops": [{**m.to_json(), "repeat": o.repeat, "shape": o.shape} for o, m in maps],
            }
        )
        return
    t = Table(
        title=f"{g.model} on {mp.arch.name}, "
        f"{'prefill ' + str(prompt) if prompt else f'decode {batch}x{context}'}"
    )
    for c in ("op", "x", "engine", "time", "bound", "util", "main", "tile / detail"):
        t.add_column(c)
    for o, m in maps:
        det = m.detail.get("tile", "")
        extra = " ".join(
            f"{k}={m.detail[k]}" for k in ("dataflow", "order", "split_k", "kv_splits") if k in m.detail
        )
        t.add_row(
            o.name,
            str(o.repeat),
            m.engine,
            seconds(m.time.time_s),
            m.time.bound,
            pct(m.utilization),
            nbytes(m.bytes_main),
            f"{det} {extra}".strip(),
        )
    Console().print(t)


@command.command(name="plan")
@model_option
@click.option("--hardware", "-H", required=True, help="Architecture preset or file (or any chip).")
@click.option("--batch", "-b", default=32, show_default=True)
@click.option("--context", "-c", default=2048, show_default=True)
@click.option("--max-chips", default=64, show_default=True)
@dtype_options
@json_option
def plan_cmd(
    model: str,
    hardware: str,
    batch: int,
    context: int,
    max_chips: int,
    dtype: str,
    act_dtype: str | None,
    kv_dtype: str | None,
    as_json: bool,
) -> None:
    """Tensor/pipeline/expert-parallel plans whose weights and KV cache fit, fastest first."""
    from jalapeno.cost.params import params_for
    from jalapeno.cost.plans import search_plans
    from jalapeno.graph.batch import Batch
    from jalapeno.graph.precision import Precision
    from jalapeno.hardware import resolve_chip
    from jalapeno.mapping import cost_params_for, timer_for
    from jalapeno.models import resolve_model

    with as_flags(MODEL_CHIP_FLAGS):
        for n, v, hi in (
            ("batch", batch, MAX_BATCH),
            ("context", context, None),
            ("max-chips", max_chips, MAX_CHIPS),
        ):
            positive(n, v, 1, hi)
        cfg = resolve_model(model)
        within_context(cfg, "--context", context)
        chip = resolve_chip(hardware)
        prm = cost_params_for(chip) or params_for(chip.name)
        res = search_plans(
            cfg,
            chip,
            Batch.decode(batch, context),
            Precision.of(dtype, act_dtype, kv_dtype),
            prm,
            timer_for(chip),
            max_chips=max_chips,
        )
    if as_json:
        emit_json([r.to_json() for r in res], key="plans")
        return
    t = Table(title=f"plans for {model} on {chip.name}, decode {batch} x {context}")
    for c in ("tp", "pp", "ep", "chips", "step (slowest stage)", "latency", "tp comm", "ep comm", "pp comm"):
        t.add_column(c)
    for r in res[:20]:
        t.add_row(
            str(r.plan.tp),
            str(r.plan.pp),
            str(r.plan.ep),
            str(r.plan.chips),
            seconds(r.stage_s),
            seconds(r.latency_s),
            seconds(r.tp_comm_s),
            seconds(r.ep_comm_s),
            seconds(r.pp_comm_s),
        )
    Console().print(t if res else "no plan fits within --max-chips")
