"""The serving simulator against a real GPU replay (``jalapeno measure serve``).

The simulator gets the replay's requests (arrival, capped prompt and output lengths), the engine's
policy (``prefill_first``, its slot count, its CUDA-graph batch buckets and context padding) and the
calibrated cost model of the chip; it predicts every request's TTFT and TPOT. Nothing here is fitted
to the replay: the cost model's parameters come from the operator and step sweeps (docs/validation.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from jalapeno.cost.oracle import CostOracle
from jalapeno.cost.params import CostParams
from jalapeno.hardware.spec import ChipSpec
from jalapeno.models.config import ModelConfig
from jalapeno.serving import simulate
from jalapeno.serving.schedulers.prefill_first import PrefillFirstScheduler
from jalapeno.workload.request import Request


@dataclass(frozen=True)
class Comparison:
    metric: str  # "ttft_s" or "tpot_s"
    quantile: str  # "p50", "p90"
    measured: float
    predicted: float

    @property
    def error(self) -> float:
        return self.predicted / self.measured - 1.0


def replay_requests(record: dict[str, Any]) -> list[Request]:
    return [Request(request_id=r["request_id"], arrival_s=r["arrival_s"], prompt_tokens=r["prompt_tokens"],
                    output_tokens=r["output_tokens"]) for r in record["requests"]]


def scheduler_of(record: dict[str, Any]) -> PrefillFirstScheduler:
    pol = record["policy"]
    padded = pol.get("cuda_graph", True)
    return PrefillFirstScheduler(max_num_seqs=pol["max_num_seqs"],
                                 batch_buckets=tuple(pol["batch_buckets"]) if padded else (),
                                 context_bucket=pol["context_bucket"], max_len=pol["max_len"])


def simulate_replay(record: dict[str, Any], model: ModelConfig, chip: ChipSpec, params: CostParams) -> Any:
    oracle = CostOracle(model, chip, params)
    reqs = replay_requests(record)
    res = simulate(reqs, oracle, scheduler=scheduler_of(record), max_num_seqs=record["policy"]["max_num_seqs"])
    return res


def compare(record: dict[str, Any], result: Any) -> list[Comparison]:
    done = [r for r in record["requests"] if r.get("first_token_s") is not None]
    meas = {"ttft_s": np.array([r["ttft_s"] for r in done]),
            "tpot_s": np.array([r["tpot_s"] for r in done if r.get("tpot_s") is not None])}
    pred = {"ttft_s": result.per_request["ttft_s"], "tpot_s": result.per_request["tpot_s"]}
    out = []
    for metric in ("ttft_s", "tpot_s"):
        p = pred[metric][np.isfinite(pred[metric])]
        for q, name in ((50, "p50"), (90, "p90")):
            out.append(Comparison(metric, name, float(np.percentile(meas[metric], q)), float(np.percentile(p, q))))
    return out
