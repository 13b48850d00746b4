"""The published head-to-head figures (docs/jalapeno-1.md, README), rerun in seconds.

``jalapeno report`` finds every chip's best fleet by sweeping deployments (minutes). The fleets it found are
recorded once in ``spaces/headline-fleets.json`` (``scripts/regen_headline.py --sweep``); evaluating just
those fleets again (``headline_rows``, about a dozen simulations) reproduces every published ratio, so a
test can hold the docs to the code without re-running the sweep or the search. The rows are computed here;
``jalapeno.report.headline`` renders them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FLEETS_PATH = Path(__file__).parent / "spaces" / "headline-fleets.json"
WORKLOADS = ("azure-code", "azure-code-8x", "mooncake-conversation", "agentic-coding")
CHIPS = ("jalapeno-1", "h100-sxm", "h200-sxm", "b200")
REFERENCE = "h200-sxm"


def sweep_fleets(
    workloads: tuple[str, ...] = WORKLOADS, chips: tuple[str, ...] = CHIPS, workers: int | None = None
) -> dict[str, dict[str, Any]]:
    """Every chip's best deployment on every workload from the report's full sweep (slow: minutes)."""
    from jalapeno.explore import resolve_workload
    from jalapeno.explore.compare import Sweep, sweep_chips

    out: dict[str, dict[str, Any]] = {}
    for name in workloads:
        runs = sweep_chips(list(chips), resolve_workload(name), Sweep(), workers=workers)
        out[name] = {c: (_dep_json(r.best) if r.best is not None else None) for c, r in runs.items()}
    return out


def _dep_json(dep: Any) -> dict[str, Any]:
    d = dep.to_json()
    d.pop("chips", None)  # derived from tp x replicas
    return d


def load_fleets(path: Path = FLEETS_PATH) -> dict[str, dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))["fleets"]


def headline_rows(fleets: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each (workload, chip) at its recorded fleet: goodput/W, $/Mtok and their ratios to the H200's fleet."""
    from jalapeno.explore import resolve_workload
    from jalapeno.explore.design import Deployment
    from jalapeno.explore.evaluate import evaluate_chip
    from jalapeno.hardware import resolve_chip

    rows = []
    for wname, by_chip in fleets.items():
        w = resolve_workload(wname)
        evs = {
            c: (evaluate_chip(resolve_chip(c), Deployment(**d), w) if d else None) for c, d in by_chip.items()
        }
        ref = evs.get(REFERENCE)
        for c, ev in evs.items():
            row: dict[str, Any] = {"workload": wname, "chip": c, "fleet": None}
            if ev is not None:
                o, m = ev.objectives, ev.metrics
                row.update(
                    fleet=Deployment(**by_chip[c]).label(),
                    chips=m.get("chips"),
                    feasible=ev.feasible,
                    goodput_per_kw=o["goodput_per_watt"] * 1e3,
                    usd_per_mtok=o["usd_per_mtok"],
                    slo_attainment=m.get("slo_attainment"),
                )
                if ref is not None:
                    ro = ref.objectives
                    row["ratio_goodput_per_watt"] = o["goodput_per_watt"] / ro["goodput_per_watt"]
                    row["ratio_usd_per_mtok"] = o["usd_per_mtok"] / ro["usd_per_mtok"]
            rows.append(row)
    return rows


def ratio(rows: list[dict[str, Any]], workload: str, key: str, chip: str = "jalapeno-1") -> float:
    return next(r[key] for r in rows if r["workload"] == workload and r["chip"] == chip)
