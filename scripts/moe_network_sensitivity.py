"""How much the network matters to Jalapeño-MoE-1 (docs/jalapeno-moe.md): its design point with one network
parameter changed at a time, served on one workload at the chip's best fleet from the comparison
(docs/data/jalapeno-moe-fleets.json), and, on a 16-chip domain, one EP16 group with chunked prefill. Every
variant is built and checked like a search trial (``build_arch``, ``derive_chip``, ``chip_checks``: reticle,
physical, network) and served by ``evaluate_chip``.

    python scripts/moe_network_sensitivity.py [--workload azure-code-qwen3-coder] [--workers 2] [--json]
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from jalapeno.explore import load_space, resolve_workload
from jalapeno.explore.design import Deployment, build_arch
from jalapeno.explore.evaluate import chip_checks, chip_metrics, evaluate_chip

DESIGN = Path("src/jalapeno/explore/spaces/jalapeno-moe-1.json")
FLEETS = Path("docs/data/jalapeno-moe-fleets.json")
EP16 = {"tp": 1, "ep": 16, "replicas": 1, "scheduler": "sarathi", "max_num_batched_tokens": 512}
VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("chosen: 4 links x 4 lanes, switch of 8", {}),
    ("2 lanes a link (half the bandwidth)", {"links.lanes": 2}),
    ("8 lanes a link (twice)", {"links.lanes": 8}),
    ("8 links x 4 lanes (twice)", {"links.count": 8}),
    ("full mesh of 8, 8 links", {"scale_up": "mesh8", "links.count": 8}),
    ("3D torus 2x2x2, 8 links", {"scale_up": "torus3d-8", "links.count": 8}),
    ("switch of 16, 1 x EP16 chunked prefill", {"scale_up": "switch16", "deployment": EP16}),
    ("2D torus 4x4, 1 x EP16 chunked prefill", {"scale_up": "torus2d-16", "deployment": EP16}),
    ("switch of 16, 8 lanes a link, 1 x EP16 chunked prefill",
     {"scale_up": "switch16", "links.lanes": 8, "deployment": EP16}),
]


def one(design: dict[str, Any], dep: dict[str, Any], workload: str) -> dict[str, Any]:
    from jalapeno.hardware.arch import derive_chip

    space = load_space("moe-asic")
    chip = derive_chip(build_arch(space, design))
    base = chip_metrics(chip)
    reasons = chip_checks(chip, space.constraints)
    if reasons:
        ev_reasons, obj, m = reasons, {}, {}
    else:
        ev = evaluate_chip(chip, Deployment(**dep), resolve_workload(workload))
        ev_reasons, obj, m = list(ev.reasons), dict(ev.objectives), dict(ev.metrics)
    return {"feasible": not ev_reasons, "reasons": ev_reasons, "objectives": obj, "deployment": dep, **base,
            **{k: m.get(k) for k in ("chips", "slo_attainment", "tpot_p90_s", "ttft_p90_s")}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", default="azure-code-qwen3-coder")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    base = json.loads(DESIGN.read_text())["design"]
    best = {k: v for k, v in json.loads(FLEETS.read_text())[a.workload]["jalapeno-moe-1"].items() if k != "chips"}
    with ProcessPoolExecutor(a.workers) as ex:
        futs = [(label, ex.submit(one, {**base, **{k: v for k, v in over.items() if k != "deployment"}},
                                  over.get("deployment", best), a.workload)) for label, over in VARIANTS]
        rows = [{"variant": label, **f.result()} for label, f in futs]
    if a.json:
        print(json.dumps({"workload": a.workload, "rows": rows}, indent=1))
        return
    print("| variant | die mm2 | TDP W | idle W | cost $ | chips | attainment | goodput/W (req/s/kW) | $/Mtok | TPOT p90 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        o = r["objectives"]
        g = f"{o['goodput_per_watt'] * 1e3:.3f}" if "goodput_per_watt" in o else "-"
        u = f"{o['usd_per_mtok']:.4f}" if "usd_per_mtok" in o else "-"
        why = "" if r["feasible"] else f" ({'; '.join(r['reasons'])[:80]})"
        att = "-" if r["slo_attainment"] is None else f"{r['slo_attainment']:.3f}"
        tp = "-" if r["tpot_p90_s"] is None else f"{r['tpot_p90_s'] * 1e3:.1f}"
        print(f"| {r['variant']}{why} | {_f(r['die_area_mm2'], '.0f')} | {_f(r['tdp_w'], '.0f')} | "
              f"{_f(r['idle_w'], '.1f')} | {_f(r['cost_usd'], ',.0f')} | {r['chips'] or '-'} | {att} | {g} | {u} | {tp} |")


def _f(x: float | None, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


if __name__ == "__main__":
    main()
