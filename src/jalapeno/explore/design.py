"""A design (one point of a ``DesignSpace``) as an architecture and a deployment.

``build_arch(space, design)`` copies the space's base architecture file, writes every processor
parameter into it (a searched value's source reads ``design choice: <space> parameter <name>``; a
bundle's figures keep their own sources), applies the derived rules (``DERIVED``: spares, PHY sites,
SRAM and NoC bandwidths follow the searched sizes) and validates the result with the architecture
loader, so a design is exactly as checked as a hand-written architecture file.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from jalapeno.errors import JalapenoError
from jalapeno.explore.space import DesignSpace
from jalapeno.hardware.arch import ArchSpec, arch_from_dict, check_names, overridable
from jalapeno.hardware.loader import parse_yaml

DERIVED = {
    "cores.physical": "design rule: one spare core per 16 enabled (GH100: 12 spares in 144 SMs)",
    "memory.sites": "design rule: one PHY site per populated device",
    "cores.sram.bandwidth_bytes_per_cycle": "design rule: one bf16 operand row in and one result row out per "
    "engine per cycle, engines x (rows + cols) x 2 B",
    "cores.matrix.accumulator_bytes": "design rule: 512 fp32 partial sums per array column (as tpu-v5e-arch)",
    "noc.bandwidth_bytes_per_s": "design rule: NoC bisection = 2 x DRAM bandwidth, at least 1 TB/s "
    "(H100: 5.6 TB/s over 3.35 TB/s of HBM)",
}


# A design space's ``scheduler`` axis may name ``disagg`` (stored studies and fleets do): shorthand for the
# disaggregated topology with this prefill scheduler, as it ran before the topology was its own field.
DISAGG_SHORTHAND = ("disagg", "sarathi")


@dataclass(frozen=True)
class Deployment:
    """How a fleet of a chip serves the workload: ``replicas`` of ``tp`` chips each, or, with expert
    parallelism (``ep`` > 1, a MoE model), ``replicas`` parallel groups of ``ep`` chips: ``ep / tp``
    data-parallel attention replicas of ``tp`` chips, the experts spread over all ``ep``
    (``cost.pipeline.Parallel``); ``tbo``: two-micro-batch overlap of the all-to-alls. Colocated, or split
    into a prefill and a decode pool (``topology="disagg"``, ``prefill_share`` of the replicas prefill); with
    disagg, ``decode_tp``/``decode_ep``/``decode_tbo`` give the decode pool a plan of its own (None: the
    prefill pool's; ignored when colocated)."""

    tp: int = 1
    replicas: int = 1
    scheduler: str = "vllm"  # a serving scheduler (serving.schedulers); with disagg, the prefill pool's
    max_num_seqs: int = 256
    max_num_batched_tokens: int | None = None
    prefill_share: float = 0.5  # disagg: share of the replicas that prefill
    router: str = "least_outstanding"
    topology: str = "colocated"  # colocated | disagg
    ep: int = 1
    tbo: bool = False
    decode_tp: int | None = None
    decode_ep: int | None = None
    decode_tbo: bool | None = None

    def __post_init__(self) -> None:
        if self.scheduler == DISAGG_SHORTHAND[0]:
            object.__setattr__(self, "topology", "disagg")
            object.__setattr__(self, "scheduler", DISAGG_SHORTHAND[1])

    @property
    def disagg(self) -> bool:
        return self.topology == "disagg"

    @property
    def dp(self) -> int:
        return self.ep // self.tp if self.ep > 1 else 1

    @property
    def group_chips(self) -> int:
        """Chips of one replica (one parallel group)."""
        return self.tp * self.dp

    @property
    def chips(self) -> int:
        if self.own_decode_plan:
            dec = self.decode_deployment()
            return self.group_chips * self.prefill_replicas + dec.group_chips * dec.replicas
        return self.group_chips * self.replicas

    @property
    def own_decode_plan(self) -> bool:
        """Whether the decode pool runs a plan other than the prefill pool's (disagg only)."""
        d = self.decode_deployment()
        return self.disagg and d.plan_key != self.plan_key

    @property
    def plan_key(self) -> tuple[int, int, bool]:
        """What sets the pool's ``Parallel``: tp, ep and (with expert parallelism) tbo."""
        return self.tp, self.ep, self.tbo and self.ep > 1

    def decode_deployment(self) -> Deployment:
        """The decode pool as a deployment of its own: its plan and its ``replicas``."""
        return replace(
            self,
            tp=self.decode_tp or self.tp,
            ep=self.decode_ep or self.ep,
            replicas=self.replicas - self.prefill_replicas if self.disagg else self.replicas,
            tbo=self.tbo if self.decode_tbo is None else self.decode_tbo,
            decode_tp=None,
            decode_ep=None,
            decode_tbo=None,
        )

    def parallel(self) -> Any:
        """The replica's ``Parallel`` plan (a ``JalapenoError`` when ``ep`` does not fit ``tp``)."""
        from jalapeno.cost.pipeline import Parallel

        if self.ep > 1 and self.ep % self.tp:
            raise JalapenoError(f"ep={self.ep} is not a multiple of tp={self.tp}", field="ep")
        return Parallel(tp=self.tp, ep=self.ep, dp=self.dp, tbo=self.tbo and self.ep > 1)

    @property
    def prefill_replicas(self) -> int:
        return min(max(1, round(self.prefill_share * self.replicas)), self.replicas - 1)

    def label(self) -> str:
        plan = (
            f"ep{self.ep} (tp{self.tp} x dp{self.dp}){' tbo' if self.tbo else ''}"
            if self.ep > 1
            else f"tp{self.tp}"
        )
        s = f"{self.replicas} x {plan} {'disagg' if self.disagg else self.scheduler}"
        if self.disagg:
            s += f" {self.prefill_replicas}P:{self.replicas - self.prefill_replicas}D"
            if self.own_decode_plan:
                d = self.decode_deployment()
                s += f" decode {f'ep{d.ep} (tp{d.tp} x dp{d.dp})' if d.ep > 1 else f'tp{d.tp}'}"
                s += " tbo" if d.tbo and d.ep > 1 else ""
        elif self.max_num_batched_tokens:
            s += f" {self.max_num_batched_tokens} tok"
        return s

    def to_json(self) -> dict[str, Any]:
        """The fields and the chip count; ``topology`` only when disaggregated and ``ep``/``tbo`` only with
        expert parallelism (colocated dense records stay as they were)."""
        out = {
            "tp": self.tp,
            "replicas": self.replicas,
            "scheduler": self.scheduler,
            "max_num_seqs": self.max_num_seqs,
            "max_num_batched_tokens": self.max_num_batched_tokens,
            "prefill_share": self.prefill_share,
            "router": self.router,
            "chips": self.chips,
        }
        if self.disagg:
            out["topology"] = self.topology
        if self.ep > 1:
            out.update({"ep": self.ep, "tbo": self.tbo})
        if self.own_decode_plan:  # as given, so the JSON round-trips
            out.update(
                {
                    k: getattr(self, k)
                    for k in ("decode_tp", "decode_ep", "decode_tbo")
                    if getattr(self, k) is not None
                }
            )
        return out


def deployment_of(space: DesignSpace, design: Mapping[str, Any]) -> Deployment:
    vals: dict[str, Any] = dict(space.fixed)
    vals.update({p.name: design[p.name] for p in space.params if p.group == "deployment"})
    return Deployment(**vals)


@functools.lru_cache(maxsize=8)
def _base_data(path: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise JalapenoError(f"cannot read the base architecture {path}: {e}", field="base") from None
    return parse_yaml(text, path)


def arch_data(
    space: DesignSpace, design: Mapping[str, Any], *, name: str = "candidate", provenance: str = ""
) -> dict[str, Any]:
    """The architecture file (as a dict) of ``design``: base + parameters + derived rules."""
    data = _plain(copy.deepcopy(_base_data(str(space.base_path()))))
    data["name"] = name
    where = provenance or f"design space {space.name}"
    for p in space.params:
        if p.group != "processor":
            continue
        v = design[p.name]
        if p.bundles is not None:
            for path, setting in p.bundles[str(v)].items():
                _set(data, path, setting, f"{where}: {p.name} = {v}")
            continue
        for path in (p.name, *p.also):
            _set(data, path, v, f"design choice: {where}, parameter {p.name}")
    _derive(data)
    return data


def build_arch(space: DesignSpace, design: Mapping[str, Any], *, name: str = "candidate") -> ArchSpec:
    """The validated ``ArchSpec`` of ``design``; a ``JalapenoError`` names what is invalid."""
    data = arch_data(space, design, name=name)
    arch = arch_from_dict(data, origin=f"{space.name}:{name}")
    check_names(arch, overridable())
    return arch


def _plain(x: Any) -> Any:
    """Parsed YAML (with line-tracking mappings) as plain dicts and lists."""
    if isinstance(x, Mapping):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_plain(v) for v in x]
    return x


def _set(data: dict[str, Any], path: str, value: Any, source: str) -> None:
    """Write ``value`` at the dotted ``path``: a scalar into an existing figure keeps its shape and takes
    ``source``; a mapping or list replaces what is there; None removes the key."""
    keys = path.split(".")
    node = data
    for k in keys[:-1]:
        nxt = node.get(k)
        if not isinstance(nxt, dict):
            if value is None:
                return
            nxt = node[k] = {}
        node = nxt
    last = keys[-1]
    if value is None:
        node.pop(last, None)
    elif isinstance(value, (Mapping, list)):
        node[last] = _plain(copy.deepcopy(value))
    elif isinstance(node.get(last), dict) and "value" in node[last]:
        node[last] = {"value": value, "source": source}
    elif isinstance(value, str) or last in ("dims", "dataflows"):
        node[last] = value
    else:
        node[last] = {"value": value, "source": source}


def _fig(value: float, key: str) -> dict[str, Any]:
    return {"value": value, "source": DERIVED[key]}


def _derive(d: dict[str, Any]) -> None:
    cores = d.get("cores", {})
    n = _v(cores.get("count"))
    if n is not None:
        cores["physical"] = _fig(int(n + math.ceil(n / 16)), "cores.physical")
    mem = d.get("memory")
    devices = _v(mem.get("devices")) if isinstance(mem, dict) else None
    if isinstance(mem, dict) and devices is not None:
        mem["sites"] = _fig(int(devices), "memory.sites")
    m = cores.get("matrix", {})
    e, r, c = _v(m.get("engines")), _v(m.get("rows")), _v(m.get("cols"))
    if e is not None and r is not None and c is not None and isinstance(cores.get("sram"), dict):
        cores["sram"]["bandwidth_bytes_per_cycle"] = _fig(
            int(e * (r + c) * 2), "cores.sram.bandwidth_bytes_per_cycle"
        )
        m["accumulator_bytes"] = _fig(int(c * 512 * 4), "cores.matrix.accumulator_bytes")
    if isinstance(mem, dict) and isinstance(d.get("noc"), dict):
        bw = _dram_bw(mem)
        if bw is not None:
            d["noc"]["bandwidth_bytes_per_s"] = _fig(max(1e12, 2.0 * bw), "noc.bandwidth_bytes_per_s")


def _v(fig: Any) -> float | None:
    if isinstance(fig, dict) and "value" in fig:
        try:
            return float(fig["value"])
        except (TypeError, ValueError):
            return None
    return None


def _dram_bw(mem: dict[str, Any]) -> float | None:
    devices, bits, rate = (_v(mem.get(k)) for k in ("devices", "bus_bits_per_device", "pin_rate_bps"))
    if devices is None or bits is None or rate is None:
        return None
    return devices * bits * rate / 8.0
