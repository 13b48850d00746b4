"""Tiny Markdown helpers: tables that line up, numbers formatted once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], align: str = "") -> str:
    """A GitHub-flavoured table; ``align`` is one char a column: l or r (default: l first, r rest)."""
    rows = [[str(c) for c in r] for r in rows]
    al = align or ("l" + "r" * (len(header) - 1))
    sep = ["---:" if a == "r" else "---" for a in al]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def pct(x: float, digits: int = 1) -> str:
    return f"{100 * x:+.{digits}f}%"


def apct(x: float, digits: int = 1) -> str:
    return f"{100 * abs(x):.{digits}f}%"
