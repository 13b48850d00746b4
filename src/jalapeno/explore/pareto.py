"""Pareto sets and hypervolume over the objectives (``evaluate.SENSES`` says which way is better)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from jalapeno.explore.evaluate import OBJECTIVES, SENSES


def as_minimize(points: Sequence[Mapping[str, float]], names: Sequence[str] = OBJECTIVES) -> np.ndarray:
    """Rows of objective values, maximized ones negated, so smaller is better in every column."""
    return np.array(
        [[(-p[n] if SENSES[n] == "max" else p[n]) for n in names] for p in points], dtype=np.float64
    )


def nondominated(points: Sequence[Mapping[str, float]], names: Sequence[str] = OBJECTIVES) -> list[int]:
    """Indices of the points no other point dominates (ties: the first of equal points is kept)."""
    if not points:
        return []
    x = as_minimize(points, names)
    keep = []
    for i in range(len(x)):
        le = np.all(x <= x[i], axis=1)
        lt = np.any(x < x[i], axis=1)
        dominated = np.any(le & lt)
        duplicate = np.any(np.all(x[:i] == x[i], axis=1)) if i else False
        if not dominated and not duplicate:
            keep.append(i)
    return keep


def hypervolume_2d(
    points: Sequence[Mapping[str, float]],
    ref: Mapping[str, float],
    names: tuple[str, str] = ("goodput_per_watt", "usd_per_mtok"),
) -> float:
    """Area dominated by ``points`` up to the reference point ``ref`` in two objectives (larger is better)."""
    x = as_minimize(points, names) if points else np.empty((0, 2))
    r = as_minimize([ref], names)[0]
    x = x[np.all(x < r, axis=1)]
    if x.size == 0:
        return 0.0
    x = x[np.argsort(x[:, 0])]
    area, best_y = 0.0, r[1]
    for i in range(len(x)):
        if x[i, 1] < best_y:
            area += (r[0] - x[i, 0]) * (best_y - x[i, 1])
            best_y = x[i, 1]
    return float(area)
