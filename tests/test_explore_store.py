"""The trial store: running-then-done transitions, persistence across reopen, resume bookkeeping."""

from __future__ import annotations

import math
import sqlite3
from functools import partial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jalapeno.errors import JalapenoError
from jalapeno.explore.store import TrialStore, canonical

VALUES = st.one_of(
    st.integers(-(10**6), 10**6), st.floats(allow_nan=False), st.text(max_size=8), st.booleans(), st.none()
)
PARAMS = st.dictionaries(st.text(min_size=1, max_size=6), VALUES, max_size=5)
OPS = st.lists(
    st.tuples(st.sampled_from(["start", "finish", "restart", "reopen"]), PARAMS, st.integers(0, 5)),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(OPS)
def test_store_matches_a_model(tmp_path_factory, ops):
    path = tmp_path_factory.mktemp("store") / "t.db"
    store = TrialStore(path)
    model: dict[int, dict] = {}
    for op, params, k in ops:
        if op == "start":
            n = store.next_number()
            assert n == (max(model) + 1 if model else 0)
            store.start(n, "s", params)
            model[n] = {"params": params, "state": "running", "attempts": 1, "result": None}
        elif op in ("finish", "restart"):
            running = sorted(n for n, t in model.items() if t["state"] == "running")
            if not running:
                act = partial(store.finish, k, {"x": k}) if op == "finish" else partial(store.restart, k)
                with pytest.raises(JalapenoError):
                    act()
                continue
            n = running[k % len(running)]
            if op == "finish":
                store.finish(n, {"value": float(k), "params": params})
                model[n].update(state="done", result={"value": float(k), "params": params})
            else:
                store.restart(n)
                model[n]["attempts"] += 1
        else:  # what a crash leaves: a fresh connection sees every committed transition
            store.close()
            store = TrialStore(path)
    got = {t.number: t for t in store.trials()}
    assert set(got) == set(model)
    for n, t in model.items():
        g = got[n]
        assert (g.state, g.attempts) == (t["state"], t["attempts"])
        assert canonical(g.params) == canonical(t["params"])
        assert (g.result is None) == (t["result"] is None)
        if t["result"] is not None:
            assert canonical(g.result) == canonical(t["result"])
    assert store.count() == len(model)
    assert [t.number for t in store.trials("done")] == sorted(
        n for n, t in model.items() if t["state"] == "done"
    )
    store.close()


def test_duplicate_number_and_wrong_state_are_errors(tmp_path):
    with TrialStore(tmp_path / "a.db") as s:
        s.start(0, "tpe", {"a": 1})
        with pytest.raises(JalapenoError):
            s.start(0, "tpe", {"a": 2})
        s.finish(0, {"ok": True})
        with pytest.raises(JalapenoError):
            s.finish(0, {"ok": True})
        with pytest.raises(JalapenoError):
            s.restart(0)


def test_study_binding(tmp_path):
    with TrialStore(tmp_path / "a.db") as s:
        s.bind({"space": "x", "seed": 0})
    with TrialStore(tmp_path / "a.db") as s:
        s.bind({"space": "x", "seed": 0})
        with pytest.raises(JalapenoError, match="seed"):
            s.bind({"space": "x", "seed": 1})


def test_non_finite_numbers_survive_as_valid_json(tmp_path):
    with TrialStore(tmp_path / "a.db") as s:
        s.start(0, "r", {"a": 1})
        s.finish(0, {"usd": math.inf, "neg": -math.inf})
        t = s.trials()[0]
        assert t.result == {"usd": math.inf, "neg": -math.inf}
    assert canonical({"b": 1, "a": [1.5, math.inf]}) == '{"a":[1.5,"inf"],"b":1}'


def test_wal_mode(tmp_path):
    with TrialStore(tmp_path / "a.db") as s:
        s.start(0, "r", {"a": 1})
    with sqlite3.connect(tmp_path / "a.db") as c:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_file_of_the_old_store_or_not_a_database_is_refused(tmp_path):
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as c:
        c.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    with pytest.raises(JalapenoError, match="before 2026-12-05"):
        TrialStore(old)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(JalapenoError, match="cannot open trial store"):
        TrialStore(junk)


def test_the_store_is_an_optuna_study(tmp_path):
    """What optuna.load_study (and optuna-dashboard) see: parameters with distributions, three objective
    values, the constraint violation, the study's name and identity."""
    import optuna

    dists = {
        "a": optuna.distributions.IntDistribution(1, 8),
        "b": optuna.distributions.CategoricalDistribution(["x", "y"]),
    }
    with TrialStore(tmp_path / "s.db") as s:
        s.bind({"space": "t", "seed": 3}, name="t/w/tpe/seed3", distributions=dists)
        s.start(0, "tpe", {"a": 2, "b": "y"})
        s.finish(0, {"status": "ok"}, values=[0.5, 1.25, 0.1], violation=0.0)
        s.start(1, "tpe", {"a": 7, "b": "x"})
        s.finish(1, {"status": "infeasible"}, values=[0.0, 1e3, 1e4], violation=2.0)
        s.start(2, "tpe", {"a": 3, "b": "x"})  # left running
    study = optuna.load_study(study_name="t/w/tpe/seed3", storage=f"sqlite:///{tmp_path / 's.db'}")
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE", "MINIMIZE"]
    assert study.user_attrs["identity"] == canonical({"space": "t", "seed": 3})
    t0, t1, t2 = study.trials
    assert (t0.params, t0.values) == ({"a": 2, "b": "y"}, [0.5, 1.25, 0.1])
    assert t0.system_attrs["constraints"] == [0.0]
    assert t0.distributions == dists and t1.system_attrs["constraints"] == [2.0]
    assert t2.state == optuna.trial.TrialState.RUNNING and t2.params == {"a": 3, "b": "x"}
    assert [t.number for t in study.best_trials] == [0]  # optuna's own Pareto front: the feasible trial
