"""A parameterized processor: the microarchitecture a chip's datasheet numbers come from.

Every number is a sourced ``Figure``; ``jalapeno.hardware.arch.derive.derive_chip`` turns an
``ArchSpec`` into the ``ChipSpec`` the rest of Jalapeño consumes (peaks, bandwidths, capacities, TDP,
area, cost), each derived figure citing the formula and the file it came from.

Shape of a processor: ``cores`` identical cores (of ``physical`` on the die; the rest are spares for
yield), each with ``matrix.engines`` matrix engines of ``rows x cols x depth`` multiply-accumulators
(``depth`` 1 is a systolic array; > 1 a dot-product unit such as a GPU tensor core), a vector unit,
a register file and a core-local SRAM; optionally a shared SRAM (L2 / CMEM), off-chip DRAM (HBM or
LPDDR; none on SRAM-only designs), a network-on-chip and chip-to-chip links.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from jalapeno.hardware.spec import Figure, TextFigure

ENGINE_KINDS = ("systolic", "dot_product")
DATAFLOWS = ("ws", "os", "is")  # weight, output, input stationary
SRAM_STYLES = ("hd", "hp", "rf")  # high-density 6T macro, high-bandwidth multi-bank, register-file-like
DRAM_KINDS = ("hbm2", "hbm2e", "hbm3", "hbm3e", "hbm4", "lpddr5", "lpddr5x", "gddr6", "gddr7", "ddr5")
LINK_TOPOLOGIES = ("switch", "ring", "torus2d", "torus3d", "fully_connected", "dragonfly")
NOC_TOPOLOGIES = ("crossbar", "mesh", "ring", "stream")
PACKAGES = ("cowos-s", "cowos-l", "emib", "organic")
FUSION = ("none", "elementwise")


def _empty() -> Mapping[str, Figure]:
    return MappingProxyType({})


@dataclass(frozen=True)
class MatrixEngine:
    """``engines`` per core, each ``rows x cols x depth`` MACs a cycle at ``rates[dtype]`` = 1."""

    kind: str
    engines: Figure
    rows: Figure
    cols: Figure
    depth: Figure
    rates: Mapping[str, Figure]  # MACs per PE per cycle, by compute dtype (bf16: 1, fp8: 2, ...)
    dataflows: tuple[str, ...]
    accumulator_bytes: Figure  # per engine (partial-sum storage next to the array)
    clock_hz: Figure | None = None  # when the engine runs off the chip clock (Trainium2: 2.4 GHz)
    load_rows_per_cycle: Figure | None = None  # stationary-operand load rate (1: one array row a cycle)

    @property
    def pes(self) -> int:
        return int(self.rows.value * self.cols.value * self.depth.value)


@dataclass(frozen=True)
class VectorUnit:
    lanes: Figure  # per core
    rates: Mapping[str, Figure]  # FLOP per lane per cycle, by dtype (an FMA is 2)
    sfu_ops_per_cycle: Figure | None = None  # exp/rsqrt/... per core per cycle
    clock_hz: Figure | None = None


@dataclass(frozen=True)
class Sram:
    capacity_bytes: Figure
    bandwidth_bytes_per_cycle: Figure
    style: str = "hd"
    bank_bytes: Figure | None = None  # one macro's size: sets read energy (default by style)


@dataclass(frozen=True)
class Cores:
    count: Figure  # enabled
    physical: Figure  # on the die (area, yield with spares)
    matrix: MatrixEngine
    vector: VectorUnit
    sram: Sram  # per core
    register_file_bytes: Figure | None = None  # per core


@dataclass(frozen=True)
class Dram:
    """Off-chip memory: ``devices`` populated stacks/channels of ``sites`` PHYs on the die."""

    kind: str
    devices: Figure
    sites: Figure
    capacity_bytes_per_device: Figure
    bus_bits_per_device: Figure
    pin_rate_bps: Figure
    latency_s: Figure
    efficiency: Figure  # achievable / peak bandwidth of a streaming kernel (reads and writes)
    gemm_efficiency: Figure | None = None  # weight-streaming (small-M) GEMMs; default: efficiency
    kv_read_efficiency: Figure | None = None  # KV-cache reads of decode attention; default: efficiency


@dataclass(frozen=True)
class Noc:
    topology: str
    bandwidth_bytes_per_s: Figure  # bisection
    multicast: Figure | None = None  # cores one level-2 read is delivered to at once (default 1)


@dataclass(frozen=True)
class Links:
    """``count`` chip-to-chip links of ``lanes`` SerDes lanes at ``lane_rate_bps`` each way."""

    topology: str
    count: Figure
    lanes: Figure
    lane_rate_bps: Figure
    hop_latency_s: Figure
    domain_size: Figure
    dims: tuple[int, ...] = ()  # torus shape, e.g. (16, 16); empty for switch/ring


@dataclass(frozen=True)
class Runtime:
    """What the software stack adds on top of the silicon (all figures sourced like the rest)."""

    kernel_overhead_s: Figure  # device time per kernel: launch to first MAC plus drain
    launch_s: Figure  # host time per kernel replayed from a graph / static schedule
    fusion: TextFigure  # none | elementwise
    # fraction of engine cycles that issue MACs in steady state: measured on GPUs (dynamic issue); on
    # statically scheduled chips (asic/tpu/lpu) a fallback override, default 1 with the losses derived
    # (jalapeno.mapping.static: buckets, barriers, reductions, DMA setup, imbalance)
    matrix_issue_efficiency: Figure | None = None
    eager_launch_s: Figure | None = None  # host time per kernel launched eagerly (default: launch_s)
    kernels_per_op: Mapping[str, Figure] = field(default_factory=_empty)  # by graph op name (default 1)
    # static schedule (asic/tpu/lpu; defaults in jalapeno.mapping.static): compiled token-count buckets are
    # powers of two up to ``token_bucket_gap``, then its multiples; each sequence's KV length is padded to
    # a multiple of ``kv_bucket_tokens``; each DMA transfer costs ``dma_setup_s`` of its core's DMA queue;
    # each cross-core barrier (end of an op, each reduction round) ``barrier_s``
    token_bucket_gap: Figure | None = None
    kv_bucket_tokens: Figure | None = None
    dma_setup_s: Figure | None = None
    barrier_s: Figure | None = None


@dataclass(frozen=True)
class Power:
    """Power figures of the silicon that replace the technology library's estimates where given.

    ``limit_w`` is the board power limit the chip's DVFS enforces (TDP); without one, TDP is the
    peak-activity power. The energies are whole-chip figures at full clock: ``pj_per_flop`` includes
    operand delivery, control and clock; ``pj_per_byte_main`` the on-chip path of each main-memory byte.
    """

    limit_w: Figure | None = None
    idle_w: Figure | None = None
    active_static_w: Figure | None = None  # above idle whenever a kernel runs
    pj_per_flop: Mapping[str, Figure] = field(default_factory=_empty)  # by compute dtype
    pj_per_byte_main: Figure | None = None
    dvfs_beta: Figure | None = None  # under the limit, energy per action ~ f^beta


@dataclass(frozen=True)
class ArchSpec:
    name: str
    vendor: str
    kind: str
    description: str
    launch_year: Figure
    node: TextFigure  # key into the technology library (n4, n5, n7, gf14, ...)
    voltage_v: Figure
    clock_hz: Figure
    cores: Cores
    noc: Noc
    runtime: Runtime
    package: str
    shared_sram: Sram | None = None
    memory: Dram | None = None
    links: Links | None = None
    power: Power = field(default_factory=Power)
    compare_to: str = ""  # a chip preset holding the public figures of this chip
    public: Mapping[str, Figure] = field(default_factory=_empty)  # published figures not in that preset
    technology: Mapping[str, Figure] = field(default_factory=_empty)  # overrides of node constants
    source_file: str = ""

    @property
    def sram_only(self) -> bool:
        return self.memory is None
