"""Bundle the latency statistics of every server/interactive MLPerf row's log summary.

Each bundled server or interactive row (src/jalapeno/data/published/mlperf.csv) names its result directory;
its performance/run_1/mlperf_log_summary.txt gives what LoadGen measured: completed samples/s, mean
latency, mean and p99 time to first token and time per output token, and the round's limits. These are
the facts ``cost.scenario_limits`` sets against the scenario model (which limit binds, at what batch):

    /work/bin/jpy scripts/mlperf_log_summaries.py V41_GIT_DIR V51_GIT_DIR

writes src/jalapeno/data/published_logs/mlperf_log_summaries.csv (GIT_DIR: a clone or bare mirror of
github.com/mlcommons/inference_results_v4.1 / _v5.1; read at HEAD).
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from jalapeno.cost.published import load_published

KEYS = {
    "Completed samples per second": "samples_per_s",
    "Mean latency (ns)": "latency_mean_s",
    "Mean First Token latency (ns)": "ttft_mean_s",
    "99.00 percentile first token latency (ns)": "ttft_p99_s",
    "Mean Time to Output Token (ns)": "tpot_mean_s",
    "99.00 percentile time to output token (ns)": "tpot_p99_s",
    "ttft_latency (ns)": "ttft_limit_s",
    "tpot_latency (ns)": "tpot_limit_s",
}
FIELDS = ["id", *KEYS.values(), "source"]
OUT = Path(__file__).parents[1] / "src/jalapeno/data/published_logs/mlperf_log_summaries.csv"


def summary(git_dir: str, path: str) -> dict[str, float]:
    text = subprocess.run(
        ["git", "-C", git_dir, "show", f"HEAD:{path}"], check=True, capture_output=True, text=True
    ).stdout
    out: dict[str, float] = {}
    for line in text.splitlines():
        k, _, v = line.partition(":")
        name = KEYS.get(k.strip())
        if name and name not in out:
            value = float(v.split()[0])
            out[name] = value if name == "samples_per_s" else value * 1e-9
    return out


def main(v41: str, v51: str) -> None:
    dirs = {"v4.1": v41, "v5.1": v51}
    rows = []
    for r in load_published():
        if r.scenario not in ("server", "interactive") or r.round not in dirs:
            continue
        path = r.url.split("/tree/main/", 1)[1] + "/performance/run_1/mlperf_log_summary.txt"
        s = summary(dirs[r.round], path)
        base = r.url.replace("/tree/", "/blob/", 1)
        rows.append(
            {
                "id": r.id,
                **{k: f"{v:.6g}" for k, v in s.items()},
                "source": f"{base}/performance/run_1/mlperf_log_summary.txt",
            }
        )
    with open(OUT, "w", newline="") as f:
        w = csv.DictWriter(f, FIELDS)
        w.writeheader()
        w.writerows(rows)
    print(f"{len(rows)} rows -> {OUT}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
