"""``estimate``: decode and prefill of one model on one chip, as plain data (for CLI, JSON, reports)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jalapeno.cost.expert import ExpertCost, ep_step, weights_per_chip
from jalapeno.cost.params import CostParams, chip_band, setup_for
from jalapeno.cost.pipeline import Parallel, PipelineCost, ceil_div, graph_pipeline, micro_batches
from jalapeno.cost.step import Estimator, OpCost, StepCost
from jalapeno.errors import JalapenoError
from jalapeno.graph.batch import Batch
from jalapeno.graph.builder import build_graph
from jalapeno.graph.precision import Precision
from jalapeno.hardware.spec import ChipSpec
from jalapeno.models.config import ModelConfig


@dataclass(frozen=True)
class Estimate:
    model: ModelConfig
    chip: ChipSpec
    params: CostParams
    precision: Precision
    tp: int
    batch: int
    context: int
    decode: StepCost
    prompt: int | None = None
    cached: int = 0
    prefill: StepCost | None = None
    pp: int = 1
    decode_pipe: PipelineCost | None = None  # pp > 1: the decode step as a pipeline
    prefill_pipe: PipelineCost | None = None
    parallel: Parallel | None = None
    decode_ep: ExpertCost | None = None  # ep > 1: the expert-parallel terms
    prefill_ep: ExpertCost | None = None

    @property
    def chips(self) -> int:
        return self.parallel.chips if self.parallel is not None else self.tp * self.pp

    engine: str = "fused"  # a name in cost.engines.ENGINES: the serving engine the GPU presets are priced as

    def to_json(self) -> dict[str, Any]:
        d = self.decode
        out: dict[str, Any] = {
            "model": self.model.name,
            "model_source": self.model.source,
            "hardware": self.chip.name,
            "tp": self.tp,
            "pp": self.pp,
            "chips": self.chips,
            "precision": self.precision.label,
            "engine": self.engine,
            "batch": self.batch,
            "context": self.context,
            "calibrated": self.params.calibrated,
            "cost_params": self.params.source,
            "decode_step_s": d.time_s,
            **step_fields("decode", d, self.batch),
        }
        # published / predicted throughput: the chip's held-out rows, its family's, or what it runs on's
        band = chip_band(self.chip)
        out["error_band"] = (
            None
            if band is None
            else {
                "lo": band[0],
                "hi": band[1],
                "decode_tokens_per_s_range": [self.batch / d.time_s * b for b in band[:2]],
                "basis": band[2],
            }
        )
        if self.prefill is not None and self.prompt is not None:
            p = self.prefill
            out.update(
                {
                    "prompt": self.prompt,
                    "cached": self.cached,
                    "prefill_s": p.time_s,
                    **step_fields("prefill", p, self.prompt),
                }
            )
        for phase, pc in (("decode", self.decode_pipe), ("prefill", self.prefill_pipe)):
            if pc is not None:
                out[f"{phase}_pipeline"] = pipeline_row(pc)
        if self.parallel is not None and self.parallel.ep > 1:
            out["parallel"] = self.parallel.to_json()
            for phase, xc in (("decode", self.decode_ep), ("prefill", self.prefill_ep)):
                if xc is not None:
                    out[f"{phase}_expert_parallel"] = xc.to_json()
        return out


def step_fields(phase: str, step: StepCost, tokens: int) -> dict[str, Any]:
    """A decode or prefill step's rate, power, energy a token and ops, keyed ``{phase}_...`` (JSON)."""
    return {
        f"{phase}_tokens_per_s": tokens / step.time_s,
        f"{phase}_power_w": step.power_w,
        f"{phase}_joules_per_token": step.energy_j / tokens,
        f"{phase}_power_capped": step.power_capped,
        f"{phase}_ops": [op_row(c) for c in step.ops],
        f"{phase}_host_wait_s": step.host_wait_s,
        f"{phase}_throttle_s": step.throttle_s,
    }


def pipeline_row(pc: PipelineCost) -> dict[str, Any]:
    """The pipeline's closed-form terms (see ``cost.pipeline``), for JSON."""
    return {
        "micro_batches": pc.micro_batches,
        "latency_s": pc.latency_s,
        "interval_s": pc.interval_s,
        "makespan_s": pc.makespan_s,
        "slowest_stage_s": pc.slowest_s,
        "transfer_s": pc.transfer_s,
        "stage_s": list(pc.stage_s),
    }


