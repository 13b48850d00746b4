"""A family prior's GEMM efficiencies moved to a newer chip by a measured rate ratio, not its datasheet's.

A family prior (``cost.params.FAMILY_PRIOR``) keeps the family chip's fitted fractions of peak on the newer
chip's own datasheet peaks, so it assumes the datasheet gain is realized. Where one source measured both
chips' dense GEMM rates on one harness (``hardware.gemm_rates``), the newer chip's realized rate is the family
chip's fitted rate times the measured ratio instead: efficiency = family efficiency x ratio x family peak /
chip peak.
Nothing here is fitted on the newer chip's published rows.
"""

from __future__ import annotations

from dataclasses import replace

from jalapeno.cost.params import CostParams
from jalapeno.hardware.gemm_rates import RateRatio, measured_dtypes, rate_ratio
from jalapeno.hardware.spec import ChipSpec

# engine dtypes a measured dtype stands for (the FP4 tables are NVFP4; MXFP4 runs the same tensor-core path)
COVERS = {"fp4": ("fp4", "nvfp4", "mxfp4"), "fp8": ("fp8",), "bf16": ("bf16", "fp16")}


def ratios(family: ChipSpec, chip: ChipSpec) -> dict[str, RateRatio]:
    """Measured rate ratios of ``chip`` over ``family``, by measured dtype both datasheets give a peak for."""
    out = {}
    for d in measured_dtypes():
        r = rate_ratio(chip.name, family.name, d)
        if r is not None and d in chip.matrix_flops and d in family.matrix_flops:
            out[d] = r
    return out


def efficiency_scale(r: RateRatio, family: ChipSpec, chip: ChipSpec) -> float:
    """The factor on the family's fraction of peak: measured ratio over the datasheet ratio."""
    return r.value * family.matrix_flops[r.dtype].value / chip.matrix_flops[r.dtype].value


def with_measured_gemm(prior: CostParams, family: ChipSpec, chip: ChipSpec) -> CostParams:
    """The prior with each measured dtype's matrix efficiency moved by the measured rate ratio (unchanged
    where no source measured both chips); ``meta['measured_gemm']`` says what moved and from where."""
    found = ratios(family, chip)
    if not found or family.name == chip.name:
        return prior
    eff = dict(prior.matmul_eff)
    notes = {}
    for d, r in found.items():
        scale = efficiency_scale(r, family, chip)
        for k in COVERS.get(d, (d,)):
            eff[k] = min(prior.eff(k) * scale, 1.0)  # never faster than the datasheet peak
        notes[d] = {
            "ratio": r.value,
            "range": [r.lo, r.hi],
            "source": r.source,
            "efficiency_scale": scale,
            **({"via": list(r.via)} if r.via else {}),
            "note": f"{r.describe()}; efficiency x {scale:.4f} (ratio x {family.name} / {chip.name} peak)",
        }
    return replace(prior, matmul_eff=eff, meta={**prior.meta, "measured_gemm": notes})


def measured_note(params: CostParams) -> str:
    """One line for a provenance: which dtypes moved by a measured rate ratio, and by how much."""
    moved = params.meta.get("measured_gemm", {})
    txt = ", ".join(f"{d} x{m['ratio']:.3f}" for d, m in sorted(moved.items()))
    vias = {tuple(m["via"]) for m in moved.values() if m.get("via")}
    on = "".join(f", measured as {a} / {b}, the same dies" for a, b in sorted(vias))
    return f"GEMM rates by measured ratio to the family chip ({txt}{on}; hardware/data/gemm_rates.yaml)"
