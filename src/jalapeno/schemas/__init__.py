"""JSON Schemas (draft 2020-12) of every command's ``--json`` output, one file per command
(``jalapeno.<command>[.<sub>]/<version>`` -> ``<command>[.<sub>].json``); docs/json.md describes them and
tests/test_json_schemas.py validates real outputs against them. ``files/`` holds the schemas of files a
command writes rather than prints (``measure --out``), in their own format version (``file_schema``).

Layer (docs/extending.md#layers): the bottom, with errors, dtypes, jsonio and tableio; imports nothing from
jalapeno.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def names() -> list[str]:
    """Every command with a schema, e.g. ``serve``, ``models.show``."""
    return sorted(p.name[:-5] for p in resources.files(__name__).iterdir() if p.name.endswith(".json"))


def load(name: str) -> dict[str, Any]:
    """The schema of ``name`` (``serve``) or of a schema id (``jalapeno.serve/1``)."""
    if name.startswith("jalapeno."):
        name = name[len("jalapeno.") :].rsplit("/", 1)[0]
    return json.loads(resources.files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8"))


def file_schema(name: str) -> dict[str, Any]:
    """The schema of a file format a command writes (``measure``: the ``measure --out`` record;
    ``measure.serve``: the ``measure serve --out`` replay)."""
    return json.loads(resources.files(__name__).joinpath("files", f"{name}.json").read_text(encoding="utf-8"))
