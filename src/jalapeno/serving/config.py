"""The serving deployment and policy as one frozen, validated value (no I/O, no late strings).

``simulate(**kwargs)`` builds it; a bad value raises ``JalapenoError`` naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from jalapeno.errors import JalapenoError
from jalapeno.serving.disagg import Disagg
from jalapeno.serving.metrics import SLO
from jalapeno.serving.routers.base import ROUTERS, Router
from jalapeno.serving.schedulers.base import SCHEDULERS, PreemptionMode, Scheduler
from jalapeno.serving.schedulers.priorities import PolicyName
from jalapeno.serving.speculative import Speculative
from jalapeno.serving.tier import TierSpec

# How the replicas are laid out: one pool that prefills and decodes, or a prefill and a decode pool
# (``disagg.py``). Orthogonal to the scheduler, which plans each replica's steps.
TopologyName = Literal["colocated", "disagg"]
TOPOLOGIES: tuple[TopologyName, ...] = ("colocated", "disagg")


@dataclass(frozen=True)
class ServingConfig:
    replicas: int = 1
    scheduler: str | Scheduler = "vllm"  # a name in SCHEDULERS (with disagg: the prefill pool's)
    router: str | Router = "round_robin"  # a name in ROUTERS
    topology: TopologyName = "colocated"
    prefix_cache: bool = False
    slo: SLO = field(default_factory=SLO)
    block_size: int = 16
    max_num_seqs: int = 256
    max_num_batched_tokens: int | None = None  # None: 8192 for vllm, 2048 for sarathi (vLLM's defaults)
    max_model_len: int | None = None
    policy: PolicyName = "fcfs"
    preemption: PreemptionMode = "recompute"
    tier: TierSpec | None = None
    disagg: Disagg | None = None
    speculative: Speculative | None = None
    max_decode_run: int = 256
    dollars_per_replica_hour: float | None = None
    power_window_s: float = 1.0
    rate_scale: float = 1.0

    def __post_init__(self) -> None:
        _positive_int(self.replicas, "replicas")
        _positive_int(self.block_size, "block_size")
        _positive_int(self.max_num_seqs, "max_num_seqs")
        _positive_int(self.max_decode_run, "max_decode_run")
        if self.max_num_batched_tokens is not None:
            _positive_int(self.max_num_batched_tokens, "max_num_batched_tokens")
        if self.max_model_len is not None:
            _positive_int(self.max_model_len, "max_model_len")
        if self.scheduler == "disagg":
            raise JalapenoError(
                "disaggregation is a topology, not a scheduler: give topology='disagg' and the "
                "prefill pool's scheduler (it was sarathi)",
                field="scheduler",
            )
        _choice(self.scheduler, SCHEDULERS.names(), "scheduler")
        _choice(self.router, ROUTERS.names(), "router")
        _choice(self.topology, TOPOLOGIES, "topology")
        _choice(self.policy, ("fcfs", "priority"), "policy")
        _choice(self.preemption, ("recompute", "swap"), "preemption")
        if not isinstance(self.slo, SLO):
            raise JalapenoError("must be an SLO", field="slo")
        for name in ("power_window_s", "rate_scale"):
            if not getattr(self, name) > 0:
                raise JalapenoError(f"must be > 0, got {getattr(self, name)}", field=name)
        if self.dollars_per_replica_hour is not None and self.dollars_per_replica_hour < 0:
            raise JalapenoError("must be >= 0", field="dollars_per_replica_hour")
        if self.is_disagg and self.replicas != 1:
            raise JalapenoError(
                "with topology='disagg', size the pools with Disagg(prefill_replicas=..., "
                "decode_replicas=...)",
                field="replicas",
            )
        spec_tokens = 1 + self.speculative.k if self.speculative else 1
        if self.max_num_batched_tokens is not None and self.max_num_batched_tokens < spec_tokens:
            raise JalapenoError(
                f"must be >= {spec_tokens} (a decode step's tokens)", field="max_num_batched_tokens"
            )
        if self.disagg is not None and not self.is_disagg:
            raise JalapenoError("disagg is given but topology is not 'disagg'", field="disagg")

    @property
    def is_disagg(self) -> bool:
        return self.topology == "disagg"

    @property
    def pools(self) -> Disagg:
        """The disaggregated pools (defaults when ``disagg`` is not given)."""
        return self.disagg or Disagg()


def _positive_int(value: Any, name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise JalapenoError(f"must be an integer >= 1, got {value!r}", field=name)


def _choice(value: Any, names: tuple[str, ...], name: str) -> None:
    if isinstance(value, str) and value not in names:
        raise JalapenoError(f"must be one of {', '.join(names)}; got {value!r}", field=name)
