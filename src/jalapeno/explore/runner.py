"""The search loop: ask, record as running, evaluate on workers, record as done, tell.

``run_search`` asks ``ROUND`` designs at a time, evaluates them on a local process pool of ``workers``
(default), inline (``workers=1``), or on a Dask distributed cluster (``dask="tcp://host:8786"``, or a
``Client``), and tells the results in trial order, so a seed gives the same trials on any machine. Only this
process writes the trial store, so workers need nothing but the space, the workload and a design.

Warm start: ``enqueue`` designs (e.g. the incumbent, ``spaces/jalapeno-1.json``) are evaluated as the first
trials and told to the searcher like any other, so a search never ends below them. They are part of the
study's identity.

Resume: with the same ``db`` file and the same study (space, workload, searcher, seed), every done
trial is re-told to the searcher, every trial left running is evaluated again (once), and the search
continues until the store holds ``trials`` trials: nothing is lost, nothing is evaluated twice after it
was recorded done.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import math
import multiprocessing
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jalapeno.errors import JalapenoError
from jalapeno.explore.evaluate import OBJECTIVES, Evaluation, evaluate_design
from jalapeno.explore.importance import Importance, importance
from jalapeno.explore.pareto import nondominated
from jalapeno.explore.searchers import distributions, make_searcher, objective_values, violation
from jalapeno.explore.space import DesignSpace, space_from_dict, space_to_dict
from jalapeno.explore.store import TrialStore, canonical
from jalapeno.explore.workload import Workload, workload_from_dict

Progress = Callable[[int, int, "TrialRecord"], Any]
ROUND = 8  # designs asked per round whatever the worker count, told in trial order: same seed, same trials


@dataclass(frozen=True)
class TrialRecord:
    number: int
    design: dict[str, Any]
    evaluation: Evaluation
    attempts: int = 1
    eval_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "design": self.design,
            "attempts": self.attempts,
            **self.evaluation.to_json(),
        }


@dataclass
class SearchResult:
    space: DesignSpace
    workload: Workload
    searcher: str
    trials: list[TrialRecord]
    wall_s: float = 0.0
    evaluated: int = 0  # evaluations run by this call (resumed trials included)
    screened: int = 0  # candidates the surrogate discarded
    price_rule: str = "margin"  # how usd_per_mtok priced the chips (hardware.tco)
    meta: dict[str, Any] = field(default_factory=dict)
    importance: Importance | None = None  # optuna's parameter importance for goodput per watt (importance.py)

    @property
    def feasible(self) -> list[TrialRecord]:
        return [t for t in self.trials if t.evaluation.feasible]

    def pareto(self) -> list[TrialRecord]:
        ok = self.feasible
        return [ok[i] for i in nondominated([t.evaluation.objectives for t in ok])]

    def best(self) -> TrialRecord | None:
        ok = self.feasible
        return max(ok, key=lambda t: (t.evaluation.objectives["goodput_per_watt"], -t.number)) if ok else None

    def to_json(self) -> dict[str, Any]:
        best = self.best()
        return _clean(
            {
                "space": self.space.name,
                "workload": self.workload.name,
                "searcher": self.searcher,
                "trials": len(self.trials),
                "feasible_trials": len(self.feasible),
                "evaluated": self.evaluated,
                "screened": self.screened,
                "wall_s": self.wall_s,
                "price_rule": self.price_rule,
                "importance": self.importance.to_json() if self.importance else None,
                "pareto": [_design_json(t) for t in self.pareto()],
                "best": _design_json(best) if best is not None else None,
                "all": [t.to_json() for t in self.trials],
            }
        )


def _clean(x: Any) -> Any:
    """JSON-safe: non-finite floats become None."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def _design_json(t: TrialRecord) -> dict[str, Any]:
    return {
        "number": t.number,
        "design": t.design,
        **{k: t.evaluation.objectives[k] for k in OBJECTIVES},
        "slo_attainment": t.evaluation.metrics.get("slo_attainment"),
        "avg_power_w": t.evaluation.metrics.get("avg_power_w"),
        "chips": t.evaluation.metrics.get("chips"),
    }


# ---------------------------------------------------------------- workers

_WORKER_CACHE: dict[str, Any] = {}


