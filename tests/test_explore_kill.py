"""kill -9 in the middle of a search, then rerun: no trial lost, none evaluated twice after it was done (the
trial store is an optuna study in SQLite: the rows are read from optuna's tables)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import optuna
import pytest
from test_explore_helpers import write_files

TRIALS = 20  # enough that the search is still running when the poll below sees three done (trials got fast)


def _rows(db):
    """(number, design, state, attempts, result) of every trial, from optuna's tables as the driver writes."""
    with sqlite3.connect(db) as c:
        rows = c.execute(
            "SELECT t.number, t.state, a.key, a.value_json FROM trials t LEFT JOIN "
            "trial_user_attributes a ON a.trial_id = t.trial_id "
            "ORDER BY t.number, a.key"
        ).fetchall()
    out: dict[int, dict] = {}
    for number, state, key, value in rows:
        r = out.setdefault(number, {"state": {"RUNNING": "running", "COMPLETE": "done"}.get(state, state)})
        if key is not None:
            r[key] = json.loads(value)
    return [
        (n, r.get("design"), r["state"], r.get("attempts"), r.get("result") if r["state"] == "done" else None)
        for n, r in sorted(out.items())
    ]


def _cmd(space, work, db, workers):
    return [
        sys.executable,
        "-m",
        "jalapeno.cli",
        "explore",
        "--space",
        str(space),
        "--workload",
        str(work),
        "--trials",
        str(TRIALS),
        "--workers",
        str(workers),
        "--searcher",
        "random",
        "--no-screen",
        "--db",
        str(db),
        "--json",
    ]


@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_then_resume(tmp_path, workers):
    space, work = write_files(tmp_path)
    db = tmp_path / "study.db"
    proc = subprocess.Popen(_cmd(space, work, db, workers), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    before = []
    while time.time() < deadline:
        time.sleep(0.002)  # a rejected design's trial can take under 20 ms: poll often enough to see it run
        if not db.exists():
            continue
        try:
            before = _rows(db)
        except sqlite3.OperationalError:
            continue
        if sum(r[2] == "done" for r in before) >= 3 and any(r[2] == "running" for r in before):
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    killed = _rows(db)  # the state the kill left (at least what we saw, maybe more)
    done_then = {r[0]: r for r in killed if r[2] == "done"}
    running_then = {r[0]: r for r in killed if r[2] == "running"}
    assert len(done_then) >= 3 and running_then and len(done_then) < TRIALS  # killed mid-search

    out = subprocess.run(_cmd(space, work, db, workers), check=False, capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode()
    after = _rows(db)
    assert [r[0] for r in after] == list(range(TRIALS))  # nothing lost, nothing extra
    assert all(r[2] == "done" for r in after)
    for n, r in done_then.items():  # done trials untouched: not evaluated again
        assert after[n] == r
    for n, r in running_then.items():  # running ones: the same design, evaluated once more
        assert after[n][1] == r[1] and after[n][3] == r[3] + 1
    assert all(r[3] == 1 for r in after if r[0] not in running_then)
    study = optuna.load_study(study_name=None, storage=f"sqlite:///{db}")  # a normal optuna study
    assert [t.number for t in study.trials] == list(range(TRIALS))
    assert all(t.state == optuna.trial.TrialState.COMPLETE and len(t.values) == 3 for t in study.trials)
