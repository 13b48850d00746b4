"""``jalapeno hardware``: list chip presets, or show one chip with the source of every figure.

    jalapeno hardware [--json]                  table of presets (JSON array with --json)
    jalapeno hardware show NAME_OR_PATH [--json]  every figure with value, unit and source

Bad input raises ``JalapenoError`` (the CLI prints one ``error:`` line and exits 2).
JSON goes to stdout with sorted keys, so the same chips give byte-identical output.
"""

from __future__ import annotations

import math
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from jalapeno.commands.options import emit_json
from jalapeno.hardware import ChipSpec, Figure, TextFigure, list_presets, resolve_chip

SECONDARY_MARK = "*"
WIDE = 110  # narrower terminals get compact tables: no year/node in the list, no notes in `show`
SECONDARY_CAPTION = "* secondary source: press, analyst, third-party measurement or estimate"

# Unit of a figure, from the suffix of its name (the house rule: names carry their units).
_SUFFIX_UNITS = (
    ("_bytes_per_s", "B/s"),
    ("_bytes", "B"),
    ("_pj_per_bit", "pJ/bit"),
    ("_flops", "FLOP/s"),
    ("_mm2", "mm2"),
    ("_usd", "USD"),
    ("_hz", "Hz"),
    ("_w", "W"),
    ("_s", "s"),
)
_SI_UNITS = ("B", "B/s", "FLOP/s", "OP/s", "Hz")
_PREFIXES = ((1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
_RATE_PREFIXES = _PREFIXES[2:]  # FLOP/s and OP/s stop at T: people compare chips in TFLOP/s


def unit_of(path: str) -> str:
    """The unit of a figure from its dotted path ('' for counts)."""
    leaf = path.rsplit(".", 1)[-1]
    if path.startswith(("matrix_flops.", "vector_flops.")):
        return "OP/s" if leaf.startswith("int") else "FLOP/s"
    if leaf == "launch_year":
        return "year"
    for suffix, unit in _SUFFIX_UNITS:
        if leaf.endswith(suffix):
            return unit
    return ""


def human(value: float | str, unit: str) -> tuple[str, str]:
    """(number, unit) for display: SI prefixes for bytes, rates and Hz; us/ns for seconds."""
    if isinstance(value, str):
        return value, unit
    if unit in _SI_UNITS:
        for scale, prefix in _RATE_PREFIXES if unit.endswith("OP/s") else _PREFIXES:
            if abs(value) >= scale:
                return _num(value / scale, 4), prefix + unit
        return _num(value, 4), unit
    if unit == "s":
        for scale, prefix in ((1.0, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n")):
            if abs(value) >= scale:
                return _num(value / scale, 4), prefix + "s"
        return f"{value:g}", "s"
    if unit == "year":
        return f"{value:.0f}", unit
    if unit == "" and value >= 1e6:
        scale, word = (1e9, "billion") if value >= 1e9 else (1e6, "million")
        return _num(value / scale, 4), word
    return _num(value, 4), unit


def _num(x: float, digits: int) -> str:
    """Up to ``digits`` decimals, trailing zeros dropped, thousands separated."""
    s = f"{x:,.{digits}f}"
    return s.rstrip("0").rstrip(".") if "." in s else s


def _short(x: float) -> str:
    """About four significant digits, no exponent, no separators (989.4, 1979, 0.23, 103.1)."""
    if x == 0:
        return "0"
    decimals = max(0, 3 - math.floor(math.log10(abs(x))))
    s = f"{x:.{decimals}f}"
    return s.rstrip("0").rstrip(".") if "." in s else s


# ---------------------------------------------------------------- JSON


def _val(f: Figure | None) -> float | None:
    return f.value if f is not None else None


def summary(chip: ChipSpec) -> dict[str, Any]:
    """The headline figures of a chip as plain JSON values (None where unknown)."""
    ic = chip.interconnect
    return {
        "name": chip.name,
        "vendor": chip.vendor,
        "kind": chip.kind,
        "description": chip.description,
        "launch_year": int(chip.launch_year.value),
        "process_node": chip.process_node.value,
        "peak_flops": {d: f.value for d, f in chip.matrix_flops.items()},
        "vector_flops": {d: f.value for d, f in chip.vector_flops.items()},
        "memory_bytes": chip.memory_bytes,
        "memory_bandwidth_bytes_per_s": chip.memory_bandwidth_bytes_per_s,
        "tdp_w": chip.tdp_w.value,
        "idle_w": _val(chip.idle_w),
        "die_area_mm2": _val(chip.die_area_mm2),
        "interconnect_bytes_per_s": ic.bandwidth_bytes_per_s.value if ic else None,
        "price_usd": _val(chip.price_usd),
        **_prices(chip),
    }


def _prices(chip: ChipSpec) -> dict[str, Any]:
    """Manufacturing cost and the price under each rule of docs/tco.md (``price_usd`` is the street price)."""
    from jalapeno.hardware.tco import PRICE_RULES, chip_price

    p = chip_price(chip)
    return {"cost_usd": p.cost_usd, "price_usd_by_rule": {r: p.price(r) for r in PRICE_RULES}}


def detail(chip: ChipSpec) -> dict[str, Any]:
    """``summary`` plus every figure with unit and provenance, the memory levels and the interconnect."""
    out = summary(chip)
    out["figures"] = {path: _figure_json(path, f) for path, f in chip.figures().items()}
    out["memory"] = [{"name": m.name, "kind": m.kind, "off_chip": m.off_chip} for m in chip.memory]
    ic = chip.interconnect
    out["interconnect"] = None
    if ic:
        reduces = ic.reduces_in_network  # the switch sums in the network (docs/parallel.md)
        out["interconnect"] = {"name": ic.name, "topology": ic.topology, "in_network_reduction": reduces}
    return out


def _figure_json(path: str, f: Figure | TextFigure) -> dict[str, Any]:
    # `value` is always a number (docs/json.md); a named figure (process_node) carries its name as `text`
    d: dict[str, Any] = {
        "text" if isinstance(f, TextFigure) else "value": f.value,
        "unit": unit_of(path),
        "source": f.source,
        "secondary": f.secondary,
        "note": f.note,
    }
    if isinstance(f, Figure) and f.range is not None:
        d["range"] = list(f.range)
    return d


def _echo_json(data: Any, name: str | None = None) -> None:
    emit_json(data, key="presets", sort_keys=True, name=name)


# ---------------------------------------------------------------- tables


def _cell(f: Figure | None, scale: float) -> str:
    if f is None:
        return "-"
    return _short(f.value / scale) + (SECONDARY_MARK if f.secondary else "")


def presets_table(chips: list[ChipSpec], *, compact: bool = False) -> Table:
    """One row a preset; ``compact`` leaves out year and process node (for narrow terminals)."""
    table = Table(
        title="Chip presets: dense peak rates, per chip",
        caption=SECONDARY_CAPTION,
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    labels = ("name", "vendor") if compact else ("name", "vendor", "year", "node")
    for col in labels:
        table.add_column(col, no_wrap=col != "node")
    for col in ("bf16\nTFLOP/s", "fp8\nTFLOP/s", "mem\nGB", "mem\nTB/s", "TDP\nW", "link\nGB/s/dir"):
        table.add_column(col, justify="right", no_wrap=True)
    for c in chips:
        ic = c.interconnect
        table.add_row(
            *(escape(c.name), escape(c.vendor), f"{c.launch_year.value:.0f}", c.process_node.value)[
                : len(labels)
            ],
            _cell(c.matrix_flops.get("bf16"), 1e12),
            _cell(c.matrix_flops.get("fp8"), 1e12),
            _cell(c.main_memory.capacity_bytes, 1e9),
            _cell(c.main_memory.bandwidth_bytes_per_s, 1e12),
            _cell(c.tdp_w, 1),
            _cell(ic.bandwidth_bytes_per_s if ic else None, 1e9),
        )
    return table


def figures_table(chip: ChipSpec, *, notes: bool = True) -> Table:
    """Every figure of a chip; ``notes=False`` drops the note column (for narrow terminals)."""
    title = escape(f"{chip.name}: {chip.vendor} {chip.kind}. {chip.description}")
    table = Table(title=title, caption=SECONDARY_CAPTION, box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("figure", overflow="fold", min_width=12)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("unit", no_wrap=True)
    table.add_column("source", overflow="fold", min_width=24, ratio=3)
    if notes:
        table.add_column("note", overflow="fold", min_width=16, ratio=2)
    for path, f in chip.figures().items():
        number, unit = human(f.value, unit_of(path))
        row = [escape(path), number + (SECONDARY_MARK if f.secondary else ""), unit, escape(str(f.source))]
        table.add_row(*row, *([escape(str(f.note))] if notes else []))
    return table


def _structure_lines(chip: ChipSpec) -> list[str]:
    levels = ", ".join(f"{m.name} ({m.kind}{'' if m.off_chip else ', on-chip'})" for m in chip.memory)
    lines = [f"memory levels: {levels}"]
    if chip.interconnect:
        ic = chip.interconnect
        reduces = ", reduces in the switch" if ic.reduces_in_network else ""
        lines.append(f"interconnect: {ic.name}, {ic.topology}{reduces}")
    return lines


# ---------------------------------------------------------------- click


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def command(ctx: click.Context, as_json: bool) -> None:
    """List chip presets, or show one with the source of every figure.

    Peak FLOP/s are dense (no 2:4 sparsity). Figures marked * come from secondary sources.
    """
    ctx.ensure_object(dict)
    ctx.obj["as_json"] = as_json
    if ctx.invoked_subcommand is None:
        _list(as_json)


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def list_command(ctx: click.Context, as_json: bool) -> None:
    """List the bundled chip presets (the default when no subcommand is given)."""
    _list(as_json or ctx.obj.get("as_json", False))


@command.command("show")
@click.argument("name_or_path")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.pass_context
def show(ctx: click.Context, name_or_path: str, as_json: bool) -> None:
    """Every figure of one chip (preset name, alias or .yaml path) with value, unit and source."""
    chip = resolve_chip(name_or_path)
    if as_json or ctx.obj.get("as_json", False):
        _echo_json(detail(chip), name="hardware.show")
        return
    console = Console()
    console.print(figures_table(chip, notes=console.width >= WIDE))
    for line in _structure_lines(chip):
        console.print(escape(line), highlight=False)


def _list(as_json: bool) -> None:
    chips = [resolve_chip(n) for n in list_presets()]
    if as_json:
        _echo_json([summary(c) for c in chips], name="hardware")  # `hardware` and `hardware list`: one schema
    else:
        console = Console()
        console.print(presets_table(chips, compact=console.width < WIDE))
