"""How Jalapeño-1's lead over the H200 shrinks if the technology library's energies are optimistic.

    python scripts/energy_pessimism.py [--h200-fleet 2x2:sarathi:512]

Jalapeño-1's energies are technology-library estimates (MAC energy, HBM energy per bit, leakage); the
GPUs' are measured. This scales each of the three (and all together) in Jalapeño-1's description, keeps
its design and its Azure-code fleet fixed (2 x tp1, chunked prefill at 512 tokens; a search under the
pessimistic constants would move the design), serves the same workload, and divides by the H200 at its
best fleet from ``jalapeno report`` (pass another with ``--h200-fleet REPLICASxTP:SCHEDULER:TOKENS``).
Every row is one full simulation; about a minute in all on two cores.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
from pathlib import Path
from typing import Any

import yaml

from jalapeno.explore.design import Deployment
from jalapeno.explore.evaluate import evaluate_chip
from jalapeno.explore.workload import resolve_workload
from jalapeno.hardware import resolve_chip
from jalapeno.hardware.arch.tech import Technology

PRESET = Path(__file__).resolve().parents[1] / "src/jalapeno/hardware/presets/arch/jalapeno-1.yaml"
MAC_DTYPES = ("int4", "fp4", "int8", "fp8", "bf16", "fp16", "tf32", "fp32")
CASES = (("technology library", 1, 1, 1), ("2x MAC energy", 2, 1, 1), ("2x HBM energy per bit", 1, 2, 1),
         ("2x leakage (idle)", 1, 1, 2), ("2x all three", 2, 2, 2), ("3x all three", 3, 3, 3))


def scaled_arch(base: dict[str, Any], mac: float, dram: float, leak: float) -> dict[str, Any]:
    """Jalapeño-1's description with its technology constants scaled (overrides, with their reason)."""
    d = copy.deepcopy(base)
    tech = Technology(d["node"]["value"])
    why = f"scripts/energy_pessimism.py: technology library x {{}} (a pessimism test, not a figure)"
    over = dict(d.get("technology") or {})
    for dt in MAC_DTYPES:
        key = f"mac_energy_pj.{dt}"
        over[key] = {"value": tech(key) * mac, "source": why.format(mac)}
    kind = d["memory"]["kind"]
    over[f"dram_pj_per_bit.{kind}"] = {"value": tech(f"dram_pj_per_bit.{kind}") * dram, "source": why.format(dram)}
    over["leakage_w_per_mm2"] = {"value": tech("leakage_w_per_mm2") * leak, "source": why.format(leak)}
    d["technology"] = over
    return d


def fleet(spec: str) -> Deployment:
    """``2x2:sarathi:512`` -> 2 replicas of tp 2, chunked prefill at 512 tokens."""
    size, scheduler, tokens = spec.split(":")
    replicas, tp = (int(x) for x in size.split("x"))
    return Deployment(tp=tp, replicas=replicas, scheduler=scheduler, max_num_batched_tokens=int(tokens))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--h200-fleet", default="2x2:sarathi:512", help="the H200's best Azure-code fleet")
    args = ap.parse_args()
    workload = resolve_workload("azure-code")
    ref = evaluate_chip(resolve_chip("h200"), fleet(args.h200_fleet), workload)
    ref_g = ref.objectives["goodput_per_watt"]
    base = yaml.safe_load(PRESET.read_text())
    dep = Deployment(tp=1, replicas=2, scheduler="sarathi", max_num_batched_tokens=512)
    print(f"H200 at {args.h200_fleet}: {ref_g * 1e3:.3g} req/s/kW ({ref.status})")
    print("| Jalapeño-1 energies | idle W | TDP W | goodput/W | vs H200 | $/Mtok | status |")
    print("|---|---:|---:|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for label, mac, dram, leak in CASES:
            path = Path(tmp) / f"jalapeno-1-{mac}-{dram}-{leak}.yaml"
            path.write_text(yaml.safe_dump(scaled_arch(base, mac, dram, leak), sort_keys=False, allow_unicode=True))
            chip = resolve_chip(str(path))
            ev = evaluate_chip(chip, dep, workload)
            g = ev.objectives.get("goodput_per_watt", ev.metrics.get("goodput_per_watt", 0.0))
            usd = ev.objectives.get("usd_per_mtok", ev.metrics.get("usd_per_mtok", float("nan")))
            idle = chip.idle_w.value if chip.idle_w else float("nan")
            print(f"| {label} | {idle:.0f} | {chip.tdp_w.value:.0f} | {g * 1e3:.3g} | {g / ref_g:.2f}x | "
                  f"{usd:.3g} | {ev.status} |")


if __name__ == "__main__":
    main()
