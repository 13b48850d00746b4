"""Options shared by several commands (model, hardware, dtype, tp, json), declared once."""

from __future__ import annotations

import functools
import json
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from jalapeno.errors import JalapenoError


def model_option(f: Callable) -> Callable:
    return click.option(
        "--model", "-m", required=True, help="Bundled alias, Hugging Face id, or path to a config.json."
    )(f)


def hardware_option(f: Callable) -> Callable:
    return click.option(
        "--hardware", "-H", default="h200", show_default=True, help="Preset name or path to a chip YAML file."
    )(f)


def json_option(f: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON to stdout instead of tables.")(f)


def quiet_option(f: Callable) -> Callable:
    return click.option(
        "--quiet",
        "-q",
        is_flag=True,
        help="No progress on stderr (default: a bar on a terminal, else a line every 5 s).",
    )(f)


def deprecated_n(dest: str) -> Callable[[Callable], Callable]:
    """``-n`` means replicas (serve, bench). Where it once meant something else (explore's ``--trials``,
    compare's ``--samples``) it still works, hidden, with a note on stderr; the value goes to ``dest``."""

    def deco(f: Callable) -> Callable:
        @functools.wraps(f)
        def wrapper(*args: Any, n_deprecated: int | None = None, **kwargs: Any) -> Any:
            if n_deprecated is not None:
                click.echo(
                    f"note: -n is deprecated here (it means replicas in serve and bench); use --{dest}",
                    err=True,
                )
                kwargs[dest] = n_deprecated
            return f(*args, **kwargs)

        return click.option("-n", "n_deprecated", type=int, default=None, hidden=True)(wrapper)

    return deco


def timings_option(f: Callable) -> Callable:
    return click.option(
        "--no-timings",
        is_flag=True,
        help="Leave the wall-clock `timings` out of --json, so reruns are byte-identical.",
    )(f)


MAX_BATCH = 1_048_576  # sequences in one step: far above any KV cache, below what exhausts memory
MAX_CHIPS = 65_536  # chips in one replica or plan


def _dtype_choice() -> click.Choice:
    from jalapeno.dtypes import DTYPES

    return click.Choice(list(DTYPES))


def dtype_options(f: Callable) -> Callable:
    from jalapeno.dtypes import DTYPES

    names = ", ".join(DTYPES)
    f = click.option(
        "--kv-dtype",
        default=None,
        type=_dtype_choice(),
        metavar="DTYPE",
        help="KV-cache dtype, as --dtype (default: the activation dtype).",
    )(f)
    f = click.option(
        "--act-dtype",
        default=None,
        type=_dtype_choice(),
        metavar="DTYPE",
        help="Activation dtype, as --dtype (default: bf16, fp8 for fp8 weights).",
    )(f)
    return click.option(
        "--dtype",
        default="bf16",
        show_default=True,
        type=_dtype_choice(),
        metavar="DTYPE",
        help=f"Weight dtype: {names}.",
    )(f)


def engine_option(f: Callable) -> Callable:
    """``--engine``: the GPU preset every command that prices a step shares (estimate, serve, bench)."""
    from jalapeno.cost.engines import ENGINES

    return click.option(
        "--engine",
        type=click.Choice(ENGINES.names()),
        default="fused",
        show_default=True,
        help="GPU presets: a fused serving engine (1 kernel per op, vLLM-class), or the plain-PyTorch "
        "engine the calibration measured (docs/cost.md).",
    )(f)


def positive(name: str, value: int | None, minimum: int = 1, maximum: int | None = None) -> None:
    """``--name`` in [minimum, maximum], named in the error."""
    if value is not None and value < minimum:
        raise JalapenoError(f"must be >= {minimum}, got {value}", field=f"--{name}")
    if value is not None and maximum is not None and value > maximum:
        raise JalapenoError(f"must be <= {maximum:,}, got {value:,}", field=f"--{name}")


def renamed(flag: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; a ``JalapenoError`` it raises is re-raised naming the command-line ``flag`` (one
    vocabulary of field names: the option the user typed, not a library's parameter)."""
    try:
        return fn(*args, **kwargs)
    except JalapenoError as e:
        msg = str(e)
        if e.field and msg.startswith(f"{e.field}: "):
            msg = msg[len(e.field) + 2 :]
        raise JalapenoError(msg, field=flag) from None


def within_context(cfg: Any, flag: str, tokens: int | None) -> None:
    """Refuse a sequence longer than the model's context (``max_position_embeddings`` of its config.json)."""
    limit = int(cfg.max_position_embeddings)
    if tokens is not None and tokens > limit:
        raise JalapenoError(
            f"{tokens:,} tokens exceed the {limit:,}-token context of {cfg.name} (max_position_embeddings)",
            field=flag,
        )


def valid_tp(cfg: Any, tp: int, flag: str = "--tp") -> None:
    """Tensor parallelism splits attention heads evenly: ``tp`` must divide the model's head count."""
    heads = int(cfg.num_heads)
    if tp > 0 and heads % tp:
        ok = [d for d in range(1, heads + 1) if heads % d == 0]
        raise JalapenoError(
            f"{cfg.name} has {heads} attention heads, which {tp} chips cannot split evenly; "
            f"valid: {', '.join(map(str, ok))}",
            field=flag,
        )


def finite(x: Any) -> Any:
    """JSON-safe: NaN and infinities become None (JSON has no such numbers), everywhere in ``x``."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite(v) for v in x]
    return x


MODEL_CHIP_FLAGS = {"model": "--model", "chip": "--hardware", "tp": "--tp", "pp": "--pp"}


@contextmanager
def as_flags(names: dict[str, str]) -> Iterator[None]:
    """Errors the layers raise about a field (``chip``, ``db``) name the command-line option instead
    (``--hardware``, ``--db``), so every command words the same mistake the same way."""
    try:
        yield
    except JalapenoError as e:
        if e.field not in names:
            raise
        msg = str(e)
        msg = msg[len(e.field) + 2 :] if msg.startswith(f"{e.field}: ") else msg
        raise JalapenoError(msg, field=names[e.field]) from None


SCHEMA_VERSION = 2  # bump a command's version when a key changes meaning or unit (docs/json.md)


def schema_id(name: str | None = None) -> str:
    """``jalapeno.<command>[.<subcommand>]/<version>`` of the running command, from click's context
    (``jalapeno models show`` -> ``jalapeno.models.show/2``); the schema file is ``schemas/<that>.json``."""
    if name is not None:
        return f"jalapeno.{name}/{SCHEMA_VERSION}"
    ctx = click.get_current_context(silent=True)
    parts = ctx.command_path.split()[1:] if ctx is not None else []
    return f"jalapeno.{'.'.join(parts) or 'unknown'}/{SCHEMA_VERSION}"


def emit_json(obj: Any, *, key: str | None = None, sort_keys: bool = False, name: str | None = None) -> None:
    """Strict JSON on stdout: always an object whose first key is ``schema``; a list goes under ``key``;
    no NaN or Infinity tokens (they become null)."""
    if not isinstance(obj, dict):
        if key is None:
            raise TypeError("emit_json: a list needs the key it goes under")
        obj = {key: obj}
    body = finite(obj)
    if sort_keys:
        body = json.loads(json.dumps(body, sort_keys=True, default=float))
    doc = {"schema": schema_id(name), **{k: v for k, v in body.items() if k != "schema"}}
    json.dump(doc, sys.stdout, indent=2, sort_keys=False, default=float, allow_nan=False)
    sys.stdout.write("\n")
