"""``jalapeno measure ops|model|all``: time operators and whole-model steps on a real GPU.

Needs the ``measure`` extra (torch, nvidia-ml-py); torch is imported only when a subcommand runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from jalapeno.errors import JalapenoError
from jalapeno.measure.shapes import DEFAULT_MODELS  # no torch there


def _options(f: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
                     help="JSON file, rewritten after every point."),
        click.option("--models", default=",".join(DEFAULT_MODELS), show_default=True,
                     help="Comma-separated model names for the model sweep, run in this order."),
        click.option("--budget-s", type=float, default=None,
                     help="Wall budget in seconds: no new point starts after it (default: none)."),
        click.option("--device", type=click.Choice(["cuda", "cpu"]), default="cuda", show_default=True),
        click.option("--quick", is_flag=True, help="Tiny shapes and grids (a dry run; fine on a CPU)."),
        click.option("--energy-s", type=float, default=1.0, show_default=True,
                     help="Seconds of back-to-back steps per energy reading (0: no energy)."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _run(what: str, out: Path, models: str, budget_s: float | None, device: str, quick: bool,
         energy_s: float) -> None:
    names = [m.strip() for m in models.split(",") if m.strip()]
    if what != "ops" and not names:
        raise JalapenoError("give at least one model name", field="models")
    if budget_s is not None and budget_s < 0:
        raise JalapenoError(f"must be >= 0, got {budget_s:g}", field="budget-s")
    if energy_s < 0:
        raise JalapenoError(f"must be >= 0, got {energy_s:g}", field="energy-s")
    from jalapeno.measure.runner import run_measure  # lazy: pulls in torch

    run_measure(what, out, models=names, budget_s=budget_s, device=device, quick=quick,  # type: ignore[arg-type]
                energy_s=energy_s, echo=lambda line: click.echo(line))


@click.group("measure")
def command() -> None:
    """Measure operators and model steps on a real GPU (needs torch+CUDA: pip install 'jalapeno[measure]').

    Writes one JSON file (schema 1) after every point, so an interrupted run still leaves data.
    """


@command.command("ops")
@_options
def ops(**kw: Any) -> None:
    """Copy bandwidth, GEMMs (bf16, fp8), attention kernels, elementwise kernels."""
    _run("ops", **kw)


@command.command("model")
@_options
def model(**kw: Any) -> None:
    """Decode (CUDA graph) and prefill (eager) steps of whole models with random weights, with energy."""
    _run("model", **kw)


@command.command("all")
@_options
def all_(**kw: Any) -> None:
    """Operators, then models: the full calibration sweep."""
    _run("all", **kw)
