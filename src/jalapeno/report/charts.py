"""More dependency-free SVG charts for the report: scatter (Pareto fronts), log-log rooflines, bars.

Same conventions as ``report.plots`` (whose ticks, palette and escaping they reuse): one
self-contained SVG document each, no scripts or styles, deterministic bytes for equal inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from jalapeno.report.plots import PALETTE, escape, log_ticks, nice_ticks, tick_label


@dataclass(frozen=True)
class Points:
    """A scatter series: points with an optional marker label each; ``line`` joins them in x order."""

    label: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    color: str | None = None
    size: float = 4.0
    line: bool = False
    names: tuple[str, ...] = ()  # text drawn next to each point (may be empty)


@dataclass(frozen=True)
class Axis:
    lo: float
    hi: float
    log: bool
    ticks: tuple[float, ...]

    def frac(self, v: float) -> float:
        if self.log:
            return (math.log10(v) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))
        return (v - self.lo) / (self.hi - self.lo)


def axis(values: Sequence[float], log: bool, lo: float | None = None, hi: float | None = None) -> Axis:
    vals = [v for v in values if math.isfinite(v) and (v > 0 or not log)]
    a = lo if lo is not None else (min(vals) if vals else 1.0)
    b = hi if hi is not None else (max(vals) if vals else 10.0)
    if b <= a:
        b = a * 10 if log else a + 1
    ticks = log_ticks(a, b) if log else nice_ticks(a, b)
    a = lo if lo is not None else ticks[0]
    b = hi if hi is not None else ticks[-1]
    if b <= a:
        b = a * 10 if log else a + 1
    return Axis(a, b, log, tuple(t for t in ticks if a <= t <= b * (1 + 1e-9)))


def _frame(
    title: str, xlabel: str, ylabel: str, xa: Axis, ya: Axis, width: int, height: int, left: int, right: int
) -> tuple[list[str], tuple[int, int, int, int]]:
    top, w, h = 34, width - left - right, height - 34 - 48

    def px(v: float) -> float:
        return left + xa.frac(v) * w

    def py(v: float) -> float:
        return top + (1 - ya.frac(v)) * h

    out = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} '
            f'{height}" font-family="Helvetica, Arial, sans-serif" font-size="12">'
        ),
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        '<g stroke="#e5e5e5" stroke-width="1">',
    ]
    out += [f'<line x1="{px(t):.2f}" y1="{top}" x2="{px(t):.2f}" y2="{top + h}"/>' for t in xa.ticks]
    out += [f'<line x1="{left}" y1="{py(t):.2f}" x2="{left + w}" y2="{py(t):.2f}"/>' for t in ya.ticks]
    out.append('</g><g fill="#333333">')
    out += [
        f'<text x="{px(t):.2f}" y="{top + h + 18}" text-anchor="middle">{escape(tick_label(t))}</text>'
        for t in xa.ticks
    ]
    out += [
        f'<text x="{left - 8}" y="{py(t) + 4:.2f}" text-anchor="end">{escape(tick_label(t))}</text>'
        for t in ya.ticks
    ]
    out.append("</g>")
    out.append(f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#333333"/>')
    cy = top + h / 2
    out += [
        (
            f'<text x="{width / 2:.2f}" y="20" text-anchor="middle" font-size="14" font-weight="bold">'
            f"{escape(title)}</text>"
        ),
        f'<text x="{left + w / 2:.2f}" y="{top + h + 38}" text-anchor="middle">{escape(xlabel)}</text>',
        (
            f'<text x="16" y="{cy:.2f}" text-anchor="middle" transform="rotate(-90 16 '
            f'{cy:.2f})">{escape(ylabel)}</text>'
        ),
    ]
    return out, (left, top, w, h)


def scatter_svg(
    series: Sequence[Points],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    logx: bool = False,
    logy: bool = False,
    width: int = 760,
    height: int = 420,
    xlim: tuple[float | None, float | None] = (None, None),
    ylim: tuple[float | None, float | None] = (None, None),
) -> str:
    """Points (and optional joining lines) with a legend on the right; labels drawn next to points."""
    xa = axis([v for s in series for v in s.x], logx, *xlim)
    ya = axis([v for s in series for v in s.y], logy, *ylim)
    legend_w = min(260, max(110, 7 * max((len(s.label) for s in series), default=8) + 40))
    out, (left, top, w, h) = _frame(title, xlabel, ylabel, xa, ya, width, height, 64, legend_w + 16)

    def px(v: float) -> float:
        return left + xa.frac(v) * w

    def py(v: float) -> float:
        return top + (1 - ya.frac(v)) * h

    def ok(x: float, y: float) -> bool:
        return (
            math.isfinite(x)
            and math.isfinite(y)
            and (x > 0 or not logx)
            and (y > 0 or not logy)
            and xa.lo <= x <= xa.hi
            and ya.lo <= y <= ya.hi
        )

    for i, s in enumerate(series):
        c = escape(s.color or PALETTE[i % len(PALETTE)])
        pts = [
            (x, y, s.names[k] if k < len(s.names) else "")
            for k, (x, y) in enumerate(zip(s.x, s.y, strict=True))
            if ok(x, y)
        ]
        if s.line and len(pts) > 1:
            d = " ".join(
                f"{'M' if k == 0 else 'L'}{px(x):.2f},{py(y):.2f}" for k, (x, y, _) in enumerate(sorted(pts))
            )
            out.append(f'<path d="{d}" fill="none" stroke="{c}" stroke-width="1.5"/>')
        for x, y, name in pts:
            out.append(
                f'<circle cx="{px(x):.2f}" cy="{py(y):.2f}" r="{s.size:g}" fill="{c}" fill-opacity="0.8">'
                f"<title>{escape(s.label)}{': ' + escape(name) if name else ''}</title></circle>"
            )
            if name:
                out.append(
                    f'<text x="{px(x) + s.size + 3:.2f}" y="{py(y) + 4:.2f}" '
                    f'fill="#222222">{escape(name)}</text>'
                )
    lx = left + w + 12
    for i, s in enumerate(series):
        yy = top + 8 + 18 * i
        out.append(
            f'<circle cx="{lx + 8}" cy="{yy}" r="4" fill="{escape(s.color or PALETTE[i % len(PALETTE)])}"/>'
        )
        out.append(f'<text x="{lx + 20}" y="{yy + 4}">{escape(s.label)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def roofline_svg(
    roofs: Sequence[tuple[str, float, float]],
    points: Sequence[Points],
    *,
    title: str,
    width: int = 760,
    height: int = 440,
) -> str:
    """Log-log roofline: for each (label, peak FLOP/s, bytes/s) the line min(peak, AI x bandwidth); points
    are operators at (arithmetic intensity in FLOP/byte, attained FLOP/s)."""
    xs = [v for p in points for v in p.x] + [0.1, 1e4]
    ys = [v for p in points for v in p.y] + [r[1] for r in roofs]
    xa = axis(xs, True)
    ya = axis([*ys, min(ys) / 10 if ys else 1e9], True)
    legend_w = min(
        300,
        max(
            120, 7 * max((len(s) for s in [r[0] for r in roofs] + [p.label for p in points]), default=8) + 40
        ),
    )
    out, (left, top, w, h) = _frame(
        title, "arithmetic intensity (FLOP/byte)", "attained FLOP/s", xa, ya, width, height, 64, legend_w + 16
    )

    def px(v: float) -> float:
        return left + xa.frac(v) * w

    def py(v: float) -> float:
        return top + (1 - ya.frac(min(max(v, ya.lo), ya.hi))) * h

    labels = []
    for i, (label, peak, bw) in enumerate(roofs):
        c = escape(PALETTE[i % len(PALETTE)])
        ridge = peak / bw
        pts = [
            (xa.lo, min(peak, xa.lo * bw)),
            (max(xa.lo, min(ridge, xa.hi)), min(peak, max(xa.lo, min(ridge, xa.hi)) * bw)),
            (xa.hi, min(peak, xa.hi * bw)),
        ]
        d = " ".join(f"{'M' if k == 0 else 'L'}{px(x):.2f},{py(y):.2f}" for k, (x, y) in enumerate(pts))
        out.append(
            f'<path d="{d}" fill="none" stroke="{c}" stroke-width="2"><title>{escape(label)}</title></path>'
        )
        labels.append((label, PALETTE[i % len(PALETTE)], "line"))
    for j, p in enumerate(points):
        c = p.color or PALETTE[(len(roofs) + j) % len(PALETTE)]
        for k, (x, y) in enumerate(zip(p.x, p.y, strict=True)):
            if x > 0 and y > 0 and math.isfinite(x) and math.isfinite(y):
                name = p.names[k] if k < len(p.names) else ""
                out.append(
                    f'<circle cx="{px(x):.2f}" cy="{py(y):.2f}" r="{p.size:g}" fill="{escape(c)}" '
                    'fill-opacity="0.75">'
                    f"<title>{escape(p.label)}{': ' + escape(name) if name else ''}</title></circle>"
                )
        labels.append((p.label, c, "dot"))
    lx = left + w + 12
    for i, (label, c, kind) in enumerate(labels):
        yy = top + 8 + 18 * i
        mark = (
            f'<line x1="{lx}" y1="{yy}" x2="{lx + 18}" y2="{yy}" stroke="{escape(c)}" stroke-width="2"/>'
            if kind == "line"
            else f'<circle cx="{lx + 9}" cy="{yy}" r="4" fill="{escape(c)}"/>'
        )
        out += [mark, f'<text x="{lx + 24}" y="{yy + 4}">{escape(label)}</text>']
    out.append("</svg>")
    return "\n".join(out) + "\n"


def bars_svg(
    rows: Sequence[str],
    parts: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str,
    xlabel: str,
    width: int = 760,
    bar_h: int = 22,
    fmt: str = "{:.3g}",
) -> str:
    """Horizontal stacked bars: one bar per row, ``parts`` = (label, value per row) stacked left to right;
    the total is printed at the end of each bar."""
    totals = [sum(p[1][i] for p in parts) for i in range(len(rows))]
    xa = axis([0.0, *totals], False, 0.0)
    label_w = min(260, max(80, 7 * max((len(r) for r in rows), default=4) + 16))
    legend_h = 20 * math.ceil(len(parts) / 4)
    height = 34 + len(rows) * (bar_h + 10) + 48 + legend_h
    left, top = label_w, 34
    w, h = width - left - 60, len(rows) * (bar_h + 10)

    def px(v: float) -> float:
        return left + xa.frac(v) * w

    out = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} '
            f'{height}" font-family="Helvetica, Arial, sans-serif" font-size="12">'
        ),
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        (
            f'<text x="{width / 2:.2f}" y="20" text-anchor="middle" font-size="14" font-weight="bold">'
            f"{escape(title)}</text>"
        ),
        '<g stroke="#e5e5e5">',
    ]
    out += [f'<line x1="{px(t):.2f}" y1="{top}" x2="{px(t):.2f}" y2="{top + h}"/>' for t in xa.ticks]
    out.append('</g><g fill="#333333">')
    out += [
        f'<text x="{px(t):.2f}" y="{top + h + 16}" text-anchor="middle">{escape(tick_label(t))}</text>'
        for t in xa.ticks
    ]
    out.append(
        f'</g><text x="{left + w / 2:.2f}" y="{top + h + 34}" text-anchor="middle">{escape(xlabel)}</text>'
    )
    for i, row in enumerate(rows):
        y = top + 5 + i * (bar_h + 10)
        out.append(f'<text x="{left - 8}" y="{y + bar_h / 2 + 4:.2f}" text-anchor="end">{escape(row)}</text>')
        x0 = 0.0
        for j, (label, vals) in enumerate(parts):
            v = vals[i]
            if v > 0:
                out.append(
                    f'<rect x="{px(x0):.2f}" y="{y}" width="{max(px(x0 + v) - px(x0), 0.5):.2f}" '
                    f'height="{bar_h}" fill="{escape(PALETTE[j % len(PALETTE)])}"><title>{escape(row)}, '
                    f"{escape(label)}: "
                    f"{escape(fmt.format(v))}</title></rect>"
                )
            x0 += v
        out.append(
            f'<text x="{px(x0) + 4:.2f}" y="{y + bar_h / 2 + 4:.2f}">{escape(fmt.format(totals[i]))}</text>'
        )
    ly = top + h + 48
    for j, (label, _) in enumerate(parts):
        lx = 16 + (j % 4) * ((width - 32) // 4)
        yy = ly + 20 * (j // 4)
        out += [
            (
                f'<rect x="{lx}" y="{yy - 9}" width="12" height="12" '
                f'fill="{escape(PALETTE[j % len(PALETTE)])}"/>'
            ),
            f'<text x="{lx + 18}" y="{yy + 2}">{escape(label)}</text>',
        ]
    out.append("</svg>")
    return "\n".join(out) + "\n"
