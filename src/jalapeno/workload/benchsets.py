"""Request-length sets of published benchmarks (MLPerf Inference datasets, fixed ISL/OSL), by name.

A ``LengthSet`` is a tuple of (prompt tokens, output tokens) per sample, no text. ``requests(n, seed)``
draws ``n`` samples in a seeded random order (cycling through the set when ``n`` is larger, as MLPerf's
loadgen repeats its sample set) and returns ``Request`` values that all arrive at t=0; the bench layer
sets the arrival times (all at once for offline, Poisson for server).

The MLPerf sets are unmodified copies of the per-sample token lengths that
openshift-psap/performance-dashboard (Apache-2.0) extracted from the MLCommons datasets (``traces/mlperf/``,
provenance in ``traces/README.md``). MLPerf's Llama-2-70B benchmark generates its own answers; the MLCommons
reference documents their mean as 294.45 tokens a sample (``OPENORCA_GENERATED_MEAN``), while the dataset's
lengths are those of the GPT-4 reference answers (mean 218.9). ``mlperf-llama2-70b`` therefore scales every
output length by one factor, chosen so that the mean after clipping to MLPerf's 1,024-token generation limit
is 294.45; the prompts are kept as they are. ``mlperf-llama2-70b-reference`` keeps the reference answers'
lengths.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from jalapeno.errors import JalapenoError
from jalapeno.workload.request import Request

MLPERF_DIR = Path(__file__).parent / "traces" / "mlperf"
OPENORCA_GENERATED_MEAN = 294.45  # mlcommons/inference language/llama2-70b/README.md, "Tokens per sample"
OPENORCA_MAX_NEW_TOKENS = 1024  # processorca.py --seqlen_limit / the reference SUT's max_new_tokens

_DASHBOARD = (
    "Per-sample token lengths extracted from the MLCommons MLPerf Inference datasets by "
    "https://github.com/openshift-psap/performance-dashboard (mlperf-data/summaries/, commit 71007029), "
    "unmodified; Apache-2.0 (licenses/Apache-2.0_performance-dashboard_LICENSE.txt). Datasets: MLCommons "
    "inference (https://github.com/mlcommons/inference)"
)


@dataclass(frozen=True)
class LengthSet:
    """Per-sample (prompt, output) token counts of a benchmark dataset."""

    name: str
    prompt_tokens: tuple[int, ...]
    output_tokens: tuple[int, ...]
    description: str
    attribution: str

    def __post_init__(self) -> None:
        if not self.prompt_tokens or len(self.prompt_tokens) != len(self.output_tokens):
            raise JalapenoError(
                "needs one prompt and one output length per sample, at least one", field=self.name
            )
        if min(self.prompt_tokens) < 1 or min(self.output_tokens) < 1:
            raise JalapenoError("token counts must be >= 1", field=self.name)

    def __len__(self) -> int:
        return len(self.prompt_tokens)

    def order(self, n: int, seed: int) -> np.ndarray:
        """Sample indices for ``n`` requests: seeded permutations of the set, repeated as needed."""
        rng = np.random.default_rng(seed)
        reps = -(-n // len(self))
        return np.concatenate([rng.permutation(len(self)) for _ in range(reps)])[:n]

    def requests(self, n: int, seed: int = 0) -> tuple[Request, ...]:
        """``n`` requests, all arriving at t=0, in a seeded random order of the samples."""
        idx = self.order(n, seed)
        p, o = np.asarray(self.prompt_tokens), np.asarray(self.output_tokens)
        return tuple(Request(i, 0.0, int(p[k]), int(o[k])) for i, k in enumerate(idx))

    @property
    def mean_prompt(self) -> float:
        return float(np.mean(self.prompt_tokens))

    @property
    def mean_output(self) -> float:
        return float(np.mean(self.output_tokens))


def fixed(isl: int, osl: int) -> LengthSet:
    """Every request reads ``isl`` and writes ``osl`` tokens (TensorRT-LLM / ROCm perf tables)."""
    for flag, v in (("--isl", isl), ("--osl", osl)):
        if not isinstance(v, int) or v < 1:
            raise JalapenoError(f"must be an integer >= 1, got {v!r}", field=flag)
    return LengthSet(f"fixed-{isl}-{osl}", (isl,), (osl,), f"fixed ISL {isl} / OSL {osl}", "synthetic")


def _read(file: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    with (MLPERF_DIR / file).open(newline="", encoding="utf-8") as fh:
        rows = [(int(r["input_length"]), int(r["output_length"])) for r in csv.DictReader(fh)]
    return tuple(r[0] for r in rows), tuple(r[1] for r in rows)


def scale_to_mean(lengths: tuple[int, ...], mean: float, cap: int) -> tuple[int, ...]:
    """Lengths times one factor (rounded, clipped to [1, cap]) whose mean is ``mean`` to 0.01 token."""
    x = np.asarray(lengths, dtype=float)

    def scaled(f: float) -> np.ndarray:
        return np.clip(np.rint(x * f), 1, cap)

    lo, hi = 0.0, 2.0 * cap / max(1.0, float(x.min()))  # at hi every length is at the cap
    for _ in range(60):  # bisection on the factor: the clipped mean is monotone in it
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if scaled(mid).mean() < mean else (lo, mid)
    return tuple(int(v) for v in scaled(hi))


@cache
def _llama2(generated: bool) -> LengthSet:
    p, o = _read("llama2-70b-99.csv")
    if generated:
        o = scale_to_mean(o, OPENORCA_GENERATED_MEAN, OPENORCA_MAX_NEW_TOKENS)
        desc = (
            "MLPerf Llama-2-70B OpenOrca, 24,576 samples: prompt lengths as published, output lengths "
            f"scaled to Llama-2-70B's documented mean of {OPENORCA_GENERATED_MEAN} tokens"
        )
    else:
        desc = "MLPerf Llama-2-70B OpenOrca, 24,576 samples: prompt and GPT-4 reference-answer lengths"
    return LengthSet("mlperf-llama2-70b" + ("" if generated else "-reference"), p, o, desc, _DASHBOARD)


@cache
def _plain(name: str, file: str, desc: str) -> LengthSet:
    p, o = _read(file)
    return LengthSet(name, p, o, desc, _DASHBOARD)


MLPERF_SETS: dict[str, str] = {
    "mlperf-llama2-70b": "MLPerf Llama-2-70B (OpenOrca, 24,576), outputs at the documented 294.45 mean",
    "mlperf-llama2-70b-reference": "MLPerf Llama-2-70B (OpenOrca, 24,576), GPT-4 reference output lengths",
    "mlperf-llama3.1-405b": "MLPerf Llama-3.1-405B (8,313 samples), reference output lengths",
    "mlperf-deepseek-r1": "MLPerf DeepSeek-R1 (4,388 samples), reference output lengths",
    "mlperf-mixtral-8x7b": "MLPerf Mixtral-8x7B (OpenOrca+GSM8K+MBXP, 15,000), reference output lengths",
    "mlperf-llama3.1-8b": "MLPerf Llama-3.1-8B (CNN/DailyMail, 13,368), outputs approximate (characters / 4)",
}
FILES = {
    "mlperf-llama3.1-405b": "llama3-1-405b.csv",
    "mlperf-deepseek-r1": "deepseek-r1.csv",
    "mlperf-mixtral-8x7b": "mixtral-8x7b.csv",
    "mlperf-llama3.1-8b": "llama3-1-8b.csv",
}
# the set each MLPerf-limited model uses by default (bench --dataset)
DEFAULT_SET = {
    "llama-2-70b": "mlperf-llama2-70b",
    "llama-3.1-405b": "mlperf-llama3.1-405b",
    "deepseek-v3": "mlperf-deepseek-r1",
    "mixtral-8x7b": "mlperf-mixtral-8x7b",
}


def load_set(name: str) -> LengthSet:
    """A bundled MLPerf length set by name (``MLPERF_SETS``)."""
    key = name.strip().lower()
    if key == "mlperf-llama2-70b":
        return _llama2(True)
    if key == "mlperf-llama2-70b-reference":
        return _llama2(False)
    if key in FILES:
        return _plain(key, FILES[key], MLPERF_SETS[key])
    raise JalapenoError(f"unknown length set {name!r}; bundled: {', '.join(MLPERF_SETS)}", field="--dataset")
