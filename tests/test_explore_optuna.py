"""optuna used fully: the searcher registry, random and grid as optuna samplers with their documented
sequences, gp's extra, parameter importance, one driver per study file, and the stored study as a normal
optuna study that optuna.load_study and optuna-dashboard open."""

from __future__ import annotations

import itertools
import json
import re
import tomllib
from pathlib import Path

import numpy as np
import optuna
import pytest
from test_explore_helpers import write_files

from jalapeno.cli import main
from jalapeno.errors import JalapenoError
from jalapeno.explore import SEARCHERS, load_space, resolve_workload, run_search
from jalapeno.explore import samplers as reg
from jalapeno.explore.importance import MIN_TRIALS, importance
from jalapeno.explore.runner import _lock
from jalapeno.explore.searchers import OptunaSearcher, distributions, make_searcher

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    s, w = write_files(tmp_path_factory.mktemp("tiny"))
    return load_space(str(s)), resolve_workload(str(w)), s, w


def _extras() -> set[str]:
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return set(doc["project"]["optional-dependencies"])


def test_every_extra_named_in_a_message_exists() -> None:
    named = {}
    for f in (ROOT / "src").rglob("*.py"):
        for m in re.finditer(r"jalapeno\[([^\]{}]+)\]", f.read_text(encoding="utf-8")):
            named.setdefault(m.group(1), f.name)
    named.update({k.extra: "samplers.py" for k in reg.REGISTRY.values() if k.extra})
    assert "explore-gp" in named and "measure" in named  # the scan sees both kinds of mention
    missing = {e: f for e, f in named.items() if e not in _extras()}
    assert not missing, f"messages name extras pyproject.toml lacks: {missing}"


def test_the_registry_is_the_cli_choices(capsys) -> None:
    assert SEARCHERS == tuple(reg.REGISTRY) == ("tpe", "nsga2", "gp", "random", "grid")
    assert set(reg.core()) == set(SEARCHERS) - {"gp"}
    for name in SEARCHERS:
        assert reg.kind(name).name == name
    with pytest.raises(JalapenoError, match="valid: tpe, nsga2, gp, random, grid"):
        reg.kind("annealing")
    assert main(["explore", "--help"]) == 0
    assert "tpe, nsga2, gp, random, grid" in " ".join(capsys.readouterr().out.split())


