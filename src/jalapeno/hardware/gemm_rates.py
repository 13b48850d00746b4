"""Measured dense GEMM rates of chips (``hardware/data/gemm_rates.yaml``): what a vendor library sustained.

A datasheet peak says what the tensor cores could do at full clock; a newer part of a family can fall short
of its datasheet gain (a power limit, a clock, software). Two chips measured by one source, on one harness,
give the ratio of their realized rates, which a family prior carries over (``cost.measured_gemm``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any

from jalapeno.errors import JalapenoError

# a shape whose every side is at least this is compute-bound on a Blackwell GPU (1024^3 and 2048^3 run at
# 3-25% of the 4096^3 rate in the bundled tables: launch, fill and wave bound, not the tensor cores' rate)
COMPUTE_BOUND_MIN_DIM = 4096
# A measured pair of rack GPUs stands for the same two dies on another board: the HGX B300 carries the GB300's
# Blackwell Ultra die, the HGX B200 the GB200's Blackwell die, so their rate ratio carries over (the rates do
# not: each board has its own power limit). The HGX pair's power ratio (1,100 / 1,000 W) is below the racks'
# (1,400 / 1,200 W), so where the GEMMs are power-bound the racks' ratio is the upper side for the HGX parts.
SAME_DIE = {"b300": "gb300-nvl72", "b200": "gb200-nvl72"}


@dataclass(frozen=True)
class GemmRow:
    dtype: str
    m: int
    n: int
    k: int
    tflops: float

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.m, self.n, self.k)


@dataclass(frozen=True)
class ChipRates:
    url: str
    software: str
    rows: tuple[GemmRow, ...]

    def achievable_flops_per_s(self, dtype: str) -> float | None:
        """The best rate over the measured shapes (maximum achievable matmul FLOP/s), None if unmeasured."""
        rates = [r.tflops for r in self.rows if r.dtype == dtype]
        return max(rates) * 1e12 if rates else None


@dataclass(frozen=True)
class GemmSource:
    name: str
    title: str
    date: str
    harness: str
    chips: Mapping[str, ChipRates]


@dataclass(frozen=True)
class RateRatio:
    """A chip's measured rate over its family chip's, one dtype, one source: ``value`` the ratio of the two
    best rates, ``lo``/``hi`` the range of the ratio shape by shape over the compute-bound shapes both ran."""

    chip: str
    family: str
    dtype: str
    source: str
    value: float
    lo: float
    hi: float
    shapes: int
    via: tuple[str, str] | None = None  # the same dies measured on another board (``SAME_DIE``)

    def describe(self) -> str:
        on = f" as {self.via[0]} / {self.via[1]} (the same dies on the NVL72 rack)" if self.via else ""
        return (
            f"{self.dtype} measured {self.chip} / {self.family}{on} = {self.value:.3f} (best rate of each; "
            f"{self.lo:.3f}-{self.hi:.3f} shape by shape over {self.shapes} compute-bound shapes), "
            f"{self.source}"
        )


def data_path() -> str:
    return str(resources.files("jalapeno.hardware").joinpath("data", "gemm_rates.yaml"))


def _row(raw: Any, where: str) -> GemmRow:
    if not isinstance(raw, list) or len(raw) != 5:
        raise JalapenoError(f"a row is [dtype, m, n, k, tflops], got {raw!r}", field=where)
    dtype, m, n, k, tflops = raw
    if not (isinstance(dtype, str) and all(isinstance(v, int) and v > 0 for v in (m, n, k))):
        raise JalapenoError(f"dtype must be a name and m, n, k positive integers, got {raw!r}", field=where)
    if not isinstance(tflops, (int, float)) or tflops <= 0:
        raise JalapenoError(f"tflops must be a positive number, got {tflops!r}", field=where)
    return GemmRow(dtype, m, n, k, float(tflops))


def _chip(raw: Any, where: str) -> ChipRates:
    if not isinstance(raw, dict) or not {"url", "software", "rows"} <= raw.keys():
        raise JalapenoError("each chip needs url, software and rows", field=where)
    rows = tuple(_row(r, f"{where}.rows[{i}]") for i, r in enumerate(raw["rows"]))
    return ChipRates(str(raw["url"]), str(raw["software"]), rows)


def parse_sources(data: Any, path: str = "gemm_rates.yaml") -> tuple[GemmSource, ...]:
    """Validate the file's content into sources (a ``JalapenoError`` naming the field on bad input)."""
    if not isinstance(data, dict) or not isinstance(data.get("sources"), dict):
        raise JalapenoError("the file needs a 'sources' mapping", field=path)
    out = []
    for name, raw in data["sources"].items():
        where = f"{path}: sources.{name}"
        if not isinstance(raw, dict) or not {"title", "date", "harness", "chips"} <= raw.keys():
            raise JalapenoError("each source needs title, date, harness and chips", field=where)
        chips = {str(c): _chip(v, f"{where}.chips.{c}") for c, v in raw["chips"].items()}
        out.append(GemmSource(str(name), str(raw["title"]), str(raw["date"]), str(raw["harness"]), chips))
    return tuple(out)


@functools.lru_cache(maxsize=1)
def sources() -> tuple[GemmSource, ...]:
    from jalapeno.hardware.loader import parse_yaml

    path = data_path()
    with open(path, encoding="utf-8") as f:
        return parse_sources(parse_yaml(f.read(), path), path)


def ratio_in(source: GemmSource, chip: str, family: str, dtype: str) -> RateRatio | None:
    """The two chips' rate ratio in one source, None unless both ran ``dtype`` on compute-bound shapes."""
    a, b = source.chips.get(chip), source.chips.get(family)
    if a is None or b is None:
        return None
    best_a, best_b = a.achievable_flops_per_s(dtype), b.achievable_flops_per_s(dtype)
    fam = {r.shape: r.tflops for r in b.rows if r.dtype == dtype}
    per_shape = [
        r.tflops / fam[r.shape]
        for r in a.rows
        if r.dtype == dtype and r.shape in fam and min(r.shape) >= COMPUTE_BOUND_MIN_DIM
    ]
    if best_a is None or best_b is None or not per_shape:
        return None
    return RateRatio(
        chip, family, dtype, source.name, best_a / best_b, min(per_shape), max(per_shape), len(per_shape)
    )


def rate_ratio(chip: str, family: str, dtype: str) -> RateRatio | None:
    """The first bundled source that measured both chips in ``dtype``, else both chips' dies on another board
    (``SAME_DIE``); None if none did."""
    for s in sources():
        r = ratio_in(s, chip, family, dtype)
        if r is not None:
            return r
    a, b = SAME_DIE.get(chip), SAME_DIE.get(family)
    if a is None or b is None or a == b:
        return None
    r = rate_ratio(a, b, dtype)
    return None if r is None else replace(r, chip=chip, family=family, via=(a, b))


def measured_dtypes() -> tuple[str, ...]:
    return tuple(sorted({r.dtype for s in sources() for c in s.chips.values() for r in c.rows}))
