"""Estimated constants, their ranges, and chips rebuilt with some of them replaced.

A figure is *estimated* when its YAML marks it ``secondary: true`` or states ``range: [lo, hi]``. Its range is
the stated one, else ``DEFAULT_FACTOR`` either way (``[v / 1.25, v x 1.25]``; fractions capped at 1), reported
with ``stated=False`` so a reader can tell a documented range from the default. Which figures count:

* the technology library (``hardware/arch/data/technology.yaml``): every estimated constant, keyed
  ``tech:<dotted key>`` (``tech:mac_energy_pj.fp8``, ``tech:nodes.n3.leakage_w_per_mm2``);
* the TCO constants (``hardware/data/tco.yaml``, every one with its range), keyed ``tco:<key>`` (``tco:pue``):
  ``tco_values`` hands a draw of them to the one pricing path (``hardware.tco``);
* an architecture file: the estimated figures of the sections that describe the world rather than the design
  (``runtime``, ``power``, its ``technology`` overrides, DRAM latency and efficiencies, link hop latency),
  keyed ``<chip>:<path>`` (``jalapeno-1:runtime.kernel_overhead_s``);
* a datasheet chip: its estimated price, power, latency and energy figures, keyed the same way.

Design choices (core counts, clock, SRAM sizes, margin) are not uncertain constants: they are perturbed only
where their file states a range. ``perturb(chip, values)`` returns a new chip with some constants replaced:
an architecture is re-derived from its YAML with the values written in (library constants as the file's
``technology:`` overrides), a datasheet chip is rebuilt from its dict. Nothing global changes.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from jalapeno.hardware.spec import ChipSpec, Figure

DEFAULT_FACTOR = 1.25  # an estimate without a stated range: a factor of 1.25 either way
TECH = "tech:"
TCO = "tco:"
# Sections of an architecture file / a datasheet chip whose estimated figures are uncertain constants.
ARCH_SECTIONS = (
    ("runtime",),
    ("power",),
    ("technology",),
    ("memory", "latency_s"),
    ("memory", "efficiency"),
    ("memory", "gemm_efficiency"),
    ("memory", "kv_read_efficiency"),
    ("links", "hop_latency_s"),
)
CHIP_FIGURES = ("price_usd", "idle_w", "tdp_w", "latency_s", "energy_pj_per_bit", "cost.total_usd")
_FRACTION_WORDS = ("fraction", "efficiency", "margin")
_COUNTS = ("kernels_per_op",)  # whole numbers: never given a default range


@dataclass(frozen=True)
class Estimated:
    """One estimated constant: its nominal value and the range a Monte Carlo samples it in."""

    key: str
    value: float
    lo: float
    hi: float
    stated: bool  # the range is the file's own; else the default factor
    source: str
    path: tuple[Any, ...]  # library: (dotted key,); a chip file: the YAML path
    whole: bool = False  # a count (compiled bucket sizes): samples are rounded

    def at(self, u: float) -> float:
        """The value at quantile ``u`` in [0, 1) of a log-uniform distribution over [lo, hi] (uniform when
        ``lo`` is 0). A count is rounded to a whole number; a count whose value and range ends are all powers
        of two (compiled bucket sizes) to a power of two, each power equally likely."""
        if self.hi <= self.lo:
            return self.lo
        if self.whole and all(_pow2(x) for x in (self.lo, self.value, self.hi)):
            a, b = round(math.log2(self.lo)), round(math.log2(self.hi))
            return float(2 ** min(b, a + int(u * (b - a + 1))))
        x = self.lo * (self.hi / self.lo) ** u if self.lo > 0 else self.lo + (self.hi - self.lo) * u
        return float(round(x)) if self.whole else x

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "value": self.value,
            "lo": self.lo,
            "hi": self.hi,
            "range_basis": "stated" if self.stated else f"default x/{DEFAULT_FACTOR:g}",
            "source": self.source,
        }


def _pow2(x: float) -> bool:
    return x >= 1 and float(x).is_integer() and (int(x) & (int(x) - 1)) == 0


def default_range(name: str, value: float) -> tuple[float, float]:
    hi = value * DEFAULT_FACTOR
    if any(w in name for w in _FRACTION_WORDS) and value <= 1:
        hi = min(hi, 1.0)
    return value / DEFAULT_FACTOR, hi


def _estimated(key: str, path: tuple[Any, ...], f: Figure, whole: bool = False) -> Estimated:
    if f.range is not None:
        return Estimated(key, f.value, f.range[0], f.range[1], True, f.source, path, whole)
    lo, hi = default_range(str(path[-1]), f.value)
    return Estimated(key, f.value, lo, hi, False, f.source, path, whole)


def library_constants() -> tuple[Estimated, ...]:
    """Every estimated constant of the technology library."""
    from jalapeno.hardware.arch.tech import library, ranges

    spans = ranges()  # the library keeps its ranges apart from its figures
    return tuple(
        _estimated(TECH + k, (k,), replace(f, range=spans.get(k)))
        for k, f in sorted(library().items())
        if f.secondary or k in spans
    )


def tco_constants() -> tuple[Estimated, ...]:
    """The TCO constants (``hardware/data/tco.yaml``), each with its stated range."""
    from jalapeno.hardware.tco import constants

    return tuple(
        Estimated(TCO + k, c.value, c.lo, c.hi, True, c.source, (k,)) for k, c in sorted(constants().items())
    )


def tco_values(values: Mapping[str, float]) -> dict[str, float]:
    """The TCO constants of a draw, keyed as ``hardware.tco`` reads them (``tco:pue`` -> ``pue``)."""
    return {k[len(TCO) :]: v for k, v in values.items() if k.startswith(TCO)}


# ---------------------------------------------------------------- chip files


def _figures(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Mapping[str, Any]]]:
    """(path, figure mapping) of every numeric figure in parsed YAML data."""
    if isinstance(data, Mapping):
        if "value" in data and "source" in data:
            if _numeric(data["value"]):
                yield path, data
            return
        for k, v in data.items():
            yield from _figures(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _figures(v, (*path, i))


def _numeric(v: Any) -> bool:
    """A figure value the loader reads as a number (YAML 1.1 reads ``2e-6`` as a string)."""
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        return False
    try:
        float(v)
    except ValueError:
        return False
    return True


def _dotted(path: tuple[Any, ...]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _whole(key: Any, is_arch: bool) -> bool:
    from jalapeno.hardware.arch.loader import WHOLE
    from jalapeno.hardware.loader import INTEGRAL

    return key in (WHOLE if is_arch else INTEGRAL)


def _counted(path: tuple[Any, ...], is_arch: bool) -> bool:
    """Does an estimated figure at ``path`` count as an uncertain constant without a stated range?"""
    if any(p in _COUNTS for p in path):
        return False
    if is_arch:
        from jalapeno.hardware.arch.loader import WHOLE

        return path[-1] not in WHOLE and any(path[: len(s)] == s for s in ARCH_SECTIONS)
    return path[-1] in CHIP_FIGURES


@functools.lru_cache(maxsize=64)
def _arch_data(source_file: str) -> Any:
    from jalapeno.hardware.loader import _read, parse_yaml

    text, origin = _read(source_file)
    return parse_yaml(text, origin)


def chip_data(chip: ChipSpec) -> tuple[Any, bool]:
    """The YAML-shaped data a chip was built from, and whether it is an architecture file."""
    from jalapeno.hardware.arch import arch_of
    from jalapeno.hardware.loader import chip_to_dict

    arch = arch_of(chip)
    if arch is not None:  # an architecture built in memory (a design point) has no file: no own figures
        return (
            _arch_data(arch.source_file) if arch.source_file and Path(arch.source_file).is_file() else {}
        ), True
    return chip_to_dict(chip), False


def chip_constants(chip: ChipSpec) -> tuple[Estimated, ...]:
    """The estimated constants of one chip's own file (not the library's)."""
    from jalapeno.hardware.loader import _ChipParser

    data, is_arch = chip_data(chip)
    p, out = _ChipParser(chip.source_file or chip.name), []
    for path, fig in _figures(data):
        parent = {path[-1]: fig}
        f = p.figure(parent, path[-1], _dotted(path[:-1])) if isinstance(path[-1], str) else None
        if f is None or not (f.range or (f.secondary and _counted(path, is_arch))):
            continue
        out.append(_estimated(f"{chip.name}:{_dotted(path)}", path, f, _whole(path[-1], is_arch)))
    return tuple(out)


# ---------------------------------------------------------------- perturbed chips


def _set(data: Any, path: tuple[Any, ...], value: float) -> None:
    node = data
    for p in path[:-1]:
        node = node[p]
    fig = dict(node[path[-1]])
    fig["value"] = value
    fig.pop("range", None)  # a sample need not sit inside the range of another sample's nominal
    node[path[-1]] = fig


def tech_overrides(node: str, values: Mapping[str, float]) -> dict[str, float]:
    """Sampled library constants as a node's override names (``nodes.n3.x`` -> ``x`` on n3; others as is)."""
    out = {}
    for k, v in values.items():
        if not k.startswith(TECH):
            continue
        key = k[len(TECH) :]
        if key.startswith("nodes."):
            _, n, name = key.split(".", 2)
            if n == node:
                out[name] = v
        else:
            out[key] = v
    return out


