"""A learned surrogate: a random forest (numpy only) from design vectors to objectives and feasibility.

Trained on completed trials, it predicts in microseconds what a full evaluation (mapping + serving,
about a second) would find, so a searcher can screen several candidates and evaluate only the most
promising (``searchers.Screened``). Its split-gain importances say which parameters move the objectives
(the sensitivity section of the report).

Targets: log(goodput per watt), log($/Mtoken), log(p99 TTFT) where measured, and feasibility (0/1).
Trees: bootstrap samples, a random third of the features tried at each split, depth <= ``max_depth``,
leaves of at least ``min_leaf`` samples; split on the largest drop in summed squared error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class _Tree:
    feature: list[int] = field(default_factory=list)  # -1 at a leaf
    threshold: list[float] = field(default_factory=list)
    left: list[int] = field(default_factory=list)
    right: list[int] = field(default_factory=list)
    value: list[float] = field(default_factory=list)

    def predict(self, x: np.ndarray) -> np.ndarray:
        out = np.empty(len(x))
        for i, row in enumerate(x):
            n = 0
            while self.feature[n] >= 0:
                n = self.left[n] if row[self.feature[n]] <= self.threshold[n] else self.right[n]
            out[i] = self.value[n]
        return out


def _best_split(
    x: np.ndarray, y: np.ndarray, features: np.ndarray, min_leaf: int
) -> tuple[int, float, float]:
    """(feature, threshold, gain) of the split that lowers the squared error most; gain 0 if none."""
    best = (-1, 0.0, 0.0)
    n, total = len(y), y.sum()
    base = (y * y).sum() - total * total / n
    for f in features:
        order = np.argsort(x[:, f], kind="stable")
        xs, ys = x[order, f], y[order]
        cs, cq = np.cumsum(ys)[:-1], np.cumsum(ys * ys)[:-1]
        k = np.arange(1, n)
        sse = (cq - cs * cs / k) + ((ys * ys).sum() - cq - (total - cs) ** 2 / (n - k))
        ok = (xs[1:] > xs[:-1]) & (k >= min_leaf) & (n - k >= min_leaf)
        if not ok.any():
            continue
        sse = np.where(ok, sse, np.inf)
        j = int(np.argmin(sse))
        gain = base - sse[j]
        if gain > best[2]:
            best = (int(f), float((xs[j] + xs[j + 1]) / 2), float(gain))
    return best


def _grow(
    x: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    max_depth: int,
    min_leaf: int,
    importances: np.ndarray,
) -> _Tree:
    t = _Tree()
    d = x.shape[1]
    m = max(1, math.ceil(d / 3))
    stack = [(np.arange(len(y)), 0, -1, False)]
    while stack:
        idx, depth, parent, is_right = stack.pop()
        node = len(t.feature)
        t.feature.append(-1)
        t.threshold.append(0.0)
        t.left.append(-1)
        t.right.append(-1)
        t.value.append(float(y[idx].mean()))
        if parent >= 0:
            (t.right if is_right else t.left)[parent] = node
        if depth >= max_depth or len(idx) < 2 * min_leaf:
            continue
        f, thr, gain = _best_split(x[idx], y[idx], rng.choice(d, size=m, replace=False), min_leaf)
        if f < 0 or gain <= 1e-12:
            continue
        t.feature[node], t.threshold[node] = f, thr
        importances[f] += gain
        go_left = x[idx, f] <= thr
        stack.append((idx[~go_left], depth + 1, node, True))
        stack.append((idx[go_left], depth + 1, node, False))
    return t


class Forest:
    """Bagged regression trees for one target."""

    def __init__(self, trees: int = 24, max_depth: int = 7, min_leaf: int = 2, seed: int = 0) -> None:
        self.n_trees, self.max_depth, self.min_leaf, self.seed = trees, max_depth, min_leaf, seed
        self.trees: list[_Tree] = []
        self.importances = np.zeros(0)

    def fit(self, x: np.ndarray, y: np.ndarray) -> Forest:
        rng = np.random.default_rng(self.seed)
        self.importances = np.zeros(x.shape[1])
        self.trees = []
        for _ in range(self.n_trees):
            b = rng.integers(0, len(y), len(y))
            self.trees.append(_grow(x[b], y[b], rng, self.max_depth, self.min_leaf, self.importances))
        s = self.importances.sum()
        if s > 0:
            self.importances = self.importances / s
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.mean([t.predict(x) for t in self.trees], axis=0)


@dataclass
class Surrogate:
    """Forests for feasibility and the log of each objective, trained on (vector, evaluation) pairs."""

    names: tuple[str, ...] = ("goodput_per_watt", "usd_per_mtok", "ttft_p99_s")
    seed: int = 0
    min_samples: int = 8
    feasible: Forest | None = None
    models: dict[str, Forest] = field(default_factory=dict)

    def fit(self, x: np.ndarray, feasible: np.ndarray, objectives: list[dict[str, float]]) -> bool:
        """Train; False (and no model) while there are fewer than ``min_samples`` trials."""
        if len(x) < self.min_samples:
            return False
        self.feasible = Forest(seed=self.seed).fit(x, feasible.astype(float))
        self.models = {}
        for k, name in enumerate(self.names):
            rows = [i for i, o in enumerate(objectives) if _pos(o.get(name))]
            if len(rows) >= self.min_samples:
                y = np.log([objectives[i][name] for i in rows])
                self.models[name] = Forest(seed=self.seed + k + 1).fit(x[rows], y)
        return True

    @property
    def ready(self) -> bool:
        return self.feasible is not None

    def predict(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """``p_feasible`` and, per objective with a model, its predicted value (not its log)."""
        assert self.feasible is not None
        out = {"p_feasible": np.clip(self.feasible.predict(x), 0.0, 1.0)}
        for name, m in self.models.items():
            out[name] = np.exp(m.predict(x))
        return out

    def importances(self) -> dict[str, np.ndarray]:
        out = {name: m.importances for name, m in self.models.items()}
        if self.feasible is not None:
            out["feasible"] = self.feasible.importances
        return out


def _pos(v: object) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v) and v > 0