def op_row(c: Any) -> dict[str, Any]:
    o, t = c.op, c.time
    return {
        "name": o.name,
        "kind": o.kind,
        "layer_range": o.layers,
        "repeat": o.repeat,
        "shape": o.shape,
        "time_s": c.total_s,
        "flops": o.flops * o.repeat,
        "bytes": o.bytes * o.repeat,
        "bound": t.bound,
        "roofline_fraction": c.roofline_fraction,
    }


def check_fits(
    model: ModelConfig, chip: ChipSpec, precision: Precision, tp: int, tokens: int, pp: int = 1
) -> None:
    """Weights plus the KV cache of ``tokens`` must fit the ``tp x pp`` chips' main memory (each chip
    holds 1/(tp pp) of both: ``tp`` shards every layer, ``pp`` splits the layers)."""
    from jalapeno.cost.oracle import kv_bytes_per_token, weight_bytes

    w = weight_bytes(model, precision)
    kv = kv_bytes_per_token(model, precision) * tokens
    have = chip.memory_bytes * tp * pp
    if w + kv > have:
        raise JalapenoError(
            f"{model.name} needs {w / 1e9:.1f} GB of weights ({precision.weights.name}) + {kv / 1e9:.1f} GB "
            f"of KV cache ({tokens} tokens, {precision.kv.name}) = {(w + kv) / 1e9:.1f} GB > "
            f"{have / 1e9:.1f} GB on {tp * pp} x {chip.name}; raise --tp or --pp, lower --batch/--context, "
            "or use a smaller --dtype",
            field="memory",
        )


def estimate(
    model: ModelConfig,
    chip: ChipSpec,
    *,
    batch: int,
    context: int,
    prompt: int | None = None,
    cached: int = 0,
    precision: Precision | None = None,
    tp: int = 1,
    params: CostParams | None = None,
    parallel: Parallel | None = None,
    engine: str = "fused",
) -> Estimate:
    """Decode step (and prefill) of ``batch`` sequences on one replica; ``parallel`` (default: ``tp``
    chips, one stage) names the split, and ``batch`` is the batch of the whole replica. ``engine`` is
    ``serve``'s: ``"fused"`` (default, a vLLM-class engine) or ``"calibration"`` (the plain-PyTorch engine
    the H200 measurements ran); it only changes GPU presets' kernel counts (``cost.params.setup_for``).
    ``params`` overrides both."""
    par = parallel or Parallel(tp=tp)
    prec = precision or Precision.of("bf16")
    default_prm, timer = setup_for(chip, engine)
    prm = params or default_prm
    est = Estimator(chip, prm, par.tp, timer)
    par.check(chip, model.num_layers)
    par.check_model(model)
    r = _Replica(model, chip, prm, prec, est, par, batch, context, prompt, cached, engine)
    if par.ep > 1:
        return _expert_parallel(r)
    check_fits(model, chip, prec, par.tp, tokens=batch * (context + 1), pp=par.pp)
    if par.pp > 1:
        return _pipelined(r)
    dec = est.step(build_graph(model, Batch.decode(batch, context), prec), cuda_graph=True)
    pre = None
    if prompt is not None:
        pre = est.step(build_graph(model, Batch.prefill(prompt, cached), prec), cuda_graph=False)
    return r.result(dec, pre)


@dataclass(frozen=True)
class _Replica:
    """What every split of ``estimate`` prices: the request shape and the priced setup it runs on."""

    model: ModelConfig
    chip: ChipSpec
    prm: CostParams
    prec: Precision
    est: Estimator
    par: Parallel
    batch: int
    context: int
    prompt: int | None
    cached: int
    engine: str

    def result(self, dec: StepCost, pre: StepCost | None, **split: Any) -> Estimate:
        """The Estimate of this replica's decode (and prefill) step; ``split`` adds the pipeline's or the
        expert group's own terms."""
        return Estimate(
            self.model,
            self.chip,
            self.prm,
            self.prec,
            self.par.tp,
            self.batch,
            self.context,
            dec,
            self.prompt,
            self.cached,
            pre,
            engine=self.engine,
            **split,
        )