def test_gp_without_torch_fails_before_the_first_trial_naming_its_extra(tiny, monkeypatch, capsys) -> None:
    space, _, s, w = tiny
    real = reg.importlib.util.find_spec
    monkeypatch.setattr(reg.importlib.util, "find_spec", lambda m, *a: None if m == "torch" else real(m, *a))
    with pytest.raises(JalapenoError, match=r"needs torch: pip install 'jalapeno\[explore-gp\]'"):
        make_searcher("gp", space)
    assert (
        main(
            [
                "explore",
                "-s",
                str(s),
                "-w",
                str(w),
                "--searcher",
                "gp",
                "--trials",
                "2",
                "--workers",
                "1",
                "-q",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "jalapeno[explore-gp]" in err


def test_random_is_optunas_random_sampler(tiny) -> None:
    """Trial k of ``random`` at seed s is the k-th ask of optuna's RandomSampler(seed=s) over the space's
    distributions (the sequence docs/explore.md documents); another seed gives other designs."""
    space, *_ = tiny
    ours = OptunaSearcher(space, "random", seed=4)
    study = optuna.create_study(directions=["maximize"] * 3, sampler=optuna.samplers.RandomSampler(seed=4))
    dists = distributions(space)
    for _ in range(6):
        assert ours.ask() == study.ask(dists).params
    other = OptunaSearcher(space, "random", seed=5)
    again = OptunaSearcher(space, "random", seed=4)
    assert [other.ask() for _ in range(6)] != [again.ask() for _ in range(6)]


def test_grid_is_one_seeded_permutation_of_the_grid_then_an_error(tiny) -> None:
    """Trial k of ``grid`` is point k of the full grid (parameters in name order, itertools.product)
    shuffled by numpy's RandomState(seed): computed here independently of optuna."""
    space, *_ = tiny
    names = sorted(p.name for p in space.params)
    points = list(itertools.product(*(space.param(n).grid() for n in names)))
    assert len(points) == space.grid_size() == 216
    np.random.RandomState(7).shuffle(points)
    s = OptunaSearcher(space, "grid", seed=7)
    got = [s.ask() for _ in range(216)]
    assert [tuple(d[n] for n in names) for d in got] == points  # every point once, in the documented order
    with pytest.raises(JalapenoError, match="only 216 points"):
        s.ask()
    with pytest.raises(JalapenoError, match="1,719,926,784 points"):
        make_searcher("grid", load_space("coding-asic"))


def test_a_second_search_on_the_same_db_is_refused_while_one_runs(tiny, tmp_path) -> None:
    space, work, *_ = tiny
    db = str(tmp_path / "s.db")
    held = _lock(db)  # what a running search holds
    with pytest.raises(JalapenoError, match="another search is running"):
        run_search(space, work, trials=2, searcher="random", screen=False, workers=1, db=db)
    held.close()
    res = run_search(space, work, trials=2, searcher="random", screen=False, workers=1, db=db)
    assert [t.number for t in res.trials] == [0, 1]


def test_importance_finds_the_parameter_that_decides_the_target() -> None:
    """Planted: goodput per watt grows with ``a`` alone; ``b`` is noise; feasibility is all true."""
    rng = np.random.default_rng(0)
    unit = optuna.distributions.FloatDistribution(0, 1)
    dists = {"a": unit, "b": unit}
    trials = [
        optuna.trial.create_trial(
            params={"a": a, "b": b},
            distributions=dists,
            values=[a, 1.0, 1.0],
            system_attrs={"constraints": [0.0]},
        )
        for a, b in rng.random((60, 2))
    ]
    imp = importance(trials, ["a", "b"])
    assert imp is not None and list(imp.params) == ["a", "b"] and imp.params["a"] > 0.8
    assert sum(imp.params.values()) == pytest.approx(1.0) and imp.trials == 60
    assert importance(trials[: MIN_TRIALS - 1], ["a", "b"]) is None  # too few trials: none
    flat = [
        optuna.trial.create_trial(params=t.params, distributions=dists, values=[0.0, 1.0, 1.0])
        for t in trials
    ]
    assert importance(flat, ["a", "b"]) is None  # no spread in the target: none


def test_search_reports_importance_and_stores_a_normal_optuna_study(tiny, tmp_path, capsys) -> None:
    space, work, s, w = tiny
    db = tmp_path / "s.db"
    res = run_search(space, work, trials=10, searcher="random", screen=False, workers=1, db=str(db), seed=2)
    doc = res.to_json()
    imp = doc["importance"]
    assert imp["evaluator"] == "PedAnovaImportanceEvaluator" and imp["trials"] == 10
    assert set(doc["importance"]["params"]) == set(space.names)
    assert sum(doc["importance"]["params"].values()) == pytest.approx(1.0)
    study = optuna.load_study(study_name=res.meta["study_name"], storage=f"sqlite:///{db}")
    assert study.study_name == f"{space.name}/{work.name}/random/seed2"
    assert [t.params for t in study.trials] == [t.design for t in res.trials]
    feasible = [t.number for t in study.trials if t.system_attrs["constraints"] == [0.0]]
    assert feasible == [t.number for t in res.feasible]
    again = importance(study.trials, space.names)  # the same numbers from the stored study
    assert again is not None and again.to_json() == doc["importance"]
    # the same study again: it resumes with nothing to evaluate, and prints the importance and the study
    assert (
        main(
            [
                "explore",
                "-s",
                str(s),
                "-w",
                str(w),
                "--searcher",
                "random",
                "--no-screen",
                "--trials",
                "10",
                "--workers",
                "1",
                "--seed",
                "2",
                "--db",
                str(db),
                "-q",
            ]
        )
        == 0
    )
    out = " ".join(capsys.readouterr().out.split())
    assert "parameter importance for goodput/W (optuna PedAnovaImportanceEvaluator, 10 trials)" in out
    assert "optuna-dashboard opens it" in out


def test_optuna_dashboard_reads_the_study(tiny, tmp_path) -> None:
    dashboard = pytest.importorskip("optuna_dashboard")
    from wsgiref.util import setup_testing_defaults

    space, work, *_ = tiny
    db = tmp_path / "s.db"
    res = run_search(space, work, trials=3, searcher="random", screen=False, workers=1, db=str(db))
    app = dashboard.wsgi(optuna.storages.RDBStorage(f"sqlite:///{db}"))

    def get(path: str) -> dict:
        env: dict = {}
        setup_testing_defaults(env)
        env.update(PATH_INFO=path, REQUEST_METHOD="GET")
        status = []
        body = b"".join(app(env, lambda st, headers, exc=None: status.append(st)))
        assert status == ["200 OK"], (path, status)
        return json.loads(body)

    (summary,) = get("/api/studies")["study_summaries"]
    assert summary["study_name"] == res.meta["study_name"]
    assert summary["directions"] == ["maximize", "minimize", "minimize"]
    detail = get(f"/api/studies/{summary['study_id']}")
    assert [t["number"] for t in detail["trials"]] == [0, 1, 2]
    assert [t["state"] for t in detail["trials"]] == ["Complete"] * 3
    assert all(len(t["constraints"]) == 1 and len(t["values"]) == 3 for t in detail["trials"])


def test_the_reports_search_section_names_the_importance(tiny, monkeypatch) -> None:
    from types import SimpleNamespace

    from jalapeno.report import explore_report

    space, work, *_ = tiny
    res = run_search(space, work, trials=10, searcher="random", screen=False, workers=1, seed=2)
    assert res.importance is not None
    monkeypatch.setattr(explore_report.fig, "pareto_svg", lambda study: "<svg></svg>")
    study = SimpleNamespace(search=res, baseline=None, space=space, main=work.name)
    sec = explore_report.search_section(study)
    (line,) = [b for b in sec.blocks if "What decides goodput per watt" in b]
    top = res.importance.top()
    assert len(top) == 5 and f"{top[0][0]} {top[0][1]:.2f}" in line and "over its 10 trials" in line


def test_gp_runs_past_its_startup_trials_where_its_extra_is_installed(tiny, capsys) -> None:
    """`--searcher gp` with `jalapeno[explore-gp]` (torch, scipy): 14 trials, past optuna's 10 random startup
    trials, so the Gaussian process itself proposes (it failed at trial 17 without torch before)."""
    pytest.importorskip("torch", reason="the explore-gp extra (torch) is not installed")
    _, _, s, w = tiny
    args = ["explore", "-s", str(s), "-w", str(w), "--searcher", "gp", "--trials", "14", "--workers", "1"]
    assert main([*args, "-q", "--json", "--no-timings"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["searcher"].startswith("gp") and doc["trials"] == 14 and doc["evaluated"] == 14
