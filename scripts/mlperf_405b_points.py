"""The scenario model at the operating points the Llama-3.1-405B MLPerf logs show, and against TensorRT-LLM's
own 405B and 70B tables (docs/validation-405b.md).

    /work/bin/jpy scripts/mlperf_405b_points.py            # the logs' batches: model TPOT/TTFT, steps
    /work/bin/jpy scripts/mlperf_405b_points.py --vendor   # TensorRT-LLM perf-overview 405B vs 70B rows

Points: for each bundled 405B server/interactive row with a bundled log summary
(data/published_logs/mlperf_log_summaries.csv), the requests decoding in one replica (Little's law,
``LoggedRun.decoding``), and at that batch the model's (calibrated, fused engine, the row's published serving
configuration and step overhead) mean and p99 TPOT, mean TTFT (GI/G/1 mean wait, rho E[S] (ca^2 + cv^2)
/ (2 (1 - rho)), ca^2 = 1 / replicas under round-robin dispatch, plus the steps a prompt rides) and p99
TTFT, its decode step and full-chunk step, against the log's. Vendor: TensorRT-LLM's perf-overview
(docs/source/performance/perf-overview.md at commit
00f37686aa854010d68bcbd0f4ab000221541ca6, PyTorch backend, trtllm-bench, total output tokens/s, fixed
lengths), not bundled as rows: a diagnostic of which model and parallelism the error comes with.
"""

from __future__ import annotations

import math
import sys

from jalapeno.cost.params import fused_engine
from jalapeno.cost.published import load_published
from jalapeno.cost.published_fit import analytic_result, row_shape
from jalapeno.cost.published_run import calibrate_all, preset_or_none
from jalapeno.cost.scenario import precision_of, predict, tpot_p99_at, ttft_p99_at
from jalapeno.cost.scenario_limits import load_logged_runs, replicas_of, row_replica
from jalapeno.cost.scenario_steps import ReplicaSteps, graph_of, mixed_graph
from jalapeno.models.registry import resolve_model

CHIPS = ["h200-sxm", "b200", "gb200-nvl72", "gb300-nvl72"]
PERF_OVERVIEW = (
    "https://github.com/NVIDIA/TensorRT-LLM/blob/00f37686aa854010d68bcbd0f4ab000221541ca6/docs/source/"
    "performance/perf-overview.md"
)
# (model, chip, tp, precision) -> {(ISL, OSL): total output tokens/s}
VENDOR = {
    ("llama-3.1-405b", "b200", 4, "fp4"): {
        (128, 2048): 8020,
        (1000, 1000): 5209,
        (2048, 2048): 4212,
        (2048, 128): 749,
        (5000, 500): 1048,
        (20000, 2000): 672,
    },
    ("llama-3.1-405b", "h200-sxm", 8, "fp8"): {
        (128, 2048): 5348,
        (1000, 1000): 3330,
        (2048, 2048): 2948,
        (2048, 128): 456,
        (5000, 500): 650,
        (20000, 2000): 505,
    },
    ("llama-3.1-70b", "b200", 1, "fp4"): {
        (128, 2048): 9922,
        (1000, 1000): 7007,
        (2048, 2048): 4783,
        (2048, 128): 1339,
        (5000, 500): 1459,
        (20000, 2000): 665,
    },
    ("llama-3.1-70b", "h200-sxm", 1, "fp8"): {
        (128, 2048): 4336,
        (1000, 1000): 2909,
        (2048, 2048): 2003,
        (2048, 128): 442,
        (5000, 500): 566,
        (20000, 2000): 283,
    },
}


