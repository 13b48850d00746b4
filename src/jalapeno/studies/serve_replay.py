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
    return [
        Request(
            request_id=r["request_id"],
            arrival_s=r["arrival_s"],
            prompt_tokens=r["prompt_tokens"],
            output_tokens=r["output_tokens"],
        )
        for r in record["requests"]
    ]


def scheduler_of(record: dict[str, Any]) -> PrefillFirstScheduler:
    pol = record["policy"]
    padded = pol.get("cuda_graph", True)
    return PrefillFirstScheduler(
        max_num_seqs=pol["max_num_seqs"],
        batch_buckets=tuple(pol["batch_buckets"]) if padded else (),
        context_bucket=pol["context_bucket"],
        max_len=pol["max_len"],
    )


def simulate_replay(record: dict[str, Any], model: ModelConfig, chip: ChipSpec, params: CostParams) -> Any:
    oracle = CostOracle(model, chip, params)
    reqs = replay_requests(record)
    return simulate(
        reqs, oracle, scheduler=scheduler_of(record), max_num_seqs=record["policy"]["max_num_seqs"]
    )


class MeasuredStepOracle:
    """The replay's own step durations as the simulator's step costs: a check of the scheduling model.

    Decode steps are looked up by their padded shape (bucket, L) and prefills by prompt length, each at
    the mean measured duration of that shape (compaction after a decode step included); shapes the
    replay never ran fall back to ``inner``. If the simulator then reproduces the measured TTFT and TPOT,
    its mirror of the engine's policy is right and any remaining error is the cost of steps alone.
    """

    def __init__(self, record: dict[str, Any], inner: CostOracle) -> None:
        self.inner, self.hits, self.misses = inner, 0, 0
        dec: dict[tuple[int, int], list[float]] = {}
        pre: dict[int, list[float]] = {}
        for s in record["steps"]:
            d = s["end_s"] - s["start_s"]
            if s["kind"] == "decode":
                dec.setdefault((s["bucket"], s["L"]), []).append(d + (s.get("compact_s") or 0.0))
            else:
                pre.setdefault(s["tokens"], []).append(d)
        self._decode = {k: float(np.mean(v)) for k, v in dec.items()}
        self._prefill = {k: float(np.mean(v)) for k, v in pre.items()}

    def __getattr__(self, name: str) -> Any:  # capacity, KV size, idle power: the cost model's
        return getattr(self.inner, name)

    def step(self, shape: Any) -> Any:
        cost = self.inner.step(shape)
        t = None
        if shape.prefill_seqs == 0 and shape.decode_seqs and shape.decode_queries == 1:
            rows = shape.decode_seqs
            t = self._decode.get((rows, shape.decode_context // rows + 1))
        elif shape.decode_seqs == 0 and shape.prefill_seqs == 1:
            t = self._prefill.get(shape.prefill_tokens)
        if t is None:
            self.misses += 1
            return cost
        self.hits += 1
        return type(cost)(t, cost.energy_j)


def simulate_with_measured_steps(
    record: dict[str, Any], model: ModelConfig, chip: ChipSpec, params: CostParams
) -> tuple[Any, MeasuredStepOracle]:
    oracle = MeasuredStepOracle(record, CostOracle(model, chip, params))
    res = simulate(
        replay_requests(record),
        oracle,
        scheduler=scheduler_of(record),
        max_num_seqs=record["policy"]["max_num_seqs"],
    )
    return res, oracle


def compare(record: dict[str, Any], result: Any) -> list[Comparison]:
    done = [r for r in record["requests"] if r.get("first_token_s") is not None]
    meas = {
        "ttft_s": np.array([r["ttft_s"] for r in done]),
        "tpot_s": np.array([r["tpot_s"] for r in done if r.get("tpot_s") is not None]),
    }
    pred = {"ttft_s": result.per_request["ttft_s"], "tpot_s": result.per_request["tpot_s"]}
    out = []
    for metric in ("ttft_s", "tpot_s"):
        p = pred[metric][np.isfinite(pred[metric])]
        for q, name in ((50, "p50"), (90, "p90")):
            out.append(
                Comparison(metric, name, float(np.percentile(meas[metric], q)), float(np.percentile(p, q)))
            )
    return out


def step_errors(
    record: dict[str, Any], model: ModelConfig, chip: ChipSpec, params: CostParams, timer: Any = None
) -> dict[str, np.ndarray]:
    """Each replayed step's predicted / measured time - 1 (decode at its padded shape; prefill eager)."""
    from jalapeno.cost.step import Estimator
    from jalapeno.graph.batch import Batch
    from jalapeno.graph.builder import build_graph

    est = Estimator(chip, params, 1, timer)
    memo: dict[tuple[str, int, int], float] = {}
    out: dict[str, list[float]] = {"decode": [], "prefill": []}
    for s in record["steps"]:
        if s["kind"] == "decode":
            key = ("decode", s["bucket"], s["L"])
            if key not in memo:
                memo[key] = est.step(build_graph(model, Batch.decode(s["bucket"], s["L"] - 1))).time_s
        else:
            key = ("prefill", s["tokens"], 0)
            if key not in memo:
                memo[key] = est.step(build_graph(model, Batch.prefill(s["tokens"])), cuda_graph=False).time_s
        out[s["kind"]].append(memo[key] / (s["end_s"] - s["start_s"]) - 1.0)
    return {k: np.array(v) for k, v in out.items()}


def markdown_section(
    record: dict[str, Any],
    comparisons: list[Comparison],
    steps: dict[str, np.ndarray],
    sim_wall_s: float,
    source: str,
    scheduling: list[Comparison] | None = None,
    scheduling_hits: tuple[int, int] = (0, 0),
) -> str:
    from jalapeno.report.markdown import apct, pct, table

    pol = record["policy"]
    n = len(record["requests"])
    lines = [
        "## Serving: the simulator against a real GPU replay",
        "",
        (
            f"`{source}`: {n} requests of `{record['trace']}` [{record['slice']['start_s']:g}, "
            f"{record['slice']['start_s'] + record['slice']['duration_s']:g}) s replayed by wall clock "
            f"through `jalapeno measure serve` on {record['device'].get('name', '?')} "
            f"({record['measured']}): {record['model']} (random bf16 weights), policy `{pol['name']}` (one "
            f"whole prefill a step, else one decode step of all running; max {pol['max_num_seqs']} running), "
            f"decode steps replayed from CUDA graphs padded to batch buckets {pol['batch_buckets']} and to "
            f"the longest context rounded up to {pol['context_bucket']}, attention "
            f"`{pol.get('decode_attention', 'masked')}`; "
            f"prompts capped at {pol['max_prompt']} and outputs at {pol['max_output']} tokens."
        ),
        "",
        (
            "The simulator replays the same requests with the same policy (`PrefillFirstScheduler`, padding "
            "included) on the calibrated H200 cost model. Nothing was fitted to this replay."
        ),
        "",
        table(
            ["metric", "measured", "predicted", "error", "goal"],
            [
                [
                    f"{c.metric.replace('_s', '')} {c.quantile}",
                    f"{c.measured * 1e3:.2f} ms",
                    f"{c.predicted * 1e3:.2f} ms",
                    pct(c.error),
                    "met" if abs(c.error) <= 0.10 else "**missed** (10%)",
                ]
                for c in comparisons
            ],
            "lrrrl",
        ),
        "",
        "Step by step (every replayed step priced at its real shape):",
        "",
        table(
            ["steps", "count", "median error", "median abs error", "p90 abs error"],
            [
                [
                    k,
                    str(v.size),
                    pct(float(np.median(v))),
                    apct(float(np.median(np.abs(v)))),
                    apct(float(np.percentile(np.abs(v), 90))),
                ]
                for k, v in steps.items()
                if v.size
            ],
            "lrrrr",
        ),
        "",
        *_by_shape(record, steps),
    ]
    if scheduling:
        hits, misses = scheduling_hits
        lines += [
            (
                "Scheduling check: the same simulation with each step costing its *measured* duration (mean "
                f"of the replay's steps of that shape; {hits} of {hits + misses} simulated steps found one). "
                "If this matches, the simulator's mirror of the engine's policy is right and the error above "
                "is the cost of steps alone:"
            ),
            "",
            table(
                ["metric", "measured", "simulated, measured step times", "error"],
                [
                    [
                        f"{c.metric.replace('_s', '')} {c.quantile}",
                        f"{c.measured * 1e3:.2f} ms",
                        f"{c.predicted * 1e3:.2f} ms",
                        pct(c.error),
                    ]
                    for c in scheduling
                ],
                "lrrr",
            ),
            "",
        ]
    lines.append(f"Simulating the replay took {sim_wall_s:.2f} s.")
    return "\n".join(lines)


def _by_shape(record: dict[str, Any], steps: dict[str, np.ndarray]) -> list[str]:
    """Step errors by prompt length (prefills) and batch bucket (decodes): where the cost model misses."""
    from jalapeno.report.markdown import pct, table

    rows = []
    pre = [s for s in record["steps"] if s["kind"] == "prefill"]
    dec = [s for s in record["steps"] if s["kind"] == "decode"]
    if pre and steps.get("prefill") is not None and steps["prefill"].size == len(pre):
        toks = np.array([s["tokens"] for s in pre])
        dur = np.array([s["end_s"] - s["start_s"] for s in pre])
        for lo, hi in ((0, 300), (300, 600), (600, 1200), (1200, 3000), (3000, 1 << 30)):
            k = (toks >= lo) & (toks < hi)
            if k.any():
                label = f"prefill {lo}-{hi - 1} tokens" if hi < 1 << 30 else f"prefill >= {lo} tokens"
                rows.append(
                    [
                        label,
                        str(int(k.sum())),
                        f"{np.median(dur[k]) * 1e3:.2f} ms",
                        pct(float(np.median(steps["prefill"][k]))),
                    ]
                )
    if dec and steps.get("decode") is not None and steps["decode"].size == len(dec):
        bucket = np.array([s["bucket"] for s in dec])
        dur = np.array([s["end_s"] - s["start_s"] for s in dec])
        for b in sorted(set(bucket.tolist())):
            k = bucket == b
            rows.append(
                [
                    f"decode, batch bucket {b}",
                    str(int(k.sum())),
                    f"{np.median(dur[k]) * 1e3:.2f} ms",
                    pct(float(np.median(steps["decode"][k]))),
                ]
            )
    if not rows:
        return []
    return ["By shape:", "", table(["steps", "count", "median measured", "median error"], rows, "lrrr"), ""]
