"""The numbers of an architecture the mapper uses, resolved once (plain floats: the search is hot)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from jalapeno.hardware.arch import model
from jalapeno.hardware.arch.spec import ArchSpec
from jalapeno.mapping.engine import engine_cycles
from jalapeno.mapping.static import StaticSchedule

ACC_BYTES = 4.0  # partial sums are fp32 (int32 for integer formats)


@dataclass(frozen=True)
class Target:
    name: str
    kind: str  # systolic | dot_product
    cores: int
    engines: int  # per core
    rows: int
    cols: int
    depth: int
    dataflows: tuple[str, ...]
    load: int  # stationary rows installed a cycle
    rates: dict[str, float]  # MACs per PE per cycle by dtype
    f_matrix: float
    issue_eff: float
    acc_bytes: float  # accumulator capacity per core (all engines)
    sram_bytes: float  # per core
    sram_bw: float  # per core, B/s
    shared_bytes: float  # 0 when there is no shared SRAM
    shared_bw: float
    noc_bw: float
    multicast: int  # cores one level-2 read feeds (cluster multicast); 1 without it
    main_bytes: float  # DRAM capacity, or all SRAM on SRAM-only chips
    main_bw: float  # peak
    main_eff: float  # achievable / peak in streaming kernels (elementwise, norms, copies)
    gemm_eff: float  # achievable / peak when a GEMM streams its weights
    kv_eff: float  # achievable / peak when decode attention reads the KV cache
    main_latency_s: float
    sram_only: bool
    vector_flops: float  # chip total, best dtype
    sfu_ops: float  # chip total exp/rsqrt per second
    kernel_s: float
    kernels_per_op: dict[str, int]  # kernels the software stack launches per graph op (default 1)
    fusion: bool
    pj_flop: dict[str, float]
    # energy per bit at each level, the clock/control share included (as pJ/FLOP): main memory (DRAM device
    # and I/O; SRAM-only: the weights' SRAM), level 2 (NoC, plus the shared SRAM where there is one), core
    # SRAM, register file / accumulators. Where the architecture's energies are measured whole-chip figures
    # (``power:``), the main-memory figure includes the on-chip path and the other levels are 0.
    pj_main_bit: float
    pj_l2_bit: float
    pj_sram_bit: float
    pj_rf_bit: float = 0.0
    static: StaticSchedule | None = None  # statically scheduled chips: buckets, barriers, DMA setup
    noc_link_bw: float = 0.0  # one core's NoC link (bisection / sqrt(cores)): reductions, combines

    @classmethod
    def of(cls, arch: ArchSpec) -> Target:
        c, m = arch.cores, arch.cores.matrix
        f, fv = model.matrix_clock(arch), model.vector_clock(arch)
        n = int(c.count.value)
        sram_bw = c.sram.bandwidth_bytes_per_cycle.value * arch.clock_hz.value
        shared = arch.shared_sram
        dram = arch.memory
        if dram is not None:
            bw = model.dram_bandwidth(arch)
            cap = model.dram_capacity(arch)
            assert bw is not None and cap is not None
            main_bw, main_bytes, eff, lat = bw.value, cap.value, dram.efficiency.value, dram.latency_s.value
            gemm_eff = (dram.gemm_efficiency or dram.efficiency).value
            kv_eff = (dram.kv_read_efficiency or dram.efficiency).value
        else:  # SRAM-only: weights live in the on-chip SRAM, streamed at its bandwidth
            main_bw = n * sram_bw + (model.sram_bandwidth(arch, shared, False) if shared else 0.0)
            main_bytes = n * c.sram.capacity_bytes.value + (shared.capacity_bytes.value if shared else 0.0)
            eff, lat = 1.0, 20.0 / arch.clock_hz.value
            gemm_eff = kv_eff = eff
        vec = max((r.value for r in c.vector.rates.values()), default=2.0) * c.vector.lanes.value * fv * n
        sfu = (
            (c.vector.sfu_ops_per_cycle.value if c.vector.sfu_ops_per_cycle else c.vector.lanes.value / 8)
            * fv
            * n
        )
        rt = arch.runtime
        e = model.pj_per_bit_action(arch)  # board energies per action, priced as pj_per_flop
        whole = arch.power.pj_per_byte_main is not None
        static = StaticSchedule.of(arch)
        issue = rt.matrix_issue_efficiency.value if rt.matrix_issue_efficiency is not None else 1.0
        l2_pj = e["noc"] + e.get("shared_sram", 0.0)
        return cls(
            name=arch.name,
            kind=m.kind,
            cores=n,
            engines=int(m.engines.value),
            rows=int(m.rows.value),
            cols=int(m.cols.value),
            depth=int(m.depth.value),
            dataflows=m.dataflows,
            load=int(m.load_rows_per_cycle.value) if m.load_rows_per_cycle else 1,
            rates={d: r.value for d, r in m.rates.items()},
            f_matrix=f,
            issue_eff=issue,
            acc_bytes=m.engines.value * m.accumulator_bytes.value,
            sram_bytes=c.sram.capacity_bytes.value,
            sram_bw=sram_bw,
            shared_bytes=shared.capacity_bytes.value if shared else 0.0,
            shared_bw=model.sram_bandwidth(arch, shared, False) if shared else 0.0,
            noc_bw=arch.noc.bandwidth_bytes_per_s.value,
            multicast=int(arch.noc.multicast.value) if arch.noc.multicast else 1,
            main_bytes=main_bytes,
            main_bw=main_bw,
            main_eff=eff,
            gemm_eff=gemm_eff,
            kv_eff=kv_eff,
            main_latency_s=lat,
            sram_only=dram is None,
            vector_flops=vec,
            sfu_ops=sfu,
            kernel_s=rt.kernel_overhead_s.value,
            kernels_per_op={k: int(f.value) for k, f in rt.kernels_per_op.items()},
            fusion=rt.fusion.value == "elementwise",
            pj_flop=model.pj_per_flop(arch),
            pj_main_bit=model.pj_per_byte_main(arch) / 8 if whole else e.get("dram", e["core_sram"]),
            pj_l2_bit=0.0 if whole else l2_pj,
            pj_sram_bit=0.0 if whole else e["core_sram"],
            pj_rf_bit=0.0 if whole else e["rf"],
            static=static,
            noc_link_bw=arch.noc.bandwidth_bytes_per_s.value / max(1.0, n**0.5),
        )

    def energy_j(
        self, dtype: str, flops: Any, main: Any, l2: Any, sram: Any, rf: Any, vector_flops: Any = 0.0
    ) -> Any:
        """Dynamic energy of counted work: matrix and vector FLOPs and bytes at each level x energy per action
        (numpy or float). A vector FLOP costs half the costliest matrix FLOP (no operand reuse in an
        array)."""
        return 1e-12 * (
            flops * self.energy_pj_flop(dtype)
            + vector_flops * self.pj_vector_flop
            + 8
            * (main * self.pj_main_bit + l2 * self.pj_l2_bit + sram * self.pj_sram_bit + rf * self.pj_rf_bit)
        )

    @cached_property  # every mapped op's energy reads it (the fields are frozen)
    def pj_vector_flop(self) -> float:
        return 0.5 * max(self.pj_flop.values())

    def barrier_s(self) -> float:
        return self.static.barrier_s if self.static is not None else 0.0

    def dma_setup_s(self) -> float:
        return self.static.dma_setup_s if self.static is not None else 0.0

    def kernels(self, op_name: str) -> int:
        return self.kernels_per_op.get(op_name, 1)

    def fixed_s(self, kernels: int) -> float:
        """Fixed device time of an op's kernels: each pays its overhead; each after the first also its own
        main-memory latency (the first one's is in the op's body)."""
        return kernels * self.kernel_s + max(kernels - 1, 0) * self.main_latency_s

    def engine_cycles(self, m: Any, n: Any, k: Any, dataflow: str, rate: float, overlap: Any = False) -> Any:
        """Cycles of one engine of this target for an (m x k) by (k x n) tile (``mapping.engine``)."""
        return engine_cycles(
            self.kind, m, n, k, self.rows, self.cols, self.depth, dataflow, rate, overlap, self.load
        )

    def attention_cycles(self, m: Any, keys: Any, d_qk: int, d_v: int, dataflow: str, rate: float) -> Any:
        """Cycles of one attention tile: ``m`` query rows against ``keys`` keys (Q K^T, the keys split over
        the core's engines), then the scores times V (the value width split over the engines), each with
        its loads overlapped."""
        qk = self.engine_cycles(m, -(-keys // self.engines), d_qk, dataflow, rate, True)
        return qk + self.engine_cycles(m, -(-d_v // self.engines), keys, dataflow, rate, True)

    def rate(self, dtype: str) -> float:
        """MACs per PE per cycle for ``dtype``; a format the engine lacks runs at the next wider one it
        has."""
        for d in _FALLBACK.get(dtype, (dtype,)):
            if d in self.rates:
                return self.rates[d]
        return min(self.rates.values())

    def peak_flops(self, dtype: str) -> float:
        return (
            2.0
            * self.cores
            * self.engines
            * self.rows
            * self.cols
            * self.depth
            * self.rate(dtype)
            * self.f_matrix
        )

    def energy_pj_flop(self, dtype: str) -> float:
        for d in _FALLBACK.get(dtype, (dtype,)):
            if d in self.pj_flop:
                return self.pj_flop[d]
        return max(self.pj_flop.values())

    @cached_property
    def level2_bw(self) -> float:
        """Bandwidth between main memory and the cores' SRAM: the shared SRAM, else the NoC."""
        return self.shared_bw if self.shared_bw else self.noc_bw


_FALLBACK = {  # as jalapeno.cost.op_time: a format the engine lacks runs at the next wider one
    "fp4": ("fp4", "fp8", "bf16", "fp16"),
    "int4": ("int4", "int8", "fp8", "bf16", "fp16"),
    "fp8": ("fp8", "bf16", "fp16"),
    "int8": ("int8", "fp8", "bf16", "fp16"),
    "bf16": ("bf16", "fp16", "tf32", "fp32"),
    "fp16": ("fp16", "bf16", "tf32", "fp32"),
    "tf32": ("tf32", "fp32"),
    "fp32": ("fp32", "tf32"),
}