def points() -> None:
    rows = load_published()
    fits, _ = calibrate_all(rows, chips=CHIPS)
    logs = load_logged_runs()
    for r in rows:
        if r.model != "llama-3.1-405b" or r.id not in logs or r.chip not in fits:
            continue
        log, spec = logs[r.id], preset_or_none(r.chip)
        assert spec is not None
        _, _, _, cv, fr = row_shape(r)
        rep = row_replica(r, spec, fits[r.chip].params, r.tp or 1)
        assert rep is not None
        rs = rep[0]
        b = max(1, round(log.decoding(replicas_of(r, r.tp or 1))))
        c = rs.cycle(b)
        service, rho = rs.prefill_service(b)
        wait = rho * service * (rs.arrival_cv2 + cv**2) / (2 * (1 - rho)) if rho < 1 else math.inf
        ms = 1e3
        print(
            f"{r.chip} {r.submitter} {r.scenario} ({r.id}): {b} requests decoding a replica; "
            f"TPOT mean {c.time_s * ms:.1f} ms (log {log.tpot_mean_s * ms:.1f}), "
            f"p99 {tpot_p99_at(rs, b, cv, fr) * ms:.1f} (log {log.tpot_p99_s * ms:.1f}); "
            f"TTFT mean {(wait + rs.first_token_s(b)) * ms:.0f} ms (log {log.ttft_mean_s * ms:.0f}), "
            f"p99 {ttft_p99_at(rs, b, cv) * ms:.0f} (log {log.ttft_p99_s * ms:.0f}); "
            f"decode step {c.decode_s * ms:.1f} ms, full chunk step {rs.full_step_s(b) * ms:.1f} ms, "
            f"prefill load {rho:.2f}"
        )
        if detail := parts(rs, b):
            print(f"    {detail}")
        own = analytic_result(r, spec, fits[r.chip].params)
        if own is not None:
            ob = own.batch
            print(
                f"    the model's own point: {ob} requests, cycle {own.cycle_s * ms:.1f} ms, p99 TPOT "
                f"{tpot_p99_at(rs, ob, cv, fr) * ms:.1f} ms, p99 TTFT {ttft_p99_at(rs, ob, cv):.2f} s, "
                f"{own.tokens_per_s_per_chip:.1f} tok/s/GPU against {r.value / r.n_chips:.1f} published"
            )


def parts(rs: ReplicaSteps, b: int) -> str:
    """What the decode step and the full-chunk step at batch b are made of (one micro-batch, no pipeline):
    device time of the ops, exposed collectives, host launches the device waits on, the power cap's
    stretch, and the step overhead, in ms."""
    if rs.pp != 1 or rs.budget is None:
        return ""
    rows, room = b, rs.room(b)
    out = []
    for name, g in (
        ("decode", graph_of(rs.model, "decode", rows, rs.ctx, rs.precision)),
        ("full", mixed_graph(rs.model, rows, rs.ctx, room, rs.isl, rs.precision, rs.biased_isl)),
    ):
        st = rs.est.step(g, cuda_graph=rs.graphs)
        ops = sum(c.total_s for c in st.ops)
        attn = sum(c.total_s for c in st.ops if c.op.name == "attn_prefill")
        out.append(
            f"{name} {st.time_s * 1e3:.1f} = ops {ops * 1e3:.1f} (prefill attention {attn * 1e3:.1f}) + "
            f"collectives {st.comm_s * 1e3:.1f} + host wait {st.host_wait_s * 1e3:.1f} + power cap "
            f"{st.throttle_s * 1e3:.1f} + overhead {st.overhead_s * 1e3:.1f}"
        )
    return "; ".join(out)


def vendor() -> None:
    fits, _ = calibrate_all(load_published(), chips=CHIPS[:2])
    print(f"source: {PERF_OVERVIEW}")
    for (model, chip, tp, prec), table in VENDOR.items():
        spec, prm = preset_or_none(chip), fused_engine(fits[chip].params)
        for (isl, osl), total in table.items():
            res = predict(resolve_model(model), spec, prm, precision_of(prec), tp, isl, osl, None, tps=(tp,))
            pred = res.tokens_per_s_per_chip * tp if res else math.nan
            err = pred / total - 1
            print(f"{model} {chip} tp{tp} {isl}/{osl}: published {total}, model {pred:.0f} ({err:+.1%})")


if __name__ == "__main__":
    vendor() if "--vendor" in sys.argv[1:] else points()
