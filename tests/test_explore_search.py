"""Search end to end on a tiny space and workload: searchers, resume, reasons, surrogate, CLI, sweep."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from test_explore_helpers import write_files

from jalapeno.cli import cli, main
from jalapeno.explore import (
    Deployment,
    TrialStore,
    evaluate_chip,
    evaluate_design,
    hypervolume_2d,
    load_space,
    nondominated,
    resolve_workload,
    run_search,
)
from jalapeno.explore.compare import Sweep, sweep_chips
from jalapeno.explore.runner import study_identity
from jalapeno.explore.surrogate import Forest, Surrogate


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    s, w = write_files(tmp_path_factory.mktemp("tiny"))
    return load_space(str(s)), resolve_workload(str(w))


@pytest.mark.parametrize(
    ("searcher", "screen"), [("random", False), ("grid", False), ("tpe", True), ("nsga2", False)]
)
def test_searchers_fill_the_budget(tiny, searcher, screen):
    space, work = tiny
    res = run_search(space, work, trials=10, searcher=searcher, screen=screen, workers=1, seed=3)
    assert [t.number for t in res.trials] == list(range(10))
    assert res.evaluated == 10
    for t in res.trials:
        assert t.evaluation.feasible == (not t.evaluation.reasons)
    par = res.pareto()
    assert all(t.evaluation.feasible for t in par)
    doc = json.loads(json.dumps(res.to_json(), allow_nan=False))
    assert doc["trials"] == 10 and len(doc["pareto"]) == len(par)


def test_grid_visits_distinct_points(tiny):
    space, work = tiny
    res = run_search(space, work, trials=12, searcher="grid", screen=False, workers=1)
    keys = {json.dumps(t.design, sort_keys=True) for t in res.trials}
    assert len(keys) == 12


def test_resume_retells_done_and_reruns_running_once(tiny, tmp_path):
    space, work = tiny
    db = str(tmp_path / "s.db")
    first = run_search(space, work, trials=4, searcher="tpe", screen=False, workers=1, db=db)
    with TrialStore(db) as st:  # what a crash mid-evaluation leaves behind
        st.start(4, "tpe", first.trials[0].design)
    res = run_search(space, work, trials=7, searcher="tpe", screen=False, workers=1, db=db)
    assert [t.number for t in res.trials] == list(range(7))
    assert res.evaluated == 3  # the running trial once, two new ones
    assert {t.number: t.attempts for t in res.trials}[4] == 2
    for a, b in zip(first.trials, res.trials[:4], strict=True):
        assert a.evaluation.to_json() == b.evaluation.to_json()
    with pytest.raises(Exception, match="another study"):
        run_search(space, work, trials=7, searcher="random", screen=False, workers=1, db=db)
    assert study_identity(space, work, "tpe", 0, False)["space"] == space.name


def test_infeasible_designs_say_why(tiny):
    space, work = tiny
    base = {
        "cores.count": 8,
        "cores.matrix.rows": 64,
        "memory.devices": 2,
        "tp": 1,
        "replicas": 1,
        "scheduler": "sarathi",
    }
    ok = evaluate_design(space, base, work)
    assert ok.objectives and ok.metrics["die_area_mm2"] < 858
    big = evaluate_design(space, {**base, "cores.count": 64, "cores.matrix.rows": 128}, work)
    assert not big.feasible and big.reasons[0].startswith(("reticle:", "power:"))
    fleet = evaluate_design(space, {**base, "tp": 2, "replicas": 3}, work)
    assert fleet.reasons == ("fleet: 6 chips > 4",)
    dis = evaluate_design(space, {**base, "scheduler": "disagg"}, work)
    assert dis.reasons[0].startswith("deployment:")


def test_weights_that_do_not_fit_are_rejected_with_the_numbers(tiny):
    from jalapeno.explore.workload import workload_from_dict
    from jalapeno.hardware import resolve_chip

    w = workload_from_dict(
        {
            "name": "big",
            "model": "qwen2.5-coder-32b",
            "trace": {"name": "azure-code", "duration_s": 5},
            "slo": {"ttft_s": 1.0, "tpot_s": 0.025},
        }
    )
    ev = evaluate_chip(resolve_chip("tpu-v5e"), Deployment(tp=1, replicas=1), w)
    assert not ev.feasible and ev.reasons[0].startswith("memory:") and "GB" in ev.reasons[0]


def test_fast_oracle_agrees_with_the_exact_one(tiny):
    space, work = tiny
    d = {
        "cores.count": 16,
        "cores.matrix.rows": 128,
        "memory.devices": 2,
        "tp": 1,
        "replicas": 1,
        "scheduler": "sarathi",
    }
    fast, exact = evaluate_design(space, d, work, fast=True), evaluate_design(space, d, work, fast=False)
    for k in ("goodput_per_watt", "usd_per_mtok", "ttft_p99_s"):
        assert fast.objectives[k] == pytest.approx(exact.objectives[k], rel=0.02), k
    assert fast.metrics["energy_j"] == pytest.approx(exact.metrics["energy_j"], rel=0.02)


def test_forest_learns_and_ranks_features():
    rng = np.random.default_rng(0)
    x = rng.random((200, 4))
    y = 3 * x[:, 0] + np.sin(6 * x[:, 2])
    f = Forest(trees=16, seed=1).fit(x, y)
    xt = rng.random((100, 4))
    truth = 3 * xt[:, 0] + np.sin(6 * xt[:, 2])
    err = np.abs(f.predict(xt) - truth)
    assert err.mean() < 0.35 * np.abs(truth - y.mean()).mean()  # well below predicting the mean
    assert set(np.argsort(f.importances)[-2:]) == {0, 2}
    s = Surrogate(min_samples=4)
    assert not s.fit(x[:3], np.ones(3, bool), [{}] * 3)
    assert s.fit(x, x[:, 1] > 0.5, [{"goodput_per_watt": 1 + v} for v in x[:, 0]])
    p = s.predict(xt)
    assert p["p_feasible"].shape == (100,) and np.all(p["goodput_per_watt"] > 0)


def test_pareto_and_hypervolume():
    pts = [
        {"goodput_per_watt": 2, "usd_per_mtok": 1, "ttft_p99_s": 1},
        {"goodput_per_watt": 1, "usd_per_mtok": 0.5, "ttft_p99_s": 1},
        {"goodput_per_watt": 1, "usd_per_mtok": 2, "ttft_p99_s": 1},
        {"goodput_per_watt": 2, "usd_per_mtok": 1, "ttft_p99_s": 1},
    ]
    assert nondominated(pts) == [0, 1]
    assert hypervolume_2d(pts, {"goodput_per_watt": 0, "usd_per_mtok": 3}) == pytest.approx(4.5)


def _dominates(a: dict, b: dict) -> bool:
    """a is no worse in every objective (goodput per watt up, $/Mtok and p99 TTFT down) and better in one."""
    ge = (
        a["goodput_per_watt"] >= b["goodput_per_watt"],
        a["usd_per_mtok"] <= b["usd_per_mtok"],
        a["ttft_p99_s"] <= b["ttft_p99_s"],
    )
    gt = (
        a["goodput_per_watt"] > b["goodput_per_watt"],
        a["usd_per_mtok"] < b["usd_per_mtok"],
        a["ttft_p99_s"] < b["ttft_p99_s"],
    )
    return all(ge) and any(gt)


def test_cli_json_reports_real_evaluations_their_pareto_set_and_best(tiny, tmp_path, capsys):
    space, work = tiny
    s, w = write_files(tmp_path)
    r = CliRunner().invoke(
        cli,
        [
            "explore",
            "--space",
            str(s),
            "--workload",
            str(w),
            "--trials",
            "5",
            "--workers",
            "1",
            "--searcher",
            "random",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["trials"] == doc["evaluated"] == len(doc["all"]) == 5
    assert [t["number"] for t in doc["all"]] == list(range(5))
    ok = [
        {"number": t["number"], "design": t["design"], **t["objectives"]}
        for t in doc["all"]
        if t["status"] == "ok"
    ]
    assert doc["feasible_trials"] == len(ok) and ok, "the tiny space has feasible designs at seed 0"
    assert all(t["reasons"] for t in doc["all"] if t["status"] != "ok")  # every rejection says why
    # the Pareto set is exactly the feasible trials no other feasible trial dominates
    front = [t["number"] for t in ok if not any(_dominates(o, t) for o in ok)]
    assert [p["number"] for p in doc["pareto"]] == front
    # the best is the feasible trial with the highest goodput per watt
    best = max(ok, key=lambda t: t["goodput_per_watt"])
    assert doc["best"]["number"] == best["number"]
    assert doc["best"]["goodput_per_watt"] == best["goodput_per_watt"]
    # and its numbers are the design's own: evaluated again from scratch, they agree to the bit
    again = evaluate_design(space, doc["best"]["design"], work)
    for k in ("goodput_per_watt", "usd_per_mtok", "ttft_p99_s"):
        assert again.objectives[k] == doc["best"][k], k
    assert main(["explore", "--space", str(s), "--workload", str(w), "--searcher", "annealing"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "--searcher" in err and "annealing" in err


def test_sweep_picks_the_best_feasible_fleet(tiny):
    _, work = tiny
    sweep = Sweep(tps=(1,), schedules=(("sarathi", 512, 0.5),), replicas=(1, 2, 3), after_feasible=1)
    runs = sweep_chips(["h200-sxm"], work, sweep, workers=1)
    run = runs["h200-sxm"]
    assert run.feasible and run.best is not None
    feasible = [e.objectives["goodput_per_watt"] for _, e in run.tried if e.feasible]
    assert run.evaluation.objectives["goodput_per_watt"] == max(feasible)
    assert len(run.tried) <= 2  # stops one count after the first feasible one
