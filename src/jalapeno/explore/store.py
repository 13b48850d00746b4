"""The trial store: every trial of a search in one SQLite file, so an interrupted search resumes.

SQLite from the standard library, in WAL mode: readers never block the writer, and a committed
transaction survives the process being killed (``synchronous=NORMAL`` is durable against a process
crash; an operating-system crash may lose the last transactions, never corrupt the file).

A trial is written ``running`` (with its parameters) before it is evaluated and ``done`` (with its
result) after, each in one transaction. On resume the searcher is re-told every ``done`` trial and the
``running`` ones are evaluated again, exactly once each (``attempts`` counts evaluations started).
One process writes (the search driver); workers only compute.

Tables: ``meta(key, value)`` holds the study's identity (space, workload, searcher, seed), so a file
cannot be resumed by a different study; ``trials(number, searcher, params, state, attempts, result,
started_at, finished_at)`` holds the trials, ``params`` and ``result`` as canonical JSON.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from jalapeno.errors import JalapenoError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    number INTEGER PRIMARY KEY,
    searcher TEXT NOT NULL,
    params TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('running', 'done')),
    attempts INTEGER NOT NULL DEFAULT 1,
    result TEXT,
    started_at REAL NOT NULL,
    finished_at REAL
);
"""


def canonical(obj: Any) -> str:
    """Deterministic JSON (sorted keys; non-finite floats as strings, so the text is valid JSON)."""
    return json.dumps(_finite(obj), sort_keys=True, separators=(",", ":"), default=str)


def _finite(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return "inf" if x > 0 else "-inf" if x < 0 else "nan"
    if isinstance(x, Mapping):
        return {str(k): _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def _unfinite(x: Any) -> Any:
    if x in ("inf", "-inf", "nan"):
        return float(x)
    if isinstance(x, dict):
        return {k: _unfinite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_unfinite(v) for v in x]
    return x


@dataclass(frozen=True)
class Trial:
    number: int
    searcher: str
    params: dict[str, Any]
    state: str
    attempts: int
    result: dict[str, Any] | None
    started_at: float
    finished_at: float | None


class TrialStore:
    """One search's trials in a SQLite file (``":memory:"`` for a throwaway store)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            self.conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.executescript(SCHEMA)
        except sqlite3.DatabaseError as e:
            raise JalapenoError(f"cannot open trial store {self.path}: {e}", field="db") from None

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _tx(self, sql: str, args: tuple[Any, ...]) -> sqlite3.Cursor:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            cur = self.conn.execute(sql, args)
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        return cur

    # -- the study -------------------------------------------------------------------------------
    def bind(self, study: Mapping[str, Any]) -> None:
        """Record the study this file belongs to, or check that it is the same one."""
        want = canonical(study)
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'study'").fetchone()
        if row is None:
            self._tx("INSERT INTO meta (key, value) VALUES ('study', ?)", (want,))
        elif row[0] != want:
            have = json.loads(row[0])
            diff = sorted(k for k in set(have) | set(study) if have.get(k) != _finite(study.get(k)))
            raise JalapenoError(f"{self.path} holds another study (differs in {', '.join(diff)}); "
                                "use another --db file or the same options", field="db")

    # -- trials ----------------------------------------------------------------------------------
    def start(self, number: int, searcher: str, params: Mapping[str, Any]) -> None:
        """Write trial ``number`` as running (a new trial; an existing number is an error)."""
        try:
            self._tx("INSERT INTO trials (number, searcher, params, state, attempts, started_at) "
                     "VALUES (?, ?, ?, 'running', 1, ?)", (number, searcher, canonical(params), time.time()))
        except sqlite3.IntegrityError:
            raise JalapenoError(f"trial {number} already exists in {self.path}", field="db") from None

    def restart(self, number: int) -> None:
        """Count another evaluation of a trial left running by an interrupted search."""
        cur = self._tx("UPDATE trials SET attempts = attempts + 1, started_at = ? WHERE number = ? AND "
                       "state = 'running'", (time.time(), number))
        if cur.rowcount != 1:
            raise JalapenoError(f"trial {number} is not running in {self.path}", field="db")

    def finish(self, number: int, result: Mapping[str, Any]) -> None:
        cur = self._tx("UPDATE trials SET state = 'done', result = ?, finished_at = ? WHERE number = ? AND "
                       "state = 'running'", (canonical(result), time.time(), number))
        if cur.rowcount != 1:
            raise JalapenoError(f"trial {number} is not running in {self.path}", field="db")

    def trials(self, state: str | None = None) -> list[Trial]:
        sql = ("SELECT number, searcher, params, state, attempts, result, started_at, finished_at FROM trials"
               + (" WHERE state = ?" if state else "") + " ORDER BY number")
        rows = self.conn.execute(sql, (state,) if state else ()).fetchall()
        return [Trial(n, s, json.loads(p), st, a, _unfinite(json.loads(r)) if r is not None else None, t0, t1)
                for n, s, p, st, a, r, t0, t1 in rows]

    def count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0])

    def next_number(self) -> int:
        row = self.conn.execute("SELECT MAX(number) FROM trials").fetchone()
        return 0 if row[0] is None else int(row[0]) + 1
