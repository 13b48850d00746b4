"""Which estimated constant moves a ratio most: each one alone at the ends of its range, fleets fixed.

    python scripts/compare_sensitivity.py [--workload azure-code] [--chips h200,jalapeno-1] [--all]
        [--only model_error:]

The fleets are the report's sweep at the nominal constants (as ``jalapeno compare``); then every estimated
constant with a stated range (``--all``: every estimated constant that moves one of the chips) is set to its
low and then its high end, the others nominal, and each chip's fleet re-evaluated. Prints, for the second
chip, its goodput/W and $/Mtok ratio against the first at each end, largest swing first (a Markdown table).
``--only PREFIX`` keeps the constants whose key starts with it (``model_error:``: the chips' published bands).
"""

from __future__ import annotations

import argparse
import time

from jalapeno.explore import montecarlo as mc
from jalapeno.explore.compare import Sweep, sweep_chips
from jalapeno.explore.headtohead import resolve_chips
from jalapeno.explore.workload import resolve_workload


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", default="azure-code")
    ap.add_argument("--chips", default="h200,jalapeno-1")
    ap.add_argument("--all", action="store_true", help="every estimated constant, not only stated ranges")
    ap.add_argument("--only", default="", help="only constants whose key starts with this")
    ap.add_argument("--workers", type=int, default=None)
    a = ap.parse_args()
    t0 = time.perf_counter()
    refs = [c.strip() for c in a.chips.split(",")]
    w, specs = resolve_workload(a.workload), resolve_chips(refs)
    runs = sweep_chips(refs, w, Sweep(), workers=a.workers)
    fleets = [mc.nominal_fleet(r, specs[r], runs[r].best, w) for r in refs]  # type: ignore[arg-type]
    consts = mc.constants_for(list(specs.values()))
    moving = {k for s in specs.values() for k in mc.relevant(consts, s)}
    picked = [
        e
        for e in consts
        if e.key in moving and (a.all or e.stated) and e.lo < e.hi and e.key.startswith(a.only)
    ]
    draws = [{e.key: x} for e in picked for x in (e.lo, e.hi)]
    out = mc.run_values(fleets, w, draws, workers=a.workers)
    ref, other = refs[0], refs[1]

    def ratio(i: int, key: str) -> float:
        return float(out[other][i][key] / out[ref][i][key])

    base_g = fleets[1].nominal.objectives["goodput_per_watt"] / fleets[0].nominal.objectives["goodput_per_watt"]
    base_u = fleets[1].nominal.objectives["usd_per_mtok"] / fleets[0].nominal.objectives["usd_per_mtok"]
    rows = []
    for j, e in enumerate(picked):
        lo, hi = 2 * j, 2 * j + 1
        rows.append((abs(ratio(hi, "goodput_per_watt") - ratio(lo, "goodput_per_watt")), e, lo, hi))
    print(f"{w.name}: {specs[other].name} against {specs[ref].name}, fleets {fleets[1].dep.label()} / "
          f"{fleets[0].dep.label()}; at the nominal constants goodput/W x{base_g:.2f}, $/Mtok x{base_u:.3f} "
          f"({time.perf_counter() - t0:.0f} s)")
    print("| constant | range | goodput/W ratio at lo / hi | $/Mtok ratio at lo / hi | SLO met at lo / hi |")
    print("|---|---|---:|---:|---|")
    for _, e, lo, hi in sorted(rows, key=lambda r: -r[0]):
        met = "/".join("yes" if out[other][i]["feasible"] else "no" for i in (lo, hi))
        print(f"| `{e.key}` | {e.lo:g}-{e.hi:g} ({'stated' if e.stated else 'default'}) | "
              f"{ratio(lo, 'goodput_per_watt'):.2f}x / {ratio(hi, 'goodput_per_watt'):.2f}x | "
              f"{ratio(lo, 'usd_per_mtok'):.3f}x / {ratio(hi, 'usd_per_mtok'):.3f}x | {met} |")


if __name__ == "__main__":
    main()
