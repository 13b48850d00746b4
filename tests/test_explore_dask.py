"""The distributed backend against a local Dask cluster (skipped when dask.distributed is not installed)."""

from __future__ import annotations

import pytest
from test_explore_helpers import write_files

from jalapeno.explore import load_space, resolve_workload, run_search

distributed = pytest.importorskip("dask.distributed")


def test_search_on_a_local_cluster_matches_local_workers(tmp_path):
    s, w = write_files(tmp_path)
    space, work = load_space(str(s)), resolve_workload(str(w))
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        remote = run_search(
            space, work, trials=6, searcher="random", screen=False, dask=client, db=str(tmp_path / "d.db")
        )
    local = run_search(space, work, trials=6, searcher="random", screen=False, workers=1)
    assert [t.number for t in remote.trials] == list(range(6))
    # the same seeded designs, the same deterministic evaluations, whatever ran them

    def key(r):
        return sorted((str(sorted(t.design.items())), t.evaluation.status) for t in r.trials)

    assert key(remote) == key(local)