def evaluate_task(
    space_doc: Mapping[str, Any],
    workload_doc: Mapping[str, Any],
    design: Mapping[str, Any],
    fast: bool = True,
    price_rule: str = "margin",
) -> tuple[dict[str, Any], float]:
    """What a worker runs: rebuild (and cache) the space and workload, evaluate one design."""
    key = canonical([space_doc, workload_doc])
    hit = _WORKER_CACHE.get(key)
    if hit is None:
        space = space_from_dict(space_doc["space"], origin=space_doc["origin"])
        work = workload_from_dict(workload_doc, origin="<search>")
        _WORKER_CACHE.clear()
        hit = _WORKER_CACHE[key] = (space, work)
    t0 = time.perf_counter()
    ev = evaluate_design(hit[0], design, hit[1], fast=fast, price_rule=price_rule)
    return ev.to_json(), time.perf_counter() - t0


class InlineExecutor:
    """Evaluates in this process, one at a time (workers=1: no pool to start)."""

    def __init__(self) -> None:
        self.slots = 1

    def submit(self, fn: Callable[..., Any], *args: Any) -> cf.Future[Any]:
        f: cf.Future[Any] = cf.Future()
        try:
            f.set_result(fn(*args))
        except Exception as e:
            f.set_exception(e)
        return f

    def wait_one(self, futures: list[Any]) -> list[Any]:
        return [f for f in futures if f.done()]

    def close(self) -> None:
        pass


