"""Dependency-free SVG line plots: several series, CDFs, linear or log x axis, nice ticks, a legend.

The output is one self-contained SVG document (no scripts, styles, fonts or links), so a plot opens
in any browser and inlines unchanged in an HTML report. All text is XML-escaped.

    from jalapeno.report.plots import cdf_series, line_svg, vline
    svg = line_svg([cdf_series(ttfts, "TTFT"), vline(1.0, "TTFT SLO", dashed=True)],
                   title="Latency", xlabel="seconds", ylabel="fraction", logx=True, ylim=(0, 1))

A series is drawn as a path through its points in order; non-finite points (and x <= 0 on a log
axis) break the line. Axis ranges cover the data (or ``xlim``/``ylim``; ``None`` in either end means
"from the data") and widen to the outer ticks on a linear axis and to whole decades on a log axis.
"""

from __future__ import annotations

import html
import math
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Okabe-Ito, readable by the colour-blind; series without a colour take these in order.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

Limits = tuple[float | None, float | None]


@dataclass(frozen=True)
class Series:
    """One line: points (x[i], y[i]) in drawing order."""

    label: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    color: str | None = None
    dashed: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "x", tuple(float(v) for v in self.x))
        object.__setattr__(self, "y", tuple(float(v) for v in self.y))
        if len(self.x) != len(self.y):
            raise ValueError(f"series {self.label!r}: {len(self.x)} x values but {len(self.y)} y values")


def cdf_series(
    values: Sequence[float] | np.ndarray,
    label: str,
    *,
    max_points: int = 400,
    color: str | None = None,
    dashed: bool = False,
) -> Series:
    """Empirical CDF of the finite ``values``: x sorted, y = rank / n; at most ``max_points`` points
    (evenly spaced ranks, first and last kept)."""
    v = np.asarray(values, dtype=np.float64)
    v = np.sort(v[np.isfinite(v)])
    n = v.size
    if n == 0:
        return Series(label, (), (), color, dashed)
    idx = np.arange(n)
    if n > max_points:
        idx = np.unique(np.linspace(0, n - 1, max_points).round().astype(int))
    return Series(label, tuple(v[idx].tolist()), tuple(((idx + 1) / n).tolist()), color, dashed)


def vline(
    x: float,
    label: str,
    *,
    y: tuple[float, float] = (0.0, 1.0),
    color: str | None = None,
    dashed: bool = True,
) -> Series:
    """A vertical marker (a threshold, an SLO) from y[0] to y[1]."""
    return Series(label, (x, x), y, color, dashed)


def hline(
    y: float, label: str, *, x: tuple[float, float], color: str | None = None, dashed: bool = True
) -> Series:
    """A horizontal marker (an average, a budget) from x[0] to x[1]."""
    return Series(label, x, (y, y), color, dashed)


def downsample(
    x: Sequence[float], y: Sequence[float], max_points: int
) -> tuple[list[float], list[float], int]:
    """Means of consecutive buckets of ``k`` points so at most ``max_points`` remain; returns (x, y, k).

    A mean keeps areas (energy under a power curve) and smooths spikes by ``k``: say so in the label.
    """
    n = len(x)
    k = max(1, math.ceil(n / max(1, max_points)))
    if k == 1:
        return list(map(float, x)), list(map(float, y)), 1
    xs = [float(np.mean(x[i : i + k])) for i in range(0, n, k)]
    ys = [float(np.mean(y[i : i + k])) for i in range(0, n, k)]
    return xs, ys, k


# --- ticks ------------------------------------------------------------------------------------------
def _nice(x: float, round_: bool) -> float:
    """1, 2, 5 or 10 times a power of ten near ``x`` (Heckbert, Graphics Gems 1990)."""
    exp = math.floor(math.log10(x))
    f = x / 10**exp
    if round_:
        n = 1 if f < 1.5 else 2 if f < 3 else 5 if f < 7 else 10
    else:
        n = 1 if f <= 1 else 2 if f <= 2 else 5 if f <= 5 else 10
    return n * 10**exp


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Evenly spaced round ticks (step 1, 2 or 5 x 10^k) from at or below ``lo`` to at or above ``hi``."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"tick range must be finite, got {lo}, {hi}")
    lo, hi = min(lo, hi), max(lo, hi)
    if hi == lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    step = _nice(_nice(hi - lo, False) / max(1, target - 1), True)
    digits = max(0, -math.floor(math.log10(step))) + 1
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    return [round(i * step, digits) + 0.0 for i in range(first, last + 1)]


