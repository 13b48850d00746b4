"""The ``jalapeno`` command: thin; parses arguments and delegates to the layers.

Subcommands live in ``jalapeno.commands.<name>`` and are imported lazily so ``jalapeno --help`` is fast.
Any ``JalapenoError`` becomes one ``error:`` line on stderr and exit code 2.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

import click

from jalapeno import __version__
from jalapeno.errors import JalapenoError

# name -> (module, one-line help). Order is the order shown in --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "hardware": (
        "jalapeno.commands.hardware",
        "List chip presets, or show one with the source of every figure.",
    ),
    "chip": (
        "jalapeno.commands.chip",
        "Parameterized processors: spec sheet, area/power/cost, op mapping, plans.",
    ),
    "models": (
        "jalapeno.commands.models",
        "List bundled models: parameters, active parameters, KV bytes per token.",
    ),
    "graph": (
        "jalapeno.commands.graph",
        "Operators of one step (prefill/decode batch) with FLOPs and bytes.",
    ),
    "estimate": (
        "jalapeno.commands.estimate",
        "Time, power and energy of decode and prefill steps on a chip.",
    ),
    "measure": (
        "jalapeno.commands.measure",
        "Measure operators and model steps on a real GPU (needs torch+CUDA).",
    ),
    "validate": ("jalapeno.commands.validate", "Compare cost-model predictions with GPU measurements."),
    "calibrate": (
        "jalapeno.commands.calibrate",
        "Fit chips to published benchmark results; held-out error bands.",
    ),
    "serve": ("jalapeno.commands.serve", "Simulate a fleet serving a request trace."),
    "bench": (
        "jalapeno.commands.bench",
        "MLPerf-style scenarios: offline, server, interactive, fixed ISL/OSL.",
    ),
    "traces": ("jalapeno.commands.traces", "List bundled request traces with their statistics."),
    "explore": (
        "jalapeno.commands.explore",
        "Search a design space for the chips that serve a workload best.",
    ),
    "compare": (
        "jalapeno.commands.compare",
        "Chips head to head on a workload at their best fleets, ratios with ranges.",
    ),
    "report": ("jalapeno.commands.report", "Write the HTML report: Jalapeño-1 against H100, H200 and B200."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [n for n, (mod, _) in COMMANDS.items() if importlib.util.find_spec(mod) is not None]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        mod, _ = COMMANDS[name]
        if importlib.util.find_spec(mod) is None:
            return None
        return importlib.import_module(mod).command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(n, COMMANDS[n][1]) for n in self.list_commands(ctx)]
        if not rows:
            return
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, prog_name="jalapeno")  # works uninstalled (a source tree) too
def cli() -> None:
    """Jalapeño: model inference chips on real models and real traffic.

    Hardware presets and models are bundled; nothing is downloaded. A preset name, a Hugging Face id,
    an alias, or a path to a YAML chip file / config.json works wherever a chip or model is asked for.
    """


def usage_line(e: click.UsageError) -> str:
    """Click's usage error as one ``error:`` line naming the option (no usage block), like every bad input."""
    sub = e.ctx.command_path if e.ctx is not None else "jalapeno"
    if isinstance(e, click.BadParameter) and e.param is not None:
        opts = getattr(e.param, "opts", None) or [e.param.name or "?"]
        flag = max(opts, key=len) if e.param.param_type_name == "option" else (e.param.name or "?").upper()
        what = "required" if isinstance(e, click.MissingParameter) else " ".join(str(e.message).split())
        return f"error: {flag}: {what} (see '{sub} --help')"
    return f"error: {' '.join(e.format_message().split())} (see '{sub} --help')"


def main(argv: list[str] | None = None) -> int:
    if not sys.stdout.isatty() and "COLUMNS" not in os.environ:
        os.environ["COLUMNS"] = "140"  # piped or logged tables: wide enough not to wrap shapes
    args = sys.argv[1:] if argv is None else argv
    bad = next((i for i, a in enumerate(args) if "\x00" in a), None)
    if bad is not None:  # no file name or value holds a NUL byte (the OS refuses them)
        click.echo(f"error: argument {bad + 1} ({args[bad][:40]!r}) contains a NUL byte", err=True)
        return 2
    try:
        cli.main(args=args, prog_name="jalapeno", standalone_mode=False)
    except JalapenoError as e:
        click.echo(f"error: {e}", err=True)
        return 2
    except OSError as e:  # a path the system refuses (too long, a device, no permission): the user's input
        where = f"{e.filename}: " if e.filename else ""
        click.echo(f"error: {where}{e.strerror or e}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.UsageError as e:
        click.echo(usage_line(e), err=True)
        return 2
    except click.ClickException as e:
        click.echo(f"error: {e.format_message()}", err=True)
        return 2
    except click.exceptions.Exit as e:
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
