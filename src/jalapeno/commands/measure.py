"""``jalapeno measure ops|model|all|engine|serve``: time operators and whole-model steps on a real GPU, time
the serving replay's own steps taken apart (``engine``), or replay a trace (``serve``).

Needs the ``measure`` extra (torch, nvidia-ml-py); torch is imported only when a subcommand runs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from jalapeno.commands.options import emit_json, timings_option
from jalapeno.errors import JalapenoError
from jalapeno.jsonio import check_writable
from jalapeno.measure.shapes import DEFAULT_MODELS  # no torch there

MAX_ENERGY_S = 600.0  # seconds of steps per energy reading: 1 s is the default, ten minutes a typo's bound

if TYPE_CHECKING:
    from jalapeno.measure.runner import What

ENGINE_MODELS = ("qwen2.5-coder-7b", "llama-3.1-8b")  # a fit model (engine costs are fitted on it) and the
# serving replay's model (held out: predicted, then checked)

# measure's --json summarises a run rather than replacing a table, so its own help
json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON document summarising the run (and its --out file) to stdout; progress to stderr.",
)


def _options(f: Callable[..., Any], models: tuple[str, ...] = DEFAULT_MODELS) -> Callable[..., Any]:
    opts: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
        click.option(
            "--out",
            required=True,
            type=click.Path(dir_okay=False, path_type=Path),
            help="JSON file, rewritten after every point.",
        ),
        click.option(
            "--models",
            default=",".join(models),
            show_default=True,
            help="Comma-separated model names for the model sweep, run in this order.",
        ),
        click.option(
            "--budget-s",
            type=float,
            default=None,
            help="Wall budget in seconds: no new point starts after it (default: none).",
        ),
        click.option("--device", type=click.Choice(["cuda", "cpu"]), default="cuda", show_default=True),
        click.option("--quick", is_flag=True, help="Tiny shapes and grids (a dry run; fine on a CPU)."),
        click.option(
            "--energy-s",
            type=float,
            default=1.0,
            show_default=True,
            help="Seconds of back-to-back steps per energy reading (0: no energy).",
        ),
        json_option,
        timings_option,
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _echo(as_json: bool) -> Callable[[str], None]:
    """Progress lines: stdout for a person, stderr under --json (stdout holds only the document)."""
    return lambda line: click.echo(line, err=as_json)


def _emit(doc: dict[str, Any], name: str, no_timings: bool) -> None:
    emit_json({k: v for k, v in doc.items() if not (no_timings and k == "timings")}, name=name)


def _run(
    what: What,
    out: Path,
    models: str,
    budget_s: float | None,
    device: str,
    quick: bool,
    energy_s: float,
    as_json: bool,
    no_timings: bool,
) -> None:
    names = [m.strip() for m in models.split(",") if m.strip()]
    if what != "ops" and not names:
        raise JalapenoError("give at least one model name", field="--models")
    if budget_s is not None and not budget_s >= 0:  # NaN too
        raise JalapenoError(f"must be >= 0, got {budget_s:g}", field="--budget-s")
    if not 0 <= energy_s <= MAX_ENERGY_S:  # NaN too; each energy reading lasts this long
        raise JalapenoError(f"must be in [0, {MAX_ENERGY_S:g}], got {energy_s:g}", field="--energy-s")
    check_writable("--out", out)  # before torch is imported and the device warmed up
    from jalapeno.measure import runner  # lazy: pulls in torch
    from jalapeno.measure.run_doc import measure_doc

    record = runner.run_measure(
        what,
        out,
        models=names,
        budget_s=budget_s,
        device=device,
        quick=quick,
        energy_s=energy_s,
        echo=_echo(as_json),
    )
    if as_json:  # one schema for ops, model, all and engine, as their --out files share one format
        doc = measure_doc(
            record, what=what, out=out, models=names, quick=quick, budget_s=budget_s, energy_s=energy_s
        )
        _emit(doc, "measure", no_timings)


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


@command.command("engine")
@partial(_options, models=ENGINE_MODELS)
def engine(**kw: Any) -> None:
    """The serving replay's own steps, taken apart: jobs serve-decode and serve-prefill-host (see
    docs/measure.md).

    serve-decode: the replay's decode CUDA graph back to back vs one engine step at a time (set_positions,
    replay, accept, sync) vs the step sweep's graph, per (bucket, L). serve-prefill-host: short eager
    prefills back to back vs after ~50 ms of idle. About 30 s of GPU time a model on an H200.
    """
    _run("engine", **kw)


@command.command("serve")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON file, rewritten every ~10 s and at the end.",
)
@click.option("--model", default="llama-3.1-8b", show_default=True, help="Model name (random weights).")
@click.option("--trace", default="azure-code", show_default=True, help="Bundled trace name or trace file.")
@click.option("--start-s", type=float, default=265.0, show_default=True, help="Slice start in the trace (s).")
@click.option("--duration-s", type=float, default=60.0, show_default=True, help="Slice length (s).")
@click.option(
    "--budget-s",
    type=float,
    default=None,
    help="Wall budget from start: then no new request is admitted and running ones drain, bounded.",
)
@click.option("--device", type=click.Choice(["cuda", "cpu"]), default="cuda", show_default=True)
@click.option("--quick", is_flag=True, help="Tiny model, prompts <= 128, outputs <= 16, slice <= 5 s.")
@click.option("--max-num-seqs", type=int, default=64, show_default=True, help="Running requests at most.")
@click.option("--max-prompt", type=int, default=8192, show_default=True, help="Prompt cap (tokens).")
@click.option("--max-output", type=int, default=256, show_default=True, help="Output cap (tokens).")
@click.option("--no-cuda-graph", is_flag=True, help="Run every decode step eagerly.")
@click.option(
    "--decode-attention",
    type=click.Choice(["padded", "masked"]),
    default="padded",
    show_default=True,
    help="padded: unmasked flash attention over the padded length (timing); masked: exact attention.",
)
@json_option
@timings_option
def serve(
    out: Path,
    model: str,
    trace: str,
    start_s: float,
    duration_s: float,
    budget_s: float | None,
    device: str,
    quick: bool,
    max_num_seqs: int,
    max_prompt: int,
    max_output: int,
    no_cuda_graph: bool,
    decode_attention: str,
    as_json: bool,
    no_timings: bool,
) -> None:
    """Replay a trace slice through a continuous-batching engine (policy prefill_first) by wall clock."""
    check_writable("--out", out)
    from jalapeno.measure import serve_replay  # lazy: pulls in torch
    from jalapeno.measure.run_doc import serve_doc

    record = serve_replay.run_serve(
        serve_replay.ServeArgs(
            out=out,
            model=model,
            trace=trace,
            start_s=start_s,
            duration_s=duration_s,
            budget_s=budget_s,
            device=device,
            quick=quick,
            max_num_seqs=max_num_seqs,
            max_prompt=max_prompt,
            max_output=max_output,
            cuda_graph=not no_cuda_graph,
            decode_attention=decode_attention,
        ),
        echo=_echo(as_json),
    )
    if as_json:
        _emit(serve_doc(record, out=out), "measure.serve", no_timings)
