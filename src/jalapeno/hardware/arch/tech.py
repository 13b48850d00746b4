"""The technology library: sourced constants for area, energy, price, per process node and global.

``data/technology.yaml`` is read once and flattened to dotted keys (``wafer.diameter_mm``,
``mac_area_um2.bf16``, ``nodes.n4.wafer_usd``). ``Technology(node, overrides)`` answers ``fig(key)``
with the architecture's override first, then the node's constant, then the global one, so an
architecture file can change any constant (``technology: {wafer_usd: {value: ..., source: ...}}``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType
from typing import Any

from jalapeno.errors import JalapenoError
from jalapeno.hardware.loader import _ChipParser, parse_yaml
from jalapeno.hardware.spec import Figure

TECH_FILE = "technology.yaml"


def _path() -> str:
    return str(resources.files("jalapeno.hardware.arch").joinpath("data", TECH_FILE))


@functools.lru_cache(maxsize=1)
def library() -> Mapping[str, Figure]:
    """Every constant of the library, flattened to dotted keys."""
    path = _path()
    with open(path, encoding="utf-8") as f:
        data = parse_yaml(f.read(), path)
    out: dict[str, Figure] = {}
    _flatten(_ChipParser(path), data, "", out)
    return MappingProxyType(out)


def _flatten(p: _ChipParser, data: Any, prefix: str, out: dict[str, Figure]) -> None:
    m = p.mapping(data, prefix)
    for k, v in m.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping) and "value" in v:
            out[key] = p.figure(m, k, prefix)
        else:
            _flatten(p, v, key, out)


def nodes() -> tuple[str, ...]:
    return tuple(sorted({k.split(".")[1] for k in library() if k.startswith("nodes.")}))


def overridable() -> tuple[str, ...]:
    """Keys an architecture may override: node constants by bare name, global ones by their dotted key."""
    node_keys = {k.split(".", 2)[2] for k in library() if k.startswith("nodes.")}
    return tuple(sorted(node_keys | {k for k in library() if not k.startswith("nodes.")}))


@dataclass(frozen=True)
class Technology:
    node: str
    overrides: Mapping[str, Figure] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if self.node not in nodes():
            raise JalapenoError(f"unknown process node {self.node!r}; valid: {', '.join(nodes())}", field="node")

    def fig(self, key: str) -> Figure:
        if key in self.overrides:
            return self.overrides[key]
        lib = library()
        f = lib.get(f"nodes.{self.node}.{key}") or lib.get(key)
        if f is None:
            raise JalapenoError(f"technology constant {key!r} missing for node {self.node}", field=key)
        return f

    def __call__(self, key: str) -> float:
        return self.fig(key).value

    def get(self, key: str, default: float) -> float:
        try:
            return self(key)
        except JalapenoError:
            return default

    def source(self, key: str) -> str:
        f = self.fig(key)
        where = "architecture file" if key in self.overrides else f"{TECH_FILE}"
        return f"{key} = {f.value:g} ({where}: {f.source})"
