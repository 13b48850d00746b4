"""Why published B200 Llama-3.1-405B interactive is 1/1.47 of the GB200 NVL72's per GPU while the model has
them near equal (docs/validation-405b.md, "B200 against GB200, interactive").

    /work/bin/jpy scripts/mlperf_405b_b200_gb200.py gap     # per logged row: the time a step the model lacks
    /work/bin/jpy scripts/mlperf_405b_b200_gb200.py swap    # each config difference swapped, in the model
    /work/bin/jpy scripts/mlperf_405b_b200_gb200.py variant no-overlap   # calibrate --all --json, a variant
    /work/bin/jpy scripts/mlperf_405b_b200_gb200.py variant occupancy
    /work/bin/jpy scripts/mlperf_405b_b200_gb200.py variant per-call-20  # or per-call-40

gap: for every bundled row with a log summary (data/published_logs/mlperf_log_summaries.csv), the requests
decoding a replica (Little's law, ``LoggedRun.decoding``) and the constant added to every step (decode and
chunk alike) that makes the model's mean TPOT at that batch equal the log's, by bisection.
swap: the B200 and GB200 interactive rows with each of their configuration differences swapped (token budget,
the fused GEMM + all-reduce plugin, the board power).
variant: experiments on top of the model (not adopted); ``no-overlap`` prices the plugin's GEMMs and
all-reduces in series (no ``fused_allreduce_saving_s``); ``occupancy`` gives every plugin GEMM (Hopper's
too) with fewer 128 x 256 output tiles than SMs only its tiles' share of the chip, each SM at its fair share
of the bandwidth (the pessimistic end). The adopted 4-bit kernel's padded tiles: cost/fused_gemm.py.
``per-call-20`` / ``per-call-40`` add 20 / 40 us to every plugin call (decode and chunk steps alike) on top
of the priced all-reduce: a diagnostic of what a fixed per-call cost would do, not a sourced figure (the
published figures bound the plugin's barriers and in-switch reduction at about 11-21 us a call;
docs/validation-405b.md, "The fused plugin's per-call cost").
"""

from __future__ import annotations

import math
import sys
from dataclasses import replace

from jalapeno.cost import step
from jalapeno.cost.params import CostParams
from jalapeno.cost.published import PublishedRow, load_published
from jalapeno.cost.published_fit import analytic_result
from jalapeno.cost.published_run import calibrate_all, preset_or_none
from jalapeno.cost.scenario_limits import load_logged_runs, replicas_of, row_replica

CHIPS = ["h200-sxm", "b200", "gb200-nvl72", "gb300-nvl72"]
B200 = "5.1-0069:llama3.1-405b:Interactive"
GB200 = "5.1-0071:llama3.1-405b:Interactive"


def gap() -> None:
    rows = load_published()
    fits, _ = calibrate_all(rows, chips=CHIPS)
    logs = load_logged_runs()
    for r in rows:
        if r.id not in logs or r.chip not in fits or r.tp is None or r.expert_parallel:
            continue
        log = logs[r.id]
        b = max(1, round(log.decoding(replicas_of(r, r.tp))))
        lo, hi = -0.02, 0.08
        for _ in range(30):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if tpot_with(r, fits[r.chip].params, b, mid) < log.tpot_mean_s else (lo, mid)
        t0 = tpot_with(r, fits[r.chip].params, b, 0.0)
        print(
            f"{r.id} {r.chip} tp{r.tp} gemm_allreduce={r.gemm_allreduce} budget={r.max_num_tokens}: "
            f"{b} requests, mean TPOT model {t0 * 1e3:.1f} ms, log {log.tpot_mean_s * 1e3:.1f} "
            f"({t0 / log.tpot_mean_s - 1:+.1%}); missing {lo * 1e3:.1f} ms a step"
        )


def tpot_with(r: PublishedRow, prm: CostParams, b: int, extra_s: float) -> float:
    """The model's mean TPOT at ``b`` requests with ``extra_s`` added to every step's overhead."""
    slower = replace(prm, step_overhead_s=prm.step_overhead_s + extra_s)
    rs = row_replica(r, preset_or_none(r.chip), slower, r.tp or 1)
    assert rs is not None
    return rs[0].cycle(b).time_s


