"""What one decode cycle of a serving replica costs, under its submitter's published configuration.

``cost.scenario`` asks this module for a replica's cycle time at B running requests: the time in which
every request writes one token, the prefill admitted meanwhile included. Two engines:

* default (no published configuration, or one without a token budget): decode steps of B rows, CUDA graphs
  on, and B / OSL prompts a cycle prefilled in separate batch-16 prefill steps (``PREFILL_BATCH``);
* chunked prefill under a per-step token budget T (TensorRT-LLM's ``max_num_tokens`` with chunked context,
  vLLM's ``max_num_batched_tokens`` with chunked prefill): a step carries the B decode tokens and, while a
  prompt waits, as many of its tokens as the budget leaves (T - B, the room), in one fused forward pass
  that reads the weights once and pays the step overhead once. Both schedulers fill the room: TensorRT-LLM's
  micro-batch scheduler sizes each context chunk to the tokens left after the generation requests
  (``context_chunking_policy: first_come_first_served`` in the MLPerf configurations;
  cpp/tensorrt_llm/batch_manager/microBatchScheduler.cpp: min(remaining prompt, max_num_tokens - generation
  tokens), rounded down to the chunk unit), vLLM's gives a
  waiting prompt the token budget the running requests leave. So a prompt's prefill takes ISL / (T - B)
  full steps, and in steady state (B / OSL prompts a step: the batch turns over once in OSL steps) a share
  B ISL / OSL / (T - B) of the steps carry a full chunk and the rest only decode. The mean step is that mix,
  not one step with the mean chunk B ISL / OSL spread evenly: a small chunk hides under the weight
  stream that a decode step pays anyway, a full one does not, so the even spread would under-price the
  prefill (by 3x for Llama-3.1-405B at B = 4 and T = 2560 on 8 H200s). Feasible only while
  B (1 + ISL / OSL) <= T (``budget_batch``); the prefill server's load is the prompts' arrival rate times
  a prompt's service time (``prefill_service``).

Pipeline parallelism (``pp`` stages of ``tp`` chips): the batch runs as ``pp`` micro-batches in flight
(TensorRT-LLM's and vLLM's in-flight pipelines), each a step of B / pp rows (and its chunk; the budget
holds per micro-batch), priced by ``cost.pipeline.graph_pipeline``: a token's time is the pipeline's
interval (max of one micro-batch's pass through every stage and the transfers, and pp x the slowest
stage), so throughput per chip ~ that of a stage and a token's latency sums the stages.

vLLM V0 engines (``scheduler_steps`` set, AMD's MLPerf runs; ``cost.vllm_host``): each decode step pays the
host bubble over its scheduler steps and each separate prefill step a whole one; a multi-step engine or a
harness batcher feeds the prefill in bursts, so a prefill step carries the burst (``burst``), a prompt waits
up to the hold (``hold``) and the p99 TPOT sees the burst's larger count variance.

The fused GEMM + SwiGLU plugin (``fused_swiglu``, TensorRT-LLM's gemm_swiglu_plugin): every step runs
without the SwiGLU op, its gate/up GEMM writing the gated half (``cost.fused_swiglu``).

CUDA graphs off (``cuda_graphs=False``): every step is priced eager (``Estimator.step(cuda_graph=False)``):
the host launches each kernel while the device runs the previous ones, so a step lasts the longer of the
device's work and the host's launches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from jalapeno.cost.fused_swiglu import fused_swiglu
from jalapeno.cost.pipeline import ceil_div, graph_pipeline
from jalapeno.cost.step import Estimator
from jalapeno.cost.vllm_host import (
    burst_prompts,
    bursty,
    decode_bubble_s,
    hold_s,
    prefill_bubble_s,
)
from jalapeno.graph.batch import Batch, Sequence
from jalapeno.graph.builder import Graph, build_graph
from jalapeno.graph.precision import Precision
from jalapeno.models.config import ModelConfig

if TYPE_CHECKING:
    from jalapeno.cost.published import ServingConfig

PREFILL_BATCH = 16


@lru_cache(maxsize=4096)
def graph_of(model: ModelConfig, phase: str, n: int, ctx: int, precision: Precision) -> Graph:
    if phase == "decode":
        return build_graph(model, Batch.decode(n, ctx), precision)
    return build_graph(model, Batch.prefill(ctx, 0, batch=n), precision)


def biased_isl(isl: int, isl_cv: float) -> int:
    """The mean length of the prompt a prefill token belongs to: E[L^2] / E[L] = ISL (1 + cv^2) for prompt
    lengths L of mean ISL and coefficient of variation cv. A long prompt holds more of the tokens a step
    prefills (the inspection paradox, as ``scenario.running_context`` for outputs), so a prefill token sits
    on average E[L^2] / (2 E[L]) tokens into its prompt, not ISL / 2, and attends to that many: a prompt's
    causal attention is L^2 / 2 pairs, which the mean prompt under-counts by 1 + cv^2 (Llama-3.1-405B's
    prompts, cv 0.43: 18.5% more attention work than 9,429-token prompts)."""
    return round(isl * (1.0 + isl_cv**2))


@lru_cache(maxsize=4096)
def prefill_graph(model: ModelConfig, n: int, isl: int, biased: int, precision: Precision) -> Graph:
    """A separate prefill step of ``n`` prompts of ``isl`` tokens whose attention is that of prompts of the
    length-biased mean ``biased`` (``biased_isl``): each attends to (biased - ISL) / 2 more keys a query,
    ISL (biased - ISL) / 2 more pairs, so its pairs are ISL x biased / 2, E[L^2] / 2 a prompt."""
    if biased <= isl:
        return graph_of(model, "prefill", n, isl, precision)
    return build_graph(model, Batch((Sequence(isl, (biased - isl) // 2),) * n), precision)


@lru_cache(maxsize=4096)
def mixed_graph(
    model: ModelConfig,
    rows: int,
    ctx: int,
    chunk: int,
    isl: int,
    precision: Precision,
    biased: int | None = None,
) -> Graph:
    """``rows`` decode requests at ``ctx`` cached tokens plus ``chunk`` prefill tokens of prompts of ``isl``
    tokens (``chunk`` tokens exactly): whole prompts while the chunk holds them, and a piece of a prompt at
    the mean already-prefilled prefix of a prompt cut into such pieces ((L - piece) / 2, L the length-biased
    mean prompt ``biased``, ISL where not given: ``biased_isl``), so attention work sums to the prompts'."""
    seqs = [Sequence(1, ctx)] * rows
    at = biased or isl
    if chunk >= 1:
        piece = min(chunk, isl)
        n, rest = divmod(chunk, piece)
        seqs += [Sequence(piece, max(0, (at - piece) // 2))] * n
        if rest:  # the chunk's last, partial prompt
            seqs.append(Sequence(rest, max(0, (at - rest) // 2)))
    return build_graph(model, Batch(tuple(seqs)), precision)


def budget_batch(budget: int, isl: int, osl: int, micro_batches: int = 1) -> int:
    """The most decoding requests a token budget feeds in steady state: each of ``micro_batches`` steps
    carries B / m decode tokens and B / m x ISL / OSL prefill tokens, B / m (1 + ISL / OSL) <= budget."""
    return max(1, math.floor(budget * micro_batches * osl / (osl + isl)))


@dataclass(frozen=True)
class Cycle:
    """One cycle at a batch: its mean time, the prefill part of it (the share that fluctuates with the
    prompts admitted), the decode-only part, and the energy of all the replica's chips."""

    time_s: float
    prefill_s: float
    energy_j: float
    decode_s: float


class ReplicaSteps:
    """Prices a replica's cycles; ``cfg`` None (or without budget, pp 1 and graphs on) is today's engine."""

    def __init__(
        self,
        model: ModelConfig,
        est: Estimator,
        precision: Precision,
        isl: int,
        osl: int,
        ctx: int,
        cfg: ServingConfig | None = None,
        replicas: int = 1,
        *,
        isl_cv: float = 0.0,
    ) -> None:
        self.model, self.est, self.precision = model, est, precision
        self.isl, self.osl, self.ctx, self.isl_cv = isl, osl, ctx, isl_cv
        self.biased_isl = biased_isl(isl, isl_cv)  # prefill tokens' prompts are the long ones
        self.pp = cfg.pp if cfg else 1
        self.budget = cfg.max_num_tokens if cfg else None
        self.graphs = True if cfg is None or cfg.cuda_graphs is None else cfg.cuda_graphs
        self.cfg, self.replicas = cfg, replicas
        self.decode_bubble_s = decode_bubble_s(cfg)  # vLLM V0's host bubble (cost.vllm_host)
        self._prefill_k: dict[int, tuple[float, float]] = {}
        self._bursts: dict[int, tuple[float, Cycle]] = {}
        # a prompt in a batch-16 prefill step (s, and J x 16)
        self.prefill_one_s, self.prefill_step_j = self._prefill_per_prompt(PREFILL_BATCH)
        self._cache: dict[int, Cycle] = {}
        self._full: dict[int, float] = {}
        self._full_j: dict[int, float] = {}

    def _prefill_per_prompt(self, k: float) -> tuple[float, float]:
        """(seconds, joules x PREFILL_BATCH) a prompt costs in a separate prefill step of ``k`` prompts,
        the step's host bubble included (a fractional ``k``: the whole batches around it, interpolated)."""
        lo, hi = max(1, math.floor(k)), max(1, math.ceil(k))
        a, b = self._prefill_whole(lo), self._prefill_whole(hi)
        w = 0.0 if hi == lo else (k - lo) / (hi - lo)
        return (1 - w) * a[0] + w * b[0], (1 - w) * a[1] + w * b[1]

    def _prefill_whole(self, k: int) -> tuple[float, float]:
        if k not in self._prefill_k:
            n = ceil_div(k, self.pp)  # prompts of one micro-batch: pp of them fill the pipeline
            g = prefill_graph(self.model, n, self.isl, self.biased_isl, self.precision)
            s, j = self._price(g, False)
            s += prefill_bubble_s(self.cfg)
            self._prefill_k[k] = (s / (n * self.pp), j * PREFILL_BATCH / (n * self.pp))
        return self._prefill_k[k]

    @property
    def _bursty(self) -> bool:
        """Separate prefill steps fed in bursts (``cost.vllm_host``); budget engines chunk instead."""
        return self.budget is None and bursty(self.cfg)

    def burst(self, b: int) -> float:
        """Prompts one prefill step takes at batch b (``cost.vllm_host.burst_prompts``); 1 where prompts
        are not held back."""
        return self._burst_and_cycle(b)[0] if self._bursty else 1.0

    def hold(self, b: int) -> float:
        """The longest a prompt waits before a step can take it (``cost.vllm_host.hold_s``)."""
        return hold_s(self.cfg, self.cycle(b).decode_s) if self._bursty else 0.0

    def prefill_at(self, b: int) -> tuple[float, float]:
        """(s, J x 16) a prompt's separate prefill step costs at batch b: a batch-16 step, or where prompts
        come in bursts the burst's step."""
        if not self._bursty:
            return self.prefill_one_s, self.prefill_step_j
        return self._prefill_per_prompt(self.burst(b))

    def _burst_and_cycle(self, b: int) -> tuple[float, Cycle]:
        """The burst size and the cycle it gives, consistent: the burst grows with the arrival rate
        (B / OSL prompts a cycle a replica; the system's replicas together for a harness batcher), which
        the burst's prefill cost slows; a few fixed-point rounds from a batch-16 prefill settle it."""
        if b in self._bursts:
            return self._bursts[b]
        cyc = self._cycle_with(b, self.prefill_one_s, self.prefill_step_j)
        k = 1.0
        for _ in range(4):
            rate = b / self.osl / cyc.time_s
            k = burst_prompts(self.cfg, self.replicas * rate, rate, cyc.decode_s)
            cyc = self._cycle_with(b, *self._prefill_per_prompt(k))
        self._bursts[b] = (k, cyc)
        return k, cyc

    @property
    def micro_batches(self) -> int:
        return self.pp

    def _price(self, g: Graph, cuda_graph: bool) -> tuple[float, float]:
        """(seconds, joules) of one step of ``g``; with pp stages, ``g`` is one micro-batch and the step
        lasts the pipeline's interval over pp micro-batches in flight. An engine built with the fused GEMM +
        SwiGLU plugin runs ``g`` without its SwiGLU op (``cost.fused_swiglu``)."""
        if self.cfg is not None and self.cfg.fused_swiglu:
            g = fused_swiglu(g)
        if self.pp == 1:
            c = self.est.step(g, cuda_graph=cuda_graph)
            return c.time_s, c.energy_j
        pc, _ = graph_pipeline(self.est, self.model, g, self.pp, self.pp, cuda_graph=cuda_graph)
        return pc.interval_s, pc.energy_over(pc.interval_s)

    def chunk_tokens(self, b: int) -> int:
        """Prefill tokens a (micro-batch) step carries in steady state: its rows' share of prompts."""
        return round(ceil_div(b, self.pp) * self.isl / self.osl)

    def cycle(self, b: int) -> Cycle:
        if b not in self._cache:
            self._cache[b] = self._cycle(b)
        return self._cache[b]

    def _cycle(self, b: int) -> Cycle:
        if self._bursty:
            return self._burst_and_cycle(b)[1]
        return self._cycle_with(b, self.prefill_one_s, self.prefill_step_j)

    def _cycle_with(self, b: int, prefill_one_s: float, prefill_step_j: float) -> Cycle:
        rows = ceil_div(b, self.pp)
        dec_s, dec_j = self._price(
            graph_of(self.model, "decode", rows, self.ctx, self.precision), self.graphs
        )
        dec_s += self.decode_bubble_s
        if self.budget is None:
            pre_s = b / self.osl * prefill_one_s
            return Cycle(dec_s + pre_s, pre_s, dec_j + b / self.osl * prefill_step_j / PREFILL_BATCH, dec_s)
        share = min(1.0, self.chunk_tokens(b) / max(1, self.room(b)))  # steps that carry a chunk
        t = dec_s + share * (self.full_step_s(b) - dec_s)
        e = dec_j + share * (self._full_j[b] - dec_j)
        return Cycle(t, max(0.0, t - dec_s), e, dec_s)

    def room(self, b: int) -> int:
        """Prefill tokens a step has room for beside its decode tokens (budget engines)."""
        assert self.budget is not None
        return self.budget - ceil_div(b, self.pp)

    def p99_prefill_cap(self, b: int) -> float:
        """The most a step's prefill part can grow over its mean: the budget's room over the mean chunk
        (infinite without a budget: separate prefill steps)."""
        if self.budget is None:
            return math.inf
        return max(1.0, self.room(b) / max(1, self.chunk_tokens(b)))

    @property
    def arrival_cv2(self) -> float:
        """Squared cv of the gaps between prompts reaching this replica: 1 / replicas where the harness
        deals the system's Poisson arrivals in turn (every R-th arrival: Erlang-R gaps), else 1 (Poisson)."""
        return 1.0 / self.replicas if self.cfg and self.cfg.round_robin else 1.0

    def prefill_service(self, b: int) -> tuple[float, float]:
        """(one prompt's prefill service time, the prefill server's load) at batch b: a batch-16 prefill
        share of the cycle; under a budget, a prompt admitted alone gets the whole room the decoders leave,
        ISL / room steps each carrying a full chunk (``full_step_s``), and the load is the arrival rate
        (B / OSL prompts a cycle) times that service time: the share of steps that carry a chunk
        (chunk / room) times a full step over a mean one."""
        if self.budget is None:
            one = self.prefill_at(b)[0]
            return one, b / self.osl * one / self.cycle(b).time_s
        room = self.room(b)
        if room < 1:
            return math.inf, math.inf
        service = self.isl / room * self.full_step_s(b)
        return service, b / self.osl * service / self.cycle(b).time_s

    def held_ttft_p99_s(self, b: int) -> float | None:
        """p99 TTFT of an engine whose prompts wait for a paced release rather than queue for a prefill
        server (``cost.published_ep.ADPReplicaSteps``); None here: the prefill queue prices it."""
        return None

    def first_token_s(self, b: int) -> float:
        """A prompt's time to first token besides its queueing wait. Both engines form a batch only at a
        step boundary, so an arrival first waits out the step in flight (half a mean step), and its first
        token comes at the end of the step that finishes its prompt: a whole step, however few of its
        tokens the prompt holds (``prefill_service``'s token share is a fraction of a step where a prompt
        is shorter than the room). Under a budget a prompt longer than the room fills the room of
        floor((ISL - 1) / room) full chunk steps before that last one; a last step carries what was
        queued, a mean step. Without a budget, the separate prefill step (its share of a batch-16 step,
        as before) follows the wait."""
        step = self.cycle(b).time_s
        if self.budget is None:
            if self._bursty:  # held up to the batcher's hold (then the step in flight) or the scheduler
                # interval (which ends at a step boundary); the burst's prompts are prefilled in one step
                wait = self.hold(b) + (step / 2 if self.cfg and self.cfg.harness_batch_s else 0.0)
                return wait + self.prefill_at(b)[0] * self.burst(b)
            return step / 2 + self.prefill_one_s
        room = self.room(b)
        if room < 1:
            return math.inf
        return step / 2 + (self.isl - 1) // room * self.full_step_s(b) + step

    def full_step_s(self, b: int) -> float:
        """A (micro-batch) step at batch b whose prefill chunk fills the budget's room."""
        if b not in self._full:
            rows, room = ceil_div(b, self.pp), self.room(b)
            g = mixed_graph(
                self.model, rows, self.ctx, max(0, room), self.isl, self.precision, self.biased_isl
            )
            self._full[b], self._full_j[b] = self._price(g, self.graphs)
            self._full[b] += self.decode_bubble_s
        return self._full[b]