def perturb(chip: ChipSpec, values: Mapping[str, float]) -> ChipSpec:
    """``chip`` with the constants in ``values`` (keys as ``library_constants``/``chip_constants``) replaced.

    Returns ``chip`` itself when no value applies to it. Library constants apply to architectures only (a
    datasheet chip reads none); an architecture's own ``technology:`` override wins over the library's.
    """
    from jalapeno.hardware.arch import arch_from_dict, arch_of, check_names, derive_chip, overridable
    from jalapeno.hardware.loader import chip_from_dict

    data, is_arch = chip_data(chip)
    own = {k: v for k, v in values.items() if k.startswith(f"{chip.name}:")}
    paths = {e.key: e.path for e in chip_constants(chip) if e.key in own}
    arch = arch_of(chip)
    tech = tech_overrides(arch.node.value, values) if is_arch and arch is not None else {}
    tech = {k: v for k, v in tech.items() if k not in (data.get("technology") or {})}
    if not paths and not tech:
        return chip
    data = copy.deepcopy(data)
    for k, path in paths.items():
        _set(data, path, own[k])
    if not is_arch:
        return chip_from_dict(data, origin=chip.source_file)
    if not data and arch is not None:  # no file: the library's constants as overrides of the spec itself
        over = {k: Figure(v, "Monte Carlo sample of the technology library's range") for k, v in tech.items()}
        return derive_chip(replace(arch, technology=MappingProxyType({**over, **arch.technology})))
    if tech:
        section: dict[str, Any] = dict(data.get("technology") or {})
        section.update(
            {
                k: {"value": v, "source": "Monte Carlo sample of the technology library's range"}
                for k, v in tech.items()
            }
        )
        data["technology"] = section
    spec = arch_from_dict(data, origin=arch.source_file if arch is not None else chip.source_file)
    check_names(spec, overridable())
    return derive_chip(spec)
