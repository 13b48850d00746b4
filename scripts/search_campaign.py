"""The Jalapeño-1 search campaign under the parity rules (issue 10 item 8): searchers x seeds x workloads,
then the selection rule, written as JSON + a markdown table.

    python scripts/search_campaign.py --out DIR [--searchers nsga2,tpe] [--seeds 0,1,2] [--workers 2]
        [--budget azure-code=64,azure-code-8x=48,...] [--stop-at 16:25] [--select-only]

Each search is ``jalapeno explore --space coding-asic --workload W --searcher S --seed K --trials N
--workers 2 --db DIR/W.S.K.db --enqueue spaces/jalapeno-1.json`` (in-process, the same ``run_search``), with
the incumbent Jalapeño-1 enqueued as trial 0 (on an -8x workload also the same chip at 8 replicas), so
no search ends below it. Searches run one after another; each resumes from its --db, so rerunning the
script continues where it stopped. Searches still to run at ``--stop-at`` (UTC HH:MM) are skipped and
listed.

Selection (the spirit of docs/jalapeno-1.md's rule): among every feasible azure-code trial of every search,
those with SLO attainment >= 0.92 and $/Mtok no higher than the H200's best fleet under the margin price
rule (``--h200-usd-per-mtok``, from ``jalapeno compare --workload azure-code --chips h200,jalapeno-1
--json``), the one with the best goodput/W whose chip (the processor parameters) also meets the SLO on
azure-code-8x with some deployment of the space (its own scheduler, token budget and batch cap at tp and 2 x tp,
1-8 replicas within 16 chips, or a deployment that was feasible in the azure-code-8x searches). If none beats the incumbent, the incumbent
stays. The winner is then evaluated on the other four workloads the same way.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jalapeno.errors import JalapenoError
from jalapeno.explore import load_space, resolve_workload, run_search
from jalapeno.explore.evaluate import evaluate_design
from jalapeno.explore.study import DESIGN_FILE

WORKLOADS = ("azure-code", "azure-code-8x", "mooncake-conversation", "mooncake-conversation-8x",
             "agentic-coding", "agentic-coding-8x")
BUDGET = {"azure-code": 64, "azure-code-8x": 48, "mooncake-conversation": 24, "mooncake-conversation-8x": 24,
          "agentic-coding": 24, "agentic-coding-8x": 24}
DEPLOYMENT = ("tp", "replicas", "scheduler", "max_num_batched_tokens", "max_num_seqs", "prefill_share")
MIN_ATTAINMENT = 0.92
H200_USD_PER_MTOK = 0.179  # docs/compare.md: jalapeno compare --workload azure-code --chips h200,jalapeno-1 --json


INCUMBENT = DESIGN_FILE  # --incumbent: the design enqueued in every study (docs/search-2026-12-05-incumbent.json
#                          holds the one the 2026-12-05 campaign enqueued, the Jalapeño-1 it replaced)


def incumbent() -> dict[str, Any]:
    return dict(json.loads(Path(INCUMBENT).read_text(encoding="utf-8"))["design"])


def enqueue_for(workload: str) -> list[dict[str, Any]]:
    inc = incumbent()
    return [inc, {**inc, "replicas": 8}] if workload.endswith("-8x") else [inc]


def row(rec: Any) -> dict[str, Any]:
    o, m = rec.evaluation.objectives, rec.evaluation.metrics
    return {"number": rec.number, "design": rec.design, "goodput_per_watt": o.get("goodput_per_watt"),
            "usd_per_mtok": o.get("usd_per_mtok"), "ttft_p99_s": o.get("ttft_p99_s"),
            "slo_attainment": m.get("slo_attainment"), "chips": m.get("chips"), "avg_power_w": m.get("avg_power_w")}


def db_path(out: Path, w: str, s: str, k: int) -> Path:
    return out / f"{w}.{s}.{k}.db"


def run_campaign(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    space = load_space("coding-asic")
    searches, skipped = [], []
    stop = _stop_time(args.stop_at)
    for w in args.workloads:
        wl = resolve_workload(w)
        for s in args.searchers:
            for k in args.seeds:
                n = args.budget[w]
                if stop is not None and time.time() > stop and not args.select_only:
                    skipped.append(f"{w}/{s}/{k}")
                    continue
                if args.select_only:  # read what is stored, run nothing new
                    n = _stored(db_path(out, w, s, k))
                    if n < len(enqueue_for(w)):
                        skipped.append(f"{w}/{s}/{k}")
                        continue
                t0 = time.perf_counter()
                try:
                    res = run_search(space, wl, trials=n, searcher=s, screen=True, workers=args.workers,
                                     db=str(db_path(out, w, s, k)), seed=k, enqueue=enqueue_for(w))
                except JalapenoError as e:  # --select-only while the campaign still runs this study
                    if not args.select_only:
                        raise
                    skipped.append(f"{w}/{s}/{k} ({e})")
                    continue
                best = res.best()
                searches.append({"workload": w, "searcher": res.searcher, "seed": k, "trials": len(res.trials),
                                 "evaluated_now": res.evaluated, "feasible": len(res.feasible),
                                 "wall_s": round(time.perf_counter() - t0, 1),
                                 "best": row(best) if best else None,
                                 "best_is_incumbent": bool(best and best.number < len(enqueue_for(w))),
                                 "feasible_trials": [row(t) for t in res.feasible]})
                print(f"{_now()} {w} {s} seed {k}: {len(res.trials)} trials, {len(res.feasible)} feasible, best "
                      f"{_kw(best)} req/s/kW (trial {best.number if best else '-'}), {searches[-1]['wall_s']} s",
                      flush=True)
    return {"searches": searches, "skipped": skipped}


def _stored(db: Path) -> int:
    """Trials finished in a stored study (0 if there is none): optuna's trials table (explore/store.py)."""
    if not db.exists():
        return 0
    import sqlite3

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        return int(c.execute("SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'").fetchone()[0])


