"""The bundled datasheet presets by canonical name: ``hardware/presets/<name>.yaml``, parsed once per process.

Split from ``registry`` so that ``hardware.arch`` (which compares architectures with these presets) can
load them without importing the resolver, which itself resolves architecture presets: no cycle.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from jalapeno.errors import JalapenoError
from jalapeno.hardware.loader import load_chip
from jalapeno.hardware.spec import ChipSpec


def presets_dir() -> Path:
    return Path(str(resources.files("jalapeno.hardware").joinpath("presets")))


@functools.lru_cache(maxsize=1)
def preset_names() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in presets_dir().glob("*.yaml")))


def list_presets() -> list[str]:
    """Names of the bundled presets, sorted."""
    return list(preset_names())


@functools.lru_cache(maxsize=64)
def load_preset(name: str) -> ChipSpec:
    """The preset of that canonical name (``h100-sxm``; aliases are ``registry.resolve_chip``'s)."""
    chip = load_chip(presets_dir() / f"{name}.yaml")
    if chip.name != name:
        raise JalapenoError(
            f"preset file {name}.yaml names its chip {chip.name!r}; they must match", field="name"
        )
    return chip
