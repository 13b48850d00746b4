"""Options shared by several commands (model, hardware, dtype, tp, json), declared once."""

from __future__ import annotations

import json
import sys
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


def dtype_options(f: Callable) -> Callable:
    f = click.option("--kv-dtype", default=None, help="KV-cache dtype (default: the activation dtype).")(f)
    f = click.option("--act-dtype", default=None, help="Activation dtype (default: bf16, fp8 for fp8 weights).")(f)
    return click.option("--dtype", default="bf16", show_default=True,
                        help="Weight dtype: bf16, fp8, int8, int4, mxfp4, nvfp4.")(f)


def positive(name: str, value: int | None, minimum: int = 1) -> None:
    if value is not None and value < minimum:
        raise JalapenoError(f"must be >= {minimum}, got {value}", field=f"--{name}")


def emit_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, sort_keys=False, default=float)
    sys.stdout.write("\n")
