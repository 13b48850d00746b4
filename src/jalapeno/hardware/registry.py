"""Bundled chip presets: list them, resolve a name, alias or path to a ``ChipSpec``.

Presets live in ``hardware/presets/<name>.yaml``, one file a chip, and are parsed once per process.
Names are case-insensitive; ``_`` and spaces count as ``-``. A string ending in ``.yaml``/``.yml``,
or naming an existing file, is loaded as a user chip file (not cached: the file may change).
"""

from __future__ import annotations

import difflib
from pathlib import Path

from jalapeno.errors import JalapenoError
from jalapeno.hardware.datasheet import list_presets as list_presets  # re-exported: hardware.list_presets
from jalapeno.hardware.datasheet import load_preset, preset_names
from jalapeno.hardware.loader import load_chip
from jalapeno.hardware.spec import ChipSpec

# alias -> preset name. Shorthands people actually type; ambiguous ones (mi300, which is also the
# MI300A APU; gb200, a 1200 W variant) are deliberately absent.
ALIASES: dict[str, str] = {
    "a100": "a100-80gb-sxm",
    "a100-80gb": "a100-80gb-sxm",
    "a100-sxm": "a100-80gb-sxm",
    "h100": "h100-sxm",
    "h100-sxm5": "h100-sxm",
    "h200": "h200-sxm",
    "h200-sxm5": "h200-sxm",
    "b200-sxm": "b200",
    "hgx-b200": "b200",
    "mi325": "mi325x",
    "gaudi-3": "gaudi3",
    "gaudi": "gaudi3",
    "v5e": "tpu-v5e",
    "tpuv5e": "tpu-v5e",
    "v5p": "tpu-v5p",
    "tpuv5p": "tpu-v5p",
    "v6e": "tpu-v6e",
    "tpuv6e": "tpu-v6e",
    "trillium": "tpu-v6e",
    "v7": "tpu-v7",
    "tpu7x": "tpu-v7",
    "tpuv7": "tpu-v7",
    "ironwood": "tpu-v7",
    "trn3": "trainium3",
    "trainium-3": "trainium3",
    "hgx-b300": "b300",
    "b300-sxm": "b300",
    "gb200": "gb200-nvl72",
    "gb300": "gb300-nvl72",
    "mi355": "mi355x",
    "trn2": "trainium2",
    "trainium-2": "trainium2",
    "inf2": "inferentia2",
    "inferentia-2": "inferentia2",
    "groq": "groq-lpu",
    "lpu": "groq-lpu",
    "groqchip": "groq-lpu",
}


def normalize(name: str) -> str:
    """Canonical spelling of a preset name or alias: lower case, ``_`` and spaces as ``-``."""
    return "-".join(name.strip().lower().replace("_", " ").split())


def _looks_like_path(s: str) -> bool:
    if s.strip().lower().endswith((".yaml", ".yml")):
        return True
    try:
        return "/" in s and Path(s).is_file()
    except (OSError, ValueError):
        return False


def resolve_chip(name_or_path: str) -> ChipSpec:
    """A preset name (case-insensitive), an alias (``h100``, ``trn2``, ...) or a path to a chip YAML file.

    Architecture files and presets (``jalapeno.hardware.arch``) resolve too, to their derived chip.
    """
    if not isinstance(name_or_path, str) or not name_or_path.strip():
        raise JalapenoError(
            f"expected a chip preset name or a .yaml path, got {name_or_path!r}", field="chip"
        )
    if _looks_like_path(name_or_path):
        arch = _arch_file(Path(name_or_path.strip()))
        return arch if arch is not None else load_chip(Path(name_or_path.strip()))
    key = normalize(name_or_path)
    key = ALIASES.get(key, key)
    if key in preset_names():
        return load_preset(key)
    from jalapeno.hardware import arch as _arch  # lazy: hardware.arch imports this module's package

    if key in _arch.list_arch_presets():
        return _arch.derived_preset(key)
    raise JalapenoError(_unknown_message(name_or_path), field="chip")


def _arch_file(path: Path) -> ChipSpec | None:
    """The derived chip of an architecture file, or None when the file is a plain chip file."""
    from jalapeno.hardware import arch as _arch
    from jalapeno.hardware.loader import _read, parse_yaml

    try:
        text, origin = _read(path)
    except JalapenoError:
        return None  # let load_chip report the missing/unreadable file as before
    data = parse_yaml(text, origin)
    if not _arch.is_arch_data(data):
        return None
    spec = _arch.arch_from_dict(data, origin=origin)
    _arch.check_names(spec, _arch.overridable())
    return _arch.derive_chip(spec)


def _unknown_message(name: str) -> str:
    names = preset_names()
    close = difflib.get_close_matches(normalize(name), list(names) + list(ALIASES), n=1, cutoff=0.5)
    guess = f"did you mean {ALIASES.get(close[0], close[0])!r}? " if close else ""
    return f"unknown chip {name!r}; {guess}valid presets: {', '.join(names)} (or a path to a .yaml chip file)"
