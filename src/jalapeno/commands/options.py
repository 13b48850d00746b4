"""Options shared by several commands (model, hardware, dtype, tp, json), declared once."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Callable

import click

from jalapeno.errors import JalapenoError


def model_option(f: Callable) -> Callable:
    return click.option("--model", "-m", required=True,
                        help="Bundled alias, Hugging Face id, or path to a config.json.")(f)


def hardware_option(f: Callable) -> Callable:
    return click.option("--hardware", "-H", default="h200", show_default=True,
                        help="Preset name or path to a chip YAML file.")(f)


def json_option(f: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON to stdout instead of tables.")(f)


def quiet_option(f: Callable) -> Callable:
    return click.option("--quiet", "-q", is_flag=True,
                        help="No progress on stderr (default: a bar on a terminal, else a line every 5 s).")(f)


def timings_option(f: Callable) -> Callable:
    return click.option("--no-timings", is_flag=True,
                        help="Leave the wall-clock `timings` out of --json, so reruns are byte-identical.")(f)


MAX_BATCH = 1_048_576  # sequences in one step: far above any KV cache, below what exhausts memory
MAX_CHIPS = 65_536  # chips in one replica or plan


def _dtype_choice() -> click.Choice:
    from jalapeno.dtypes import DTYPES

    return click.Choice(list(DTYPES))


def dtype_options(f: Callable) -> Callable:
    from jalapeno.dtypes import DTYPES

    names = ", ".join(DTYPES)
    f = click.option("--kv-dtype", default=None, type=_dtype_choice(), metavar="DTYPE",
                     help="KV-cache dtype, as --dtype (default: the activation dtype).")(f)
    f = click.option("--act-dtype", default=None, type=_dtype_choice(), metavar="DTYPE",
                     help="Activation dtype, as --dtype (default: bf16, fp8 for fp8 weights).")(f)
    return click.option("--dtype", default="bf16", show_default=True, type=_dtype_choice(), metavar="DTYPE",
                        help=f"Weight dtype: {names}.")(f)


def positive(name: str, value: int | None, minimum: int = 1, maximum: int | None = None) -> None:
    """``--name`` in [minimum, maximum], named in the error."""
    if value is not None and value < minimum:
        raise JalapenoError(f"must be >= {minimum}, got {value}", field=f"--{name}")
    if value is not None and maximum is not None and value > maximum:
        raise JalapenoError(f"must be <= {maximum:,}, got {value:,}", field=f"--{name}")


def within_context(cfg: Any, flag: str, tokens: int | None) -> None:
    """Refuse a sequence longer than the model's context (``max_position_embeddings`` of its config.json)."""
    limit = int(cfg.max_position_embeddings)
    if tokens is not None and tokens > limit:
        raise JalapenoError(f"{tokens:,} tokens exceed the {limit:,}-token context of {cfg.name} "
                            f"(max_position_embeddings)", field=flag)


def valid_tp(cfg: Any, tp: int, flag: str = "--tp") -> None:
    """Tensor parallelism splits attention heads evenly: ``tp`` must divide the model's head count."""
    heads = int(cfg.num_heads)
    if tp > 0 and heads % tp:
        ok = [d for d in range(1, heads + 1) if heads % d == 0]
        raise JalapenoError(f"{cfg.name} has {heads} attention heads, which {tp} chips cannot split evenly; "
                            f"valid: {', '.join(map(str, ok))}", field=flag)


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
        msg = msg[len(e.field) + 2:] if msg.startswith(f"{e.field}: ") else msg
        raise JalapenoError(msg, field=names[e.field]) from None


def emit_json(obj: Any) -> None:
    """Strict JSON on stdout: no NaN or Infinity tokens (they become null)."""
    json.dump(finite(obj), sys.stdout, indent=2, sort_keys=False, default=float, allow_nan=False)
    sys.stdout.write("\n")
