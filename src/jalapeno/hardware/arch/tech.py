"""The technology library: sourced constants for area, energy, price, per process node and global.

``data/technology.yaml`` is read once and flattened to dotted keys (``wafer.diameter_mm``,
``mac_area_um2.bf16``, ``nodes.n4.wafer_usd``). ``Technology(node, overrides)`` answers ``fig(key)``
with the architecture's override first, then the node's constant, then the global one, so an
architecture file can change any constant (``technology: {wafer_usd: {value: ..., source: ...}}``).

An estimated constant carries ``range: [lo, hi]`` next to its value (``lo <= value <= hi``): the span a
Monte Carlo over the library draws from. ``Technology.range(key)`` answers it; a constant without one
(a measured or defined figure) answers ``(value, value)``.
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
def _load() -> tuple[Mapping[str, Figure], Mapping[str, tuple[float, float]]]:
    path = _path()
    with open(path, encoding="utf-8") as f:
        data = parse_yaml(f.read(), path)
    out: dict[str, Figure] = {}
    spans: dict[str, tuple[float, float]] = {}
    _flatten(_ChipParser(path), data, "", out, spans)
    _add_kind_constants(out, spans)
    return MappingProxyType(out), MappingProxyType(spans)


def _add_kind_constants(out: dict[str, Figure], spans: dict[str, tuple[float, float]]) -> None:
    """The per-kind constants a chip-kind module brings (``hardware.kinds``), for kinds the YAML does not
    list; every kind must then have each of ``TECHNOLOGY_KEYS``."""
    from jalapeno.hardware.kinds import KINDS, TECHNOLOGY_KEYS

    for name in KINDS.names():
        consts = KINDS.get(name).technology
        for key in TECHNOLOGY_KEYS:
            if f"{key}.{name}" in out:
                continue
            if key not in consts:
                raise JalapenoError(
                    f"chip kind {name!r} has no {key}: give it in the kind's module (technology=) "
                    f"or in {TECH_FILE}",
                    field=f"{key}.{name}",
                )
            _flatten(_ChipParser(f"chip kind module {name}"), {key: {name: consts[key]}}, "", out, spans)


def library() -> Mapping[str, Figure]:
    """Every constant of the library, flattened to dotted keys."""
    return _load()[0]


def ranges() -> Mapping[str, tuple[float, float]]:
    """``(lo, hi)`` of every library constant that states a range, by dotted key."""
    return _load()[1]


def _flatten(
    p: _ChipParser, data: Any, prefix: str, out: dict[str, Figure], spans: dict[str, tuple[float, float]]
) -> None:
    m = p.mapping(data, prefix)
    for k, v in m.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping) and "value" in v:
            fig = {a: b for a, b in v.items() if a != "range"}
            out[key] = p.figure({k: fig}, k, prefix)
            if "range" in v:
                spans[key] = parse_range(v["range"], out[key].value, key)
        else:
            _flatten(p, v, key, out, spans)


def parse_range(raw: Any, value: float, key: str) -> tuple[float, float]:
    """``[lo, hi]`` of numbers with ``lo <= value <= hi``."""
    ok = (
        isinstance(raw, list | tuple)
        and len(raw) == 2
        and all(isinstance(x, int | float) and not isinstance(x, bool) for x in raw)
    )
    if not ok:
        raise JalapenoError(
            f"range must be [lo, hi] (two numbers), got {raw!r}; write range: [lo, hi] around the value",
            field=f"{key}.range",
        )
    lo, hi = float(raw[0]), float(raw[1])
    if not lo <= value <= hi:
        raise JalapenoError(
            f"range [{lo:g}, {hi:g}] must hold the value {value:g}; write lo <= value <= hi",
            field=f"{key}.range",
        )
    return lo, hi


def nodes() -> tuple[str, ...]:
    lib = library()
    got = _NODES.get(id(lib))  # every Technology asks (dozens a design evaluation): once per library
    if got is None or got[0] is not lib:
        got = _NODES[id(lib)] = (lib, tuple(sorted({k.split(".")[1] for k in lib if k.startswith("nodes.")})))
    return got[1]


_NODES: dict[int, tuple[Mapping[str, Figure], tuple[str, ...]]] = {}  # by the library it was read from


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
            raise JalapenoError(
                f"unknown process node {self.node!r}; valid: {', '.join(nodes())}", field="node"
            )

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

    def range(self, key: str) -> tuple[float, float]:
        """``(lo, hi)`` of a constant: its stated range, else its value twice (an architecture's override
        and a measured figure are points)."""
        v = self(key)
        if key in self.overrides:
            return v, v
        r = ranges()
        for k in (f"nodes.{self.node}.{key}", key):
            if k in library():
                return r.get(k, (v, v))
        return v, v

    def source(self, key: str) -> str:
        f = self.fig(key)
        where = "architecture file" if key in self.overrides else f"{TECH_FILE}"
        return f"{key} = {f.value:g} ({where}: {f.source})"
