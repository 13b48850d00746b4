"""Which design parameters decide goodput per watt: optuna's parameter importance over a search's trials.

The evaluator is ``PedAnovaImportanceEvaluator`` (PED-ANOVA, Watanabe et al., IJCAI 2023): how much each
parameter's distribution among the best 10% of trials differs from its distribution over all trials. It is
chosen over optuna's default (fANOVA) and ``MeanDecreaseImpurity`` because both of those need scikit-learn,
which is not a dependency, and because PED-ANOVA has no random forest: the same trials give the same
numbers on every machine, as the rest of the search's JSON does.

The target is goodput per watt of feasible trials; an infeasible trial counts as 0 (it serves nothing within
the SLO), so a parameter that decides feasibility (the die size, the fleet) ranks high too. Importances are
normalized to sum to 1. Fewer than ``MIN_TRIALS`` complete trials, or no spread in the target, give none.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MIN_TRIALS = 8
EVALUATOR = "PedAnovaImportanceEvaluator"
TARGET = "goodput_per_watt (infeasible trials as 0)"


@dataclass(frozen=True)
class Importance:
    params: dict[str, float]  # parameter -> importance, largest first, summing to 1
    trials: int  # complete trials it was computed over
    evaluator: str = EVALUATOR
    target: str = TARGET

    def to_json(self) -> dict[str, Any]:
        return {
            "evaluator": self.evaluator,
            "target": self.target,
            "trials": self.trials,
            "params": dict(self.params),
        }

    def top(self, n: int = 5) -> list[tuple[str, float]]:
        return list(self.params.items())[:n]


def goodput_target(t: Any) -> float:
    """Lower is better (PED-ANOVA ranks low targets): minus goodput per watt, 0 when infeasible."""
    feasible = all(c <= 0.0 for c in t.system_attrs.get("constraints", [0.0]))
    g = t.values[0] if t.values else 0.0
    return -g if feasible and math.isfinite(g) else 0.0


def importance(trials: Sequence[Any], params: list[str]) -> Importance | None:
    """optuna's importance of ``params`` for goodput per watt over the complete trials (``FrozenTrial``)."""
    import optuna

    done = [
        t
        for t in trials
        if t.state == optuna.trial.TrialState.COMPLETE and t.values and all(p in t.params for p in params)
    ]
    if len(done) < MIN_TRIALS or len({goodput_target(t) for t in done}) < 2:
        return None
    study = optuna.create_study(directions=["maximize", "minimize", "minimize"])
    study.add_trials(done)
    with warnings.catch_warnings():  # PED-ANOVA's reminder that it ranks low targets: ours is negated
        warnings.simplefilter("ignore")
        evaluator = optuna.importance.PedAnovaImportanceEvaluator()
        got = optuna.importance.get_param_importances(
            study, evaluator=evaluator, params=params, target=goodput_target
        )
    return Importance({k: float(v) for k, v in got.items()}, len(done))
