"""Assemble a ``SimResult`` from a finished simulation (definitions in ``metrics.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from jalapeno.serving.config import ServingConfig
from jalapeno.serving.events import EventLoop
from jalapeno.serving.metrics import Dropped, PerToken, PowerTrace, SimResult, Stats, request_columns, slo_met
from jalapeno.serving.replica import Replica
from jalapeno.serving.request_state import DROPPED, RequestState


class FinishedRun(Protocol):
    """What a result is built from: a finished simulation (``simulate.Simulation``), seen from below."""

    cfg: ServingConfig
    states: list[RequestState]
    t0: float
    loop: EventLoop
    power: PowerTrace

    @property
    def replicas(self) -> Sequence[Replica]: ...


def build_result(sim: FinishedRun, wall_s: float) -> SimResult:
    cfg, reps, states = sim.cfg, sim.replicas, sim.states
    cols = request_columns(states)
    t0 = sim.t0
    t_end = max([t0, sim.loop.now] + [s.finish_s for s in states])
    duration = t_end - t0
    for rep in reps:
        rep.kv.advance(t_end)
    met = slo_met(cols, cfg.slo)
    n_met = int(met.sum())
    out_tok = int(cols["output_tokens"].sum())
    all_tok = out_tok + int(cols["prompt_tokens"].sum())
    idle_w = sum(r.idle_w for r in reps)
    busy_energy = sum(r.energy_j for r in reps)
    idle_energy = sum(r.idle_w * max(0.0, duration - r.busy_s) for r in reps)
    energy = busy_energy + idle_energy
    series = sim.power.series(t_end, idle_w) if duration > 0 else []
    dollars = None
    if cfg.dollars_per_replica_hour is not None:
        cost = cfg.dollars_per_replica_hour * len(reps) * duration / 3600.0
        dollars = PerToken(_ratio(cost * 1e6, out_tok), _ratio(cost * 1e6, all_tok))
    query = sum(r.kv.query_tokens for r in reps)
    hbm_hits = sum(r.kv.hit_tokens for r in reps)
    tier_hits = sum(r.kv.tier_hit_tokens for r in reps)
    block_s = sum(r.kv.num_blocks for r in reps) * duration
    n = len(states)
    avg_w = _ratio(energy, duration) or 0.0
    return SimResult(
        requests=n,
        completed=int(cols["request_id"].size),
        dropped=tuple(Dropped(s.rid, s.drop_reason) for s in states if s.status == DROPPED),
        ttft_s=Stats.of(cols["ttft_s"]),
        tpot_s=Stats.of(cols["tpot_s"][~np.isnan(cols["tpot_s"])]),
        e2e_s=Stats.of(cols["e2e_s"]),
        queue_s=Stats.of(cols["queue_s"]),
        slo=cfg.slo,
        goodput_rps=_ratio(n_met, duration) or 0.0,
        slo_attainment=n_met / n if n else 0.0,
        throughput_tokens_per_s=_ratio(out_tok, duration) or 0.0,
        throughput_total_tokens_per_s=_ratio(all_tok, duration) or 0.0,
        output_tokens=out_tok,
        prompt_tokens=all_tok - out_tok,
        energy_j=energy,
        joules_per_token=PerToken(_ratio(energy, out_tok), _ratio(energy, all_tok)),
        avg_power_w=avg_w,
        # the busiest full window, but never below the run's mean: a run shorter than two windows (or whose
        # partial last window is its busiest) would otherwise report a peak under its own average
        peak_power_w=max(sim.power.peak(t_end, idle_w, series), avg_w) if duration > 0 else 0.0,
        power_window_s=cfg.power_window_s,
        usd_per_mtok_replica_hour=dollars,
        prefix_hit_rate=(hbm_hits + tier_hits) / query if query else 0.0,
        prefix_cache={
            "lookup_tokens": query,
            "hbm_hit_tokens": hbm_hits,
            "tier_hit_tokens": tier_hits,
            "evictions": sum(r.kv.evictions for r in reps),
        },
        kv_utilization={
            "mean": sum(r.kv.used_integral for r in reps) / block_s if block_s > 0 else 0.0,
            "peak": max(r.kv.peak_used / r.kv.num_blocks for r in reps),
        },
        preemptions={
            "recompute": sum(r.preempt_recompute for r in reps),
            "swap": sum(r.preempt_swap for r in reps),
        },
        replicas=len(reps),
        duration_s=duration,
        steps=sum(r.steps for r in reps),
        step_events=sum(r.step_events for r in reps),
        sim_events=sim.loop.processed,
        sim_wall_s=wall_s,
        per_request=cols,
        power_series=tuple(series),
    )


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None
