"""Out-of-sample validation of the architecture path on real non-GPU systems (docs/validation-architectures.md).

    python scripts/validate_nongpu.py [--json]

Each row: a published timing (Groq LPU, AWS Trainium2), the same deployment priced by ``estimate`` on the
chip's architecture preset, and the error. Rows and sources: ``jalapeno.studies.nongpu``. About 10 s.
"""

from __future__ import annotations

import argparse
import json

from jalapeno.studies.nongpu import BOUND, groq_sensitivity, table

UNITS = {"tpot_s": ("TPOT", 1e3, "ms"), "ttft_s": ("TTFT", 1e3, "ms"), "tokens_per_s_per_user": ("tok/s/user", 1, "")}


def markdown(rows: list[dict]) -> str:
    out = ["| system | model | chips (tp x pp) | precision | batch, context | metric | published | predicted | error |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        name, scale, unit = UNITS[r["metric"]]
        flag = "" if r["within_bound"] else " (miss)"
        shape = f"{r['batch']}, {r['context']}" + (f", prompt {r['prompt']}" if r["prompt"] else "")
        out.append(f"| {r['system']} | {r['model']} | {r['chips']} ({r['tp']} x {r['pp']}) | {r['precision']} | "
                   f"{shape} | {name} | {r['published'] * scale:.4g} {unit} | {r['predicted'] * scale:.4g} {unit} | "
                   f"{r['error']:+.1%}{flag} |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    ap.add_argument("--sensitivity", action="store_true",
                    help="the Groq LLMPerf row under other splits and precisions instead")
    args = ap.parse_args()
    if args.sensitivity:
        rows = groq_sensitivity()
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            print("| tp x pp | precision | TPOT | error vs LLMPerf |\n|---|---|---|---|")
            for r in rows:
                print(f"| {r['tp']} x {r['pp']} | {r['precision']} | {r['predicted'] * 1e3:.3g} ms | {r['error']:+.0%} |")
        return
    rows = table()
    if args.json:
        print(json.dumps({"bound": BOUND, "rows": rows}, indent=2))
    else:
        print(markdown(rows))
        hits = sum(r["within_bound"] for r in rows)
        print(f"\n{hits} of {len(rows)} rows within +/-{BOUND:.0%}")


if __name__ == "__main__":
    main()
