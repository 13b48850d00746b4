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

A system of N chips runs N / group independent groups (GB200 NVL72: 9 groups of 8), so per-chip
throughput is a group's. Nothing here is fitted: the chip's parameters (and its published step overhead)
are those its Llama-2-70B rows gave it.
"""

from __future__ import annotations

from jalapeno.cost.expert import ep_step, weights_per_chip
from jalapeno.cost.oracle import kv_bytes_per_token
from jalapeno.cost.params import CostParams
from jalapeno.cost.pipeline import Parallel
from jalapeno.cost.published import PublishedRow, ServingConfig
from jalapeno.cost.scenario import (
    MAX_BATCH,
    MEMORY_FRACTION,
    ScenarioResult,
    best_batch,
    precision_of,
    running_context,
)
from jalapeno.cost.scenario_steps import ReplicaSteps
from jalapeno.cost.step import Estimator
from jalapeno.graph.batch import Batch
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
    ) -> None:
        self.par = par  # before the base prices its first (prefill) step
        super().__init__(model, est, precision, isl, osl, ctx, cfg)

    def _price(self, g: Graph, cuda_graph: bool) -> tuple[float, float]:
        """(seconds, joules) of the group's step over ``g``'s sequences: the hottest attention rank runs
        every dp-th of them, the experts see the whole group's tokens."""
        seqs = g.batch.seqs[:: self.par.dp]
        rank = build_graph(self.model, Batch(seqs), self.precision)
        sc, _ = ep_step(self.est, self.model, self.par, [(rank, g.batch.new_tokens)], cuda_graph=cuda_graph)
        return sc.time_s, sc.energy_j


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
) -> tuple[EPReplicaSteps, int] | None:
    """The group's step pricer and its batch cap (requests over the group); None: the weights do not fit."""
    par.check(chip, model.num_layers)
    par.check_model(model)
    one = build_graph(model, Batch.decode(1, 1), precision)
    free = chip.memory_bytes * MEMORY_FRACTION - weights_per_chip(model, one, par)
    if free <= 0:
        return None
    ctx = running_context(isl, osl, osl_fractions)
    per_rank = int(free // (kv_bytes_per_token(model, precision) * ctx / par.tp))
    cap = min(cfg.max_batch if cfg and cfg.max_batch else MAX_BATCH * par.tp, per_rank)
    rs = EPReplicaSteps(model, Estimator(chip, params, par.tp), precision, isl, osl, ctx, cfg, par)
    return rs, max(1, cap) * par.dp


def ep_result(
    row: PublishedRow,
    model: ModelConfig,
    chip: ChipSpec,
    params: CostParams,
    lengths: tuple[int, int, tuple[float, float] | None, float, tuple[float, ...]],
) -> ScenarioResult | None:
    """The scenario model's operating point for an expert-parallel row (``lengths``: ``row_shape``'s ISL,
    OSL, limits, prompt cv and output fractions), as ``cost.scenario`` finds it for a dense replica."""
    isl, osl, limits, isl_cv, fractions = lengths
    par = ep_parallel(row)
    setup = ep_setup(model, chip, params, precision_of(row.precision), par, isl, osl, fractions, row.serving)
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
    isl, osl, _, _, fractions = lengths
    prec = precision_of(row.precision)
    setup = ep_setup(model, chip, params, prec, ep_parallel(row), isl, osl, fractions, row.serving)
    if setup is None:
        raise ValueError(f"{row.id}: the weights do not fit")
    return setup[0].cycle(batch).time_s
