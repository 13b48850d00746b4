"""Cycles of one GEMM on one matrix engine, vectorized over candidate tilings (numpy arrays in, out).

Systolic array of R rows x C columns, GEMM (M x K) @ (K x N). Each dataflow keeps one operand in
place and maps two dimensions onto the array (S_R on rows, S_C on columns) and streams the third (T):

    ws (weight stationary): S_R = K, S_C = N, T = M
    os (output stationary): S_R = M, S_C = N, T = K
    is (input stationary):  S_R = K, S_C = M, T = N

A fold fills the array with one (R x C) slice of the stationary operand. Without overlap each fold
costs fill + stream + drain: ``2R + C + T - 2`` cycles for ws/is (the stationary slice is loaded through
the R rows first) and ``R + C + T - 2`` for os (operands enter from two edges while partial sums stay),
less one cycle for the whole GEMM: the counts SCALE-Sim (Samajdar et al., ISPASS 2020) reports
(``scripts/validate_scalesim.py`` checks them). With double-buffered stationary operands (as TPUs
and Trainium do) the next fold's load hides behind the current fold's stream: each fold costs
``max(T, R)`` and the pipeline fills and drains once.

A dot-product engine (a GPU tensor core) computes an ``r x c`` output block over ``d`` products a
cycle: ``ceil(M/r) ceil(N/c) ceil(K/d)`` issue cycles plus a fill/drain of ``r + c + d`` cycles.
``rate`` (MACs per PE per cycle for the dtype) packs K: fp8 at rate 2 folds two products into a PE.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def _ceil(a: Any, b: Any) -> Any:  # ints or numpy integer arrays
    return -(-a // b)


def systolic_cycles(
    m: Any,
    n: Any,
    k: Any,
    rows: int,
    cols: int,
    dataflow: str,
    rate: float = 1.0,
    overlap: Any = False,
    load: int = 1,
) -> Any:
    """Cycles of an (m x k) @ (k x n) GEMM on one rows x cols systolic array (arrays or ints).

    ``load``: rows of the stationary operand written a cycle (1 in SCALE-Sim; wider on arrays that
    install weights from several streams at once). Python ints (and a bool ``overlap``) in, a Python int
    out, with no numpy call (the attention mapper asks for a handful of scalar tiles per op).
    """
    scalar = type(m) is int and type(n) is int and type(k) is int and type(overlap) is bool
    if scalar:
        k_eff = math.ceil(k / rate) if rate != 1 else k
    else:
        k_eff = np.ceil(np.asarray(k) / rate).astype(np.int64) if rate != 1 else np.asarray(k)
        m, n = np.asarray(m), np.asarray(n)
    if dataflow == "ws":
        sr, sc, t = k_eff, n, m
    elif dataflow == "os":
        sr, sc, t = m, n, k_eff
    elif dataflow == "is":
        sr, sc, t = k_eff, m, n
    else:
        raise ValueError(f"unknown dataflow {dataflow!r}")
    folds = _ceil(sr, rows) * _ceil(sc, cols)
    ld = -(-rows // max(1, load))  # cycles to install one stationary slice
    fill = rows if dataflow == "os" else rows + ld
    plain = folds * (fill + cols + t - 2) - 1
    if overlap is False:
        return plain
    stream = ld if dataflow != "os" else rows
    if scalar:
        return min(plain, folds * max(t, stream) + fill + cols - 2)
    hidden = folds * np.maximum(t, stream) + fill + cols - 2
    if overlap is True:  # the attention mapper's case: skip the select
        return np.minimum(plain, hidden)
    return np.where(np.asarray(overlap, dtype=bool), np.minimum(plain, hidden), plain)


def dot_product_cycles(m: Any, n: Any, k: Any, rows: int, cols: int, depth: int, rate: float = 1.0) -> Any:
    """Cycles of a GEMM on one dot-product engine (rows x cols outputs, depth x rate products a cycle)."""
    d = max(1, round(depth * rate))
    if type(m) is not int or type(n) is not int or type(k) is not int:  # Python ints stay Python ints
        m, n, k = np.asarray(m), np.asarray(n), np.asarray(k)
    return _ceil(m, rows) * _ceil(n, cols) * _ceil(k, d) + rows + cols + d


def engine_cycles(
    kind: str,
    m: Any,
    n: Any,
    k: Any,
    rows: int,
    cols: int,
    depth: int,
    dataflow: str,
    rate: float,
    overlap: Any = False,
    load: int = 1,
) -> Any:
    if kind == "dot_product":
        return dot_product_cycles(m, n, k, rows, cols, depth, rate)
    return systolic_cycles(m, n, k, rows, cols, dataflow, rate, overlap, load)
