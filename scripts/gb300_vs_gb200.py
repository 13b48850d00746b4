"""Why the model gives the GB300 NVL72 ~1.3x the GB200 NVL72 per GPU on Llama-3.1-405B where MLPerf v5.1
publishes 1.09x (offline) and 1.05x (server): docs/validation-405b.md, "GB300 against GB200".

    /work/bin/jpy scripts/gb300_vs_gb200.py

Part 1, the decomposition: for NVIDIA's own rack rows (72 GPUs each, TensorRT; GB200: TensorRT 10.11, GB300:
10.13) the model's operating point and what one full chunk step of a replica is made of (one micro-batch
through the whole model, ms): FP4 GEMMs, prefill attention, decode attention (the KV read), other ops,
exposed collectives, the power cap's stretch and the step overhead; and the GEMMs' achieved rate.

Part 2, the candidates: each changes one thing of the GB300 (never fitted on its rows: the GB300 has no fit
rows) and prints its two rows' errors and the model's GB300 / GB200 per-GPU ratios against the published
1.09 and 1.05. Only the first two are priced in the model; the others are what-ifs that bound a mechanism.
"""

from __future__ import annotations

from dataclasses import replace

from jalapeno.cost.measured_gemm import COVERS, ratios
from jalapeno.cost.params import CostParams
from jalapeno.cost.pipeline import ceil_div
from jalapeno.cost.published import PublishedRow, load_published
from jalapeno.cost.published_fit import FOUR_BIT, analytic_result, calibrate_chip
from jalapeno.cost.published_run import calibrate_all, preset_or_none
from jalapeno.cost.scenario_limits import row_replica
from jalapeno.cost.scenario_steps import mixed_graph
from jalapeno.hardware.spec import ChipSpec

RACK_ROWS = {  # (GB300, GB200) NVIDIA rack rows, 72 GPUs each
    "offline": ("5.1-0072:llama3.1-405b:Offline", "5.1-0071:llama3.1-405b:Offline"),
    "server": ("5.1-0072:llama3.1-405b:Server", "5.1-0071:llama3.1-405b:Server"),
}


def full_step(row: PublishedRow, chip: ChipSpec, prm: CostParams) -> str:
    """The model's operating point for ``row`` and its full chunk step, by part (ms)."""
    own = analytic_result(row, chip, prm)
    rep = row_replica(row, chip, prm, row.tp or 1)
    assert own is not None and rep is not None
    rs, b = rep[0], own.batch
    g = mixed_graph(rs.model, ceil_div(b, rs.pp), rs.ctx, rs.room(b), rs.isl, rs.precision, rs.biased_isl)
    st = rs.est.step(g, cuda_graph=rs.graphs)
    part = {"gemm": 0.0, "attn_prefill": 0.0, "attn_decode": 0.0, "other": 0.0}
    gemm_flops, gemm_j = 0.0, 0.0  # one GPU's
    for c in st.ops:
        gemm = c.op.kind in ("matmul", "lm_head") and c.sharded.dtype in FOUR_BIT
        k = c.op.name if c.op.name in part else ("gemm" if gemm else "other")
        part[k] += c.total_s
        if gemm:
            gemm_flops += c.sharded.flops * c.op.repeat
            gemm_j += c.energy_j / rs.est.tp
    ms = {k: v * 1e3 for k, v in part.items()}
    static_w = rs.est.idle_w + prm.active_static_w
    return (
        f"{row.chip} {row.scenario} (TP{rs.est.tp} PP{rs.pp}, budget {rs.budget}): {b} requests a replica "
        f"(KV and batch cap {rep[2]}), cycle {own.cycle_s * 1e3:.1f} ms, {own.tokens_per_s_per_chip:.1f} "
        f"tok/s/GPU (published {row.per_chip:.1f}, {own.tokens_per_s_per_chip / row.per_chip - 1:+.1%})\n"
        f"    full step {st.time_s * 1e3:.1f} ms = FP4 GEMMs {ms['gemm']:.1f} "
        f"({gemm_flops / part['gemm'] / 1e15:.2f} PFLOP/s a GPU, {prm.matmul_eff['nvfp4']:.3f} of "
        f"{chip.matrix_flops['fp4'].value / 1e15:.0f} PF) + prefill attention {ms['attn_prefill']:.1f} + "
        f"decode attention {ms['attn_decode']:.1f} + other {ms['other']:.1f} + collectives "
        f"{st.comm_s * 1e3:.1f} + power cap {st.throttle_s * 1e3:.1f} + overhead {st.overhead_s * 1e3:.1f}\n"
        f"    GEMMs at full clock draw {static_w + gemm_j / part['gemm']:.0f} W a GPU "
        f"({prm.pj_per_flop['nvfp4']:.3f} pJ/FLOP, static {static_w:.0f} W) against its "
        f"{chip.tdp_w.value:.0f} W; the step averages {st.power_w / st.chips:.0f} W"
    )


def errors(rows: dict[str, PublishedRow], chip: ChipSpec, prm: CostParams, gb200: dict[str, float]) -> str:
    """The GB300 rows' errors and the GB300 / GB200 per-GPU ratios (model against published)."""
    out = []
    for scen, (i300, i200) in RACK_ROWS.items():
        r = rows[i300]
        res = analytic_result(r, chip, prm)
        assert res is not None
        pub = r.per_chip / rows[i200].per_chip
        out.append(
            f"{scen} {res.tokens_per_s_per_chip / r.per_chip - 1:+.1%} (ratio "
            f"{res.tokens_per_s_per_chip / gb200[scen]:.2f}, published {pub:.2f})"
        )
    return "; ".join(out)


