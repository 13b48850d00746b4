"""MLPerf rows served with expert parallelism, priced by the expert-parallel step inside the scenario model.

MLPerf v5.1's DeepSeek-R1 submissions run TensorRT-LLM with ``tensor_parallelism`` 8,
``moe_expert_parallelism`` 8 and ``enable_attention_dp``: a group of 8 GPUs in which every GPU runs
attention (and the dense layers) on its own requests, holding their MLA cache, while each MoE layer's 256
experts are spread 32 a GPU and tokens reach them by all-to-all (``cost.pipeline.Parallel(tp=1, dp=8,
ep=8)``; without attention DP, attention is tensor-parallel over the group: ``Parallel(tp=8, ep=8)``).
``gpu_batch_size`` is then each attention rank's batch (TensorRT-LLM's DeepSeek-R1 performance blog,
docs/source/blogs/Best_perf_practice_on_DeepSeek-R1_in_TensorRT-LLM.md: "--max_batch_size: Max batch size
in each rank"; its B200 max-throughput runs put 8 x max_batch_size requests in flight on 8 GPUs).

The dense scenario model (``cost.scenario``) prices a tensor-parallel replica; this module keeps its
cycle, its limits and its batch search and changes two things only:

* a step is ``cost.expert.ep_step`` of the group: the hottest attention rank's share of the step's
  sequences (every ``dp``-th one: ceil(n / dp)), its experts under uniform routing's statistical
  imbalance (nothing fitted), the all-to-all over the chip's scale-up links; energy of all the chips;
* the batch cap is per attention rank: the chip's memory after its weights (``weights_per_chip``: the
  non-expert weights / tp, its experts) over a running request's cache, within ``gpu_batch_size``,
  times ``dp``.

Where the row's configuration file was read for its TensorRT-LLM scheduler (``cost.published_adp``: every
MLPerf DeepSeek-R1 row), ``ADPReplicaSteps`` prices the attention-DP balance instead (``cost.adp``): prompts
released together every R steps in an eager step that lasts the slowest rank's, decode steps on CUDA graphs
padded to the captured sizes, and the cache and requests in flight the configuration allows.

A system of N chips runs N / group independent groups (GB200 NVL72: 9 groups of 8), so per-chip
throughput is a group's; the groups and the prompts' length spread reach the steps as they do a dense
replica's (``ReplicaSteps``' ``replicas`` and ``isl_cv``). Nothing here is fitted: the chip's parameters
(and its published step overhead) are those its Llama-2-70B rows gave it.
"""

from __future__ import annotations

import math

from jalapeno.cost.adp import ADPConfig, hottest_tokens, padded_rows, release_period
from jalapeno.cost.expert import ep_step, weights_per_chip
from jalapeno.cost.oracle import kv_bytes_per_token
from jalapeno.cost.params import CostParams
from jalapeno.cost.pipeline import Parallel, ceil_div
from jalapeno.cost.published import PublishedRow, ServingConfig
from jalapeno.cost.published_adp import adp_config
from jalapeno.cost.scenario import (
    MAX_BATCH,
    MEMORY_FRACTION,
    ScenarioResult,
    best_batch,
    precision_of,
    running_context,
)
from jalapeno.cost.scenario_steps import Cycle, ReplicaSteps, graph_of, mixed_graph
from jalapeno.cost.step import Estimator
from jalapeno.graph.batch import Batch, Sequence
from jalapeno.graph.builder import Graph, build_graph
from jalapeno.graph.precision import Precision
from jalapeno.hardware.spec import ChipSpec
from jalapeno.models.config import ModelConfig


def ep_parallel(row: PublishedRow) -> Parallel:
    """The group a row's published configuration names (TensorRT-LLM's tensor_parallelism is the group)."""
    group, ep = row.tp or 1, row.ep or 1
    if row.attention_dp:
        return Parallel(tp=1, dp=group, ep=ep)
    return Parallel(tp=group, ep=ep)


class EPReplicaSteps(ReplicaSteps):
    """``ReplicaSteps`` whose steps are the expert-parallel group's (module docstring)."""

    def __init__(
        self,
        model: ModelConfig,
        est: Estimator,
        precision: Precision,
        isl: int,
        osl: int,
        ctx: int,
        cfg: ServingConfig | None,
        par: Parallel,
        replicas: int = 1,
        *,
        isl_cv: float = 0.0,
    ) -> None:
        self.par = par  # before the base prices its first (prefill) step
        super().__init__(model, est, precision, isl, osl, ctx, cfg, replicas, isl_cv=isl_cv)

    def _price(self, g: Graph, cuda_graph: bool) -> tuple[float, float]:
        """(seconds, joules) of the group's step over ``g``'s sequences: the hottest attention rank runs
        every dp-th of them, the experts see the whole group's tokens."""
        seqs = g.batch.seqs[:: self.par.dp]
        rank = build_graph(self.model, Batch(seqs), self.precision)
        sc, _ = ep_step(self.est, self.model, self.par, [(rank, g.batch.new_tokens)], cuda_graph=cuda_graph)
        return sc.time_s, sc.energy_j


