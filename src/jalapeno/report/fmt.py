"""Human units for tables: seconds, bytes, FLOPs, watts; one place so every table reads the same."""

from __future__ import annotations


def si(x: float, unit: str = "", digits: int = 3) -> str:
    """1.23e12 -> '1.23 T' (+unit). Zero and negatives handled; no scientific notation in tables."""
    if x == 0:
        return f"0 {unit}".strip()
    for factor, prefix in (
        (1e15, "P"),
        (1e12, "T"),
        (1e9, "G"),
        (1e6, "M"),
        (1e3, "k"),
        (1, ""),
        (1e-3, "m"),
        (1e-6, "µ"),
        (1e-9, "n"),
    ):
        if abs(x) >= factor:
            return f"{x / factor:.{digits}g} {prefix}{unit}".strip()
    return f"{x:.{digits}g} {unit}".strip()


def seconds(x: float) -> str:
    return si(x, "s")


def nbytes(x: float) -> str:
    return si(x, "B")


def pct(x: float) -> str:
    return f"{100 * x:.0f}%"
