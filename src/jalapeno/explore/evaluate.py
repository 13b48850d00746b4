"""One full evaluation: a design (or a bought chip) and a deployment, served on a workload.

Objectives, the same definitions for every chip (docs/explore.md):

* ``goodput_per_watt``: SLO-meeting requests per joule of fleet energy, idle included
  (= goodput in req/s over average fleet power in W; the reports print it per kW). Fleet energy is the
  serving simulator's: every step's energy plus every replica's idle power while it waits.
* ``usd_per_mtok``: TCO per million tokens processed (prompt + output), by the one rule every command
  uses (``hardware.tco.fleet_tco``, docs/tco.md): chips at (cost + NRE / volume) / (1 - margin) plus per-slot
  host and network over the lifetime, plus the simulated average fleet power and per-slot host power x PUE
  x $/kWh. ``price_rule`` (margin, cost, street) picks the chip price.
* ``ttft_p99_s``: 99th-percentile time to first token.

A design is infeasible (status ``infeasible``, with every reason) when its architecture is invalid, its
die exceeds the reticle, its TDP, price or fleet size exceeds the space's limits, the model's weights
plus the KV cache the SLO needs do not fit a replica, or fewer than ``attainment`` of the requests meet
the SLO. Infeasible designs keep whatever metrics were measured but never enter a Pareto set.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jalapeno.errors import JalapenoError
from jalapeno.explore.design import Deployment, build_arch, deployment_of
from jalapeno.explore.space import DesignSpace
from jalapeno.explore.workload import Workload

OBJECTIVES = ("goodput_per_watt", "usd_per_mtok", "ttft_p99_s")
SENSES = {"goodput_per_watt": "max", "usd_per_mtok": "min", "ttft_p99_s": "min"}


@dataclass(frozen=True)
class Evaluation:
    status: str  # ok | infeasible
    reasons: tuple[str, ...] = ()
    objectives: Mapping[str, float] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)

    @property
    def feasible(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reasons": list(self.reasons),
            "objectives": dict(self.objectives),
            "metrics": dict(self.metrics),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Evaluation:
        return cls(
            d["status"],
            tuple(d.get("reasons", ())),
            dict(d.get("objectives", {})),
            dict(d.get("metrics", {})),
        )


def infeasible(*reasons: str, **metrics: Any) -> Evaluation:
    return Evaluation("infeasible", tuple(reasons), {}, metrics)


# ---------------------------------------------------------------- designs


def chip_checks(chip: Any, limits: Mapping[str, float]) -> list[str]:
    """Reasons a derived chip breaks the space's limits (empty when it does not)."""
    out = []
    area = chip.die_area_mm2.value if chip.die_area_mm2 is not None else 0.0
    if "die_area_mm2" in limits and area > limits["die_area_mm2"]:
        out.append(f"reticle: die {area:,.0f} mm2 > {limits['die_area_mm2']:,.0f} mm2")
    if "tdp_w" in limits and chip.tdp_w.value > limits["tdp_w"]:
        out.append(f"power: TDP {chip.tdp_w.value:,.0f} W > {limits['tdp_w']:,.0f} W")
    price = chip.price_usd.value if chip.price_usd is not None else math.inf
    if "price_usd" in limits and price > limits["price_usd"]:
        out.append(f"cost: price ${price:,.0f} > ${limits['price_usd']:,.0f}")
    cost = chip.extra.get("cost.total_usd")
    if "cost_usd" in limits and cost is not None and cost.value > limits["cost_usd"]:
        out.append(f"cost: manufacturing ${cost.value:,.0f} > ${limits['cost_usd']:,.0f}")
    return out + physical_checks(chip) + network_checks(chip)


def network_checks(chip: Any) -> list[str]:
    """A full mesh needs a link to each peer, a 2D/3D torus two links a dimension (``hardware.network``
    prices one link a peer on a mesh and bw / (2 dims) a neighbour on a torus, so fewer links would be
    priced as if they were there)."""
    from jalapeno.hardware.network import network_of

    net = network_of(chip)
    if net is None:
        return []
    up = net.scale_up
    need = {"mesh": up.domain_size - 1, "torus2d": 4, "torus3d": 6}.get(up.topology, 1)
    if up.links < need:
        return [
            (
                f"network: a {up.domain_size}-chip {up.topology} needs at least {need} links, the chip has "
                f"{up.links}"
            )
        ]
    return []


