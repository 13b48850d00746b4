"""The trial store: every trial of a search as an optuna study in one SQLite file, so an interrupted search
resumes and ``optuna.load_study`` or ``optuna-dashboard sqlite:///study.db`` can open it.

optuna's ``RDBStorage`` (SQLAlchemy over SQLite) commits every change in its own transaction, and the file
is switched to WAL mode before optuna opens it (a setting SQLite keeps in the file), so readers such as the
dashboard never block the writer and a committed change survives the process being killed (kill -9
included: ``tests/test_explore_kill.py``). ``":memory:"`` gives optuna's ``InMemoryStorage``: the same code
path, nothing written.

A trial is written ``RUNNING`` (with its parameters) before it is evaluated and ``COMPLETE`` (with its
objective values, its constraint violation and its result) after. On resume the searcher is re-told every
complete trial and the running ones are evaluated again, exactly once each (the ``attempts`` user
attribute counts evaluations started). One process writes (the search driver, under a file lock); workers
only compute. Trial numbers are optuna's, which are consecutive because only the driver creates trials.

What jalapeno keeps beside optuna's own columns: the study's identity (space, workload, searcher, seed) as
the study user attribute ``identity``, so a file cannot be resumed by a different study; per trial the
user attributes ``design`` (the parameters as canonical JSON, exact to the type), ``searcher``,
``attempts`` and ``result`` (the evaluation as canonical JSON), and optuna's ``constraints`` system
attribute (the violation the samplers and the dashboard read). Parameters with a distribution (the
space's, given to ``bind``) are also optuna parameters, so importance and the dashboard see them.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from jalapeno.errors import JalapenoError

DIRECTIONS = ("maximize", "minimize", "minimize")  # evaluate.OBJECTIVES: goodput/W, $/Mtok, p99 TTFT
STATES = {"running": "RUNNING", "done": "COMPLETE"}


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
    state: str  # "running" or "done"
    attempts: int
    result: dict[str, Any] | None
    started_at: float
    finished_at: float | None


def open_storage(path: str) -> Any:
    """optuna's storage for ``path``: SQLite in WAL mode, or in memory for ``":memory:"``."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if path == ":memory:":
        return optuna.storages.InMemoryStorage()
    try:
        with sqlite3.connect(path, timeout=30.0) as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "meta" in tables and "studies" not in tables:
                raise JalapenoError(
                    f"{path} was written by the trial store of jalapeno before 2026-12-05 "
                    "(not an optuna study); use another --db file",
                    field="db",
                )
            conn.execute("PRAGMA journal_mode=WAL")
        conn.close()
        full = str(Path(path).resolve())
        return optuna.storages.RDBStorage(
            f"sqlite:///{full}", engine_kwargs={"creator": lambda: _connect(full)}
        )
    except (sqlite3.DatabaseError, ImportError) as e:
        raise JalapenoError(f"cannot open trial store {path}: {e}", field="db") from None
    except Exception as e:
        if type(e).__module__.split(".")[0] in ("sqlalchemy", "alembic", "optuna"):
            raise JalapenoError(f"cannot open trial store {path}: {e}", field="db") from None
        raise


