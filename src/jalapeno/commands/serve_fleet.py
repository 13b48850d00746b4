"""The fleet ``jalapeno serve`` builds from its options: chips and plans per pool, the simulator's options,
the KV link and tier bandwidths, and the deployment echo in the JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jalapeno.commands.options import (
    renamed,
    valid_tp,
    within_context,
)
from jalapeno.commands.parallel_options import check_on_chip
from jalapeno.commands.pool_options import pool_plans
from jalapeno.cost.pipeline import Parallel
from jalapeno.errors import JalapenoError

if TYPE_CHECKING:
    from jalapeno.cost.oracle import CostOracle
    from jalapeno.graph.precision import Precision
    from jalapeno.hardware import ChipSpec
    from jalapeno.models.config import ModelConfig


KV_LINK_GBPS = (
    400.0  # one 400 Gb/s NIC per replica (InfiniBand NDR / ConnectX-7), for chips without NIC figures
)


TIER_GBPS = 512.0  # PCIe 5.0 x16, one direction (64 GB/s)


@dataclass(frozen=True)
class Fleet:
    """What the options name: the model, the chips, the precision and the pool sizes."""

    model: ModelConfig
    chip: ChipSpec  # every replica's (the prefill pool's with disagg)
    decode_chip: ChipSpec | None  # the decode pool's, when it differs
    precision: Precision
    tp: int
    scheduler: str  # each replica's (the prefill pool's with disagg; the decode pool runs vllm)
    topology: str  # colocated | disagg
    replicas: int  # all replicas, both pools with disagg
    prefill_replicas: int
    decode_replicas: int
    pp: int = 1  # pipeline stages per replica
    parallel: Parallel | None = None  # the replica's whole plan (expert parallel: a group of tp x dp chips)
    decode_parallel: Parallel | None = None  # the decode pool's plan, when it differs (disagg)

    @property
    def chips_per_replica(self) -> int:
        """Chips of one replica (the prefill pool's with disagg)."""
        return self.parallel.chips if self.parallel is not None else self.tp * self.pp

    @property
    def decode_plan(self) -> Parallel | None:
        """The decode pool's plan (disagg only): its own, else the prefill pool's."""
        return (self.decode_parallel or self.parallel) if self.disagg else None

    @property
    def decode_chips_per_replica(self) -> int:
        plan = self.decode_plan
        return plan.chips if plan is not None else self.chips_per_replica

    @property
    def chips(self) -> int:
        """Every chip of the fleet, both pools."""
        return sum(n * chips for _, n, chips in self.pools)

    @property
    def disagg(self) -> bool:
        return self.topology == "disagg"

    @property
    def pools(self) -> list[tuple[ChipSpec, int, int]]:
        """(chip, replicas, chips a replica) of each pool."""
        if self.disagg:
            return [
                (self.chip, self.prefill_replicas, self.chips_per_replica),
                (self.decode_chip or self.chip, self.decode_replicas, self.decode_chips_per_replica),
            ]
        return [(self.chip, self.replicas, self.chips_per_replica)]


def resolve_fleet(o: dict[str, Any]) -> Fleet:
    from jalapeno.graph.precision import Precision
    from jalapeno.hardware import resolve_chip
    from jalapeno.models import resolve_model

    model = renamed("--model", resolve_model, o["model"])
    chip = renamed("--hardware", resolve_chip, o["hardware"])
    dchip = None
    if o["decode_hardware"] is not None:
        dchip = renamed("--decode-hardware", resolve_chip, o["decode_hardware"])
    valid_tp(model, o["tp"])
    if o["max_model_len"] is not None:
        within_context(model, "--max-model-len", o["max_model_len"])
    precision = Precision.of(o["dtype"], o["act_dtype"], o["kv_dtype"])
    n_pre, n_dec = o["prefill_replicas"] or 1, o["decode_replicas"] or 1
    replicas = n_pre + n_dec if o["topology"] == "disagg" else (o["replicas"] or 1)
    pp = o.get("pp") or 1
    if o.get("decode_tp") is not None:
        valid_tp(model, o["decode_tp"], "--decode-tp")
    if o.get("comm_sms"):  # cost.oracle refuses it: the serving hot loop does not price shared cores
        raise JalapenoError(
            "cores held by the all-to-all are priced by estimate only, not in serving; drop it",
            field="--comm-sms",
        )
    prefill_plan, decode_plan = pool_plans(o)
    # per-node dispatch needs one pool spanning nodes (the widest; the other may fit one)
    check_on_chip(*max((prefill_plan, chip), (decode_plan, dchip or chip), key=lambda pc: pc[0].ep))
    return Fleet(
        model,
        chip,
        dchip,
        precision,
        o["tp"],
        o["scheduler"],
        o["topology"],
        replicas,
        n_pre,
        n_dec,
        pp,
        prefill_plan,
        decode_plan if o["topology"] == "disagg" and decode_plan != prefill_plan else None,
    )


def sim_options(o: dict[str, Any], fleet: Fleet, decode_oracle: CostOracle | None) -> dict[str, Any]:
    """The ``simulate`` keyword arguments beyond the oracle."""
    from jalapeno.serving import SLO, Disagg, Speculative, TierSpec

    opts: dict[str, Any] = {
        "replicas": 1 if fleet.disagg else fleet.replicas,
        "scheduler": o["scheduler"],
        "topology": fleet.topology,
        "router": o["router"],
        "prefix_cache": o["prefix_cache"],
        "slo": SLO(ttft_s=o["ttft_slo"], tpot_s=o["tpot_slo"]),
        "preemption": o["preemption"],
    }
    limits = ("max_num_seqs", "max_num_batched_tokens")
    opts.update({k: o[k] for k in limits if o[k] is not None})
    # requests beyond the model's context are dropped with that reason (and counted), never served
    opts["max_model_len"] = o["max_model_len"] or fleet.model.max_position_embeddings
    if fleet.disagg:
        opts["disagg"] = Disagg(
            fleet.prefill_replicas,
            fleet.decode_replicas,
            decode_oracle=decode_oracle,
            decode_parallel=fleet.decode_parallel,
            **kv_link(o, fleet),
        )
    if o["speculative"] is not None:
        opts["speculative"] = Speculative(o["speculative"], o["acceptance"], o["draft_cost"] or 0.0)
    if o["tier_gb"] is not None:
        opts["tier"] = TierSpec(o["tier_gb"] * 1e9, _tier_gbps(o) * 1e9 / 8)
    return opts


def kv_link(o: dict[str, Any], fleet: Fleet) -> dict[str, Any]:
    """The ``Disagg`` link fields. ``--kv-link-gbps``: one link of that figure a prefill replica, as
    before. Else, when the chips have scale-out NIC figures, ``cost.kv_transfer`` over the two pools' plans:
    a request's KV leaves one prefill attention replica's NICs and lands on one decode attention
    replica's, resharded, the busiest NIC setting the rate (each replica has ``dp`` such NIC groups).
    Chips without NIC figures: one 400G NIC a replica."""
    from jalapeno.cost.kv_transfer import kv_transfer
    from jalapeno.hardware.network import network_of

    net = network_of(fleet.chip)
    if o["kv_link_gbps"] is not None or net is None or net.scale_out is None:
        gbps = o["kv_link_gbps"] if o["kv_link_gbps"] is not None else KV_LINK_GBPS
        return {"link_bandwidth_bytes_per_s": gbps * 1e9 / 8}
    dnet = network_of(fleet.decode_chip) if fleet.decode_chip is not None else net
    if dnet is None or dnet.scale_out is None:
        dnet = net  # a decode chip without NIC figures: the prefill chip's, as before
    pre, dec = fleet.parallel or Parallel(fleet.tp, fleet.pp), fleet.decode_plan
    assert dec is not None
    bw, lat = kv_transfer(fleet.model, pre, dec, net, dnet).link()
    return {
        "link_bandwidth_bytes_per_s": bw,
        "link_latency_s": lat,
        "prefill_groups": pre.dp,
        "decode_groups": dec.dp,
    }


def _link_gbps(o: dict[str, Any], fleet: Fleet) -> float:
    """The echo of the KV link: Gb/s at which one request's KV drains."""
    if o["kv_link_gbps"] is not None:
        return o["kv_link_gbps"]
    return kv_link(o, fleet)["link_bandwidth_bytes_per_s"] * 8 / 1e9


def _tier_gbps(o: dict[str, Any]) -> float:
    return o["tier_gbps"] if o["tier_gbps"] is not None else TIER_GBPS


def deployment_echo(o: dict[str, Any], fleet: Fleet, cost_params: str) -> dict[str, Any]:
    """The deployment and workload options as run (defaults filled in), for the JSON document."""
    spec = (
        None
        if o["speculative"] is None
        else {"k": o["speculative"], "acceptance": o["acceptance"], "draft_cost": o["draft_cost"] or 0.0}
    )
    tier = None if o["tier_gb"] is None else {"capacity_gb": o["tier_gb"], "bandwidth_gbps": _tier_gbps(o)}
    return {
        "model": fleet.model.name,
        "model_source": fleet.model.source,
        "hardware": fleet.chip.name,
        "decode_hardware": fleet.decode_chip.name if fleet.decode_chip else None,
        "tp": fleet.tp,
        "pp": fleet.pp,
        "chips_per_replica": fleet.chips_per_replica,
        "decode_chips_per_replica": fleet.decode_chips_per_replica if fleet.disagg else None,
        "chips": fleet.chips,
        "replicas": fleet.replicas,
        "prefill_replicas": fleet.prefill_replicas if fleet.disagg else None,
        "decode_replicas": fleet.decode_replicas if fleet.disagg else None,
        "scheduler": fleet.scheduler,
        "topology": fleet.topology,
        "router": o["router"],
        "prefix_cache": o["prefix_cache"],
        "precision": fleet.precision.label,
        "max_num_seqs": o["max_num_seqs"],
        "max_num_batched_tokens": o["max_num_batched_tokens"],
        "max_model_len": o["max_model_len"],
        "preemption": o["preemption"],
        "speculative": spec,
        "tier": tier,
        "kv_link_gbps": _link_gbps(o, fleet) if fleet.disagg else None,
        "parallel": fleet.parallel.to_json() if fleet.parallel is not None else None,
        "decode_parallel": fleet.decode_plan.to_json() if fleet.decode_plan is not None else None,
        "trace": o["trace"],
        "start_s": o["start_s"],
        "duration_s": o["duration_s"],
        "limit": o["limit"],
        "rate": o["rate"],
        "arrivals": o["arrivals"],
        "seed": o["seed"],
        "price_rule": o["price_rule"],
        "cost_params": cost_params,
    }