def physical_checks(chip: Any) -> list[str]:
    """Reticle, HBM beachfront, power density and interposer limits of a chip derived from an architecture."""
    from jalapeno.hardware.arch import arch_of
    from jalapeno.hardware.arch.physical import violations

    arch = arch_of(chip)
    return [f"physical: {r}" for r in violations(arch)] if arch is not None else []


def evaluate_design(
    space: DesignSpace,
    design: Mapping[str, Any],
    workload: Workload,
    *,
    fast: bool = True,
    price_rule: str = "margin",
) -> Evaluation:
    """Build, check and serve one design point (never raises for a bad design: it is infeasible)."""
    t0 = time.perf_counter()
    from jalapeno.hardware.arch import derive_chip, model

    try:
        design = space.check(design)
        arch = build_arch(space, design)
    except JalapenoError as e:
        return infeasible(f"spec: {e}")
    area = model.area(arch)["total"].value  # before the cost model, which needs a die that fits a wafer
    if area > space.constraints.get("die_area_mm2", math.inf):
        return infeasible(
            f"reticle: die {area:,.0f} mm2 > {space.constraints['die_area_mm2']:,.0f} mm2",
            die_area_mm2=area,
            build_s=time.perf_counter() - t0,
        )
    try:
        chip = derive_chip(arch)
    except (JalapenoError, ArithmeticError, ValueError) as e:
        return infeasible(f"spec: the architecture cannot be derived ({type(e).__name__}: {e})")
    dep = deployment_of(space, design)
    reasons = chip_checks(chip, space.constraints)
    if "chips" in space.constraints and dep.chips > space.constraints["chips"]:
        reasons.append(f"fleet: {dep.chips} chips > {space.constraints['chips']:g}")
    base = chip_metrics(chip)
    if reasons:
        return infeasible(*reasons, **base, build_s=time.perf_counter() - t0)
    ev = evaluate_chip(chip, dep, workload, fast=fast, price_rule=price_rule)
    return Evaluation(ev.status, ev.reasons, ev.objectives, {**base, **ev.metrics})


def chip_metrics(chip: Any) -> dict[str, Any]:
    x = chip.extra
    return {
        "die_area_mm2": chip.die_area_mm2.value if chip.die_area_mm2 is not None else None,
        "tdp_w": chip.tdp_w.value,
        "idle_w": chip.idle_w.value if chip.idle_w is not None else None,
        "price_usd": chip.price_usd.value if chip.price_usd is not None else None,
        "cost_usd": x["cost.total_usd"].value if "cost.total_usd" in x else None,
        "peak_fp8_flops": chip.peak_flops("fp8"),
        "peak_bf16_flops": chip.peak_flops("bf16"),
        "memory_bytes": chip.memory_bytes,
        "memory_bandwidth_bytes_per_s": chip.memory_bandwidth_bytes_per_s,
    }


# ---------------------------------------------------------------- any chip


def kv_tokens_needed(workload: Workload, dep: Deployment) -> int:
    """KV tokens one (decode) replica must hold to meet the SLO: Little's law on requests in flight at the
    SLO's pace (rate / replicas x (TTFT + mean output x TPOT)) times the mean context, and at least the
    longest request."""
    reqs = workload.requests()
    span = max(r.arrival_s for r in reqs) - min(r.arrival_s for r in reqs)
    rate = len(reqs) / span if span > 0 else float(len(reqs))
    ctx = [r.prompt_tokens + r.output_tokens for r in reqs]
    mean_out = sum(r.output_tokens for r in reqs) / len(reqs)
    serving = dep.replicas - dep.prefill_replicas if dep.disagg else dep.replicas
    in_flight = rate / max(serving, 1) * (workload.slo_ttft_s + mean_out * workload.slo_tpot_s)
    return int(max(max(ctx), math.ceil(in_flight) * sum(ctx) / len(ctx)))


