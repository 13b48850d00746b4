"""Published wide-EP DeepSeek-V3 serving throughputs against the model (docs/validation-moe.md).

Usage: python scripts/validate_moe.py [--json]
Rows and predictor: src/jalapeno/cost/published_moe.py. The decode expert-rank factor is fitted on the
SGLang blog's decode row and held out on every other source; prefill rows fit nothing.
"""

from __future__ import annotations

import json
import sys

from jalapeno.cost.published_moe import table


def markdown(t: dict) -> str:
    head = ("| row | source | chip | phase | EP (nodes) | per GPU | length | published tok/s/node | predicted | error "
            "| predicted, fitted | error, fitted | split |")
    lines = [head, "|" + " --- |" * 13]
    for r in t["rows"]:
        per = f"{r['per_gpu']:,} {'tok' if r['phase'] == 'prefill' else 'seq'}"
        lines.append(f"| {r['id']} | [{r['source']}]({r['url']}) | {r['chip']} | {r['phase']} | {r['ep']} ({r['nodes']}) "
                     f"| {per} | {r['length']:,} | {r['published']:,.0f} | {r['predicted']:,.0f} | {r['error']:+.1%} "
                     f"| {r['predicted_fitted']:,.0f} | {r['error_fitted']:+.1%} | {r['split']} |")
    lines.append("")
    lines.append(f"decode expert-rank factor fitted on {t['fit_source']}: {t['decode_ep_factor']}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    t = table()
    print(json.dumps(t, indent=1, sort_keys=True) if "--json" in argv else markdown(t))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
