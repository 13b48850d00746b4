"""Chips as sourced data: spec types, YAML loading with strict validation, bundled presets.

    >>> from jalapeno.hardware import resolve_chip
    >>> resolve_chip("h100").peak_flops("bf16")
    989400000000000.0

Layer (docs/extending.md#layers): the bottom of the domain, beside models and workload and independent of
both. May import only the bottom modules (errors, dtypes, jsonio, tableio); knows nothing of timing.
"""

from jalapeno.hardware.loader import chip_from_dict, chip_to_dict, load_chip
from jalapeno.hardware.registry import ALIASES, list_presets, resolve_chip
from jalapeno.hardware.spec import ChipSpec, Figure, Interconnect, MemoryLevel, TextFigure

__all__ = [
    "ALIASES",
    "ChipSpec",
    "Figure",
    "Interconnect",
    "MemoryLevel",
    "TextFigure",
    "chip_from_dict",
    "chip_to_dict",
    "list_presets",
    "load_chip",
    "resolve_chip",
]
