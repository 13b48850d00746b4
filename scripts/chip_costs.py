"""Recompute the derived manufacturing costs of the presets (``hardware/cost_estimates.py``, docs/tco.md).

    python scripts/chip_costs.py [--json] [--yaml] [--prices]

Prints each derived chip's cost parts, total, range and the source line its preset carries, then the
datasheet model against the analyst estimates it is checked on. ``--yaml`` prints the ``extra`` entries to
paste into the presets; ``tests/test_tco.py`` fails when a preset's figure differs from this script's.
``--prices``: every preset's cost and its price under each rule (the table of docs/tco.md), markdown.
"""

from __future__ import annotations

import argparse
import json

from jalapeno.hardware import list_presets, resolve_chip
from jalapeno.hardware.cost_estimates import CHECKS, ESTIMATES
from jalapeno.hardware.tco import COST_KEY, chip_price


def yaml_entry(e) -> str:  # type: ignore[no-untyped-def]
    f = e.figure()
    esc = lambda s: s.replace('"', '\\"')  # noqa: E731
    return (f"# {e.chip}\n  cost.total_usd:\n    value: {f['value']:.0f}\n    range: [{f['range'][0]:.0f}, "
            f"{f['range'][1]:.0f}]\n    source: \"{esc(f['source'])}\"\n    secondary: true\n"
            f"    note: \"{esc(f['note'])}\"")


def price_table() -> str:
    rows = ["| chip | cost $ | cost range $ | cost rule $ | margin rule $ | street $ (reported) | cost basis |",
            "|---|---:|---|---:|---:|---:|---|"]
    derived = {e.chip: e.basis for e in ESTIMATES}
    for name in list_presets():
        chip = resolve_chip(name)
        f, p = chip.extra[COST_KEY], chip_price(chip)
        street = f"{p.street_usd:,.0f}" if p.street_usd is not None else "- (margin)"
        basis = f"derived: {derived[name]}" if name in derived else "analyst estimate"
        rows.append(f"| {name} | {f.value:,.0f} | [{f.range[0]:,.0f}, {f.range[1]:,.0f}] | {p.price('cost'):,.0f} | "
                    f"{p.price('margin'):,.0f} | {street} | {basis} |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="Every estimate and check as JSON.")
    ap.add_argument("--yaml", action="store_true", help="The presets' extra.cost.total_usd entries.")
    ap.add_argument("--prices", action="store_true", help="Every preset's cost and prices, a markdown table.")
    args = ap.parse_args()
    if args.prices:
        print(price_table())
        return
    checks = [{"chip": e.chip, "model_usd": e.value_usd, "analyst_usd": usd, "analyst": who,
               "error": e.value_usd / usd - 1, "source": e.source} for e, usd, who in CHECKS]
    if args.json:
        print(json.dumps({"estimates": [e.to_json() for e in ESTIMATES], "checks": checks}, indent=1))
        return
    if args.yaml:
        print("\n".join(yaml_entry(e) for e in ESTIMATES))
        return
    print(f"{'chip':<15}{'basis':<14}{'cost $':>8}  {'range $':<16}parts")
    for e in ESTIMATES:
        parts = ", ".join(f"{k} {v.value:,.0f}" for k, v in e.parts().items()
                          if k not in ("total", "dies_per_wafer", "yield"))
        r = e.range_usd
        print(f"{e.chip:<15}{e.basis:<14}{e.value_usd:>8,.0f}  [{r[0]:,.0f}, {r[1]:,.0f}]".ljust(55) + parts)
        print(f"  source: {e.source}")
    print("\ndatasheet model against analyst estimates:")
    for c in checks:
        print(f"  {c['chip']:<10} model ${c['model_usd']:,.0f}  analyst ${c['analyst_usd']:,.0f} "
              f"({c['analyst']})  {c['error']:+.1%}")


if __name__ == "__main__":
    main()