def _die_with_parent() -> None:
    """Pool initializer: on Linux, ask the kernel to kill this worker when the search process dies
    (kill -9 included), so no orphan keeps computing. Elsewhere a no-op."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class PoolExecutor:
    def __init__(self, workers: int) -> None:
        self.slots = workers
        ctx = multiprocessing.get_context(
            "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        )
        self.pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_die_with_parent)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.pool.submit(fn, *args)

    def wait_one(self, futures: list[Any]) -> list[Any]:
        done, _ = cf.wait(futures, return_when=cf.FIRST_COMPLETED)
        return list(done)

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


class DaskExecutor:
    """Tasks on a Dask distributed cluster: an address (``tcp://...``) or a ``Client``."""

    def __init__(self, address: Any) -> None:
        try:
            from dask.distributed import Client
        except ImportError:
            raise JalapenoError(
                "--dask needs dask.distributed: pip install 'jalapeno[distributed]'", field="--dask"
            ) from None
        self.own = not isinstance(address, Client)
        try:
            self.client = Client(address, timeout="10s") if self.own else address
        except (OSError, TimeoutError, ValueError) as e:  # ValueError: a malformed address (no port)
            raise JalapenoError(
                f"cannot reach the Dask scheduler at {address}: {e}", field="--dask"
            ) from None
        workers = self.client.scheduler_info().get("workers", {})
        self.slots = max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.client.submit(fn, *args, pure=False)

    def wait_one(self, futures: list[Any]) -> list[Any]:
        from dask.distributed import wait

        return list(wait(futures, return_when="FIRST_COMPLETED").done)

    def close(self) -> None:
        if self.own:
            self.client.close()


def make_executor(workers: int | None, dask: Any = None) -> Any:
    if dask is not None:
        return DaskExecutor(dask)
    n = workers if workers is not None else max(1, multiprocessing.cpu_count())
    return InlineExecutor() if n <= 1 else PoolExecutor(n)


# ---------------------------------------------------------------- the loop


def study_identity(
    space: DesignSpace,
    workload: Workload,
    searcher: str,
    seed: int,
    screen: bool,
    price_rule: str = "margin",
    enqueue: tuple[dict[str, Any], ...] = (),
) -> dict[str, Any]:
    """What a resumed study must share with the stored one (a price rule other than the default included,
    so stores written before there was a choice still resume)."""
    doc = canonical(space_to_dict(space))
    ident = {
        "space": space.name,
        "space_sha": hashlib.sha256(doc.encode()).hexdigest()[:16],
        "workload": workload.to_dict(),
        "searcher": searcher,
        "seed": seed,
        "screen": screen,
    }
    if price_rule != "margin":
        ident["price_rule"] = price_rule
    if enqueue:
        ident["enqueue"] = [canonical(d) for d in enqueue]
    return ident


def _lock(db: str | None) -> Any:
    """An exclusive lock on ``<db>.lock`` for the whole search: one driver per trial store (the kernel
    drops it when the process dies, kill -9 included)."""
    if not db or db == ":memory:":
        return None
    import fcntl

    f = open(f"{db}.lock", "w")  # noqa: SIM115 - held for the search's lifetime
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        raise JalapenoError(
            f"another search is running on {db}; wait for it or use another --db", field="db"
        ) from None
    return f


def run_search(
    space: DesignSpace,
    workload: Workload,
    *,
    trials: int,
    searcher: str = "nsga2",
    screen: bool = True,
    workers: int | None = None,
    dask: Any = None,
    db: str | None = None,
    seed: int = 0,
    fast: bool = True,
    progress: Progress | None = None,
    price_rule: str = "margin",
    enqueue: Sequence[Mapping[str, Any]] = (),
) -> SearchResult:
    from jalapeno.hardware.tco import check_rule

    if trials < 1:
        raise JalapenoError(f"must be >= 1, got {trials}", field="trials")
    check_rule(price_rule)
    queued = tuple(space.check(d) for d in enqueue)
    if len(queued) > trials:
        raise JalapenoError(f"{len(queued)} enqueued designs do not fit in {trials} trials", field="trials")
    t_start = time.perf_counter()
    lock = _lock(db)
    s = make_searcher(searcher, space, seed=seed, screen=screen, attainment=workload.attainment)
    store = TrialStore(db or ":memory:")
    store.bind(
        study_identity(space, workload, searcher, seed, screen, price_rule, queued),
        name=f"{space.name}/{workload.name}/{s.name}/seed{seed}",
        distributions=distributions(space),
    )
    for t in store.trials("done"):
        s.tell(t.params, Evaluation.from_json(t.result or {}))
    rerun = list(store.trials("running"))
    space_doc = {"space": space_to_dict(space), "origin": space.source_file}
    work_doc = workload.to_dict()
    ex = make_executor(workers, dask)
    evaluated = 0
    try:
        while True:
            # each design is submitted once written running, so the workers start during the next writes
            futures: dict[Any, tuple[int, dict[str, Any]]] = {}
            while len(futures) < ROUND and (rerun or store.count() < trials):
                if rerun:
                    t = rerun.pop(0)
                    store.restart(t.number)
                    number, design = t.number, t.params
                else:
                    number = store.next_number()
                    design = dict(queued[number]) if number < len(queued) else s.ask()
                    store.start(number, s.name, design)
                fut = ex.submit(evaluate_task, space_doc, work_doc, design, fast, price_rule)
                futures[fut] = (number, design)
            if not futures:
                break
            done: dict[int, tuple[dict[str, Any], Evaluation]] = {}
            pending = list(futures)
            while pending:
                for fut in ex.wait_one(pending):
                    pending.remove(fut)
                    number, design = futures[fut]
                    result, eval_s = fut.result()
                    ev = Evaluation.from_json(result)
                    store.finish(
                        number,
                        {**result, "eval_s": eval_s},
                        objective_values(ev),
                        violation(ev, workload.attainment),
                    )
                    done[number] = (design, ev)
                    evaluated += 1
                    if progress is not None:
                        progress(
                            store.count() - len(pending),
                            trials,
                            TrialRecord(number, design, done[number][1], eval_s=eval_s),
                        )
            for number in sorted(done):  # told in trial order, whatever order the workers finished in
                s.tell(*done[number])
    finally:
        ex.close()
    records = [
        TrialRecord(
            t.number,
            t.params,
            Evaluation.from_json(t.result or {}),
            t.attempts,
            float((t.result or {}).get("eval_s", 0.0)),
        )
        for t in store.trials("done")
    ]
    imp = importance(store.frozen_trials(), list(distributions(space)))
    study_name = store.study_name
    store.close()
    if lock is not None:
        lock.close()
    return SearchResult(
        space,
        workload,
        s.name,
        records,
        time.perf_counter() - t_start,
        evaluated,
        getattr(s, "screened", 0),
        price_rule,
        importance=imp,
        meta={"study_name": study_name, "storage": _storage_url(db)},
    )


def _storage_url(db: str | None) -> str | None:
    """What ``optuna.load_study`` and ``optuna-dashboard`` open (None: the study was in memory)."""
    from pathlib import Path

    return None if not db or db == ":memory:" else f"sqlite:///{Path(db).resolve()}"
