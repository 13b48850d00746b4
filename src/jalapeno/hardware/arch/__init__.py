"""Parameterized processors: an architecture YAML in, a derived ``ChipSpec`` (plus area, power, cost) out.

    >>> from jalapeno.hardware.arch import resolve_arch, derive_chip
    >>> chip = derive_chip(resolve_arch("h100-sxm-arch"))
    >>> round(chip.peak_flops("bf16") / 1e12)
    989

Architecture presets live in ``hardware/presets/arch/<name>.yaml``; the technology library (process
nodes, SRAM, PHYs, prices) in ``hardware/arch/data/technology.yaml``.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from jalapeno.errors import JalapenoError
from jalapeno.hardware.arch.cost import (
    chip_cost,
    dies_per_wafer,
    yield_murphy,
    yield_negative_binomial,
    yield_poisson,
)
from jalapeno.hardware.arch.derive import ArchChip, Sheet, derive_chip, sheet
from jalapeno.hardware.arch.loader import arch_from_dict, check_names, is_arch_data, load_arch
from jalapeno.hardware.arch.spec import ArchSpec
from jalapeno.hardware.arch.tech import Technology, overridable

__all__ = [
    "ArchChip",
    "ArchSpec",
    "Sheet",
    "Technology",
    "arch_from_dict",
    "arch_of",
    "check_names",
    "chip_cost",
    "derive_chip",
    "dies_per_wafer",
    "is_arch_data",
    "list_arch_presets",
    "load_arch",
    "overridable",
    "resolve_arch",
    "sheet",
    "yield_murphy",
    "yield_negative_binomial",
    "yield_poisson",
]


def _dir() -> Path:
    return Path(str(resources.files("jalapeno.hardware").joinpath("presets", "arch")))


@functools.lru_cache(maxsize=1)
def _names() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in _dir().glob("*.yaml")))


def list_arch_presets() -> list[str]:
    return list(_names())


@functools.lru_cache(maxsize=32)
def _preset(name: str) -> ArchSpec:
    arch = load_arch(_dir() / f"{name}.yaml")
    if arch.name != name:
        raise JalapenoError(
            f"architecture file {name}.yaml names its chip {arch.name!r}; they must match", field="name"
        )
    check_names(arch, overridable())
    return arch


def resolve_arch(name_or_path: str | Path) -> ArchSpec:
    """An architecture preset name or a path to an architecture YAML file."""
    s = str(name_or_path).strip()
    if s in _names():
        return _preset(s)
    if s.lower().endswith((".yaml", ".yml")) or Path(s).is_file():
        arch = load_arch(Path(s))
        check_names(arch, overridable())
        return arch
    raise JalapenoError(
        f"unknown architecture {s!r}; presets: {', '.join(_names())} (or a path to a .yaml file)",
        field="arch",
    )


@functools.lru_cache(maxsize=32)
def derived_preset(name: str) -> ArchChip:
    return derive_chip(_preset(name))


def arch_of(chip: object) -> ArchSpec | None:
    """The architecture behind a chip, if it was derived from one."""
    return getattr(chip, "arch", None) if isinstance(chip, ArchChip) else None
