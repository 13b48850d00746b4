"""TensorRT-LLM's attention-DP balance: when the ranks of an attention-data-parallel group prefill.

With ``enable_attention_dp`` every rank of a group runs attention on its own requests, yet each step is one
collective forward pass, so the group's step lasts its slowest rank's (TensorRT-LLM tech blog 10, "ADP
Balance Strategy", docs/source/blogs/tech_blog/blog10_ADP_Balance_Strategy.md: "the iteration time is
dominated by the slowest rank"). A prompt prefilled on one rank stalls the other seven. The PyTorch
executor's ``attention_dp_config`` (``enable_balance``, ``timeout_iters``, ``batching_wait_iters``) holds
prompts back so that ranks prefill together (tensorrt_llm/_torch/pyexecutor/py_executor.py
``_balance_adp_requests``), each iteration, from the ranks' gathered counts:

* every rank has a waiting prompt (and a free slot): the wait counter resets; while every rank also has
  decoding requests, prompts stay held for ``batching_wait_iters`` more iterations, then all are released;
* otherwise the wait counter counts up and prompts stay held until it reaches ``timeout_iters`` (or some rank
  has nothing decoding), then every held prompt is released. The counter runs whether or not any prompt
  waits, so under light load the releases come every ``timeout_iters`` iterations like a clock.

So prompts enter in waves every ``R`` iterations (``release_period``) and the group pays, once a wave, a
step whose slowest rank carries the most prompt tokens any rank holds (``hottest_tokens``). Without chunked
context (every v5.1 DeepSeek-R1 configuration: ``enable_chunked_context`` False) a rank takes whole prompts
only, as many as fit its ``max_num_tokens`` beside its decode tokens. Decode-only steps replay CUDA graphs
padded to a captured batch size (``padded_rows``); a step in which any rank prefills runs eager on every
rank (model_engine.py ``_maybe_get_cuda_graph``: with attention DP a graph runs only when every rank's
batch is generation-only).

Assumptions, each stated where used: prompts reach a rank as a Poisson stream of rate q a step (the
executor's request queue deals new requests to the ranks with the fewest active requests, which are the
ranks that just finished some: random ranks); prompt lengths are gamma-distributed with the benchmark's mean
and spread. Nothing here is fitted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from jalapeno.errors import JalapenoError

TOKEN_BIN = 8  # tokens a grid cell of the prompt-token distribution (hottest_tokens)
POISSON_TAIL = 1e-12  # prompts a rank are summed until this much probability is left


@dataclass(frozen=True)
class ADPConfig:
    """A group's published attention-DP balance and scheduler settings (``cost.published_adp`` reads them
    from the submitters' configuration files). ``max_num_tokens``: tokens a rank's step may carry;
    ``max_concurrency``: the harness's requests in flight to one group; ``kv_mem_frac``: TensorRT-LLM's
    ``free_gpu_memory_fraction`` (the share of memory left after the weights given to the KV cache);
    ``graph_batch_sizes``: the captured CUDA-graph batch sizes a decode step pads up to."""

    max_num_tokens: int
    timeout_iters: int
    batching_wait_iters: int
    max_concurrency: int
    kv_mem_frac: float
    graph_batch_sizes: tuple[int, ...]
    source: str = ""

    def __post_init__(self) -> None:
        bad = [
            f
            for f, ok in (
                ("max_num_tokens", self.max_num_tokens >= 1),
                ("timeout_iters", self.timeout_iters >= 1),
                ("batching_wait_iters", self.batching_wait_iters >= 0),
                ("max_concurrency", self.max_concurrency >= 1),
                ("kv_mem_frac", 0.0 < self.kv_mem_frac <= 1.0),
                ("graph_batch_sizes", all(s >= 1 for s in self.graph_batch_sizes)),
            )
            if not ok
        ]
        if bad:
            raise JalapenoError(
                f"attention-DP config: {bad[0]} out of range ({getattr(self, bad[0])!r}); counts are "
                "positive integers (batching_wait_iters may be 0), kv_mem_frac in (0, 1]",
                field=bad[0],
            )


def release_period(q: float, dp: int, timeout_iters: int, wait_iters: int) -> float:
    """Mean iterations between two releases of held prompts (module docstring), for prompts reaching each
    of ``dp`` ranks at ``q`` a step (Poisson). All ranks hold one by iteration k with probability
    (1 - e^(-q k))^dp; if that first happens at k <= timeout, the release follows ``wait_iters`` later,
    else the timeout releases at ``timeout_iters``."""
    if q <= 0:
        return float(timeout_iters)
    k = np.arange(timeout_iters + 1, dtype=float)
    all_by = (1.0 - np.exp(-q * k)) ** dp  # P(every rank holds a prompt by iteration k)
    first = np.diff(all_by)  # P(that first happens at iteration k), k = 1..timeout
    return float(np.sum(first * (k[1:] + wait_iters)) + (1.0 - all_by[-1]) * timeout_iters)


def padded_rows(rows: int, sizes: tuple[int, ...]) -> int | None:
    """The captured CUDA-graph batch a decode step of ``rows`` requests a rank replays
    (``cuda_graph_padding_enabled``: the smallest captured size at least the largest rank's batch); None:
    larger than every captured size, so the step runs eager."""
    fit = [s for s in sizes if s >= rows]
    return min(fit) if fit else None


def _gamma_cells(mean: float, cv: float, cells: int) -> np.ndarray:
    """Probability of a prompt's length falling in each TOKEN_BIN-token cell below ``cells`` cells, for a
    gamma of this mean and coefficient of variation (shape 1 / cv^2); a fixed length where the spread is
    narrower than a cell."""
    p = np.zeros(cells)
    if mean * cv < TOKEN_BIN:
        i = int(mean // TOKEN_BIN)
        if i < cells:
            p[i] = 1.0
        return p
    shape, scale = 1.0 / cv**2, mean * cv**2
    x = (np.arange(cells) + 0.5) * TOKEN_BIN
    logpdf = (shape - 1) * np.log(x) - x / scale - math.lgamma(shape) - shape * math.log(scale)
    cell: np.ndarray = np.exp(logpdf) * TOKEN_BIN
    return cell


def hottest_tokens(m: float, dp: int, isl: float, isl_cv: float, room: int) -> float:
    """Expected prompt tokens the most loaded of ``dp`` ranks prefills in a release, at most ``room``
    (whole prompts that fit beside its decode tokens; the rest wait for the next release): each rank holds
    a Poisson(m) number of prompts of gamma lengths (mean ``isl``, cv ``isl_cv``); E[min(max, room)] is
    the integral over [0, room] of 1 - F(x)^dp, F the distribution of one rank's tokens."""
    if m <= 0 or room <= 0:
        return 0.0
    cells = room // TOKEN_BIN + 1
    one = _gamma_cells(isl, isl_cv, cells)
    k_pmf = [math.exp(-m)]  # P(k prompts), k = 0, 1, ...
    total = k_pmf[0] * np.eye(1, cells).ravel()  # P(tokens in each cell); 0 prompts: the first cell
    conv = np.eye(1, cells).ravel()
    k = 0
    while 1.0 - sum(k_pmf) > POISSON_TAIL and k < 10_000:
        k += 1
        k_pmf.append(k_pmf[-1] * m / k)
        conv = np.convolve(conv, one)[:cells]
        total += k_pmf[-1] * conv
    right = np.minimum(np.cumsum(total), 1.0)[: room // TOKEN_BIN]  # F at each cell's upper edge
    left = np.concatenate(([math.exp(-m)], right[:-1]))  # and at its lower edge (0 prompts: F(0))
    return float(np.sum(1.0 - (left**dp + right**dp) / 2.0) * TOKEN_BIN)  # trapezoid rule
