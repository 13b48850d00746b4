"""``jalapeno validate``: fit a GPU preset from measurements and write docs/validation.md."""

from __future__ import annotations

import datetime
import json
from dataclasses import replace
from importlib import resources
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from jalapeno.commands.options import emit_json, hardware_option, json_option
from jalapeno.cost.params import calibration_path
from jalapeno.errors import JalapenoError
from jalapeno.report.markdown import apct

DEFAULT_FIT_MODELS = ("qwen2.5-coder-7b", "qwen2.5-coder-1.5b")


def serve_section(path: Path, chip: object, params: object, resolve_model: object) -> str:
    """Markdown comparing the simulator with a real serving replay (jalapeno measure serve)."""
    import time

    from jalapeno.studies.serve_replay import (
        compare,
        markdown_section,
        simulate_replay,
        simulate_with_measured_steps,
        step_errors,
    )

    record = replay_record(path)
    model = resolve_model(record["model"])  # type: ignore[operator]
    t0 = time.perf_counter()
    res = simulate_replay(record, model, chip, params)  # type: ignore[arg-type]
    wall = time.perf_counter() - t0
    checked, oracle = simulate_with_measured_steps(record, model, chip, params)  # type: ignore[arg-type]
    return markdown_section(
        record,
        compare(record, res),
        step_errors(record, model, chip, params),  # type: ignore[arg-type]
        wall,
        path.name,
        compare(record, checked),
        (oracle.hits, oracle.misses),
    )


def replay_record(path: Path) -> dict:
    """A serving replay's JSON, refused with one line unless it is an object naming its model."""
    from jalapeno.jsonio import read_json

    record = read_json(path, "--serve", expect=dict)
    if not isinstance(record.get("model"), str):
        raise JalapenoError(
            f'{str(path)!r} is not a serving replay (jalapeno measure serve): no "model" name',
            field="--serve",
        )
    return record


def bundled_measurements(prefix: str, kind: str = "sweep") -> list[Path]:
    """Bundled measurement files of a chip: operator/step sweeps, or serving replays (``-serve-``)."""
    root = Path(str(resources.files("jalapeno"))) / "data" / "measurements"
    files = sorted(root.glob(f"{prefix}-*.json"))
    return [p for p in files if ("-serve-" in p.name) == (kind == "serve")]


