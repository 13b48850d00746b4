"""Bounded memo tables for pure functions on the design search's hot paths.

A plain dict that empties itself when full, so a long search cannot grow it without limit; the lookup stays
the caller's own ``table.get(key)`` (no call on a hit). Tables keyed by an object's identity store the object
in the value, so its id cannot be reused while the entry lives.
"""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")

LIMIT = 1 << 16  # entries before a table empties itself


def remember(table: dict[K, V], key: K, value: V, limit: int = LIMIT) -> V:
    """Store ``value`` under ``key``, first emptying ``table`` when it holds ``limit`` entries; ``value``."""
    if len(table) >= limit:
        table.clear()
    table[key] = value
    return value