def build_oracle(chip: Any, tp: int, workload: Workload, *, fast: bool = True, parallel: Any = None) -> Any:
    """The step oracle of one replica: ``tp`` chips, or the ``parallel`` plan (expert parallelism) when
    given."""
    from jalapeno.cost.oracle import CostOracle
    from jalapeno.cost.params import setup_for
    from jalapeno.explore.fast_oracle import FastOracle

    params, timer = setup_for(
        chip, "fused"
    )  # GPUs under a fused engine, as the mapper fuses for architectures
    cls = FastOracle if fast else CostOracle
    return cls(
        workload.model_config(),
        chip,
        params,
        tp=tp,
        precision=workload.precision(),
        timer=timer,
        parallel=parallel,
    )


def evaluate_chip(
    chip: Any,
    dep: Deployment,
    workload: Workload,
    *,
    fast: bool = True,
    keep_result: bool = False,
    price_rule: str = "margin",
    tco_values: Mapping[str, float] | None = None,
    throughput_factor: float = 1.0,
) -> Evaluation:
    """Serve ``workload`` on ``dep.replicas`` x ``dep.tp`` of ``chip``; objectives and metrics. A chip with no
    price under ``price_rule`` is simulated (its goodput per watt stands) but infeasible, with the reason.
    ``tco_values`` replaces TCO constants (``hardware.tco``), e.g. a Monte Carlo draw; ``throughput_factor``
    is a sampled model error (``cost.model_error``: every step 1 / factor as long, at the same power)."""
    from jalapeno.cost.model_error import scaled
    from jalapeno.hardware.tco import chip_price

    t0 = time.perf_counter()
    if dep.disagg and dep.replicas < 2:
        return infeasible("deployment: disaggregation needs at least 2 replicas")
    try:
        par = dep.parallel() if dep.ep > 1 else None
        oracle = build_oracle(chip, dep.tp, workload, fast=fast, parallel=par)
        doracle, dec = None, dep
        if dep.own_decode_plan:  # the decode pool's own plan, priced by its own oracle
            dec = dep.decode_deployment()
            dpar = dec.parallel() if dec.ep > 1 else None
            doracle = build_oracle(chip, dec.tp, workload, fast=fast, parallel=dpar)
    except JalapenoError as e:
        if e.field in ("ep", "dp", "tp", "pp", "redundant_experts"):
            return infeasible(f"deployment: plan: {e}")
        return infeasible(f"memory: {str(e).removeprefix('memory: ')}")
    need = kv_tokens_needed(workload, dep)
    kv_tokens = (doracle or oracle).kv_capacity_tokens
    if kv_tokens < need:
        g = dec.group_chips
        return infeasible(
            f"memory: KV cache holds {kv_tokens:,} tokens a replica, the SLO needs "
            f"{need:,} (weights {chip.memory_bytes * g / 1e9:.0f} GB of memory on {g} chips)"
        )
    t1 = time.perf_counter()
    scaled_decode = None if doracle is None else scaled(doracle, throughput_factor)
    res = serve(scaled(oracle, throughput_factor), dep, workload, decode_oracle=scaled_decode)
    m = result_metrics(res)
    m.update(
        chips=dep.chips,
        deployment=dep.to_json(),
        kv_capacity_tokens=oracle.kv_capacity_tokens,
        oracle_s=t1 - t0,
        simulate_s=time.perf_counter() - t1,
    )
    obj = objectives(res, chip, dep.chips, price_rule, values=tco_values)
    m.update({k: v for k, v in obj.items() if k not in OBJECTIVES})
    m["chip_price"] = chip_price(chip, tco_values).to_json()
    obj = {k: obj[k] for k in OBJECTIVES}
    if keep_result:
        m["result"] = res
    reasons = []
    if res.slo_attainment < workload.attainment:
        reasons.append(f"slo: attainment {res.slo_attainment:.3f} < {workload.attainment:g}")
    missing = chip_price(chip).missing(price_rule)
    if missing is not None:
        reasons.append(f"price: {missing}")
    return Evaluation("infeasible" if reasons else "ok", tuple(reasons), obj, m)


