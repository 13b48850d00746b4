"""``jalapeno graph``: the operators of one step, with shapes, FLOPs and bytes by kind."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from jalapeno.commands.options import (
    MAX_BATCH,
    MODEL_CHIP_FLAGS,
    as_flags,
    dtype_options,
    emit_json,
    json_option,
    model_option,
    positive,
    within_context,
)
from jalapeno.graph.batch import Batch, Sequence
from jalapeno.graph.builder import Graph, build_graph
from jalapeno.graph.precision import Precision
from jalapeno.report.fmt import nbytes, si

BYTE_KINDS = ("weight_bytes", "act_read_bytes", "act_write_bytes", "kv_read_bytes", "kv_write_bytes")


def make_batch(batch: int, context: int, prompt: int | None, cached: int) -> Batch:
    """``--batch`` decode requests at ``--context``, plus one ``--prompt`` prefill chunk if given."""
    seqs: tuple[Sequence, ...] = Batch.decode(batch, context).seqs if batch else ()
    if prompt:
        seqs += (Sequence(prompt, cached),)
    return Batch(seqs)


def graph_json(g: Graph) -> dict[str, Any]:
    return {
        "model": g.model,
        "precision": g.precision.label,
        "batch_shape": {"sequences": len(g.batch.seqs), "new_tokens": g.batch.new_tokens},
        "totals": {
            "flops": g.flops,
            "bytes": g.bytes,
            **{k: g.total(k) for k in BYTE_KINDS},
            "params_total": g.params,
            "params_active": g.active_params,
        },
        "ops": [
            {
                "name": o.name,
                "kind": o.kind,
                "layer_range": o.layers,
                "repeat": o.repeat,
                "shape": o.shape,
                "dtype": o.dtype,
                "flops": o.flops,
                **{k: getattr(o, k) for k in BYTE_KINDS},
                "params_total": o.params,
            }
            for o in g.ops
        ],
    }


def print_graph(g: Graph) -> None:
    t = Table(
        title=f"{escape(g.model)}: {len(g.batch.seqs)} sequences, {g.batch.new_tokens} new tokens "
        f"({g.precision.label})  [per instance x repeat]"
    )
    for col in ("op", "layers", "x", "shape", "FLOPs", "weights", "act r/w", "KV r/w"):
        t.add_column(col, justify="right" if col not in ("op", "layers", "shape") else "left")
    for o in g.ops:
        t.add_row(
            o.name,
            o.layers,
            str(o.repeat),
            o.shape,
            si(o.flops),
            nbytes(o.weight_bytes),
            f"{nbytes(o.act_read_bytes)}/{nbytes(o.act_write_bytes)}",
            f"{nbytes(o.kv_read_bytes)}/{nbytes(o.kv_write_bytes)}"
            if o.kv_read_bytes or o.kv_write_bytes
            else "",
        )
    t.add_section()
    t.add_row(
        "total",
        "",
        "",
        "",
        si(g.flops),
        nbytes(g.total("weight_bytes")),
        f"{nbytes(g.total('act_read_bytes'))}/{nbytes(g.total('act_write_bytes'))}",
        f"{nbytes(g.total('kv_read_bytes'))}/{nbytes(g.total('kv_write_bytes'))}",
    )
    Console().print(t)
    Console().print(f"parameters: {si(g.params)} total, {si(g.active_params)} active per token")


@click.command(name="graph")
@model_option
@click.option("--batch", "-b", default=1, show_default=True, help="Decode requests in the step (0 for none).")
@click.option(
    "--context", "-c", default=2048, show_default=True, help="Cached tokens of each decode request."
)
@click.option("--prompt", "-p", default=None, type=int, help="Add one prefill chunk of this many new tokens.")
@click.option(
    "--cached", default=0, show_default=True, help="Tokens already cached before the prefill chunk."
)
@dtype_options
@json_option
def command(
    model: str,
    batch: int,
    context: int,
    prompt: int | None,
    cached: int,
    dtype: str,
    act_dtype: str | None,
    kv_dtype: str | None,
    as_json: bool,
) -> None:
    """Operators of one step (decode batch and/or a prefill chunk) with FLOPs and bytes."""
    from jalapeno.models import resolve_model

    with as_flags(MODEL_CHIP_FLAGS):
        positive("batch", batch, 0, MAX_BATCH)
        positive("context", context)
        positive("prompt", prompt)
        positive("cached", cached, 0)
        cfg = resolve_model(model)
        within_context(cfg, "--context", context)
        within_context(cfg, "--prompt", None if prompt is None else prompt + cached)
        g = build_graph(
            cfg, make_batch(batch, context, prompt, cached), Precision.of(dtype, act_dtype, kv_dtype)
        )
        if as_json:
            emit_json(graph_json(g))
        else:
            print_graph(g)