def log_ticks(lo: float, hi: float) -> list[float]:
    """Ticks at powers of ten from the decade at or below ``lo`` to the one at or above ``hi`` (both > 0);
    1-2-5 within a decade when the range spans at most two decades, every other decade above eight."""
    if not (lo > 0 and hi > 0 and math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"log ticks need a finite range > 0, got {lo}, {hi}")
    lo, hi = min(lo, hi), max(lo, hi)
    a, b = math.floor(math.log10(lo) + 1e-9), math.ceil(math.log10(hi) - 1e-9)
    b = max(b, a + 1)
    if b - a <= 2:
        ticks = [m * 10.0**e for e in range(a, b) for m in (1, 2, 5)] + [10.0**b]
        return [float(f"{t:.12g}") for t in ticks]
    every = 1 if b - a <= 8 else math.ceil((b - a) / 8)
    a -= a % every
    return [float(f"{10.0**e:.12g}") for e in range(a, b + every, every)]


def tick_label(v: float) -> str:
    """Short, exact-looking labels: 0, 0.25, 40, 2000, 1e5, 2.5e-4."""
    if v == 0:
        return "0"
    if 1e-3 <= abs(v) < 1e5:
        return f"{v:.6g}"
    mantissa, exp = f"{v:.3e}".split("e")
    return f"{float(mantissa):g}e{int(exp)}"


def escape(text: str) -> str:
    """Text safe in SVG content and attribute values (characters XML 1.0 forbids are dropped)."""
    return html.escape(_XML_ILLEGAL.sub("", str(text)), quote=True)


# --- the plot ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Axis:
    lo: float
    hi: float
    ticks: tuple[float, ...]
    log: bool

    def frac(self, v: float) -> float:
        if self.log:
            return (math.log10(v) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))
        return (v - self.lo) / (self.hi - self.lo)


def _axis(values: list[float], limits: Limits | None, log: bool) -> _Axis:
    want_lo, want_hi = limits if limits is not None else (None, None)
    if log and any(v is not None and not v > 0 for v in (want_lo, want_hi)):
        raise ValueError(f"log axis limits must be > 0, got {limits}")
    lo = want_lo if want_lo is not None else (min(values) if values else None)
    hi = want_hi if want_hi is not None else (max(values) if values else None)
    if lo is None:
        lo = (hi / 10 if log else hi - 1) if hi is not None else (1.0 if log else 0.0)
    if hi is None:
        hi = lo * 10 if log else lo + 1
    ticks = log_ticks(lo, hi) if log else nice_ticks(lo, hi)
    lo = want_lo if want_lo is not None else ticks[0]
    hi = want_hi if want_hi is not None else ticks[-1]
    if hi <= lo:
        hi = lo * 10 if log else lo + 1
    eps = 1e-9 * (hi - lo)
    return _Axis(lo, hi, tuple(t for t in ticks if lo - eps <= t <= hi + eps), log)


def _valid(s: Series, logx: bool) -> list[tuple[float, float] | None]:
    """Points of ``s``; None where the line breaks (non-finite, or x <= 0 on a log axis)."""
    out: list[tuple[float, float] | None] = []
    for x, y in zip(s.x, s.y, strict=True):
        ok = math.isfinite(x) and math.isfinite(y) and (x > 0 or not logx)
        out.append((x, y) if ok else None)
    return out


@dataclass(frozen=True)
class _Frame:
    """The plot area (pixels: left, top, width, height) and its two axes."""

    left: int
    top: int
    w: int
    h: int
    xa: _Axis
    ya: _Axis

    @property
    def bottom(self) -> int:
        return self.top + self.h

    def px(self, x: float) -> float:
        return self.left + self.xa.frac(x) * self.w

    def py(self, y: float) -> float:
        return self.top + (1 - self.ya.frac(y)) * self.h


def line_svg(
    series: Sequence[Series],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    logx: bool = False,
    xlim: Limits | None = None,
    ylim: Limits | None = None,
    width: int = 640,
    height: int = 360,
) -> str:
    """An SVG document plotting ``series`` as lines, with axes, ticks, grid, labels, title and legend."""
    if width < 200 or height < 150:
        raise ValueError(f"plot too small: {width} x {height} (at least 200 x 150)")
    points = [_valid(s, logx) for s in series]
    flat = [p for ps in points for p in ps if p is not None]
    xa = _axis([p[0] for p in flat], xlim, logx)
    ya = _axis([p[1] for p in flat], ylim, False)
    legend_w = min(240, max(90, 7 * max(len(s.label) for s in series) + 40)) if series else 0
    left, top = 64, 34
    f = _Frame(left, top, width - left - 16 - legend_w, height - top - 48, xa, ya)
    if f.w < 60:
        raise ValueError(f"plot too narrow for its legend: widen it (width={width})")
    out = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="12">'
        ),
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    out += _grid_and_ticks(f)
    out += _lines(f, series, points, clip_id=_clip_id(title, xlabel, ylabel, width, height, len(series)))
    out.append(f'<rect x="{f.left}" y="{f.top}" width="{f.w}" height="{f.h}" fill="none" stroke="#333333"/>')
    if not flat:
        out.append(
            f'<text x="{f.left + f.w / 2:.2f}" y="{f.top + f.h / 2:.2f}" text-anchor="middle" '
            'fill="#666666">no data</text>'
        )
    out += _labels(f, title, xlabel, ylabel, width)
    out += _legend(series, f.left + f.w + 12, f.top)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _clip_id(*key: object) -> str:
    """Deterministic (equal inputs, equal bytes), and distinct for distinct plots inlined in one page."""
    return f"clip{zlib.crc32(repr(key).encode()):08x}"