class ADPReplicaSteps(EPReplicaSteps):
    """An attention-DP group's cycle under TensorRT-LLM's balance (``cost.adp``): prompts are held and
    released together every R iterations (``release_period``, R from the arrival rate B / OSL a step and
    the published timeout and batching wait); R - 1 decode steps replay the CUDA graph padded to a captured
    size, and one release step, eager on every rank, lasts the slowest rank's: its decode rows plus the
    most prompt tokens any rank holds (``hottest_tokens``, within ``max_num_tokens``), while the experts
    see every released prompt. A prompt waits for the release (at p99 0.99 R steps: under light load the
    releases come like a clock), rides the release step, and its first token is returned one step later
    (the PyTorch executor's overlap scheduler, on in every configuration: llmlib's
    ``disable_overlap_scheduler`` False, handles a step's outputs while the next step runs)."""

    def __init__(
        self,
        model: ModelConfig,
        est: Estimator,
        precision: Precision,
        isl: int,
        osl: int,
        ctx: int,
        cfg: ServingConfig | None,
        par: Parallel,
        replicas: int = 1,
        *,
        isl_cv: float = 0.0,
        adp: ADPConfig,
    ) -> None:
        self.adp = adp
        self._steps: dict[int, tuple[float, float, float, float, float, float]] = {}
        super().__init__(model, est, precision, isl, osl, ctx, cfg, par, replicas, isl_cv=isl_cv)

    def _cycle_with(self, b: int, prefill_one_s: float, prefill_step_j: float) -> Cycle:
        """The mean step over a release period: R - 1 decode steps and one release step."""
        r, dec_s, dec_j, rel_s, rel_j, _ = self.steps(b)
        t = ((r - 1.0) * dec_s + rel_s) / r
        return Cycle(t, t - dec_s, ((r - 1.0) * dec_j + rel_j) / r, dec_s)

    def steps(self, b: int) -> tuple[float, float, float, float, float, float]:
        """(R, decode step s, its J, release step s, its J, the room's load: a rank's mean prompt tokens a
        release over the tokens its step has room for) at ``b`` decoding requests in the group."""
        if b not in self._steps:
            self._steps[b] = self._steps_at(b)
        return self._steps[b]

    def _steps_at(self, b: int) -> tuple[float, float, float, float, float, float]:
        dp, rows = self.par.dp, ceil_div(b, self.par.dp)
        per_step = b / self.osl  # prompts a step: the batch turns over once in OSL steps
        r = release_period(per_step / dp, dp, self.adp.timeout_iters, self.adp.batching_wait_iters)
        room = max(0, self.adp.max_num_tokens - rows)
        held = per_step / dp * r  # prompts a rank holds at a release
        hot = round(hottest_tokens(held, dp, self.isl, self.isl_cv, room))
        g = mixed_graph(self.model, rows, self.ctx, hot, self.isl, self.precision, self.biased_isl)
        group_tokens = b + round(per_step * r * self.isl)
        rel, _ = ep_step(self.est, self.model, self.par, [(g, group_tokens)], cuda_graph=False)
        dec_s, dec_j = self._decode(b, rows)
        load = held * self.isl / room if room else math.inf
        return r, dec_s, dec_j, rel.time_s, rel.energy_j, load

    def _decode(self, b: int, rows: int) -> tuple[float, float]:
        """A decode-only step: the captured graph of the padded batch (padding rows: dummy requests whose
        cache is negligible, but whose tokens the GEMMs and experts run); eager past the largest one."""
        pad = padded_rows(rows, self.adp.graph_batch_sizes) if self.graphs else None
        if pad is None:
            g = graph_of(self.model, "decode", rows, self.ctx, self.precision)
            sc, _ = ep_step(self.est, self.model, self.par, [(g, b)], cuda_graph=False)
            return sc.time_s, sc.energy_j
        seqs = (Sequence(1, self.ctx),) * rows + (Sequence(1, 1),) * (pad - rows)
        g = build_graph(self.model, Batch(seqs), self.precision)
        sc, _ = ep_step(self.est, self.model, self.par, [(g, pad * self.par.dp)], cuda_graph=True)
        return sc.time_s, sc.energy_j

    def prefill_service(self, b: int) -> tuple[float, float]:
        """(the release step, the room's load) at batch b: prompts are served a release at a time."""
        _, _, _, rel_s, _, load = self.steps(b)
        return rel_s, load

    def first_token_s(self, b: int) -> float:
        """After its release: the release step, then one more step (the overlap scheduler)."""
        return self.steps(b)[3] + self.cycle(b).time_s

    def held_ttft_p99_s(self, b: int) -> float | None:
        """p99 wait for the release (0.99 R mean steps) plus ``first_token_s``; infinite once the prompts
        a rank holds outgrow its room (they would pile up release after release)."""
        r, _, _, _, _, load = self.steps(b)
        if load >= 1.0:
            return math.inf
        return 0.99 * r * self.cycle(b).time_s + self.first_token_s(b)