def swap() -> None:
    rows = load_published()
    fits, _ = calibrate_all(rows, chips=CHIPS[1:3])
    by_id = {r.id: r for r in rows}
    b, g = by_id[B200], by_id[GB200]

    def show(label: str, row: PublishedRow, chip: str, watts: float | None = None) -> None:
        spec = preset_or_none(chip)
        if watts is not None:
            spec = replace(spec, tdp_w=replace(spec.tdp_w, value=watts))
        res = analytic_result(row, spec, fits[chip].params)
        assert res is not None
        print(f"{label}: {res.tokens_per_s_per_chip:.1f} tok/s/GPU, {res.batch} requests, cycle "
              f"{res.cycle_s * 1e3:.1f} ms (published {row.per_chip:.1f})")

    show("B200 as published (plugin, budget 1536, 1,000 W)", b, "b200")
    show("B200, budget 1024", replace(b, max_num_tokens=1024), "b200")
    show("B200, no plugin", replace(b, gemm_allreduce=False), "b200")
    gb_cfg = replace(b, gemm_allreduce=False, max_num_tokens=1024)
    show("B200, GB200's config (no plugin, 1024)", gb_cfg, "b200")
    show("B200 at 1,200 W", b, "b200", 1200.0)
    show("GB200 as published (no plugin, budget 1024, 1,200 W)", g, "gb200-nvl72")
    show("GB200, budget 1536", replace(g, max_num_tokens=1536), "gb200-nvl72")
    show("GB200, plugin", replace(g, gemm_allreduce=True), "gb200-nvl72")
    b_cfg = replace(g, gemm_allreduce=True, max_num_tokens=1536)
    show("GB200, B200's config (plugin, 1536)", b_cfg, "gb200-nvl72")
    show("GB200 at 1,000 W", g, "gb200-nvl72", 1000.0)


def no_overlap() -> None:
    step.Estimator.fused_allreduce_saving_s = lambda self, costs, graph: 0.0  # type: ignore[method-assign]


def occupancy() -> None:
    priced = step.Estimator.price_op_list

    def patched(self: step.Estimator, ops, *, cuda_graph: bool = True):
        costs, t_dev, e_dyn, host = priced(self, ops, cuda_graph=cuda_graph)
        if self.gemm_allreduce and self.tp > 1:
            for c in costs:
                if c.op.name in step.ROW_PARALLEL:
                    tiles = math.ceil(c.sharded.m / 128) * math.ceil(c.sharded.n / 256)
                    t_dev += c.total_s * max(0.0, self.rates.cores / tiles - 1)
        return costs, t_dev, e_dyn, host

    step.Estimator.price_op_list = patched  # type: ignore[method-assign]


# A diagnostic, not a source: the step of the per-call constants tried (the logs lack 31-51 us a call).
PER_CALL_STEP_S = 20e-6
FUSED_CALLS_PER_LAYER = 2  # o_proj and down_proj


def per_call(extra_s: float) -> None:
    """Every plugin call ``extra_s`` slower: a negative saving per layer (``fused_allreduce_saving_s``)."""
    saving = step.Estimator.fused_allreduce_saving_s

    def patched(self: step.Estimator, costs, graph) -> float:
        base = saving(self, costs, graph)
        if not self.gemm_allreduce or self.tp == 1:
            return base
        return base - FUSED_CALLS_PER_LAYER * extra_s

    step.Estimator.fused_allreduce_saving_s = patched  # type: ignore[method-assign]


VARIANTS = {
    "no-overlap": no_overlap,
    "occupancy": occupancy,
    "per-call-20": lambda: per_call(PER_CALL_STEP_S),
    "per-call-40": lambda: per_call(2 * PER_CALL_STEP_S),
}


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "gap"
    if what == "variant":
        VARIANTS[sys.argv[2]]()
        from jalapeno.cli import main

        sys.exit(main(["calibrate", "--all", "--json"]))
    {"gap": gap, "swap": swap}[what]()
