"""Fit a chip's efficiencies to published results, keeping a real hold-out, and measure its error band.

The split is decided before fitting, by source: selectors name the rows a fit may see (by round, model
and scenario); every other row of the chip is held out and only predicted (``Split`` asserts the two are
disjoint). What a handful of throughput rows can identify is small, so the fit moves two scales of a
prior, not every parameter: ``compute`` multiplies the matrix and prefill-attention efficiencies,
``memory`` the weight-streaming, KV-read and streaming bandwidth efficiencies (each kept <= 0.98). The
prior is the chip family's parameters (the measured H200's fractions of peak, on this chip's own
datasheet peaks). With fit rows of one scenario only one joint scale is fitted. A chip with no fit rows
keeps the family prior unchanged, said so in its provenance.

The predictor is a plain callable ``(row, chip, params) -> tokens/s per chip`` so a serving-level bench
can replace the closed-form scenario model (cost/scenario.py) without touching the fit.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from statistics import median
from typing import TYPE_CHECKING

import numpy as np

from jalapeno.cost.params import (
    CALIBRATION_FAMILY,
    FAMILY_PRIOR,
    PRIOR_BAND_WIDEN,
    TORCH_REFERENCE_KERNELS,
    CostParams,
    fused_engine,
)
from jalapeno.cost.published import WORKLOADS, PublishedRow, benchmark_of
from jalapeno.errors import JalapenoError
from jalapeno.hardware.spec import ChipSpec
from jalapeno.models.registry import resolve_model

if TYPE_CHECKING:
    from jalapeno.cost.scenario import ScenarioResult

Predictor = Callable[[PublishedRow, ChipSpec, CostParams], "float | None"]
MAX_EFF = 0.98
SCALE_BOUNDS = (0.15, 3.0)
# chips whose parameters are measured (or transferred from a measured sibling): published rows check them
MEASURED = {
    "h200-sxm": "measured",
    "h100-sxm": "transferred from h200-sxm (same microarchitecture, measured)",
}
# family priors: the chip whose fitted fractions of peak a chip starts from (or keeps, without fit rows)
FAMILY = {"b200": "h200-sxm", "mi300x": "h200-sxm", **CALIBRATION_FAMILY, **FAMILY_PRIOR}
FOUR_BIT = ("fp4", "nvfp4", "mxfp4")
DEFAULT_KNOBS = ("compute", "step_overhead", "moe")
# the submissions' serving software's, not the chip's: the per-step host overhead and the grouped expert
# GEMMs' efficiency relative to dense ones (``CostParams.moe_eff``); applied to published rows only
ENGINE_KNOBS = ("step_overhead", "moe")


def analytic_predictor(row: PublishedRow, chip: ChipSpec, params: CostParams) -> float | None:
    """The closed-form scenario model under a fused engine (what TensorRT-LLM and vLLM run)."""
    res = analytic_result(row, chip, params)
    return res.tokens_per_s_per_chip if res else None


def analytic_power(row: PublishedRow, chip: ChipSpec, params: CostParams) -> float | None:
    """Mean chip power (W) at the operating point ``analytic_predictor`` finds."""
    res = analytic_result(row, chip, params)
    return res.power_w_per_chip if res else None


def analytic_result(
    row: PublishedRow, chip: ChipSpec, params: CostParams, isl_override: int | None = None
) -> ScenarioResult | None:
    """The scenario model's operating point for a row (``isl_override``: another mean prompt length), on
    the board its system had (``cost.published_board.system_chip``: the 4-GPU HGX H100 board's mesh)."""
    from jalapeno.cost.published_board import system_chip
    from jalapeno.cost.scenario import precision_of, predict

    isl, osl, limits, cv, fractions = row_shape(row)
    isl = isl_override or isl
    if row.ep and row.ep > 1:  # expert-parallel engines (DeepSeek-R1): the group's steps, cost.published_ep
        from jalapeno.cost.published_ep import ep_result

        shape = (isl, osl, limits, cv, fractions)
        return ep_result(row, resolve_model(row.model), chip, fused_engine(params), shape)
    return predict(
        resolve_model(row.model),
        system_chip(row, chip),
        fused_engine(params),
        precision_of(row.precision),
        row.n_chips,
        isl,
        osl,
        limits,
        tps=(row.tp,) if row.tp else None,
        isl_cv=cv,
        osl_fractions=fractions,
        cfg=row.serving,
    )


OSL_QUANTILES = 64


@cache
def osl_fractions(model: str) -> tuple[float, ...]:
    """Output lengths over their mean at 64 equal-weight quantiles of the model's bundled MLPerf length set
    (workload/benchsets), cut at the benchmark's generation limit (``MLPerfWorkload.max_output``); () where
    none is bundled (every request then writes the mean). Llama-3.1-8B's set counts outputs as characters /
    4, so only their shape (n / mean) is used, never their mean."""
    from jalapeno.workload.benchsets import DEFAULT_SET, load_set

    sets = {**DEFAULT_SET, "llama-3.1-8b": "mlperf-llama3.1-8b", "deepseek-r1": "mlperf-deepseek-r1"}
    if model not in sets:
        return ()
    out = np.asarray(load_set(sets[model]).output_tokens, dtype=float)
    cap = WORKLOADS[model].max_output if model in WORKLOADS else None
    if cap:  # the benchmark stops generating there (DeepSeek-R1's reference answers run to 32,768)
        out = np.minimum(out, cap)
    q = np.quantile(out, (np.arange(OSL_QUANTILES) + 0.5) / OSL_QUANTILES)
    return tuple(float(v) for v in q / out.mean())


def row_shape(
    row: PublishedRow,
) -> tuple[int, int, tuple[float, float] | None, float, tuple[float, ...]]:
    """(ISL, OSL, latency limits, prompt-length cv, output-length fractions) the scenario model prices a row
    at: a fixed row has one length each, an MLPerf row its benchmark's length set."""
    isl, osl, limits = row_lengths(row)
    if row.scenario == "fixed":
        return isl, osl, limits, 0.0, ()
    bench = benchmark_of(row.model)
    return isl, osl, limits, WORKLOADS[bench].isl_cv, osl_fractions(bench)


def row_lengths(row: PublishedRow) -> tuple[int, int, tuple[float, float] | None]:
    """(ISL, OSL, latency limits) of a row: fixed rows carry their own, MLPerf rows their benchmark's."""
    if row.scenario == "fixed":
        assert row.isl and row.osl
        return row.isl, row.osl, None
    w = WORKLOADS[benchmark_of(row.model)]
    return w.isl, w.osl, (None if row.scenario == "offline" else w.limits_s[row.scenario])


# -- the split --------------------------------------------------------------------------------------
def matches(row: PublishedRow, selector: str) -> bool:
    """``ROUND/MODEL/SCENARIO``, each part ``*`` or alternatives joined by ``+`` (e.g.
    v5.1/llama-2-70b/offline+interactive)."""
    parts = selector.split("/")
    if len(parts) != 3:
        raise JalapenoError(f"fit source {selector!r} must be ROUND/MODEL/SCENARIO", field="--fit-sources")
    return all(
        p == "*" or v in p.split("+")
        for p, v in zip(parts, (row.round, row.model, row.scenario), strict=True)
    )


@dataclass(frozen=True)
class Split:
    fit: tuple[PublishedRow, ...]
    held_out: tuple[PublishedRow, ...]
    selectors: tuple[str, ...]

    def __post_init__(self) -> None:
        overlap = {r.id for r in self.fit} & {r.id for r in self.held_out}
        assert not overlap, f"rows both fitted and held out: {sorted(overlap)}"


def default_selectors(rows: Sequence[PublishedRow], chip: str) -> tuple[str, ...]:
    """Fit on the newest round's Llama-2-70B offline and interactive rows of the chip; hold out the rest
    (the server scenario, other models, older rounds, vendor tables). A measured chip fits only the
    serving engine's knobs on these rows; its efficiencies stay measured."""
    mine = [
        r
        for r in rows
        if r.chip == chip
        and r.model == "llama-2-70b"
        and r.source == "mlperf"
        and r.scenario in ("offline", "interactive")
    ]
    if chip in MEASURED:  # the engine's overhead shows only under a latency limit
        mine = [r for r in mine if any(o.round == r.round and o.scenario == "interactive" for o in mine)]
    if not mine:
        return ()
    newest = max(r.round for r in mine)
    return (f"{newest}/llama-2-70b/offline+interactive", *moe_selectors(rows, chip))


def is_moe(model: str) -> bool:
    return resolve_model(model).moe is not None


def moe_selectors(rows: Sequence[PublishedRow], chip: str) -> tuple[str, ...]:
    """A measured chip also fits the grouped-expert GEMM efficiency (``moe``) on its oldest round's MoE
    rows; its newer rounds and every other chip's MoE rows stay held out (the factor reaches them through
    the family prior). Fitted chips inherit it and never fit it."""
    if chip not in MEASURED:
        return ()
    moe = [r for r in rows if r.chip == chip and r.source == "mlperf" and is_moe(r.model)]
    if not moe:
        return ()
    oldest = min(r.round for r in moe)
    models = sorted({r.model for r in moe if r.round == oldest})
    scen = sorted({r.scenario for r in moe if r.round == oldest})
    return (f"{oldest}/{'+'.join(models)}/{'+'.join(scen)}",)


NEVER_FIT = ("mlperf_power",)  # power runs check the energy model (and add held-out throughput rows)


def split_rows(rows: Sequence[PublishedRow], chip: str, selectors: Sequence[str]) -> Split:
    """The chip's fit and held-out rows; expert-parallel rows are neither (``ChipFit.ep_checked``)."""
    mine = [r for r in rows if r.chip == chip and not r.expert_parallel]
    fit = tuple(r for r in mine if r.source not in NEVER_FIT and any(matches(r, s) for s in selectors))
    return Split(fit, tuple(r for r in mine if r not in fit), tuple(selectors))


# -- the prior and the two scales ------------------------------------------------------------------
def with_four_bit(p: CostParams) -> CostParams:
    """4-bit dtypes a prior never measured take its fp8 efficiencies (same tensor-core path, 2x rate)."""
    eff = {**{d: p.eff("fp8") for d in FOUR_BIT}, **p.matmul_eff}
    mem = {**{d: p.mem_eff("fp8") for d in FOUR_BIT}, **p.matmul_mem_eff}
    return replace(p, matmul_eff=eff, matmul_mem_eff=mem)


def scaled(
    prior: CostParams, compute: float, memory: float, dtypes: Collection[str] | None = None
) -> CostParams:
    """The prior with its compute efficiencies x ``compute`` and memory efficiencies x ``memory``.

    ``dtypes`` limits the per-dtype matrix efficiencies that move to those the fit rows ran (a B200 fitted
    on fp4 results keeps its family's bf16 and fp8 fractions); None moves every dtype."""

    def c(v: float) -> float:
        return min(MAX_EFF, v * compute)

    def m(v: float) -> float:
        return min(MAX_EFF, v * memory)

    def moves(k: str) -> bool:
        return dtypes is None or k in dtypes

    return replace(
        prior,
        matmul_eff={k: c(v) if moves(k) else v for k, v in prior.matmul_eff.items()},
        matmul_eff_default=c(prior.matmul_eff_default) if dtypes is None else prior.matmul_eff_default,
        attn_prefill_eff=c(prior.attn_prefill_eff),
        matmul_mem_eff={k: m(v) if moves(k) else v for k, v in prior.matmul_mem_eff.items()},
        matmul_mem_eff_default=m(prior.matmul_mem_eff_default)
        if dtypes is None
        else prior.matmul_mem_eff_default,
        attn_decode_mem_eff=m(prior.attn_decode_mem_eff),
        stream_eff=m(prior.stream_eff),
    )


def energy_prior(p: CostParams, family: ChipSpec, chip: ChipSpec) -> CostParams:
    """The family's measured energies moved to another chip by datasheet ratios, not copied.

    Energy per FLOP scales with the power a chip spends per FLOP/s at peak: bf16 pJ x (TDP / bf16 peak)
    of this chip over the family's; other dtypes follow at the same power limit (bf16 energy x bf16 peak
    / this dtype's peak, as ``calibrate.derive_flop_energy``). Static power when busy scales with TDP.
    Energy per HBM byte is kept (HBM3/3e access energy differs little; an assumption, range in the doc).
    """

    def per_flop_s(c: ChipSpec) -> float:
        return c.tdp_w.value / c.matrix_flops["bf16"].value

    if "bf16" not in p.pj_per_flop or "bf16" not in chip.matrix_flops or "bf16" not in family.matrix_flops:
        return p
    bf16 = p.pj_per_flop["bf16"] * per_flop_s(chip) / per_flop_s(family)
    peak = {d: f.value for d, f in chip.matrix_flops.items()}
    pj = {
        d: bf16 * peak["bf16"] / peak[d] for d in peak if d in ("bf16", "fp16", "fp8", "int8", "fp4", "int4")
    }
    pj.update({d: pj["fp4"] for d in FOUR_BIT if "fp4" in pj})
    note = (
        f"energies: {family.name}'s measured values scaled by datasheet ratios (TDP / bf16 peak; dtypes at "
        f"the same power limit); not measured on {chip.name}"
    )
    return replace(
        p,
        pj_per_flop=pj,
        active_static_w=p.active_static_w * chip.tdp_w.value / family.tdp_w.value,
        meta={**p.meta, "energy_prior": note},
    )


COMPUTE_DTYPES = {"fp8": ("fp8",), "fp4": FOUR_BIT, "mxfp4": FOUR_BIT, "bf16": ("bf16", "fp16")}


def row_dtypes(rows: Sequence[PublishedRow]) -> tuple[str, ...]:
    """The matrix dtypes the rows' precisions run (published precision label -> engine dtypes)."""
    return tuple(sorted({d for r in rows for d in COMPUTE_DTYPES[r.precision]}))


KNOBS = ("compute", "memory", "step_overhead", "moe")
MOE_BOUNDS = (0.4, 1.0)  # grouped expert GEMMs at 40-100% of a dense GEMM's efficiency
KNOB_BOUNDS = {
    "compute": SCALE_BOUNDS,
    "memory": SCALE_BOUNDS,
    "step_overhead": (0.0, 0.05),
    "moe": MOE_BOUNDS,
}


def apply_knobs(
    prior: CostParams, values: dict[str, float], dtypes: Collection[str] | None = None
) -> CostParams:
    """The prior under fitted knobs: compute and memory scales (of ``dtypes``' matrix efficiencies), and
    a per-step host overhead (seconds), the grouped expert GEMMs' efficiency relative to dense ones."""
    p = scaled(prior, values.get("compute", 1.0), values.get("memory", 1.0), dtypes)
    if "step_overhead" in values:
        p = replace(p, step_overhead_s=values["step_overhead"])
    if "moe" in values:
        p = replace(p, moe_eff=values["moe"])
    return p


def fit_knobs(
    chip: ChipSpec,
    prior: CostParams,
    rows: Sequence[PublishedRow],
    predictor: Predictor,
    knobs: Sequence[str] = ("compute", "memory"),
) -> dict[str, float]:
    """Least squares on log(predicted / published) over ``knobs``; with rows of one scenario only, the
    first knob alone is fitted (two knobs cannot be told apart). Rows no replica fits are skipped."""
    from scipy.optimize import least_squares

    rows = [r for r in rows if predictor(r, chip, prior) is not None]
    if not rows:
        return {}
    free = list(knobs if len({r.scenario for r in rows}) > 1 else knobs[:1])
    meas = np.array([r.per_chip for r in rows])
    dtypes = row_dtypes(rows)

    def resid(x: np.ndarray) -> np.ndarray:
        p = apply_knobs(prior, dict(zip(free, map(float, x), strict=True)), dtypes)
        r: np.ndarray = np.log(np.array([predictor(r, chip, p) or 1e-9 for r in rows]) / meas)
        return r

    lo = np.array([KNOB_BOUNDS[k][0] for k in free])
    hi = np.array([KNOB_BOUNDS[k][1] for k in free])
    # the prediction is piecewise (integer batch, best TP degree): start from the best point of a coarse
    # grid, then refine
    grids = [
        np.geomspace(0.25, 2.5, 11)
        if KNOB_BOUNDS[k] == SCALE_BOUNDS
        else np.linspace(lo[i], hi[i], 7)
        if k == "moe"
        else np.linspace(lo[i], hi[i] / 2, 11)
        for i, k in enumerate(free)
    ]
    x0 = min((np.array(x) for x in itertools.product(*grids)), key=lambda x: float(np.sum(resid(x) ** 2)))
    res = least_squares(resid, x0, bounds=(lo, hi), diff_step=1e-2, x_scale=np.maximum(np.abs(x0), 1e-3))
    best = res.x if np.sum(res.fun**2) <= np.sum(resid(x0) ** 2) else x0
    return dict(zip(free, map(float, best), strict=True))


# -- evaluation and the band -----------------------------------------------------------------------
@dataclass(frozen=True)
class Checked:
    row: PublishedRow
    predicted: float | None
    fitted: bool

    @property
    def ratio(self) -> float | None:
        """predicted / published (per chip)."""
        return None if self.predicted is None else self.predicted / self.row.per_chip

    @property
    def error(self) -> float | None:
        return None if self.ratio is None else self.ratio - 1.0


@dataclass(frozen=True)
class Band:
    """published / predicted over held-out rows: the range a prediction's true value fell in."""

    lo: float
    hi: float
    n: int
    median_abs_error: float
    max_abs_error: float
    basis: str

    def to_json(self) -> dict[str, object]:
        return {
            "lo": self.lo,
            "hi": self.hi,
            "n": self.n,
            "median_abs_error": self.median_abs_error,
            "max_abs_error": self.max_abs_error,
            "basis": self.basis,
        }


def band_of(checked: Sequence[Checked]) -> Band | None:
    held = [c for c in checked if not c.fitted and c.ratio]
    if not held:
        return None
    inv = [1.0 / c.ratio for c in held if c.ratio]
    errs = [abs(c.error) for c in held if c.error is not None]
    return Band(
        min(inv), max(inv), len(held), median(errs), max(errs), f"held-out published rows ({len(held)})"
    )


# Fewer held-out rows than this and a chip's own range says little (one row is a point, not a range): its
# band becomes its rows' range joined with its family's band widened (``thin_band``).
MIN_BAND_ROWS = 3


def thin_band(own: Band, family_band: Band, family: str) -> Band:
    """A chip's band from too few held-out rows: the union of its rows' range and its family's widened band,
    keeping its own row count and errors (the summary's errors stay its rows')."""
    w = widened(family_band, family)
    return Band(
        min(own.lo, w.lo),
        max(own.hi, w.hi),
        own.n,
        own.median_abs_error,
        own.max_abs_error,
        f"{own.n} held-out published row{'s' if own.n != 1 else ''} (fewer than {MIN_BAND_ROWS}): "
        f"their range joined with {family}'s band widened x{PRIOR_BAND_WIDEN} each side",
    )


def widened(b: Band, family: str) -> Band:
    return Band(
        b.lo / PRIOR_BAND_WIDEN,
        b.hi * PRIOR_BAND_WIDEN,
        0,
        float("nan"),
        float("nan"),
        f"family prior: {family}'s band widened x{PRIOR_BAND_WIDEN} each side (no held-out rows)",
    )


@dataclass
class ChipFit:
    chip: str
    params: CostParams
    provenance: str
    split: Split
    checked: list[Checked] = field(default_factory=list)
    knobs: dict[str, float] = field(default_factory=dict)
    band: Band | None = None
    prior: str = ""
    # every row predicted under the prior alone, before any fit on this chip's rows (a chip whose prior is
    # another chip's parameters; empty for a chip on its own measurements): cost/unseen_band.py
    unseen: list[Checked] = field(default_factory=list)
    # the chip's expert-parallel rows (MLPerf DeepSeek-R1), predicted under the fitted parameters through the
    # MoE path (cost.published_ep): never fitted, outside the band, the summary and the order checks
    ep_checked: list[Checked] = field(default_factory=list)


def calibrate_chip(
    chip: ChipSpec,
    rows: Sequence[PublishedRow],
    selectors: Sequence[str] | None,
    prior: CostParams,
    prior_name: str,
    predictor: Predictor = analytic_predictor,
    knobs: Sequence[str] = DEFAULT_KNOBS,
    prior_chip: ChipSpec | None = None,
) -> ChipFit:
    """Fit one chip (a measured chip: only the serving engine's knobs) and predict every row of it.
    ``prior_chip``: the family chip the prior was measured or fitted on (its energies move by datasheet)."""
    sel = default_selectors(rows, chip.name) if selectors is None else tuple(selectors)
    split = split_rows(rows, chip.name, sel)
    prior = with_four_bit(prior)
    measured = chip.name in MEASURED
    if prior_chip is not None and not measured and prior_chip.name != chip.name:
        prior = energy_prior(prior, prior_chip, chip)
    free = [
        k
        for k in knobs
        if (not measured or k in ENGINE_KNOBS)
        and (k != "moe" or measured)
        and (k != "moe" or any(is_moe(r.model) for r in split.fit))
    ]
    values = fit_knobs(chip, prior, split.fit, predictor, free) if split.fit and free else {}
    prov = provenance(chip.name, values, len(split.fit), sel, prior_name)

    def at(knobs: dict[str, float]) -> CostParams:
        return replace(
            apply_knobs(prior, knobs, row_dtypes(split.fit)),
            calibrated=measured or bool(values),
            source=prov,
            kernels_per_op=dict(prior.kernels_per_op or TORCH_REFERENCE_KERNELS),
        )

    params = at(values)
    fitted = {r.id for r in split.fit}
    checked = [Checked(r, predictor(r, chip, params), r.id in fitted) for r in split.fit + split.held_out]
    fit = ChipFit(chip.name, params, prov, split, checked, values, band_of(checked), prior_name)
    ep_rows = [r for r in rows if r.chip == chip.name and r.expert_parallel]
    fit.ep_checked = [Checked(r, predictor(r, chip, params), False) for r in ep_rows]
    # the chip as the model first sees it (its prior, no knob moved), where the prior is another chip's:
    # a family's fit, or a measured sibling's calibration transferred (the H100's is the H200's)
    if prior_name != chip.name or chip.name in CALIBRATION_FAMILY:
        before = at({})
        fit.unseen = [
            Checked(c.row, predictor(c.row, chip, before) if values else c.predicted, False) for c in checked
        ]
    return fit


def provenance(chip: str, values: dict[str, float], n_fit: int, selectors: Sequence[str], prior: str) -> str:
    rows = f"{n_fit} published rows ({', '.join(selectors)})"
    if chip in MEASURED:
        return MEASURED[chip] + (f"; serving engine ({', '.join(values)}) fitted on {rows}" if values else "")
    if values:
        return f"fitted ({', '.join(values)}) on {rows}; prior {prior}"
    return f"family prior: {prior}'s fractions of peak (no fit rows)"


def chip_params(fit: ChipFit) -> CostParams:
    """What the chip's calibration file keeps: the fitted efficiencies, not the serving overhead.

    The per-step overhead fitted here is the submissions' serving engine's (TensorRT-LLM, vLLM harness),
    not the chip's; keeping it out of the chip's parameters lets every chip compare on one engine (the
    measured H200's file has none). It is recorded in ``meta`` and applied to published rows only."""
    meta = {
        **fit.params.meta,
        "published_step_overhead_s": fit.params.step_overhead_s,
        "published_moe_eff": fit.params.moe_eff,
        "published_fit": fit.provenance,
    }
    return replace(
        fit.params, step_overhead_s=CostParams().step_overhead_s, moe_eff=CostParams().moe_eff, meta=meta
    )
