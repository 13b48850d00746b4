"""Serving simulator: replay a request trace through replicas priced by a step oracle.

Public API: ``simulate`` (and ``max_rate_at_attainment``), the policy values ``SLO``, ``Disagg``,
``Speculative``, ``TierSpec``, the result ``SimResult``, the timeline ``TimelineRecorder``, and the
oracle seam ``StepShape``/``StepCost``/``StepOracle``. See docs/serving.md.

Layer (docs/extending.md#layers): above cost. Prices steps only through a ``StepOracle``
(``jalapeno.seams.step_oracle``), so it imports seams and the bottom modules and may import anything below;
never explore, report, studies, measure or commands.
"""

from jalapeno.serving.config import ServingConfig
from jalapeno.serving.disagg import Disagg
from jalapeno.serving.metrics import SLO, SimResult, Stats
from jalapeno.serving.oracle import StepCost, StepOracle, StepShape
from jalapeno.serving.replica import StepRecord
from jalapeno.serving.simulate import max_rate_at_attainment, simulate
from jalapeno.serving.speculative import Speculative
from jalapeno.serving.tier import TierSpec
from jalapeno.serving.trace_export import TimelineRecorder

__all__ = [
    "SLO",
    "Disagg",
    "ServingConfig",
    "SimResult",
    "Speculative",
    "Stats",
    "StepCost",
    "StepOracle",
    "StepRecord",
    "StepShape",
    "TierSpec",
    "TimelineRecorder",
    "max_rate_at_attainment",
    "simulate",
]
