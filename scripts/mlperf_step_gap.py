"""Measured step time against the model's at the batch the submitter actually ran.

docs/validation-published.md, Known gaps: the Blackwell per-step cost.

An MLPerf server or interactive run's log summary gives, with no model, its operating point: requests in
flight = completed samples/s x mean latency (Little's law; the TTFT wait is under 1% of the latency on
Llama-2-70B), per replica = that / (GPUs / TP), and the mean time per output token is the mean step. This
prints, per result, that point and the scenario model's cycle at the same batch (fitted parameters, with
and without the fitted per-step overhead), so the gap is the step cost the physics leaves out:

    /work/bin/jpy scripts/mlperf_step_gap.py V51_GIT_DIR [V41_GIT_DIR]

With the v4.1 repository too, it adds NVIDIA's v4.1 Llama-2-70B server runs on the H200 (TP1) and the H100
(TP2: the 8-GPU DGX H100, and Fujitsu's 4-GPU board, priced as the switchless mesh its system names,
cost/published_board.py): docs/validation-published.md, Known gaps, the H100 rows.
"""

from __future__ import annotations

import sys
from dataclasses import replace

from mlperf_log_summaries import summary  # the parser the bundled log file is written with (same directory)

from jalapeno.cost.published import load_published
from jalapeno.cost.published_run import calibrate_all, preset_or_none
from jalapeno.cost.scenario_limits import replicas_of, row_replica

# (chip, row's submitter, model, scenario whose published configuration prices the step, results dir)
B200 = "closed/NVIDIA/results/B200-SXM-180GBx8_TRT"
HPE = "closed/HPE/results/HPE_Cray_XD670_H200_SXM_141GBx8_TRT"
DELL = "closed/Dell/results/XE9680_H200_SXM_141GBx8_TRT"
NEBIUS = "closed/Nebius/results/H200-SXM-141GBx8_TRT"
RUNS = (
    ("b200", "NVIDIA", "llama-2-70b", "interactive", f"{B200}/llama2-70b-99/Interactive"),
    ("b200", "NVIDIA", "llama-2-70b", "server", f"{B200}/llama2-70b-99/Server"),
    ("b200", "NVIDIA", "llama-3.1-8b", "server", f"{B200}/llama3.1-8b/Interactive"),  # no interactive row
    ("b200", "NVIDIA", "llama-3.1-8b", "server", f"{B200}/llama3.1-8b/Server"),
    ("b200", "NVIDIA", "llama-3.1-405b", "interactive", f"{B200}/llama3.1-405b/Interactive"),
    ("b200", "NVIDIA", "llama-3.1-405b", "server", f"{B200}/llama3.1-405b/Server"),
    ("h200-sxm", "HPE", "llama-2-70b", "interactive", f"{HPE}/llama2-70b-99/Interactive"),
    ("h200-sxm", "Dell", "llama-2-70b", "server", f"{DELL}/llama2-70b-99/Server"),
    ("h200-sxm", "Nebius", "llama-3.1-405b", "interactive", f"{NEBIUS}/llama3.1-405b/Interactive"),
    ("h200-sxm", "Nebius", "llama-3.1-405b", "server", f"{NEBIUS}/llama3.1-405b/Server"),
)
V41 = "closed/{}/results/{}/llama2-70b-99/Server"
RUNS_V41 = (
    ("h200-sxm", "NVIDIA", "llama-2-70b", "server", V41.format("NVIDIA", "H200-SXM-141GBx8_TRT")),
    ("h100-sxm", "NVIDIA", "llama-2-70b", "server", V41.format("NVIDIA", "DGX-H100_H100-SXM-80GBx8_TRT")),
    ("h100-sxm", "Fujitsu", "llama-2-70b", "server", V41.format("Fujitsu", "GX2560M7_H100_SXM_80GBx4_TRT")),
)


def main(git_dir: str, v41_dir: str | None = None) -> None:
    rows = load_published()
    fits, _ = calibrate_all(rows, chips=["h200-sxm", "b200", "h100-sxm"])
    runs = [("v5.1", git_dir, *run) for run in RUNS]
    runs += [("v4.1", v41_dir, *run) for run in RUNS_V41] if v41_dir else []
    for rnd, repo, chip, who, model, scen, result in runs:
        s = summary(repo, f"{result}/performance/run_1/mlperf_log_summary.txt")
        r = next(
            x
            for x in rows
            if (x.chip, x.model, x.scenario, x.submitter, x.round) == (chip, model, scen, who, rnd)
        )
        b = round(s["samples_per_s"] * s["latency_mean_s"] / replicas_of(r, r.tp or 1))
        preset, fit = preset_or_none(chip), fits[chip].params
        assert preset is not None
        cyc = []
        for ovh in (0.0, fit.step_overhead_s):  # the row's replica on the board its system had
            rep = row_replica(r, preset, replace(fit, step_overhead_s=ovh), r.tp or 1)
            assert rep is not None
            cyc.append(rep[0].cycle(b).time_s * 1e3)
        tpot = s["tpot_mean_s"] * 1e3
        print(
            f"{rnd} {who} {chip} {model} {result.rsplit('/', 1)[1]}: {b} requests a replica, "
            f"mean TPOT {tpot:.1f} ms, "
            f"p99 TTFT {s['ttft_p99_s'] * 1e3:.0f} ms; model {cyc[0]:.1f} ms without the step overhead "
            f"(gap {tpot - cyc[0]:+.1f} ms), {cyc[1]:.1f} ms with {fit.step_overhead_s * 1e3:.2f} ms"
        )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