def _pipelined(r: _Replica) -> Estimate:
    """Decode: the batch cut into ``min(pp, batch)`` micro-batches of ceil(batch / m) sequences, time per
    output token = the pipeline's interval. Prefill: the prompt cut into ``min(pp, prompt)`` chunks of
    ceil(prompt / m) tokens (each priced at the chunks' mean cached context: their mean attention work
    when m divides the prompt), time to first token = the makespan of a cold pipeline."""
    model, prec, est, par, batch, prompt = r.model, r.prec, r.est, r.par, r.batch, r.prompt
    m = micro_batches(par.pp, batch)
    g = build_graph(model, Batch.decode(ceil_div(batch, m), r.context), prec)
    pc, costs = graph_pipeline(est, model, g, par.pp, m, cuda_graph=True)
    dec = _step_of(pc, pc.interval_s, costs, par, batch)
    pre = pre_pc = None
    if prompt is not None:
        mp = micro_batches(par.pp, prompt)
        c = ceil_div(prompt, mp)
        gp = build_graph(model, Batch.prefill(c, r.cached + (prompt - c) // 2), prec)
        pre_pc, pcosts = graph_pipeline(est, model, gp, par.pp, mp, cuda_graph=False)
        pre = _step_of(pre_pc, pre_pc.makespan_s, pcosts, par, prompt)
    return r.result(dec, pre, pp=par.pp, decode_pipe=pc, prefill_pipe=pre_pc)


def _step_of(pc: PipelineCost, span_s: float, costs: list[OpCost], par: Parallel, tokens: int) -> StepCost:
    """The whole replica's step as a StepCost: ``span_s`` long, ``m`` micro-batches (per-op rows are
    one micro-batch over all stages; FLOPs, bytes and link bytes count all m)."""
    m = pc.micro_batches
    flops = sum(par.tp * c.sharded.flops * c.op.repeat for c in costs)
    mem = sum(par.tp * c.sharded.bytes * c.op.repeat for c in costs)
    link_s = pc.collective_s + (len(pc.stage_s) - 1) * pc.transfer_s  # one micro-batch's pass
    return StepCost(
        span_s,
        pc.energy_over(span_s),
        tuple(costs),
        link_s,
        0.0,
        pc.power_capped,
        par.chips,
        tokens,
        m * flops,
        m * mem,
        m * pc.link_bytes,
        overhead_s=pc.overhead_s,
    )


def check_fits_ep(
    model: ModelConfig, chip: ChipSpec, precision: Precision, par: Parallel, seqs: int, tokens: int
) -> None:
    """One chip holds the non-expert weights / tp, its expert slots, and the KV of its dp group's
    ``seqs`` sequences / tp (``tokens`` each)."""
    from jalapeno.cost.oracle import kv_bytes_per_token

    g = build_graph(model, Batch.decode(1, 1), precision)
    w = weights_per_chip(model, g, par)
    kv = kv_bytes_per_token(model, precision) * seqs * tokens / par.tp
    have = chip.memory_bytes
    if w + kv > have:
        raise JalapenoError(
            f"{model.name} needs {w / 1e9:.1f} GB of weights + {kv / 1e9:.1f} GB of KV cache a chip under "
            f"{par.to_json()} > {have / 1e9:.1f} GB on {chip.name}; raise --ep/--tp, lower "
            f"--batch/--context, or use a smaller --dtype",
            field="memory",
        )


def _expert_parallel(r: _Replica) -> Estimate:
    """Decode: ``batch`` sequences over the group, ceil(batch / dp) on each attention replica (the
    hottest), halved again with two-batch overlap. Prefill: the prompt on one attention replica, its
    tokens dispatched to every expert rank (two halves of the prompt with overlap, the second at the
    first's cached context)."""
    model, prec, est, par, batch, prompt = r.model, r.prec, r.est, r.par, r.batch, r.prompt
    local = ceil_div(batch, par.dp)
    check_fits_ep(model, r.chip, prec, par, local, r.context + 1)
    halves = 2 if par.tbo and local >= 2 else 1
    dm = [
        (build_graph(model, Batch.decode(ceil_div(local, halves), r.context), prec), ceil_div(batch, halves))
    ] * halves
    dec, dx = ep_step(est, model, par, dm, cuda_graph=True)
    pre = px = None
    if prompt is not None:
        ph = 2 if par.tbo and prompt >= 2 else 1
        c = ceil_div(prompt, ph)
        pm = [(build_graph(model, Batch.prefill(c, r.cached + i * c), prec), c) for i in range(ph)]
        pre, px = ep_step(est, model, par, pm, cuda_graph=False)
    return r.result(dec, pre, pp=par.pp, parallel=par, decode_ep=dx, prefill_ep=px)