def _stop_time(hhmm: str | None) -> float | None:
    if not hhmm:
        return None
    h, m = (int(x) for x in hhmm.split(":"))
    now = datetime.now(timezone.utc)
    return now.replace(hour=h, minute=m, second=0, microsecond=0).timestamp()


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%H:%M:%S")


def _kw(best: Any) -> str:
    return f"{best.evaluation.objectives['goodput_per_watt'] * 1e3:.2f}" if best else "-"


# ---------------------------------------------------------------- selection

def processor_key(space: Any, design: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in design.items() if k not in DEPLOYMENT}, sort_keys=True)


MAX_CHIPS = 16  # the space's fleet limit (coding-asic.yaml constraints)


def best_on(space: Any, design: dict[str, Any], workload: str, found: list[dict[str, Any]],
            cache: dict[str, Any]) -> dict[str, Any] | None:
    """The best feasible (by goodput/W) deployment of the chip on ``workload``, ``None`` if none tried meets the SLO.

    Tried: the design's own scheduler, token budget and batch cap at tp and 2 x tp, from 8 replicas down until
    one misses the SLO (fewer replicas only miss it by more), within the 16-chip limit; then the deployments
    of the workload's best searched trials (``found``)."""
    wl = cache.setdefault(workload, resolve_workload(workload))
    best, seen = None, set()

    def trial(dep: dict[str, Any]) -> bool:
        nonlocal best
        key = json.dumps(dep, sort_keys=True)
        if key in seen or dep["tp"] * dep["replicas"] > MAX_CHIPS or dep["tp"] > 4:
            return False
        seen.add(key)
        d = {**design, **dep}
        ev = evaluate_design(space, d, wl)
        if ev.feasible and (best is None or ev.objectives["goodput_per_watt"] > best["goodput_per_watt"]):
            best = {"design": d, "goodput_per_watt": ev.objectives["goodput_per_watt"],
                    "usd_per_mtok": ev.objectives["usd_per_mtok"], "ttft_p99_s": ev.objectives["ttft_p99_s"],
                    "slo_attainment": ev.metrics.get("slo_attainment"), "chips": ev.metrics.get("chips")}
        return ev.feasible

    own = {k: design[k] for k in DEPLOYMENT}
    for tp in (own["tp"], 2 * own["tp"]):
        for r in range(8, 0, -1):
            if tp * r <= MAX_CHIPS and tp <= 4 and not trial({**own, "tp": tp, "replicas": r}):
                break
    for f in found:
        trial({k: f["design"][k] for k in DEPLOYMENT})
    return best


def select(camp: dict[str, Any], h200_usd: float, max_candidates: int) -> dict[str, Any]:
    space = load_space("coding-asic")
    by_w: dict[str, list[dict[str, Any]]] = {}
    for s in camp["searches"]:
        by_w.setdefault(s["workload"], []).extend(
            {**t, "searcher": s["searcher"], "seed": s["seed"]} for t in s["feasible_trials"])
    for rows in by_w.values():
        rows.sort(key=lambda t: -t["goodput_per_watt"])
    inc = incumbent()
    inc_key = processor_key(space, inc)
    eligible = [t for t in by_w.get("azure-code", []) if (t["slo_attainment"] or 0) >= MIN_ATTAINMENT
                and t["usd_per_mtok"] <= h200_usd]
    inc_row = next((t for t in eligible if t["design"] == inc), None)
    cache: dict[str, Any] = {}
    checked, chosen, seen = [], None, set()
    for t in eligible:
        key = processor_key(space, t["design"])  # one 8x check per chip: its best azure-code deployment
        if key in seen:
            continue
        seen.add(key)
        if len(checked) >= max_candidates:
            break
        at8 = best_on(space, t["design"], "azure-code-8x", by_w.get("azure-code-8x", [])[:4], cache)
        checked.append({**t, "azure_code_8x": at8})
        print(f"{_now()} candidate {t['searcher']} seed {t['seed']} trial {t['number']}: "
              f"{t['goodput_per_watt'] * 1e3:.2f} req/s/kW; 8x: {'feasible' if at8 else 'infeasible'}", flush=True)
        if at8 is not None:
            chosen = checked[-1]
            break
    keep = chosen is None or processor_key(space, chosen["design"]) == inc_key
    others = {}
    if chosen is not None:
        for w in WORKLOADS[2:]:
            others[w] = best_on(space, chosen["design"], w, by_w.get(w, [])[:3], cache)
    return {"rule": SELECTION_RULE.format(h200=h200_usd), "h200_usd_per_mtok": h200_usd, "eligible": len(eligible),
            "incumbent": inc_row, "checked": checked, "chosen": chosen, "keeps_incumbent": keep,
            "chosen_on_other_workloads": others,
            "best_per_workload": {w: rows[0] if rows else None for w, rows in by_w.items()}}


SELECTION_RULE = ("the feasible azure-code trial (any searcher, any seed) with the best goodput per watt among those "
                  "with SLO attainment >= 0.92 and $/Mtok <= {h200} (the H200's best fleet under the margin price "
                  "rule), whose chip also meets the SLO on azure-code-8x with some deployment (its own scheduler "
                  "at tp and 2 x tp with 1-8 replicas, at most 16 chips, or one feasible in the azure-code-8x searches); the incumbent Jalapeño-1 is trial 0 "
                  "of every search, so it stays unless a design beats it")


# ---------------------------------------------------------------- output

def markdown(doc: dict[str, Any]) -> str:
    return _rest(doc, [f"Command: `{doc['command']}`", "", *studies_table(doc)])


def studies_table(doc: dict[str, Any]) -> list[str]:
    """The per-study table (docs/search-2026-12-05.md prints it: ``--render FILE``)."""
    lines = ["| workload | searcher | seed | trials | feasible | best goodput/W (req/s/kW) | $/Mtok | attainment | "
             "chips | best trial | design |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for s in doc["campaign"]["searches"]:
        b = s["best"]
        if b is None:
            lines.append(f"| {s['workload']} | {s['searcher']} | {s['seed']} | {s['trials']} | 0 | - | - | - | - | - | - |")
            continue
        tag = " (incumbent)" if s["best_is_incumbent"] else ""
        lines.append(f"| {s['workload']} | {s['searcher']} | {s['seed']} | {s['trials']} | {s['feasible']} | "
                     f"{b['goodput_per_watt'] * 1e3:.2f} | {b['usd_per_mtok']:.4f} | {b['slo_attainment']:.3f} | "
                     f"{b['chips']} | {b['number']}{tag} | {short(b['design'])} |")
    return lines


def _rest(doc: dict[str, Any], lines: list[str]) -> list[str]:
    if doc["campaign"]["skipped"]:
        lines += ["", "Skipped (time): " + ", ".join(doc["campaign"]["skipped"])]
    sel = doc.get("selection")
    if sel:
        lines += ["", f"Selection rule: {sel['rule']}.", "",
                  f"Eligible azure-code trials: {sel['eligible']}. Candidates checked on azure-code-8x, best first:"]
        for c in sel["checked"]:
            at8 = c["azure_code_8x"]
            lines.append(f"- {c['searcher']} seed {c['seed']} trial {c['number']}: {c['goodput_per_watt'] * 1e3:.2f} "
                         f"req/s/kW, ${c['usd_per_mtok']:.4f}/Mtok, attainment {c['slo_attainment']:.3f}; azure-code-8x: "
                         + (f"feasible at {at8['chips']} chips, {at8['goodput_per_watt'] * 1e3:.2f} req/s/kW, "
                            f"${at8['usd_per_mtok']:.4f}/Mtok, attainment {at8['slo_attainment']:.3f}" if at8 else "no deployment meets the SLO"))
        ch = sel["chosen"]
        lines += ["", "Chosen: " + ("none" if ch is None else f"{short(ch['design'])}")
                  + (" (the incumbent Jalapeño-1 stays)" if sel["keeps_incumbent"] else " (new reference)")]
        for w, r in sel["chosen_on_other_workloads"].items():
            lines.append(f"- {w}: " + (f"{r['goodput_per_watt'] * 1e3:.3f} req/s/kW, ${r['usd_per_mtok']:.4f}/Mtok, "
                                       f"attainment {r['slo_attainment']:.3f}, {r['chips']} chips ({dep(r['design'])})"
                                       if r else "no deployment tried meets the SLO"))
    return "\n".join(lines) + "\n"


def short(d: dict[str, Any]) -> str:
    return (f"{d['node']} {d['operating_point']} {d['cores.count']}c x{d['cores.matrix.engines']} "
            f"{d['cores.matrix.rows']}² {d['dtypes']} {d['cores.sram.capacity_bytes'] // 1024} KiB "
            f"sh:{d['shared_sram']} {d['memory.devices']}x{d['memory']} {d['links.count']}L; " + dep(d))


def dep(d: dict[str, Any]) -> str:
    return (f"{d['replicas']} x tp{d['tp']} {d['scheduler']} {d['max_num_batched_tokens']} tok seqs {d['max_num_seqs']}"
            + (f" share {d['prefill_share']:.2f}" if "disagg" in (d["scheduler"], d.get("topology")) else ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--render", metavar="JSON", help="print the per-study table of a recorded campaign (its summary "
                    "or selection JSON) and exit: no search")
    ap.add_argument("--out")
    ap.add_argument("--searchers", default="nsga2,tpe")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--budget", default="", help="W=N,... overriding the default trial budgets")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--stop-at", default=None, help="UTC HH:MM: searches not started by then are skipped")
    ap.add_argument("--select-only", action="store_true", help="Read the stored (finished) studies, run the selection, "
                    "write selection.json/.md (while the campaign goes on with other workloads)")
    ap.add_argument("--h200-usd-per-mtok", type=float, default=H200_USD_PER_MTOK)
    ap.add_argument("--incumbent", default=str(DESIGN_FILE), help="Design file enqueued in every study")
    ap.add_argument("--max-candidates", type=int, default=8)
    args = ap.parse_args()
    if args.render:
        print("\n".join(studies_table(json.loads(Path(args.render).read_text(encoding="utf-8")))))
        return
    if not args.out:
        ap.error("--out is required (unless --render)")
    global INCUMBENT
    INCUMBENT = args.incumbent
    args.searchers = args.searchers.split(",")
    args.seeds = [int(s) for s in args.seeds.split(",")]
    args.workloads = args.workloads.split(",")
    args.budget = {**BUDGET, **{k: int(v) for k, v in (x.split("=") for x in args.budget.split(",") if x)}}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    camp = run_campaign(args, out)
    doc: dict[str, Any] = {"command": "python scripts/search_campaign.py " + " ".join(sys.argv[1:]),
                           "budget": args.budget, "campaign": camp}
    if "azure-code" in args.workloads:
        doc["selection"] = select(camp, args.h200_usd_per_mtok, args.max_candidates)
    doc["wall_s"] = round(time.perf_counter() - t0, 1)
    slim = {**doc, "campaign": {**camp, "searches": [{k: v for k, v in s.items() if k != "feasible_trials"}
                                                     for s in camp["searches"]]}}
    stem = "selection" if args.select_only else "summary"
    (out / f"{stem}.json").write_text(json.dumps(slim, indent=1), encoding="utf-8")
    (out / f"{stem}.md").write_text(markdown(doc), encoding="utf-8")
    print(markdown(doc))


if __name__ == "__main__":
    main()
