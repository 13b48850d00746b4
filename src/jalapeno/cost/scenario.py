"""Closed-form MLPerf-style scenario throughput: the predictor the published-results fit uses by default.

A replica of ``tp`` chips keeps ``B`` requests decoding; every step, B / OSL of them finish and are
replaced, so each step also carries that share of a prompt's prefill. One output token per request per
cycle, cycle(B) = decode_step(B, mean context) + (B / OSL) x prefill(ISL). Throughput = B / cycle(B).
- offline: B as large as the KV cache (90% of memory after weights) and the batch cap allow; a paged
  KV cache holds each running request's tokens so far: ISL + OSL/2 on average if every request wrote the
  mean, ISL + E[n^2] / (2 E[n]) with the dataset's output lengths n (long answers stay longer in the
  batch: ``running_context``);
- server / interactive: the largest B, found by bisection, that meets three p99 limits.
  TPOT: a request's TPOT averages its decode steps; the prefills it shares them with are about B prompts
  (the batch turns over once in OSL steps), a Poisson count of prompts of varying length, so the p99
  request carries 1 + 2.33 sqrt((1 + cv^2) / B) times the mean prefill share (cv: the prompt lengths'
  coefficient of variation; normal approximation). MLPerf's TPOT is per request, so a request with n
  output tokens averages over n steps only and meets B n / OSL prompts: its share has variance
  (1 + cv^2) OSL / (B n). Given the dataset's output lengths (``osl_fractions``: quantiles of n / OSL),
  the p99 over requests solves mean_n P(share > x) = 1%; short answers dominate it.
  TTFT: prompts arrive as a Poisson stream (B / OSL per cycle) and queue for the prefill, a single
  server busy a share rho = (B / OSL) x prefill / cycle of the time: an M/G/1 queue. Its waiting-time
  tail is Kingman's exponential (heavy-traffic) approximation,
  P(W > t) = rho exp(-2 (1 - rho) t / (E[S] (ca^2 + cv^2))), ca^2 = 1 for Poisson arrivals; a harness
  that deals the system's Poisson stream to its R replicas in turn (``ServingConfig.round_robin``) gives
  each replica Erlang-R gaps, ca^2 = 1 / R (GI/G/1). So p99 TTFT = W99 + the time a prompt
  rides to its first token (``ReplicaSteps.first_token_s``): engines batch only at step boundaries, so
  half a mean step waiting out the step in flight, then the step that finishes the prompt (a whole step
  even where the prompt is a fraction of the room; the MLPerf logs' mean TTFT is 1.6-2.0 mean steps on
  the Llama-2-70B server rows, where the queue is light) after any full chunk steps before it. Long prompts
  (Llama-3.1-405B's 9.4k tokens, a second of prefill) make this the binding limit long before TPOT;
  short ones (Llama-2-70B's 222) leave it slack.
  Batch cap: the cap (KV cache or MAX_BATCH) must hold the p99 of the decoding requests' number, not
  only its mean: with Poisson arrivals each staying OSL cycles, that number is Poisson (M/G/inf), so
  B + 2.33 sqrt(B) <= cap (square-root staffing); past the cap an arrival would wait a whole request's
  life (OSL cycles, tens of seconds) for a slot, far over the TTFT limit;
- fixed: ISL/OSL given by the row, no latency limit (a vendor's max-throughput table).
The best tensor-parallel degree that divides the system's chips wins (submitters pick theirs too).
Where a row names its submitter's published serving configuration (``ServingConfig``: pipeline stages,
the batch cap of one replica, a per-step token budget, CUDA graphs), the replica runs that instead of the
defaults (no pipeline, MAX_BATCH per chip, separate batch-16 prefills, graphs on): ``cost.scenario_steps``
prices its cycles.
A discrete-event bench (serving layer) may replace this; the fit only needs ``row -> tokens/s per chip``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jalapeno.cost.oracle import kv_bytes_per_token, weight_bytes
from jalapeno.cost.params import CostParams
from jalapeno.cost.scenario_steps import PREFILL_BATCH as PREFILL_BATCH
from jalapeno.cost.scenario_steps import ReplicaSteps, budget_batch
from jalapeno.cost.step import Estimator
from jalapeno.graph.precision import Precision
from jalapeno.hardware.spec import ChipSpec
from jalapeno.models.config import ModelConfig

if TYPE_CHECKING:
    from jalapeno.cost.published import ServingConfig

MAX_BATCH = 1024  # per chip of the replica (as cost/sanity.py)
MEMORY_FRACTION = 0.9
Z99 = 2.326  # standard normal 99th percentile
PRECISIONS = {
    "fp8": ("fp8", "fp8", "fp8"),
    "fp4": ("nvfp4", "nvfp4", "fp8"),
    "mxfp4": ("mxfp4", "mxfp4", "fp8"),
    "bf16": ("bf16", "bf16", "bf16"),
}


def precision_of(name: str) -> Precision:
    """A published precision label -> weights, activations, KV (4-bit runs keep an fp8 KV cache)."""
    return Precision.of(*PRECISIONS[name])


@dataclass(frozen=True)
class ScenarioResult:
    tokens_per_s_per_chip: float
    tp: int
    batch: int
    cycle_s: float
    decode_step_s: float
    prefill_s: float
    power_w_per_chip: float = 0.0  # mean chip power at this operating point (decode steps + their prefills)


def predict(
    model: ModelConfig,
    chip: ChipSpec,
    params: CostParams,
    precision: Precision,
    n_chips: int,
    isl: int,
    osl: int,
    limits: tuple[float, float] | None,
    tps: tuple[int, ...] | None = None,
    isl_cv: float = 0.0,
    osl_fractions: tuple[float, ...] = (),
    cfg: ServingConfig | None = None,
) -> ScenarioResult | None:
    """Best per-chip throughput over tensor-parallel degrees ``tps`` (default: 1, 2, 4, 8 that divide the
    system's chips and fit its scale-up domain); None: the model fits no replica. ``cfg``: the submitter's
    published serving configuration (pipeline stages, batch cap, token budget, CUDA graphs;
    ``cost.scenario_steps``), None for the defaults."""
    domain = chip.scale_up_chips
    tps = tps or tuple(t for t in (1, 2, 4, 8) if t <= min(n_chips, domain) and n_chips % t == 0)
    results = [
        r
        for t in tps
        if (
            r := _replica(
                model, chip, params, precision, t, isl, osl, limits, isl_cv, osl_fractions, cfg, n_chips
            )
        )
    ]
    return max(results, key=lambda r: r.tokens_per_s_per_chip, default=None)


def p99_prefill_factor(batch: int, isl_cv: float, osl_fractions: tuple[float, ...] = ()) -> float:
    """The p99 request's prefill share over the mean one (module docstring); without ``osl_fractions``
    every request writes the mean output length."""
    if not osl_fractions:
        return 1.0 + Z99 * math.sqrt((1.0 + isl_cv**2) / max(batch, 1))
    sds = [math.sqrt((1.0 + isl_cv**2) / (max(batch, 1) * f)) for f in osl_fractions]

    def tail(x: float) -> float:  # share of requests whose prefill share exceeds x times the mean
        return sum(0.5 * math.erfc((x - 1.0) / (sd * math.sqrt(2.0))) for sd in sds) / len(sds)

    lo, hi = 1.0, 1.0 + Z99 * max(sds)  # tail(hi) <= 1% (every request's own p99 is below hi)
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if tail(mid) > 0.01 else (lo, mid)
    return hi


def running_context(isl: int, osl: int, osl_fractions: tuple[float, ...] = ()) -> int:
    """Mean tokens a running request holds: its prompt plus the output written so far. A request that
    writes n tokens is in the batch for n steps, so the batch over-samples long answers (the inspection
    paradox): at a random step its output so far is uniform on [0, n] with n length-biased, mean
    E[n^2] / (2 E[n]) = OSL x E[f^2] / 2 for f = n / OSL. Without the distribution every request writes
    the mean (OSL / 2). Llama-2-70B's OpenOrca answers (E[f^2] = 1.6) hold 455 tokens, not 367."""
    if not osl_fractions:
        return isl + osl // 2
    f2 = sum(f * f for f in osl_fractions) / len(osl_fractions)
    return isl + round(osl * f2 / 2)


def fits_cap(batch: int, cap: int) -> bool:
    """The p99 of a Poisson number of decoding requests of mean ``batch`` stays within ``cap`` (module
    docstring); a single request always fits."""
    return batch <= 1 or batch + Z99 * math.sqrt(batch) <= cap


def ttft_p99_s(prefill_s: float, rho: float, isl_cv: float, arrival_cv2: float = 1.0) -> float:
    """p99 time to first token of a GI/G/1 prefill queue (module docstring): p99 wait plus the mean
    prefill; infinite at rho >= 1 (the queue grows without bound). ``arrival_cv2``: the interarrival gaps'
    squared cv, 1 for Poisson arrivals (M/G/1), 1 / R for every R-th arrival of one (round-robin dispatch
    over R replicas: Erlang-R gaps); Kingman's tail scales the wait by (ca^2 + cs^2) / 2."""
    if rho >= 1.0:
        return math.inf
    wait = (
        max(0.0, math.log(100.0 * rho)) * prefill_s * (arrival_cv2 + isl_cv**2) / (2.0 * (1.0 - rho))
        if rho > 0
        else 0.0
    )
    return wait + prefill_s


def tpot_p99_at(rs: ReplicaSteps, b: int, isl_cv: float, osl_fractions: tuple[float, ...] = ()) -> float:
    """p99 time per output token at batch b (module docstring): the mean cycle with the p99 request's
    prefill share, capped where a budget bounds a step's chunk."""
    c = rs.cycle(b)
    # prompts that reach the engine in bursts of k: their count's variance is k times a Poisson count's
    # (cost.vllm_host), carried as the prompt lengths' spread: 1 + cv^2 -> k + cv^2
    cv = math.sqrt(isl_cv**2 + rs.burst(b) - 1.0)
    f = min(p99_prefill_factor(b, cv, osl_fractions), rs.p99_prefill_cap(b))
    return c.time_s + (f - 1.0) * c.prefill_s


def ttft_p99_at(rs: ReplicaSteps, b: int, isl_cv: float) -> float:
    """p99 time to first token at batch b: the prefill server's M/G/1 p99 wait (``ttft_p99_s`` less its
    mean service) plus the steps a prompt rides to its first token (``ReplicaSteps.first_token_s``); an
    engine that holds prompts for a paced release instead (``ReplicaSteps.held_ttft_p99_s``) gives its own."""
    held = rs.held_ttft_p99_s(b)
    if held is not None:
        return held
    service, rho = rs.prefill_service(b)
    return ttft_p99_s(service, rho, isl_cv, rs.arrival_cv2) - service + rs.first_token_s(b)


def replica_setup(
    model: ModelConfig,
    chip: ChipSpec,
    params: CostParams,
    precision: Precision,
    tp: int,
    isl: int,
    osl: int,
    osl_fractions: tuple[float, ...] = (),
    cfg: ServingConfig | None = None,
    n_chips: int | None = None,
    *,
    isl_cv: float = 0.0,
) -> tuple[ReplicaSteps, int, int] | None:
    """A replica of tp x pp chips: its step pricer, its chips and its batch cap (the running requests its KV
    cache holds after the weights, within the published or default batch cap); None: the weights do not
    fit; ``n_chips``: the system's chips (its replicas share one harness: cost.vllm_host). ``isl_cv``: the
    prompt lengths' spread, which places prefill attention (``biased_isl``)."""
    chips = tp * (cfg.pp if cfg else 1)
    free = chip.memory_bytes * chips * MEMORY_FRACTION - weight_bytes(model, precision)
    if free <= 0:
        return None
    ctx = running_context(isl, osl, osl_fractions)
    est = Estimator(chip, params, tp, gemm_allreduce=bool(cfg and cfg.gemm_allreduce))
    replicas = max(1, (n_chips or chips) // chips)  # the system's replicas share a harness's arrivals
    rs = ReplicaSteps(model, est, precision, isl, osl, ctx, cfg, replicas, isl_cv=isl_cv)
    cap = cfg.max_batch if cfg and cfg.max_batch else MAX_BATCH * chips
    return rs, chips, int(max(1, min(cap, free // (kv_bytes_per_token(model, precision) * ctx))))


def _replica(
    model: ModelConfig,
    chip: ChipSpec,
    params: CostParams,
    precision: Precision,
    tp: int,
    isl: int,
    osl: int,
    limits: tuple[float, float] | None,
    isl_cv: float = 0.0,
    osl_fractions: tuple[float, ...] = (),
    cfg: ServingConfig | None = None,
    n_chips: int | None = None,
) -> ScenarioResult | None:
    replica = replica_setup(
        model, chip, params, precision, tp, isl, osl, osl_fractions, cfg, n_chips, isl_cv=isl_cv
    )
    if replica is None:
        return None
    rs, chips, b_max = replica
    if rs.budget is not None and limits is None:  # offline: the steady state must fit the budget
        b_max = min(b_max, budget_batch(rs.budget, isl, osl, rs.micro_batches))
    b = best_batch(rs, b_max, limits, isl_cv, osl_fractions)
    if b is None:
        return None
    c = rs.cycle(b)
    per_chip = b / c.time_s / chips
    power = c.energy_j / c.time_s / chips
    return ScenarioResult(per_chip, tp, b, c.time_s, c.decode_s, rs.prefill_at(b)[0], power)


def best_batch(
    rs: ReplicaSteps,
    cap: int,
    limits: tuple[float, float] | None,
    isl_cv: float,
    osl_fractions: tuple[float, ...] = (),
) -> int | None:
    """The operating batch of a replica (or expert-parallel group) whose batch cap is ``cap``: offline
    (``limits`` None) the cap; else the largest batch whose p99 TTFT and TPOT meet (TTFT, TPOT) with the
    Poisson count of requests within the cap; then the best throughput among it and the row-tile multiples
    just below (``tile_aligned``). None: one request already misses a limit."""
    ok = None
    if limits is not None:
        ttft, tpot = limits

        def ok(b: int) -> bool:
            return (
                fits_cap(b, cap)
                and tpot_p99_at(rs, b, isl_cv, osl_fractions) <= tpot
                and ttft_p99_at(rs, b, isl_cv) <= ttft
            )

        if not ok(1):  # a single request always fits the cap
            return None
        top = _largest(ok, cap)
    else:
        top = cap
    return max(
        tile_aligned(top),
        key=lambda b: (b / rs.cycle(b).time_s, b) if ok is None or ok(b) else (0.0, b),
    )


BATCH_ALIGN = (16, 32, 64, 128, 256)  # GEMM row tiles: a batch just past a multiple pads a whole tile


def tile_aligned(b: int) -> tuple[int, ...]:
    """The largest feasible batch and the tile multiples just below it: throughput B / cycle(B) dips
    when B spills into a new row tile (257 rows run as 384), so a submitter tuning its batch size (as
    every MLPerf configuration does) stops at a multiple; the caller keeps the best."""
    return tuple(sorted({b, *((b // q) * q for q in BATCH_ALIGN if b >= q)}, reverse=True))


def _largest(ok: Callable[[int], bool], hi: int) -> int:
    """Largest b in [1, hi] with ok(b), for ok monotone (true then false); ok(1) holds."""
    if ok(hi):
        return hi
    lo = 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo
