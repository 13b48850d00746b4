"""The MoE co-design result (issue 12 item 4, docs/jalapeno-moe.md): selection, comparison, tables.

    python scripts/moe_codesign.py select  --studies DIR --out docs/data/jalapeno-moe-search.json
    python scripts/moe_codesign.py compare [--samples 16] [--workers 2] --out docs/data/jalapeno-moe-compare.json
    python scripts/moe_codesign.py tables  --search docs/data/jalapeno-moe-search.json --compare docs/data/jalapeno-moe-compare.json

``scripts/regen_moe_codesign.sh`` runs them in order (``--search`` first runs the four studies).

**select** reads the four studies (``jalapeno explore --space moe-asic --workload W ... --json``, one per MoE
workload). Rule, fixed before the selection ran (the deployments tried were cut from three to one a workload, for CPU
time, after the first study had finished): the candidates are the chips (processor and network
parameters) of each study's best feasible trial by goodput per watt, plus the warm-start chip. Each candidate
is served on each of the four workloads with the deployment of that workload's best feasible trial
(and the candidate's own best there, if that study has it); its score on a workload is its best goodput per watt there. The chosen chip is the one feasible on
the most workloads, then with the highest geometric mean of goodput per watt over the four. It is written to
``explore/spaces/jalapeno-moe-1.json`` (with the deployment it had on azure-code-qwen3-coder) and to the preset
``hardware/presets/arch/jalapeno-moe-1.yaml``.

**compare** puts the chosen chip and GB200 NVL72, B200 and H200 through the same MoE sweep
(``explore.compare.Sweep.moe``) on each workload, then a seeded Monte Carlo over every estimated constant
(``explore.montecarlo``, seed 0) with the fleets fixed; the ratios of Jalapeño-MoE-1 to each GPU, per sample,
give p10/p50/p90 (docs/compare.md). The same machinery as ``jalapeno compare``; only the reference changes
(each GPU in turn) so the three ratios share one set of draws.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from jalapeno.explore import load_space, resolve_workload
from jalapeno.explore.evaluate import evaluate_design

WORKLOADS = ("azure-code-qwen3-coder", "azure-code-gpt-oss", "agentic-coding-qwen3-coder", "agentic-coding-gpt-oss")
CHIP = "jalapeno-moe-1"
GPUS = ("gb200-nvl72", "b200", "h200-sxm")
SPACE = "moe-asic"
ENQUEUE = Path("docs/data/jalapeno-moe-enqueue.json")
DESIGN = Path("src/jalapeno/explore/spaces/jalapeno-moe-1.json")
TOP_DEPLOYMENTS = 1
WARM = ("warm start (Jalapeño-1's processor with 4 links x 4 lanes in an 8-chip switched domain, "
        "docs/data/jalapeno-moe-enqueue.json)")


def _parts(space: Any, design: dict[str, Any], group: str) -> dict[str, Any]:
    return {p.name: design[p.name] for p in space.params if p.group == group}


def _key(d: dict[str, Any]) -> str:
    return json.dumps(d, sort_keys=True)


def _feasible(study: dict[str, Any]) -> list[dict[str, Any]]:
    ok = [t for t in study["all"] if t["status"] == "ok"]
    return sorted(ok, key=lambda t: (-t["objectives"]["goodput_per_watt"], t["number"]))


def _summary(t: dict[str, Any] | None) -> dict[str, Any] | None:
    if t is None:
        return None
    m = t["metrics"]
    return {"trial": t["number"], "design": t["design"], "goodput_per_watt": t["objectives"]["goodput_per_watt"],
            "usd_per_mtok": t["objectives"]["usd_per_mtok"], "slo_attainment": m.get("slo_attainment"),
            "chips": m.get("chips"), "die_area_mm2": m.get("die_area_mm2"), "tdp_w": m.get("tdp_w"),
            "cost_usd": m.get("cost_usd")}


def _evaluate(design: dict[str, Any], workload: str) -> dict[str, Any]:
    """What a worker runs: one design on one workload (as a study's trial JSON)."""
    ev = evaluate_design(load_space(SPACE), design, resolve_workload(workload)).to_json()
    return {k: ev[k] for k in ("status", "reasons", "objectives", "metrics") if k in ev}


def select(studies_dir: Path, out: Path, workers: int = 2) -> dict[str, Any]:
    space = load_space(SPACE)
    studies = {w: json.loads((studies_dir / f"{w}.json").read_text()) for w in WORKLOADS}
    feas = {w: _feasible(s) for w, s in studies.items()}
    cands: dict[str, dict[str, Any]] = {}
    start = json.loads(ENQUEUE.read_text())["design"]
    for w in WORKLOADS:
        if feas[w]:
            proc = _parts(space, feas[w][0]["design"], "processor")
            cands.setdefault(_key(proc), {"processor": proc, "from": []})["from"].append(f"{w} trial {feas[w][0]['number']}")
    proc = _parts(space, start, "processor")
    cands.setdefault(_key(proc), {"processor": proc, "from": []})["from"].append(WARM)
    jobs: dict[tuple[str, str, str], Any] = {}
    with ProcessPoolExecutor(workers) as ex:
        for ck, c in cands.items():
            for w in WORKLOADS:
                deps = [_parts(space, t["design"], "deployment") for t in feas[w][:TOP_DEPLOYMENTS]]
                deps += [_parts(space, t["design"], "deployment") for t in feas[w]
                         if _parts(space, t["design"], "processor") == c["processor"]][:1]
                for dep in {_key(d): d for d in deps or [_parts(space, start, "deployment")]}.values():
                    done = [t for t in studies[w]["all"] if t["design"] == {**c["processor"], **dep}]
                    jobs[(ck, w, _key(dep))] = (done[0] if done else
                                                ex.submit(_evaluate, {**c["processor"], **dep}, w))
        results = {k: v if isinstance(v, dict) else v.result() for k, v in jobs.items()}
    for (ck, w, dk), t in results.items():
        c = cands[ck]
        gpw = t["objectives"].get("goodput_per_watt", 0.0)
        row = {"deployment": json.loads(dk), "feasible": t["status"] == "ok", "goodput_per_watt": gpw,
               "usd_per_mtok": t["objectives"].get("usd_per_mtok"), "reasons": list(t["reasons"]),
               "slo_attainment": t["metrics"].get("slo_attainment")}
        best = c.setdefault("workloads", {}).get(w)
        if best is None or (row["feasible"], gpw) > (best["feasible"], best["goodput_per_watt"]):
            c["workloads"][w] = row
    for c in cands.values():
        vals = [max(c["workloads"][w]["goodput_per_watt"], 1e-12) for w in WORKLOADS]
        c["feasible_on"] = sum(1 for w in WORKLOADS if c["workloads"][w]["feasible"])
        c["geomean_goodput_per_watt"] = math.exp(sum(math.log(v) for v in vals) / len(vals))
    ranked = sorted(cands.values(), key=lambda c: (-c["feasible_on"], -c["geomean_goodput_per_watt"]))
    chosen = ranked[0]
    doc = {"space": SPACE, "workloads": list(WORKLOADS),
           "search": ("jalapeno explore --space moe-asic --workload W --searcher nsga2 --seed 0 --trials N --workers 2 "
                      "--db DIR/W.db --enqueue docs/data/jalapeno-moe-enqueue.json --json (scripts/regen_moe_codesign.sh "
                      "--search), for W in " + ", ".join(WORKLOADS)),
           "rule": __doc__.split("**select**", 1)[1].split("**compare**", 1)[0].strip(),
           "studies": {w: {"trials": s["trials"], "feasible": s.get("feasible_trials", s.get("feasible")), "evaluated": s.get("evaluated"),
                           "best": _summary(feas[w][0] if feas[w] else None)} for w, s in studies.items()},
           "candidates": ranked, "chosen": chosen}
    out.write_text(json.dumps(doc, indent=1, default=str) + "\n")
    write_design(space, chosen, doc)
    return doc


def write_design(space: Any, chosen: dict[str, Any], doc: dict[str, Any]) -> None:
    from jalapeno.explore.preset import write_searched_preset

    dep = chosen["workloads"][WORKLOADS[0]]["deployment"]
    design = {p.name: {**chosen["processor"], **dep}[p.name] for p in space.params}
    rec = {"space": SPACE, "workload": WORKLOADS[0], "search": doc["search"], "selection": doc["rule"],
           "chosen_from": chosen["from"], "design": design, "searcher": "nsga2 + surrogate", "seed": 0}
    DESIGN.write_text(json.dumps(rec, indent=1) + "\n")
    write_searched_preset(DESIGN, CHIP)


def best_fleets(refs: list[str], workload: str, workers: int, fleets_file: Path | None) -> dict[str, Any]:
    """Each chip's best deployment on ``workload`` from the MoE sweep (``Sweep.moe``), read from ``fleets_file``
    where an earlier run stored it, else swept (and stored there)."""
    from jalapeno.explore.compare import Sweep, sweep_chips
    from jalapeno.explore.design import Deployment

    stored = json.loads(fleets_file.read_text()) if fleets_file and fleets_file.exists() else {}
    have = stored.get(workload, {})
    todo = [r for r in refs if r not in have]
    if todo:
        runs = sweep_chips(todo, resolve_workload(workload), Sweep.moe(), workers=workers)
        for r in todo:
            b = runs[r].best
            have[r] = None if b is None else {k: v for k, v in b.to_json().items() if k != "chips"}
            have[f"{r}:tried"] = len(runs[r].tried)
        if fleets_file:  # merge with what another run stored meanwhile (runs per workload may go in parallel)
            stored = json.loads(fleets_file.read_text()) if fleets_file.exists() else {}
            stored[workload] = {**stored.get(workload, {}), **have}
            fleets_file.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
    return {r: None if have[r] is None else Deployment(**have[r]) for r in refs}


def compare(samples: int, workers: int, out: Path, workloads: tuple[str, ...] = WORKLOADS,
            fleets_file: Path | None = None, refs: tuple[str, ...] = (CHIP, *GPUS)) -> dict[str, Any]:
    from jalapeno.explore import montecarlo as mc
    from jalapeno.explore.headtohead import resolve_chips, rows_against

    specs = resolve_chips(list(refs))
    doc: dict[str, Any] = {"chip": CHIP, "gpus": list(GPUS), "samples": samples, "seed": 0,
                           "sweep": "explore.compare.Sweep.moe()", "workloads": {}}
    for w in workloads:
        t0 = time.perf_counter()
        wl = resolve_workload(w)
        best = best_fleets(list(refs), w, workers, fleets_file)
        t1 = time.perf_counter()
        if CHIP not in refs:
            continue
        fleets = [mc.nominal_fleet(r, specs[r], best[r], wl) for r in refs if best[r] is not None]
        consts = mc.constants_for(list(specs.values()))
        outcomes = mc.run(fleets, wl, consts, samples=samples, seed=0, workers=workers)
        by_ref = {f.ref: f for f in fleets}
        doc["workloads"][w] = {"against": {g: rows_against(specs, by_ref, outcomes, g) for g in GPUS},
                               "sweep_s": round(t1 - t0, 1), "monte_carlo_s": round(time.perf_counter() - t1, 1)}
        print(f"{w}: sweep {t1 - t0:.0f} s, monte carlo {time.perf_counter() - t1:.0f} s", file=sys.stderr)
        out.write_text(json.dumps(doc, indent=1) + "\n")
    return doc


def _q(r: dict[str, Any] | None) -> str:
    return "-" if not r else f"{r['p10']:.2f}x / {r['p50']:.2f}x / {r['p90']:.2f}x"


def tables(search: dict[str, Any] | None, comp: dict[str, Any]) -> str:
    out = []
    if search is not None:
        out += ["| workload | trials | feasible | best trial | goodput/W (req/s/kW) | $/Mtok | chips |",
                "|---|---:|---:|---:|---:|---:|---:|"]
        for w, s in search["studies"].items():
            b = s["best"]
            out.append(f"| {w} | {s['trials']} | {s['feasible']} | " + (
                f"{b['trial']} | {b['goodput_per_watt'] * 1e3:.2f} | {b['usd_per_mtok']:.4f} | {b['chips']} |" if b
                else "- | - | - | - |"))
        out += ["", "| candidate (from) | feasible on | geomean goodput/W (req/s/kW) | " +
                " | ".join(search["workloads"]) + " |", "|---|---:|---:|" + "---:|" * len(search["workloads"])]
        for c in search["candidates"]:
            cells = [f"{c['workloads'][w]['goodput_per_watt'] * 1e3:.2f}{'' if c['workloads'][w]['feasible'] else ' (x)'}"
                     for w in search["workloads"]]
            out.append(f"| {'; '.join(c['from'])} | {c['feasible_on']} | {c['geomean_goodput_per_watt'] * 1e3:.2f} | "
                       + " | ".join(cells) + " |")
        out.append("")
    out += [("| workload | chip | best fleet | chips | goodput/W (req/s/kW) | $/Mtok | attainment | "
            "Jalapeño-MoE-1 goodput/W ratio: point, p10 / p50 / p90 | $/Mtok ratio: point, p10 / p50 / p90 | "
            "samples meeting the SLO |"), "|---|---|---|---:|---:|---:|---:|---|---|---:|"]
    for w, d in comp["workloads"].items():
        for g in comp["gpus"]:
            rows = {r["chip"]: r for r in d["against"][g]}
            me, gpu = rows[CHIP], rows[g]
            if g == comp["gpus"][0]:
                out.append(_fleet_row(w, me, "", "", comp["samples"]))
            out.append(_fleet_row(w, gpu, _pq(me, "goodput_per_watt"), _pq(me, "usd_per_mtok"), comp["samples"]))
    return "\n".join(out)


def _pq(me: dict[str, Any], key: str) -> str:
    p = me.get(f"ratio_{key}_point")
    return ("-" if p is None else f"{p:.2f}x") + ", " + _q(me.get(f"ratio_{key}"))


def _fleet_row(w: str, r: dict[str, Any], gr: str, ur: str, samples: int) -> str:
    if r["fleet"] is None:
        return f"| {w} | {r['chip']} | none fits | - | - | - | - | {gr} | {ur} | - |"
    f = r["fleet"]
    miss = "" if r["feasible"] else " (misses the SLO)"
    usd = "-" if r["usd_per_mtok"] is None else f"{r['usd_per_mtok']:.4f}"
    return (f"| {w} | {r['chip']} | {f['label']}{miss} | {f['chips']} | {r['goodput_per_watt'] * 1e3:.2f} | {usd} | "
            f"{r['slo_attainment']:.3f} | {gr or 'reference row'} | {ur or ''} | {r['samples_feasible']}/{samples} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("select")
    s.add_argument("--studies", type=Path, required=True)
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--workers", type=int, default=2)
    c = sub.add_parser("compare")
    c.add_argument("--samples", type=int, default=16)
    c.add_argument("--workers", type=int, default=2)
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--workloads", default=",".join(WORKLOADS))
    c.add_argument("--fleets", type=Path, default=None, help="best deployments: read where stored, else swept and stored")
    c.add_argument("--chips", default=",".join((CHIP, *GPUS)), help="sweep only these (with --fleets: to prefill it)")
    t = sub.add_parser("tables")
    t.add_argument("--search", type=Path)
    t.add_argument("--compare", type=Path, required=True)
    a = ap.parse_args()
    if a.cmd == "select":
        doc = select(a.studies, a.out, a.workers)
        print(json.dumps({"chosen": doc["chosen"]["from"], "feasible_on": doc["chosen"]["feasible_on"]}))
    elif a.cmd == "compare":
        compare(a.samples, a.workers, a.out, tuple(a.workloads.split(",")), a.fleets, tuple(a.chips.split(",")))
    else:
        search = json.loads(a.search.read_text()) if a.search and a.search.exists() else None
        print(tables(search, json.loads(a.compare.read_text())))


if __name__ == "__main__":
    main()
