"""``jalapeno models``: list bundled models; ``jalapeno models show NAME``: one parsed ModelConfig."""

from __future__ import annotations

import dataclasses
from typing import Any

import click

from jalapeno.commands.options import emit_json
from jalapeno.models import ModelConfig, count_params, kv_bytes_per_token, list_models, resolve_model


def attention_kind(cfg: ModelConfig) -> str:
    """``MLA``, ``MHA``, ``MQA`` or ``GQA``; ``+SW<window>`` (with ``(sliding/all)``) if layers slide."""
    if cfg.mla:
        base = "MLA"
    elif cfg.num_kv_heads == cfg.num_heads:
        base = "MHA"
    else:
        base = "MQA" if cfg.num_kv_heads == 1 else "GQA"
    n_sliding = cfg.layer_attention.count("sliding")
    if not n_sliding:
        return base
    share = "" if n_sliding == cfg.num_layers else f" ({n_sliding}/{cfg.num_layers})"
    return f"{base}+SW{cfg.sliding_window}{share}"


def summary(cfg: ModelConfig) -> dict[str, Any]:
    """One model as a JSON-ready row (bf16 KV cache)."""
    p = count_params(cfg)
    moe = cfg.moe
    return {
        "name": cfg.name,
        "hf_id": cfg.hf_id,
        "architecture": cfg.architecture,
        "layers": cfg.num_layers,
        "hidden_size": cfg.hidden_size,
        "heads": cfg.num_heads,
        "kv_heads": cfg.num_kv_heads,
        "attention": attention_kind(cfg),
        "moe": None
        if moe is None
        else {
            "experts": moe.num_experts,
            "active": moe.experts_per_token,
            "shared": moe.num_shared_experts,
        },
        "params_total": p.total,
        "params_active": p.active,
        "kv_bytes_per_token": kv_bytes_per_token(cfg, 2.0),
    }


def _experts_cell(moe: dict[str, Any] | None) -> str:
    if moe is None:
        return "-"
    shared = f"+{moe['shared']}" if moe["shared"] else ""
    return f"{moe['experts']}{shared}/{moe['active']}{shared}"


def _console() -> Any:
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=220)


def _print_table(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title="Bundled models (KV cache in bf16)")
    for col in (
        "alias",
        "HF id",
        "architecture",
        "layers",
        "hidden",
        "heads/kv",
        "attention",
        "experts/active",
        "total B",
        "active B",
        "KV KiB/tok",
    ):
        numeric = col in ("layers", "hidden", "total B", "active B", "KV KiB/tok")
        table.add_column(col, justify="right" if numeric else "left", no_wrap=True)
    for r in rows:
        table.add_row(
            r["name"],
            r["hf_id"],
            r["architecture"],
            str(r["layers"]),
            str(r["hidden_size"]),
            f"{r['heads']}/{r['kv_heads']}",
            r["attention"],
            _experts_cell(r["moe"]),
            f"{r['params_total'] / 1e9:.2f}",
            f"{r['params_active'] / 1e9:.2f}",
            f"{r['kv_bytes_per_token'] / 1024:.1f}",
        )
    _console().print(table)


@click.group(name="models", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def command(ctx: click.Context, as_json: bool) -> None:
    """List bundled models: parameters, active parameters, KV bytes per token."""
    if ctx.invoked_subcommand is not None:
        return
    rows = [summary(resolve_model(name)) for name in list_models()]
    if as_json:
        emit_json(rows, key="models")
    else:
        _print_table(rows)


def _jsonable(cfg: ModelConfig) -> dict[str, Any]:
    d = dataclasses.asdict(cfg)
    d["layer_attention"] = list(cfg.layer_attention)
    return d


def _layer_summary(cfg: ModelConfig) -> str:
    n_sliding = cfg.layer_attention.count("sliding")
    return f"{cfg.num_layers - n_sliding} full, {n_sliding} sliding"


@command.command(name="show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the parsed config as JSON.")
def show(name: str, as_json: bool) -> None:
    """Show the parsed ModelConfig of an alias, a Hugging Face id or a path to a config.json."""
    cfg = resolve_model(name)
    if as_json:
        emit_json({**summary(cfg), "config": _jsonable(cfg)})  # a `models --json` row plus the parsed config
        return
    for field in dataclasses.fields(cfg):
        value = getattr(cfg, field.name)
        text = _layer_summary(cfg) if field.name == "layer_attention" else repr(value)
        click.echo(f"{field.name:24s} {text}")
    row = summary(cfg)
    click.echo(f"{'params_total':24s} {row['params_total']:,}")
    click.echo(f"{'params_active':24s} {row['params_active']:,}")
    click.echo(f"{'kv_bytes_per_token':24s} {row['kv_bytes_per_token']:,.0f} (bf16)")
