"""Jalapeño-1 against the H200 on one workload under each price rule, and each TCO constant at its range ends.

    python scripts/price_rules.py [--workload azure-code] [--h200-fleet 2x2:sarathi:512] [--j1-fleet 2x1:sarathi:512]

Serves the workload once per chip at the given fleets (defaults: the best fleets published in
docs/jalapeno-1.md; no search is rerun), then prices the same two simulations by ``hardware.tco`` under
each ``--price-rule`` and with one constant at a time at the ends of its range (docs/tco.md).
"""

from __future__ import annotations

import argparse
from typing import Any

from jalapeno.explore.design import Deployment
from jalapeno.explore.evaluate import evaluate_chip
from jalapeno.explore.workload import resolve_workload
from jalapeno.hardware import resolve_chip
from jalapeno.hardware.tco import PRICE_RULES, chip_price, constants, fleet_tco


def fleet(spec: str) -> Deployment:
    """``2x2:sarathi:512`` -> 2 replicas of tp 2, chunked prefill at 512 tokens."""
    size, scheduler, tokens = spec.split(":")
    replicas, tp = (int(x) for x in size.split("x"))
    return Deployment(tp=tp, replicas=replicas, scheduler=scheduler, max_num_batched_tokens=int(tokens))


def serve(name: str, dep: Deployment, workload: Any) -> tuple[Any, Any, Any]:
    chip = resolve_chip(name)
    ev = evaluate_chip(chip, dep, workload, keep_result=True)
    return chip, ev.metrics["result"], ev


def usd(chip: Any, chips: int, res: Any, rule: str, values: dict[str, float] | None = None) -> float:
    t = fleet_tco(chip, chips, res.avg_power_w, res.throughput_total_tokens_per_s, res.throughput_tokens_per_s,
                  rule, values)
    assert t is not None and t.usd_per_mtok is not None
    return t.usd_per_mtok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", default="azure-code")
    ap.add_argument("--h200-fleet", default="2x2:sarathi:512")
    ap.add_argument("--j1-fleet", default="2x1:sarathi:512")
    args = ap.parse_args()
    w = resolve_workload(args.workload)
    runs = {"h200-sxm": serve("h200-sxm", fleet(args.h200_fleet), w),
            "jalapeno-1": serve("jalapeno-1", fleet(args.j1_fleet), w)}
    n = {"h200-sxm": fleet(args.h200_fleet).chips, "jalapeno-1": fleet(args.j1_fleet).chips}
    print(f"{args.workload}: H200 at {args.h200_fleet}, Jalapeño-1 at {args.j1_fleet}")
    print("| chip | chips | status | avg board W | tokens/s | cost $ | margin price $ | street $ |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for name, (chip, res, ev) in runs.items():
        p = chip_price(chip)
        street = f"{p.street_usd:,.0f}" if p.street_usd is not None else "-"
        print(f"| {name} | {n[name]} | {ev.status} | {res.avg_power_w:,.0f} | {res.throughput_total_tokens_per_s:,.0f} | "
              f"{p.cost_usd:,.0f} | {p.margin_usd:,.0f} | {street} |")
    print("\n| price rule | H200 $/Mtok | Jalapeño-1 $/Mtok | ratio | H200 $/output Mtok | Jalapeño-1 $/output Mtok |")
    print("|---|---:|---:|---:|---:|---:|")
    for rule in PRICE_RULES:
        t = {k: fleet_tco(c, n[k], r.avg_power_w, r.throughput_total_tokens_per_s, r.throughput_tokens_per_s, rule)
             for k, (c, r, _) in runs.items()}
        h, j = t["h200-sxm"], t["jalapeno-1"]
        assert h is not None and j is not None
        print(f"| {rule} | {h.usd_per_mtok:.4g} | {j.usd_per_mtok:.4g} | {j.usd_per_mtok / h.usd_per_mtok:.3f}x | "
              f"{h.usd_per_mtok_output:.4g} | {j.usd_per_mtok_output:.4g} |")
    print("\nmargin rule, one constant at a time at the ends of its range (ratio Jalapeño-1 / H200):")
    print("| constant | lo | ratio at lo | hi | ratio at hi |")
    print("|---|---:|---:|---:|---:|")
    for key, c in constants().items():
        ratios = []
        for v in (c.lo, c.hi):
            vals = {key: v}
            h = usd(runs["h200-sxm"][0], n["h200-sxm"], runs["h200-sxm"][1], "margin", vals)
            j = usd(runs["jalapeno-1"][0], n["jalapeno-1"], runs["jalapeno-1"][1], "margin", vals)
            ratios.append(j / h)
        print(f"| {key} | {c.lo:g} | {ratios[0]:.3f}x | {c.hi:g} | {ratios[1]:.3f}x |")


if __name__ == "__main__":
    main()
