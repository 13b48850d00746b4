"""``CostParams``: the efficiency and energy parameters of a chip, what the datasheet peaks do not tell.

A seam type: the roofline model (``cost``) reads it and an architecture's mapper (``mapping.registry``)
builds one, so it lives below both. Loading calibrated values stays in ``jalapeno.cost.params``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any


@dataclass(frozen=True)
class CostParams:
    # -- matrix engine --------------------------------------------------------------------------
    matmul_eff: dict[str, float] = field(default_factory=lambda: {"bf16": 0.75, "fp8": 0.65})
    matmul_eff_default: float = 0.7  # dtypes without a fitted efficiency
    tile_m: int = 128  # output tile rows x cols one core computes per wave (wave quantization)
    tile_n: int = 256
    k_overhead: float = 256.0  # pipeline fill/drain per tile, in K-elements (short-K GEMMs lose more)
    wave_quantization: float = 0.5  # 1: whole waves (data-parallel tiles); 0: balanced (stream-K)
    split_k_min: int = 512  # smallest K slice when a GEMM is split along K to fill the cores
    # -- memory -------------------------------------------------------------------------------
    stream_eff: float = 0.83  # achieved / peak main-memory bandwidth, large streaming kernels
    matmul_mem_eff: dict[str, float] = field(default_factory=lambda: {"bf16": 0.70, "fp8": 0.5})
    matmul_mem_eff_default: float = 0.7  # achieved / peak bandwidth of weight-streaming (small-M) GEMMs
    # -- attention (FlashAttention-style kernels) ---------------------------------------------
    attn_prefill_eff: float = 0.45  # fraction of matrix peak for causal prefill attention
    attn_decode_mem_eff: float = 0.70  # achieved bandwidth reading the KV cache in decode
    # -- fixed costs --------------------------------------------------------------------------
    kernel_s: float = 4e-6  # per kernel on the device (launch-to-end latency floor, fill/drain)
    graph_launch_s: float = 2e-6  # per kernel replayed from a CUDA graph, host side
    eager_launch_s: float = 2.5e-5  # per kernel launched eagerly from the framework, host side
    harness_floor_s: float = 2.5e-5  # per call of the operator-sweep harness (eager, one op a call); used
    # only to compare with operator sweeps, never in step predictions
    step_overhead_s: float = 0.0  # per step (scheduling, sampling, input prep) outside kernels
    # kernels the software stack launches per graph op (default 1: a fused engine). The calibration
    # engine (plain PyTorch, jalapeno/measure/torch_model.py) runs RoPE as 5 kernels per tensor (q and k),
    # K/V cache writes as 2 copies, SiLU*mul as 2, attention as SDPA plus a layout copy: counted from
    # its code, not fitted.
    kernels_per_op: dict[str, int] = field(default_factory=dict)
    # grouped expert (MoE) GEMMs' compute efficiency relative to a dense GEMM of the same dtype: token
    # permutation into expert order, per-expert tile padding under uneven routing and grouped-kernel
    # scheduling; 1.0 = as dense (the measured chips' value: no MoE kernel was measured); range 0.4-1.0
    moe_eff: float = 1.0
    smooth: float = 4.0  # p of the smooth max (t_c^p + t_m^p)^(1/p) between compute and memory time
    # -- energy ---------------------------------------------------------------------------------
    active_static_w: float = 0.0  # power above idle whenever a step runs (clocks up, leakage)
    pj_per_flop: dict[str, float] = field(default_factory=lambda: {"bf16": 0.35, "fp8": 0.2})
    pj_per_flop_default: float = 0.35
    pj_per_byte_mem: float = 60.0  # main-memory bytes moved, incl. the on-chip path to the cores
    pj_per_byte_link: float = 40.0  # chip-to-chip bytes
    dvfs_beta: float = 2.0  # under the power cap, energy per action ~ f^beta (C V^2 with V ~ f)
    # -- provenance ------------------------------------------------------------------------------
    calibrated: bool = False
    source: str = "defaults (uncalibrated)"
    meta: dict[str, Any] = field(default_factory=dict)

    def eff(self, dtype: str) -> float:
        return self.matmul_eff.get(dtype, self.matmul_eff_default)

    def kernels(self, op_name: str) -> int:
        return self.kernels_per_op.get(op_name, 1)

    def mem_eff(self, dtype: str) -> float:
        return self.matmul_mem_eff.get(dtype, self.matmul_mem_eff_default)

    def pj_flop(self, dtype: str) -> float:
        return self.pj_per_flop.get(dtype, self.pj_per_flop_default)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> CostParams:
        names = {f.name for f in fields(cls)}
        return replace(cls(), **{k: v for k, v in d.items() if k in names})
