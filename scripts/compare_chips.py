"""Every chip at its best fleet on one workload: the report's head-to-head sweep, for any bundled workload.

    python scripts/compare_chips.py --workload azure-code-bf16

The report (``jalapeno report``) runs this for azure-code, mooncake-conversation and agentic-coding; this
script runs it for one workload alone (e.g. the bf16 variant, the format whose GPU energy was measured
end to end) and prints goodput per watt and $/Mtok relative to the H200.
"""

from __future__ import annotations

import argparse
import time

from jalapeno.explore.compare import Sweep, sweep_chips
from jalapeno.explore.workload import resolve_workload

CHIPS = ("jalapeno-1", "h100-sxm", "h200-sxm", "b200")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", default="azure-code-bf16")
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    t0 = time.perf_counter()
    runs = sweep_chips(CHIPS, resolve_workload(args.workload), Sweep(), workers=args.workers)
    ref = runs["h200-sxm"].evaluation
    ref_g = ref.objectives["goodput_per_watt"] if ref is not None else None
    ref_u = ref.objectives["usd_per_mtok"] if ref is not None else None
    print(f"{args.workload}: every chip at its best fleet ({time.perf_counter() - t0:.0f} s)")
    print(f"{'chip':12s} {'best fleet':36s} {'goodput/W (req/s/kW)':>21s} {'vs H200':>8s} {'$/Mtok':>8s} "
          f"{'vs H200':>8s} {'p99 TTFT':>9s}")
    for chip, run in runs.items():
        ev = run.evaluation
        if run.best is None or ev is None:
            print(f"{chip:12s} no feasible fleet")
            continue
        g, u, ttft = (ev.objectives[k] for k in ("goodput_per_watt", "usd_per_mtok", "ttft_p99_s"))
        print(f"{chip:12s} {run.best.label():36s} {g * 1e3:21.3g} "
              f"{(g / ref_g if ref_g else float('nan')):7.2f}x {u:8.3g} "
              f"{(u / ref_u if ref_u else float('nan')):7.2f}x {ttft:8.2f}s")


if __name__ == "__main__":
    main()
