"""Chip kinds (``kind:`` of a chip or architecture file): what a kind changes, and the registry of kinds.

A kind decides two things beyond the figures of its file. **Scheduling**: a statically scheduled kind
(TPU, Groq, most ASICs) runs ahead-of-time compiled steps, so the mapper pads a step to the compiled
token and KV buckets (``mapping/static.py``) and derives its matrix issue efficiency; a dynamically
issued kind (GPU) has that efficiency measured, and its eager launches pay a host launch. **Technology
constants**: the per-kind keys of ``TECHNOLOGY_KEYS`` (``clock_power_fraction.<kind>``, ...), read by
the area, power and board models. The built-in kinds keep theirs in ``hardware/arch/data/technology.yaml``;
a new kind brings its own in its module (``technology``: the YAML's form, with ``source`` and, for an
estimate, ``range``), which the technology library adds for keys the YAML does not list.

One module a kind; each registers itself with ``KINDS.add(name, ChipKindSpec(...), summary)`` and is
found by the registry's scan of this package (docs/extending.md, "Adding a chip kind").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from jalapeno.registry import Registry

# Technology constants every kind has, as ``<key>.<kind>`` (the area, power and board models read them).
TECHNOLOGY_KEYS = ("core_control_mm2", "clock_power_fraction", "energy_realism")


class ChipKind(Protocol):
    """What a kind provides."""

    @property
    def static_schedule(self) -> bool:
        """Ahead-of-time compiled steps (padded to buckets; issue efficiency derived), else dynamic issue."""
        ...

    @property
    def technology(self) -> Mapping[str, Mapping[str, Any]]:
        """Constants by technology key for this kind, in technology.yaml's form; empty: all in the YAML."""
        ...


@dataclass(frozen=True)
class ChipKindSpec:
    static_schedule: bool
    technology: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: MappingProxyType({}))


KINDS: Registry[ChipKind] = Registry("chip kind", field="kind", package="jalapeno.hardware.kinds")


def kind_of(name: str) -> ChipKind:
    return KINDS.get(name)


def is_static(name: str) -> bool:
    """Is ``name`` a statically scheduled kind (False for an unknown one, as for a GPU)?"""
    return name in KINDS and KINDS.get(name).static_schedule
