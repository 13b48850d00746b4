"""Closed forms for how much attention a batch does: (query, key) pairs and KV positions read."""

from __future__ import annotations


def chunk_pairs(new: int, cached: int, window: int | None) -> int:
    """(query, key) pairs of a causal chunk of ``new`` tokens after ``cached`` ones.

    Query i (1-based) sees ``min(cached + i, window)`` keys, itself included.
    """
    if window is None or window >= cached + new:
        return new * cached + new * (new + 1) // 2
    i0 = min(max(window - cached, 0), new)  # queries whose whole history fits the window
    return i0 * cached + i0 * (i0 + 1) // 2 + (new - i0) * window


def chunk_kv_tokens(new: int, cached: int, window: int | None) -> int:
    """Distinct KV positions a chunk reads: all of them, or the last ``window + new - 1``."""
    total = cached + new
    return total if window is None else min(total, window + new - 1)