def _connect(path: str) -> sqlite3.Connection:
    """A connection for optuna's engine: ``synchronous=NORMAL``, which in WAL mode is durable against the
    process being killed (an operating-system crash may lose the last transactions, never corrupt the file)
    and saves an fsync a transaction."""
    conn = sqlite3.connect(path, timeout=30.0, check_same_thread=False)
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class TrialStore:
    """One search's trials as an optuna study (``":memory:"`` for a throwaway store)."""

    def __init__(self, path: str | Path) -> None:
        import optuna

        self.path = str(path)
        self.optuna = optuna
        self.storage = open_storage(self.path)
        self.dists: dict[str, Any] = {}
        self._study_id: int | None = None
        self._n: int | None = None  # trials in the study: only this store adds any (one driver, under a lock)

    def close(self) -> None:
        engine = getattr(self.storage, "engine", None)
        if engine is not None:
            engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the study -------------------------------------------------------------------------------
    @property
    def study_id(self) -> int:
        if self._study_id is None:
            self._open_study("jalapeno", None)
        assert self._study_id is not None
        return self._study_id

    @property
    def study_name(self) -> str:
        return str(self.storage.get_study_name_from_id(self.study_id))

    def _open_study(self, name: str, identity: str | None) -> str | None:
        """The file's one study (created as ``name`` if there is none); its stored identity."""
        studies = self.storage.get_all_studies()
        if len(studies) > 1:
            raise JalapenoError(
                f"{self.path} holds {len(studies)} optuna studies; a trial store holds one", field="db"
            )
        if studies:
            self._study_id = studies[0]._study_id
            return studies[0].user_attrs.get("identity")
        directions = [self.optuna.study.StudyDirection[d.upper()] for d in DIRECTIONS]
        self._study_id = self.storage.create_new_study(directions, study_name=name)
        if identity is not None:
            self.storage.set_study_user_attr(self._study_id, "identity", identity)
        return identity

    def bind(
        self, study: Mapping[str, Any], name: str = "jalapeno", distributions: Mapping[str, Any] | None = None
    ) -> None:
        """Record the study this file belongs to (an optuna study called ``name``), or check that it is the
        same one; ``distributions`` (optuna's, one a parameter) make the parameters optuna parameters."""
        want = canonical(study)
        have = self._open_study(name, want)
        if have is None:
            self.storage.set_study_user_attr(self.study_id, "identity", want)
        elif have != want:
            old = json.loads(have)
            diff = sorted(k for k in set(old) | set(study) if old.get(k) != _finite(study.get(k)))
            raise JalapenoError(
                f"{self.path} holds another study (differs in {', '.join(diff)}); "
                "use another --db file or the same options",
                field="db",
            )
        self.dists = dict(distributions or {})

    # -- trials ----------------------------------------------------------------------------------
    def _frozen(self, number: int) -> Any:
        try:
            tid = self.storage.get_trial_id_from_study_id_trial_number(self.study_id, number)
        except KeyError:
            return None
        return self.storage.get_trial(tid)

    def _running(self, number: int) -> Any:
        t = self._frozen(number)
        if t is None or t.state != self.optuna.trial.TrialState.RUNNING:
            raise JalapenoError(f"trial {number} is not running in {self.path}", field="db")
        return t

    def start(self, number: int, searcher: str, params: Mapping[str, Any]) -> None:
        """Write trial ``number`` as running (the next number; an existing number is an error)."""
        if number != self.next_number():
            what = "already exists" if number < self.next_number() else "is not the next trial"
            raise JalapenoError(f"trial {number} {what} in {self.path}", field="db")
        own = {k: v for k, v in params.items() if k in self.dists}
        template = self.optuna.trial.create_trial(
            state=self.optuna.trial.TrialState.RUNNING,
            params=own,
            distributions={k: self.dists[k] for k in own},
            user_attrs={"design": canonical(params), "searcher": searcher, "attempts": 1},
        )
        self.storage.create_new_trial(self.study_id, template_trial=template)  # one transaction
        self._n = number + 1

    def restart(self, number: int) -> None:
        """Count another evaluation of a trial left running by an interrupted search."""
        t = self._running(number)
        self.storage.set_trial_user_attr(t._trial_id, "attempts", int(t.user_attrs.get("attempts", 1)) + 1)

    def finish(
        self,
        number: int,
        result: Mapping[str, Any],
        values: Sequence[float] | None = None,
        violation: float | None = None,
    ) -> None:
        """Write trial ``number``'s result, then mark it complete (the state last: a kill before it leaves
        the trial running, to be evaluated again)."""
        t = self._running(number)
        self.storage.set_trial_user_attr(t._trial_id, "result", canonical(result))
        if violation is not None:
            self.storage.set_trial_system_attr(t._trial_id, "constraints", [float(violation)])
        self.storage.set_trial_state_values(
            t._trial_id,
            self.optuna.trial.TrialState.COMPLETE,
            None if values is None else [float(v) for v in values],
        )

    def frozen_trials(self) -> list[Any]:
        """optuna's view of the trials (``FrozenTrial``), in trial order."""
        return sorted(self.storage.get_all_trials(self.study_id, deepcopy=False), key=lambda t: t.number)

    def trials(self, state: str | None = None) -> list[Trial]:
        want = self.optuna.trial.TrialState[STATES[state]] if state else None
        out = []
        for t in self.frozen_trials():
            if (want is not None and t.state != want) or t.state.name not in STATES.values():
                continue
            u = t.user_attrs
            complete = t.state.name == "COMPLETE"
            result = _unfinite(json.loads(u["result"])) if complete and "result" in u else None
            done = t.datetime_complete.timestamp() if t.datetime_complete else None
            out.append(
                Trial(
                    t.number,
                    str(u.get("searcher", "")),
                    json.loads(u["design"]),
                    "done" if complete else "running",
                    int(u.get("attempts", 1)),
                    result,
                    t.datetime_start.timestamp() if t.datetime_start else 0.0,
                    done,
                )
            )
        return out

    def count(self) -> int:
        if self._n is None:  # optuna counts by reading every trial: once, then this store keeps count
            self._n = int(self.storage.get_n_trials(self.study_id))
        return self._n

    def next_number(self) -> int:
        return self.count()