def _color(s: Series, i: int) -> str:
    return s.color or PALETTE[i % len(PALETTE)]


def _lines(
    f: _Frame, series: Sequence[Series], points: list[list[tuple[float, float] | None]], clip_id: str
) -> list[str]:
    out = [
        (
            f'<defs><clipPath id="{clip_id}"><rect x="{f.left}" y="{f.top}" width="{f.w}" height="{f.h}"/>'
            "</clipPath></defs>"
        ),
        f'<g clip-path="url(#{clip_id})" fill="none" stroke-width="1.8" stroke-linejoin="round">',
    ]
    for i, (s, ps) in enumerate(zip(series, points, strict=True)):
        d = _path(f, ps)
        if d:
            dash = ' stroke-dasharray="6 4"' if s.dashed else ""
            out.append(
                f'<path d="{d}" stroke="{escape(_color(s, i))}"{dash}><title>{escape(s.label)}</title></path>'
            )
    out.append("</g>")
    return out


def _path(f: _Frame, ps: list[tuple[float, float] | None]) -> str:
    parts: list[str] = []
    pen_up = True
    for p in ps:
        if p is None:
            pen_up = True
            continue
        parts.append(f"{'M' if pen_up else 'L'}{f.px(p[0]):.2f},{f.py(p[1]):.2f}")
        pen_up = False
    return " ".join(parts)


def _grid_and_ticks(f: _Frame) -> list[str]:
    xs, ys = [(f.px(t), t) for t in f.xa.ticks], [(f.py(t), t) for t in f.ya.ticks]
    out = ['<g stroke="#e5e5e5" stroke-width="1">']
    out += [f'<line x1="{x:.2f}" y1="{f.top}" x2="{x:.2f}" y2="{f.bottom}"/>' for x, _ in xs]
    out += [f'<line x1="{f.left}" y1="{y:.2f}" x2="{f.left + f.w}" y2="{y:.2f}"/>' for y, _ in ys]
    out.append('</g>\n<g stroke="#333333" stroke-width="1">')
    out += [f'<line x1="{x:.2f}" y1="{f.bottom}" x2="{x:.2f}" y2="{f.bottom + 5}"/>' for x, _ in xs]
    out += [f'<line x1="{f.left - 5}" y1="{y:.2f}" x2="{f.left}" y2="{y:.2f}"/>' for y, _ in ys]
    out.append('</g>\n<g fill="#333333">')
    out += [
        f'<text x="{x:.2f}" y="{f.bottom + 18}" text-anchor="middle">{escape(tick_label(t))}</text>'
        for x, t in xs
    ]
    out += [
        f'<text x="{f.left - 8}" y="{y + 4:.2f}" text-anchor="end">{escape(tick_label(t))}</text>'
        for y, t in ys
    ]
    out.append("</g>")
    return out


def _labels(f: _Frame, title: str, xlabel: str, ylabel: str, width: int) -> list[str]:
    cy = f.top + f.h / 2
    return [
        (
            f'<text x="{width / 2:.2f}" y="20" text-anchor="middle" font-size="14" font-weight="bold">'
            f"{escape(title)}</text>"
        ),
        f'<text x="{f.left + f.w / 2:.2f}" y="{f.bottom + 38}" text-anchor="middle">{escape(xlabel)}</text>',
        (
            f'<text x="16" y="{cy:.2f}" text-anchor="middle" transform="rotate(-90 16 {cy:.2f})">'
            f"{escape(ylabel)}</text>"
        ),
    ]


def _legend(series: Sequence[Series], x: int, y: int) -> list[str]:
    out = []
    for i, s in enumerate(series):
        yy = y + 8 + 18 * i
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        out.append(
            f'<line x1="{x}" y1="{yy}" x2="{x + 22}" y2="{yy}" stroke="{escape(_color(s, i))}" '
            f'stroke-width="2"{dash}/>'
        )
        out.append(f'<text x="{x + 28}" y="{yy + 4}">{escape(s.label)}</text>')
    return out
