"""Co-design search: a design space, a workload, objectives through the serving simulator, searchers.

    from jalapeno.explore import load_space, resolve_workload, run_search
    res = run_search(load_space("coding-asic"), resolve_workload("azure-code"), trials=64, searcher="tpe")
    res.pareto(), res.best()

Public API: ``DesignSpace``/``Param``/``load_space``/``space_from_dict``/``space_to_dict`` (space.py),
``Workload``/``resolve_workload`` (workload.py), ``Deployment``/``build_arch`` (design.py),
``evaluate_design``/``evaluate_chip``/``Evaluation`` (evaluate.py), ``make_searcher`` (searchers.py; the
searcher registry is samplers.py), ``TrialStore`` (store.py: an optuna study in SQLite), importance.py,
``run_search``/``SearchResult`` (runner.py), ``nondominated`` (pareto.py), ``Surrogate`` (surrogate.py). See
docs/explore.md.

Layer (docs/extending.md#layers): above serving. May import serving, cost, mapping, seams, graph, hardware,
models, workload and the bottom modules; never report, studies, measure or commands.
"""

from jalapeno.explore.design import Deployment, arch_data, build_arch, deployment_of
from jalapeno.explore.evaluate import OBJECTIVES, Evaluation, evaluate_chip, evaluate_design
from jalapeno.explore.pareto import hypervolume_2d, nondominated
from jalapeno.explore.runner import SearchResult, TrialRecord, run_search
from jalapeno.explore.searchers import SEARCHERS, make_searcher
from jalapeno.explore.space import DesignSpace, Param, load_space, space_from_dict, space_to_dict
from jalapeno.explore.store import TrialStore
from jalapeno.explore.surrogate import Surrogate
from jalapeno.explore.workload import Workload, resolve_workload, workload_from_dict

__all__ = [
    "OBJECTIVES",
    "SEARCHERS",
    "Deployment",
    "DesignSpace",
    "Evaluation",
    "Param",
    "SearchResult",
    "Surrogate",
    "TrialRecord",
    "TrialStore",
    "Workload",
    "arch_data",
    "build_arch",
    "deployment_of",
    "evaluate_chip",
    "evaluate_design",
    "hypervolume_2d",
    "load_space",
    "make_searcher",
    "nondominated",
    "resolve_workload",
    "run_search",
    "space_from_dict",
    "space_to_dict",
    "workload_from_dict",
]