def serve(
    oracle: Any, dep: Deployment, workload: Workload, *, decode_oracle: Any = None, **extra: Any
) -> Any:
    """Simulate ``workload`` on ``dep``; ``decode_oracle`` prices a disaggregated decode pool's own plan."""
    from jalapeno.serving import Disagg, simulate

    kw: dict[str, Any] = {"max_num_seqs": dep.max_num_seqs, **extra}
    if dep.max_num_batched_tokens is not None:
        kw["max_num_batched_tokens"] = dep.max_num_batched_tokens
    if dep.disagg:
        kw["disagg"] = Disagg(
            prefill_replicas=dep.prefill_replicas,
            decode_replicas=dep.replicas - dep.prefill_replicas,
            decode_oracle=decode_oracle,
            decode_parallel=decode_oracle.parallel if decode_oracle is not None else None,
        )
        return simulate(
            workload.requests(),
            oracle,
            replicas=1,
            scheduler=dep.scheduler,
            topology="disagg",
            router=dep.router,
            prefix_cache=workload.prefix_cache,
            slo=workload.slo(),
            **kw,
        )
    return simulate(
        workload.requests(),
        oracle,
        replicas=dep.replicas,
        scheduler=dep.scheduler,
        router=dep.router,
        prefix_cache=workload.prefix_cache,
        slo=workload.slo(),
        **kw,
    )


def result_metrics(res: Any) -> dict[str, Any]:
    return {
        "slo_attainment": res.slo_attainment,
        "goodput_rps": res.goodput_rps,
        "avg_power_w": res.avg_power_w,
        "peak_power_w": res.peak_power_w,
        "energy_j": res.energy_j,
        "duration_s": res.duration_s,
        "ttft_p50_s": res.ttft_s.p50,
        "ttft_p90_s": res.ttft_s.p90,
        "tpot_p50_s": res.tpot_s.p50,
        "tpot_p90_s": res.tpot_s.p90,
        "tpot_p99_s": res.tpot_s.p99,
        "throughput_tokens_per_s": res.throughput_tokens_per_s,
        "throughput_total_tokens_per_s": res.throughput_total_tokens_per_s,
        "joules_per_output_token": res.joules_per_token.output,
        "prefix_hit_rate": res.prefix_hit_rate,
        "requests": res.requests,
        "dropped": len(res.dropped),
        "preemptions": dict(res.preemptions),
    }


def objectives(
    res: Any, chip: Any, chips: int, price_rule: str = "margin", *, values: Mapping[str, float] | None = None
) -> dict[str, float]:
    """The three objectives of a finished simulation, plus the terms of the TCO (``hardware.tco``; ``values``
    replaces its constants)."""
    from jalapeno.hardware.tco import fleet_tco

    gpw = res.goodput_rps / res.avg_power_w if res.avg_power_w > 0 else 0.0
    ttft = res.ttft_s.p99 if res.ttft_s.p99 is not None else math.inf
    tco = fleet_tco(
        chip,
        chips,
        res.avg_power_w,
        res.throughput_total_tokens_per_s,
        res.throughput_tokens_per_s,
        price_rule,
        values,
    )
    if tco is None or tco.usd_per_mtok is None:
        return {"goodput_per_watt": gpw, "usd_per_mtok": math.inf, "ttft_p99_s": ttft}
    capex, energy = tco.usd_per_mtok_capex, tco.usd_per_mtok_energy
    assert capex is not None and energy is not None  # tokens were served: usd_per_mtok is not None
    return {
        "goodput_per_watt": gpw,
        "usd_per_mtok": tco.usd_per_mtok,
        "ttft_p99_s": ttft,
        "usd_per_mtok_output": tco.usd_per_mtok_output or math.inf,
        "usd_per_mtok_capex": capex,
        "usd_per_mtok_energy": energy,
        "slo_tokens_per_joule": _slo_tokens(res) / res.energy_j if res.energy_j > 0 else 0.0,
    }


def _slo_tokens(res: Any) -> float:
    """Output tokens of the requests that met the SLO."""
    import numpy as np

    from jalapeno.serving.metrics import slo_met

    cols = res.per_request
    met = slo_met(cols, res.slo)
    return float(np.asarray(cols["output_tokens"])[met].sum())