def ep_setup(
    model: ModelConfig,
    chip: ChipSpec,
    params: CostParams,
    precision: Precision,
    par: Parallel,
    isl: int,
    osl: int,
    osl_fractions: tuple[float, ...],
    cfg: ServingConfig | None,
    *,
    isl_cv: float = 0.0,
    replicas: int = 1,
    adp: ADPConfig | None = None,
) -> tuple[EPReplicaSteps, int] | None:
    """The group's step pricer and its batch cap (requests over the group); None: the weights do not fit.
    ``isl_cv``: the prompt lengths' spread; ``replicas``: the system's groups (they share its harness);
    ``adp``: the published attention-DP balance settings, which price the group's steps
    (``ADPReplicaSteps``), size its cache (``kv_mem_frac`` of the memory the weights leave) and cap its
    requests in flight (``max_concurrency``)."""
    par.check(chip, model.num_layers)
    par.check_model(model)
    one = build_graph(model, Batch.decode(1, 1), precision)
    weights = weights_per_chip(model, one, par)
    if adp is None:
        free = chip.memory_bytes * MEMORY_FRACTION - weights
    else:
        free = adp.kv_mem_frac * (chip.memory_bytes - weights)
    if free <= 0:
        return None
    ctx = running_context(isl, osl, osl_fractions)
    per_rank = int(free // (kv_bytes_per_token(model, precision) * ctx / par.tp))
    cap = max(1, min(cfg.max_batch if cfg and cfg.max_batch else MAX_BATCH * par.tp, per_rank)) * par.dp
    est = Estimator(chip, params, par.tp)
    if adp is None:
        rs = EPReplicaSteps(model, est, precision, isl, osl, ctx, cfg, par, replicas, isl_cv=isl_cv)
        return rs, cap
    ars = ADPReplicaSteps(model, est, precision, isl, osl, ctx, cfg, par, replicas, isl_cv=isl_cv, adp=adp)
    return ars, min(cap, adp.max_concurrency)


def row_steps(
    row: PublishedRow,
    model: ModelConfig,
    chip: ChipSpec,
    params: CostParams,
    lengths: tuple[int, int, tuple[float, float] | None, float, tuple[float, ...]],
) -> tuple[EPReplicaSteps, int] | None:
    """``ep_setup`` for a published row (``lengths``: ``row_shape``'s ISL, OSL, limits, prompt cv and
    output fractions): its prompt spread, its system's groups and its attention-DP settings."""
    isl, osl, _, isl_cv, fractions = lengths
    par = ep_parallel(row)
    return ep_setup(
        model,
        chip,
        params,
        precision_of(row.precision),
        par,
        isl,
        osl,
        fractions,
        row.serving,
        isl_cv=isl_cv,
        replicas=max(1, row.n_chips // par.chips),
        adp=adp_config(row.id) if row.attention_dp else None,
    )


def ep_result(
    row: PublishedRow,
    model: ModelConfig,
    chip: ChipSpec,
    params: CostParams,
    lengths: tuple[int, int, tuple[float, float] | None, float, tuple[float, ...]],
) -> ScenarioResult | None:
    """The scenario model's operating point for an expert-parallel row (``lengths``: ``row_shape``'s ISL,
    OSL, limits, prompt cv and output fractions), as ``cost.scenario`` finds it for a dense replica."""
    _, _, limits, isl_cv, fractions = lengths
    par = ep_parallel(row)
    setup = row_steps(row, model, chip, params, lengths)
    if setup is None:
        return None
    rs, b_max = setup
    if rs.budget is not None:  # a per-rank chunked-prefill budget: not modelled (no bundled row has one)
        return None
    b = best_batch(rs, b_max, limits, isl_cv, fractions)  # the dense replica's search, over the group
    if b is None:
        return None
    c = rs.cycle(b)
    return ScenarioResult(
        b / c.time_s / par.chips,
        par.tp * par.dp,
        b,
        c.time_s,
        c.decode_s,
        rs.prefill_one_s,
        c.energy_j / c.time_s / par.chips,
    )


def group_cycle_s(
    row: PublishedRow,
    model: ModelConfig,
    chip: ChipSpec,
    params: CostParams,
    lengths: tuple[int, int, tuple[float, float] | None, float, tuple[float, ...]],
    batch: int,
) -> float:
    """The model's mean cycle (one token for each of ``batch`` requests of a group, their prefill share
    included) for an expert-parallel row (``lengths`` as ``ep_result``'s): what a run's mean TPOT measures at
    that many decoding requests."""
    setup = row_steps(row, model, chip, params, lengths)
    if setup is None:
        raise ValueError(f"{row.id}: the weights do not fit")
    return setup[0].cycle(batch).time_s
