"""The serving deployment and policy as one frozen, validated value (no I/O, no late strings).

``simulate(**kwargs)`` builds it; a bad value raises ``JalapenoError`` naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from jalapeno.errors import JalapenoError
from jalapeno.serving.metrics import SLO
from jalapeno.serving.router import Router, RouterName
from jalapeno.serving.schedulers.base import PreemptionMode, Scheduler
from jalapeno.serving.schedulers.disagg import Disagg
from jalapeno.serving.schedulers.priorities import PolicyName
from jalapeno.serving.speculative import Speculative
from jalapeno.serving.tier import TierSpec

SchedulerName = Literal["vllm", "sarathi", "disagg", "prefill_first"]
SCHEDULERS = ("vllm", "sarathi", "disagg", "prefill_first")
ROUTERS = ("round_robin", "least_outstanding", "prefix_affinity")


@dataclass(frozen=True)
class ServingConfig:
    replicas: int = 1
    scheduler: SchedulerName | Scheduler = "vllm"
    router: RouterName | Router = "round_robin"
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
        _choice(self.scheduler, SCHEDULERS, "scheduler")
        _choice(self.router, ROUTERS, "router")
        _choice(self.policy, ("fcfs", "priority"), "policy")
        _choice(self.preemption, ("recompute", "swap"), "preemption")
        if not isinstance(self.slo, SLO):
            raise JalapenoError("must be an SLO", field="slo")
        for name in ("power_window_s", "rate_scale"):
            if not getattr(self, name) > 0:
                raise JalapenoError(f"must be > 0, got {getattr(self, name)}", field=name)
        if self.dollars_per_replica_hour is not None and self.dollars_per_replica_hour < 0:
            raise JalapenoError("must be >= 0", field="dollars_per_replica_hour")
        if self.scheduler == "disagg" and self.replicas != 1:
            raise JalapenoError("with scheduler='disagg', size the pools with Disagg(prefill_replicas=..., "
                                "decode_replicas=...)", field="replicas")
        spec_tokens = 1 + self.speculative.k if self.speculative else 1
        if self.max_num_batched_tokens is not None and self.max_num_batched_tokens < spec_tokens:
            raise JalapenoError(f"must be >= {spec_tokens} (a decode step's tokens)", field="max_num_batched_tokens")
        if self.disagg is not None and self.scheduler != "disagg":
            raise JalapenoError("disagg is given but scheduler is not 'disagg'", field="disagg")

    @property
    def is_disagg(self) -> bool:
        return self.scheduler == "disagg"

    @property
    def deployment(self) -> Disagg:
        return self.disagg or Disagg()


def _positive_int(value: Any, name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise JalapenoError(f"must be an integer >= 1, got {value!r}", field=name)


def _choice(value: Any, names: tuple[str, ...], name: str) -> None:
    if isinstance(value, str) and value not in names:
        raise JalapenoError(f"must be one of {', '.join(names)}; got {value!r}", field=name)
