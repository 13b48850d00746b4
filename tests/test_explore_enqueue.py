"""Warm-started searches (``run_search(enqueue=...)``, ``jalapeno explore --enqueue FILE``): the enqueued
designs are the first trials, told to the searcher, part of the study's identity, and never evaluated twice on
resume."""

from __future__ import annotations

import json

import pytest
from test_explore_helpers import write_files

from jalapeno.cli import main
from jalapeno.errors import JalapenoError
from jalapeno.explore import evaluate_design, load_space, resolve_workload, run_search

D1 = {
    "cores.count": 16,
    "cores.matrix.rows": 128,
    "memory.devices": 2,
    "tp": 1,
    "replicas": 1,
    "scheduler": "sarathi",
}
D2 = {**D1, "cores.count": 8, "cores.matrix.rows": 64}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    s, w = write_files(tmp_path_factory.mktemp("tiny"))
    return load_space(str(s)), resolve_workload(str(w)), s, w


@pytest.mark.parametrize(("searcher", "screen"), [("nsga2", True), ("tpe", False), ("random", False)])
def test_enqueued_designs_are_the_first_trials_and_bound_the_best(tiny, searcher, screen):
    space, work, _, _ = tiny
    res = run_search(
        space, work, trials=6, searcher=searcher, screen=screen, workers=1, seed=1, enqueue=[D1, D2]
    )
    assert [t.number for t in res.trials] == list(range(6)) and res.evaluated == 6
    assert res.trials[0].design == space.check(D1) and res.trials[1].design == space.check(D2)
    own = evaluate_design(space, D1, work)
    assert res.trials[0].evaluation.objectives == own.objectives  # the same evaluation, bit for bit
    assert own.feasible  # the tiny space's D1 serves its workload
    best = res.best()
    assert (
        best is not None
        and best.evaluation.objectives["goodput_per_watt"] >= own.objectives["goodput_per_watt"]
    )


def test_resume_does_not_enqueue_again_and_the_queue_is_part_of_the_study(tiny, tmp_path):
    space, work, _, _ = tiny
    db = str(tmp_path / "s.db")
    first = run_search(space, work, trials=3, searcher="tpe", screen=True, workers=1, db=db, enqueue=[D1])
    res = run_search(space, work, trials=5, searcher="tpe", screen=True, workers=1, db=db, enqueue=[D1])
    assert res.evaluated == 2 and [t.number for t in res.trials] == list(range(5))
    assert [t.design for t in res.trials[:3]] == [t.design for t in first.trials]
    with pytest.raises(JalapenoError, match="another study"):
        run_search(space, work, trials=6, searcher="tpe", screen=True, workers=1, db=db, enqueue=[D2])
    with pytest.raises(JalapenoError, match="do not fit"):
        run_search(space, work, trials=1, searcher="tpe", workers=1, enqueue=[D1, D2])
    with pytest.raises(JalapenoError, match=r"cores\.count"):
        run_search(space, work, trials=2, searcher="tpe", workers=1, enqueue=[{**D1, "cores.count": 10_000}])


def test_cli_enqueue_reads_design_files_and_rejects_bad_ones(tiny, tmp_path, capsys):
    space, _work, s, w = tiny
    good = tmp_path / "d.json"
    good.write_text(json.dumps({"space": "tiny", "design": D2, "trial": 7}))
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps([D1]))
    args = [
        "explore",
        "--space",
        str(s),
        "--workload",
        str(w),
        "--workers",
        "1",
        "--searcher",
        "random",
        "--json",
        "--no-timings",
        "-q",
    ]
    assert main([*args, "--trials", "3", "--enqueue", str(good), "--enqueue", str(bare)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [t["design"] for t in doc["all"][:2]] == [space.check(D2), space.check(D1)]
    bad = tmp_path / "bad.json"
    for text, needle in (
        ("{not json", "not valid JSON"),
        (json.dumps({"design": {**D1, "tp": 3}}), "tp"),
        (json.dumps([1]), "JSON object"),
    ):
        bad.write_text(text)
        assert main([*args, "--trials", "3", "--enqueue", str(bad)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: --enqueue:") and "\n" not in err and needle in err, err
    assert main([*args, "--trials", "1", "--enqueue", str(good), "--enqueue", str(bare)]) == 2
    assert "--trials" in capsys.readouterr().err
