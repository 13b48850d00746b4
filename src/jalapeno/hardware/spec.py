"""Typed, frozen chip specifications. Every figure is a ``Figure``: a value plus where it came from.

Units are SI and named in the field (bytes, bytes/s, seconds, watts, FLOP/s, mm2, pJ/bit).
Peak FLOP/s are *dense* (no structured-sparsity doubling).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class Figure:
    """One sourced number. ``secondary`` flags figures with no first-party (vendor/paper) source; an estimate
    carries the ``range`` its source supports (YAML ``range: [lo, hi]``)."""

    value: float
    source: str
    secondary: bool = False
    note: str = ""
    range: tuple[float, float] | None = None  # (lo, hi) of an estimated figure, lo <= value <= hi


@dataclass(frozen=True)
class TextFigure:
    """A sourced label (process node, memory type)."""

    value: str
    source: str
    secondary: bool = False
    note: str = ""


@dataclass(frozen=True)
class Flag:
    """A sourced yes/no capability (a switch that reduces in the network)."""

    value: bool
    source: str
    secondary: bool = False
    note: str = ""


@dataclass(frozen=True)
class MemoryLevel:
    """One level of the memory hierarchy. ``kind``: hbm2e/hbm3/hbm3e/hbm4/lpddr5x/gddr7/ddr5/sram."""

    name: str
    kind: str
    capacity_bytes: Figure
    bandwidth_bytes_per_s: Figure
    latency_s: Figure | None = None
    energy_pj_per_bit: Figure | None = None
    off_chip: bool = True


@dataclass(frozen=True)
class Interconnect:
    """Chip-to-chip links of the scale-up domain.

    ``bandwidth_bytes_per_s`` is the chip's total per direction over all ``links`` (NVLink4 on
    H100: 18 links, 450 GB/s per direction). ``topology``: switch, ring, torus2d, torus3d, mesh.
    ``in_network_reduction``: the switch sums what the chips send (NVLink SHARP on third-generation
    NVSwitch and later), so an all-reduce need not be a ring; absent means it cannot (docs/parallel.md).
    """

    name: str
    links: Figure
    bandwidth_bytes_per_s: Figure
    latency_s: Figure
    domain_size: Figure
    topology: str
    energy_pj_per_bit: Figure | None = None
    in_network_reduction: Flag | None = None

    @property
    def reduces_in_network(self) -> bool:
        return self.in_network_reduction is not None and self.in_network_reduction.value


# ChipSpec's optional single figures, in the order the YAML, its round trip and ``figures()`` list them.
TOP_FIGURES = (
    "launch_year",
    "process_node",
    "tdp_w",
    "idle_w",
    "die_area_mm2",
    "transistors",
    "clock_hz",
    "cores",
    "price_usd",
)


@dataclass(frozen=True)
class ChipSpec:
    """A real or hypothetical inference chip (one package, as sold/deployed)."""

    name: str
    vendor: str
    kind: str  # gpu, tpu, asic, lpu
    description: str
    launch_year: Figure
    process_node: TextFigure
    matrix_flops: Mapping[str, Figure]  # dense peak by compute dtype: fp32 tf32 bf16 fp8 int8 fp4 int4
    vector_flops: Mapping[str, Figure]  # non-matrix (SIMD/CUDA-core) peak by dtype
    memory: tuple[MemoryLevel, ...]  # memory[0] is main memory (HBM/LPDDR, or SRAM on SRAM-only chips)
    tdp_w: Figure
    idle_w: Figure | None = None
    interconnect: Interconnect | None = None
    die_area_mm2: Figure | None = None
    transistors: Figure | None = None
    clock_hz: Figure | None = None
    cores: Figure | None = None  # SMs, TensorCores, NeuronCores, ...
    price_usd: Figure | None = None
    source_file: str = ""
    extra: Mapping[str, Figure] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def main_memory(self) -> MemoryLevel:
        return self.memory[0]

    @property
    def memory_bytes(self) -> float:
        return self.main_memory.capacity_bytes.value

    @property
    def memory_bandwidth_bytes_per_s(self) -> float:
        return self.main_memory.bandwidth_bytes_per_s.value

    @property
    def scale_up_chips(self) -> int:
        """Chips in the scale-up domain (1 without an interconnect): the widest tensor-parallel group."""
        return int(self.interconnect.domain_size.value) if self.interconnect is not None else 1

    def peak_flops(self, compute_dtype: str) -> float | None:
        """Dense matrix peak for ``compute_dtype``, or None if the chip has no such rate."""
        f = self.matrix_flops.get(compute_dtype)
        return f.value if f else None

    def figures(self) -> dict[str, Figure | TextFigure]:
        """Every sourced figure keyed by a dotted path, for listing with sources."""
        out: dict[str, Figure | TextFigure] = {}
        for k in TOP_FIGURES:
            v = getattr(self, k)
            if v is not None:
                out[k] = v
        for d, f in self.matrix_flops.items():
            out[f"matrix_flops.{d}"] = f
        for d, f in self.vector_flops.items():
            out[f"vector_flops.{d}"] = f
        for m in self.memory:
            for k in ("capacity_bytes", "bandwidth_bytes_per_s", "latency_s", "energy_pj_per_bit"):
                v = getattr(m, k)
                if v is not None:
                    out[f"memory.{m.name}.{k}"] = v
        if self.interconnect:
            ic = self.interconnect
            for k in ("links", "bandwidth_bytes_per_s", "latency_s", "domain_size", "energy_pj_per_bit"):
                v = getattr(ic, k)
                if v is not None:
                    out[f"interconnect.{k}"] = v
        for k, v in self.extra.items():
            out[f"extra.{k}"] = v
        return out
