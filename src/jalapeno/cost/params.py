"""Efficiency and energy parameters of a chip: what the datasheet peaks do not tell.

Defaults are first-principles guesses for an uncalibrated chip; a calibrated chip loads fitted values
from ``jalapeno/hardware/calibration/<preset>.json`` (written by ``jalapeno validate --fit``), which
also records the measurements they came from and the held-out error.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jalapeno.errors import JalapenoError

if TYPE_CHECKING:
    from jalapeno.cost.step import OpTimer
    from jalapeno.hardware.spec import ChipSpec


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
    def from_json(cls, d: dict[str, Any]) -> "CostParams":
        names = {f.name for f in fields(cls)}
        return replace(cls(), **{k: v for k, v in d.items() if k in names})


CALIBRATION_DIR = "hardware/calibration"
# jalapeno.measure's plain-PyTorch engine (see kernels_per_op)
TORCH_REFERENCE_KERNELS = {"rope": 10, "kv_write": 2, "act": 2, "attn_prefill": 2, "attn_decode": 2}


def calibration_path(chip_name: str) -> Path:
    return Path(str(resources.files("jalapeno"))) / CALIBRATION_DIR / f"{chip_name}.json"


BANDS_FILE = "published-bands.json"


def bands_path() -> Path:
    return Path(str(resources.files("jalapeno"))) / CALIBRATION_DIR / BANDS_FILE


def chip_error_band(chip_name: str) -> tuple[float, float] | None:
    """(lo, hi): the range of published / predicted throughput over the chip's held-out published rows
    (``jalapeno calibrate --all --write``), so a prediction P reads as P x lo .. P x hi. A chip without
    published rows borrows its calibration family's band; None when neither has one (no public basis)."""
    p = bands_path()
    bands = json.loads(p.read_text()) if p.is_file() else {}
    if chip_name in bands:
        return float(bands[chip_name]["lo"]), float(bands[chip_name]["hi"])
    fam = CALIBRATION_FAMILY.get(chip_name) or FAMILY_PRIOR.get(chip_name)
    if fam in bands:
        return float(bands[fam]["lo"]) / PRIOR_BAND_WIDEN, float(bands[fam]["hi"]) * PRIOR_BAND_WIDEN
    return None


# Chips without their own measurements borrow the efficiencies of a measured chip of the same
# microarchitecture (the fractions of peak transfer; the peaks and bandwidths stay the chip's own).
CALIBRATION_FAMILY = {"h100-sxm": "h200-sxm", "h800": "h200-sxm"}
# Newer chips of a family with no calibration of their own start from (and, without published rows, keep)
# the family's fitted fractions of peak on their own datasheet peaks: a prior, said so in ``source``.
FAMILY_PRIOR = {"b300": "b200", "gb200-nvl72": "b200", "gb300-nvl72": "b200", "mi325x": "mi300x", "mi355x": "mi300x"}
# a family-prior chip's error band: the family's, widened by this factor on each side (an assumption: a
# newer part's software maturity is unknown; see docs/validation-published.md)
PRIOR_BAND_WIDEN = 1.25


def fused_engine(params: CostParams) -> CostParams:
    """The same chip under a fused serving engine (vLLM-class): one kernel per graph op (RoPE, K/V write,
    SiLU*mul and attention each one kernel) instead of the calibration engine's counts. Use it to compare
    a GPU with a mapped architecture, whose mapper fuses elementwise ops too."""
    return replace(params, kernels_per_op={}, source=f"{params.source}; fused engine (1 kernel per op)")


ENGINES = ("fused", "calibration")


def setup_for(chip: "ChipSpec", engine: str = "calibration") -> tuple[CostParams, "OpTimer | None"]:
    """Parameters and op timer for a chip: a parameterized architecture is timed by its mapper
    (jalapeno.mapping), which fuses elementwise ops; a datasheet preset by the calibrated roofline model,
    under the calibration engine's kernel counts (``engine="calibration"``, what was validated) or a fused
    serving engine's (``engine="fused"``: compare GPUs with architectures, or predict vLLM-class serving)."""
    from jalapeno.mapping import cost_params_for, timer_for  # lazy: mapping builds on cost's types

    if engine not in ENGINES:
        raise JalapenoError(f"unknown engine {engine!r}; valid: {', '.join(ENGINES)}", field="engine")
    timer = timer_for(chip)
    params = cost_params_for(chip) or params_for(chip.name)
    if timer is None and engine == "fused":
        params = fused_engine(params)
    return params, timer


def params_for(chip_name: str) -> CostParams:
    """Calibrated parameters for a preset (its own, else its family's), else the documented defaults."""
    for name in (chip_name, CALIBRATION_FAMILY.get(chip_name), FAMILY_PRIOR.get(chip_name)):
        if name and calibration_path(name).is_file():
            prm = CostParams.from_json(json.loads(calibration_path(name).read_text())["params"])
            if name == CALIBRATION_FAMILY.get(chip_name):
                prm = replace(prm, source=f"{prm.source}; transferred from {name} (same microarchitecture)")
            elif name != chip_name:
                prm = replace(prm, source=f"{prm.source}; family prior from {name} (fractions of peak)")
            return prm
    return CostParams()