def main() -> None:
    all_rows = load_published()
    rows = {r.id: r for r in all_rows}
    fits, _ = calibrate_all(all_rows, chips=["b200", "gb200-nvl72", "gb300-nvl72"])
    g200 = "gb200-nvl72"
    gb300, gb200 = (preset_or_none(c) for c in ("gb300-nvl72", "gb200-nvl72"))
    p300, p200 = fits["gb300-nvl72"].params, fits["gb200-nvl72"].params
    print("## The model's full chunk steps (fitted or prior parameters, as `jalapeno calibrate --all`)")
    for i300, i200 in RACK_ROWS.values():
        print(full_step(rows[i200], gb200, p200))
        print(full_step(rows[i300], gb300, p300))
    base200 = {}
    for scen, (_, i200) in RACK_ROWS.items():
        res = analytic_result(rows[i200], gb200, p200)
        assert res is not None
        base200[scen] = res.tokens_per_s_per_chip

    def prior_fit(chip: ChipSpec, prior: str) -> CostParams:
        """The GB300's parameters from ``prior``'s fit (no fit rows of its own: a family prior)."""
        fam, fam_chip = fits[prior], preset_or_none(prior)
        return calibrate_chip(chip, all_rows, None, fam.params, prior, prior_chip=fam_chip).params

    def measured(chip: ChipSpec, fp4_ratio: float | None, fp8: bool = True) -> CostParams:
        """The GB200's fit with FP4 moved by ``fp4_ratio`` (None: the bundled measured value) and FP8 by its
        measured ratio (``fp8``), as cost/measured_gemm.with_measured_gemm does."""
        found = ratios(gb200, chip)
        value = {d: r.value for d, r in found.items() if fp8 or d != "fp8"}
        if fp4_ratio is not None:
            value["fp4"] = fp4_ratio
        fam = fits[g200].params
        eff = dict(fam.matmul_eff)
        for d, v in value.items():
            for k in COVERS[d]:
                eff[k] = fam.eff(k) * v * gb200.matrix_flops[d].value / chip.matrix_flops[d].value
        prior = replace(fam, matmul_eff=eff)
        return calibrate_chip(chip, all_rows, None, prior, g200, prior_chip=gb200).params

    def same_node_fp4(prm: CostParams, family: CostParams) -> CostParams:
        pj = {**prm.pj_per_flop, **dict.fromkeys(FOUR_BIT, family.pj_per_flop["fp4"])}
        return replace(prm, pj_per_flop=pj)

    fp4_10 = replace(gb300, matrix_flops={**gb300.matrix_flops, "fp4": gb200.matrix_flops["fp4"]})
    watts = gb300.tdp_w.value / gb200.tdp_w.value  # 1,400 / 1,200 W (MLPerf system notes: TGP)
    fp4_w = replace(gb200.matrix_flops["fp4"], value=gb200.matrix_flops["fp4"].value * watts)
    fp4_power = replace(gb300, matrix_flops={**gb300.matrix_flops, "fp4": fp4_w})
    at_1200 = replace(gb300, tdp_w=gb200.tdp_w)
    g200 = "gb200-nvl72"
    fp4 = ratios(gb200, gb300)["fp4"]
    datasheet = prior_fit(gb300, g200)
    cases = [
        ("before: the HGX B200's fractions on the GB300's peaks", gb300, prior_fit(gb300, "b200")),
        ("before: the GB200 NVL72's fitted fractions on the GB300's peaks", gb300, datasheet),
        (f"now: the GB200's fit x measured GEMM ratio (fp4 {fp4.value:.3f})", gb300, p300),
        ("measured: FP4 ratio only (FP8 on the datasheet)", gb300, measured(gb300, None, fp8=False)),
        (f"measured: FP4 ratio at its low end ({fp4.lo:.3f})", gb300, measured(gb300, fp4.lo)),
        (f"measured: FP4 ratio at its high end ({fp4.hi:.3f})", gb300, measured(gb300, fp4.hi)),
        ("power: the GB300's energies held to the GB200's 1,200 W", at_1200, datasheet),
        ("power: FP4 energy per FLOP of the GB200 (same 4NP node)", gb300, same_node_fp4(datasheet, p200)),
        ("what-if: FP4 at the GB200's rate x 1,400 / 1,200 W", fp4_power, prior_fit(fp4_power, g200)),
        ("what-if: no Blackwell Ultra FP4 gain (10 PF dense)", fp4_10, prior_fit(fp4_10, g200)),
        ("what-if: 10 PF dense on the B200's fractions", fp4_10, prior_fit(fp4_10, "b200")),
    ]
    print("\n## Candidates: GB300 rows' errors (GB300 / GB200 per GPU, model against published)")
    for name, chip, prm in cases:
        print(f"{name}: {errors(rows, chip, prm, base200)}")
    cfg = rows[RACK_ROWS["offline"][1]]
    swapped = replace(rows[RACK_ROWS["offline"][0]], tp=cfg.tp, pp=cfg.pp, gemm_allreduce=cfg.gemm_allreduce)
    res = analytic_result(swapped, gb300, p300)
    assert res is not None
    tps = res.tokens_per_s_per_chip
    print(
        f"config: the GB300 offline under the GB200's (TP2 PP2, GEMM + all-reduce fused): {tps:.1f} "
        f"tok/s/GPU ({tps / swapped.per_chip - 1:+.1%}), {res.batch} requests"
    )


if __name__ == "__main__":
    main()
