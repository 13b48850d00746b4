"""Result tables for the field's tools (pandas, polars, DuckDB, spreadsheets): columns written as CSV always
and as Parquet too when pyarrow is installed (the ``parquet`` extra). Floats are written with ``repr``, so a
CSV reads back to the same float; a missing or non-finite value is an empty cell (Parquet: null)."""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jalapeno.errors import JalapenoError

Columns = Mapping[str, Sequence[Any]]


def out_dir(field: str, path: str | Path) -> Path:
    """An output directory, made now if its parent exists, and checked writable before any work."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise JalapenoError(f"{str(p)!r} exists and is not a directory", field=field)
    if not p.exists():
        if not p.parent.is_dir():
            raise JalapenoError(f"directory {str(p.parent)!r} does not exist", field=field)
        try:
            p.mkdir()
        except OSError as e:
            raise JalapenoError(f"cannot create {str(p)!r}: {e.strerror}", field=field) from None
    probe = p / ".jalapeno-write-test"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise JalapenoError(f"cannot write in {str(p)!r}: {e.strerror}", field=field) from None
    return p


def flatten(row: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted columns (``design.tp``); lists as one ``; ``-joined cell."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, (list, tuple)):
            out[name] = "; ".join(str(v) for v in value)
        else:
            out[name] = value
    return out


def columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Rows (flattened) as columns: every key any row has, in first-seen order; absent -> None."""
    flat = [flatten(r) for r in rows]
    names = list(dict.fromkeys(k for r in flat for k in r))
    return {n: [r.get(n) for r in flat] for n in names}


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(float(v)) if isinstance(v, float) else str(v)


def write_table(cols: Columns, stem: Path) -> list[Path]:
    """``stem``.csv, and ``stem``.parquet when pyarrow is importable; the paths written."""
    names = list(cols)
    n = len(cols[names[0]]) if names else 0
    if any(len(cols[k]) != n for k in names):
        raise ValueError(f"{stem.name}: columns of different lengths")
    csv_path = stem.with_suffix(".csv")
    with open(csv_path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(names)
        for i in range(n):
            w.writerow([_cell(cols[k][i]) for k in names])
    written = [csv_path]
    pq = _parquet(cols, stem.with_suffix(".parquet"))
    return written + ([pq] if pq is not None else [])


def _parquet(cols: Columns, path: Path) -> Path | None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as papq
    except ImportError:
        return None
    clean = {
        k: [None if isinstance(v, float) and not math.isfinite(v) else v for v in vals]
        for k, vals in cols.items()
    }
    papq.write_table(pa.table(clean), path)
    return path