@click.command(name="validate")
@hardware_option
@click.option(
    "--measurements",
    "paths",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Measurement JSON files (default: the bundled ones for the chip). The first file's GEMMs "
    "are fitted, later files' GEMMs held out.",
)
@click.option(
    "--fit-models",
    default=",".join(DEFAULT_FIT_MODELS),
    show_default=True,
    help="Models whose whole steps may be fitted; every other model is held out.",
)
@click.option(
    "--serve",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="A serving replay (jalapeno measure serve) to simulate and compare (default: the bundled one).",
)
@click.option(
    "--write-params", is_flag=True, help="Save the fitted parameters into the package's calibration."
)
@click.option("--doc", type=click.Path(dir_okay=False), default=None, help="Write the Markdown report here.")
@json_option
def command(
    hardware: str,
    paths: tuple[str, ...],
    fit_models: str,
    serve: str | None,
    write_params: bool,
    doc: str | None,
    as_json: bool,
) -> None:
    """Calibrate the cost model of a GPU from measurements and report held-out errors."""
    from jalapeno.cost.sanity import mlperf_offline
    from jalapeno.cost.validation import calibrate_and_validate, load, shared_energy_as_steps, summary
    from jalapeno.hardware import resolve_chip
    from jalapeno.jsonio import check_writable
    from jalapeno.models import resolve_model
    from jalapeno.report.validation_doc import render

    if doc:
        check_writable("--doc", doc)
    if serve:
        replay_record(Path(serve))  # a bad replay is refused now, not after the calibration
    chip = resolve_chip(hardware)
    files = [Path(p) for p in paths] or bundled_measurements(chip.name.split("-")[0])
    if not files:
        raise JalapenoError(
            f"no measurements for {chip.name}; pass --measurements FILE", field="--measurements"
        )
    data = load(files)
    try:
        step_sources = [{"steps": shared_energy_as_steps(d) + d.get("steps", [])} for d in data]
        names = {s["model"] for src in step_sources for s in src["steps"]}
    except (AttributeError, KeyError, TypeError) as e:
        raise JalapenoError(
            f"not a measurement file (jalapeno measure): {type(e).__name__} {e}", field="--measurements"
        ) from None
    models = {n: resolve_model(n) for n in sorted(names)}
    fit = {m.strip() for m in fit_models.split(",") if m.strip()}
    unknown = fit - set(models)
    if unknown:
        raise JalapenoError(
            f"{sorted(unknown)} have no measured steps; measured: {sorted(models)}", field="--fit-models"
        )
    try:
        params, rows = calibrate_and_validate(chip, data, step_sources, models, fit)
    except (AttributeError, KeyError, TypeError, IndexError) as e:
        raise JalapenoError(
            f"malformed measurement rows: {type(e).__name__} {e}", field="--measurements"
        ) from None
    cmd = (
        "jalapeno validate --hardware "
        + hardware
        + "".join(f" --measurements {p}" for p in paths)
        + f" --fit-models {fit_models}"
        + (" --write-params" if write_params else "")
        + (f" --doc {doc}" if doc else "")
    )
    params = replace(
        params, calibrated=True, source=f"fitted by `{cmd}` on {', '.join(f.name for f in files)}"
    )
    summ = summary(rows)
    if write_params:
        out = calibration_path(chip.name)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            json.dumps(
                {
                    "chip": chip.name,
                    "date": datetime.date.today().isoformat(),
                    "command": cmd,
                    "measurements": [f.name for f in files],
                    "fit_models": sorted(fit),
                    "errors": summ,
                    "params": params.to_json(),
                },
                indent=1,
            )
            + "\n"
        )
    sanity = []
    for name in ("h200-sxm", "h100-sxm"):
        from jalapeno.cost.params import params_for

        c = resolve_chip(name)
        sanity.append(
            mlperf_offline(
                resolve_model("llama-2-70b"), c, params if c.name == chip.name else params_for(name)
            )
        )
    replays = [Path(serve)] if serve else bundled_measurements(chip.name.split("-")[0], "serve")
    serve_md = "\n\n".join(serve_section(p, chip, params, resolve_model) for p in replays)
    if doc:
        d0 = data[-1]
        text = render(
            command=cmd,
            device=d0.get("device", {}),
            measured=d0.get("measured", "?"),
            sources=[f.name for f in files],
            fit_models=sorted(fit),
            params=params,
            rows=rows,
            sanity=sanity,
            serve=serve_md,
        )
        Path(doc).write_text(text + "\n")
    if as_json:
        emit_json(
            {
                "hardware": chip.name,
                "summary": summ,
                "params": params.to_json(),
                "rows": [r.__dict__ | {"error": r.error} for r in rows],
                "sanity": [s.__dict__ | {"ratio": s.ratio} for s in sanity],
            }
        )
        return
    t = Table(title=f"{chip.name}: prediction error (fit models: {', '.join(sorted(fit))})")
    for col in ("group", "set", "points", "median |error|", "max |error|"):
        t.add_column(col)
    for s in summ:
        t.add_row(s["group"], s["set"], str(s["n"]), apct(s["median_abs_error"]), apct(s["max_abs_error"]))
    Console().print(t)
    for row in sanity:
        Console().print(
            f"MLPerf Llama-2-70B offline {row.chip}: predicted {row.predicted_tokens_per_s:,.0f} "
            f"tok/s/GPU, published {row.published_tokens_per_s:,.0f} (ratio {row.ratio:.2f})"
        )
