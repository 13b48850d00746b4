"""Regenerate every generated block of the docs, then the figure ledger of every page (issue 15).

    python scripts/regen_snapshots.py            # rewrite the blocks, then the ledger from the pages
    python scripts/regen_snapshots.py --check    # exit 1 if a block or the ledger is stale (what the tests check)

A generated block is the output of a fast command that the page names in its marker
(``<!-- generated:begin `COMMAND` -->``, jalapeno/doccheck/doc_blocks.py); a new block on any page is picked up
here without a change to this script. Run it last, after every slower generator that writes a page
(``scripts/regen_docs.sh`` does): the ledger (tests/snapshots/doc_figures.json) records the figures the
pages hold when it runs. Never edit the ledger by hand.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from jalapeno.doccheck import doc_blocks, doc_figures

ROOT = Path(__file__).resolve().parents[1]
LEDGER = ROOT / "tests" / "snapshots" / "doc_figures.json"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only report what is stale")
    a = ap.parse_args()
    texts = doc_figures.pages(ROOT)
    if a.check:
        stale = [f"{n}: generated block `{c}` is stale" for n, t in texts.items() for c in doc_blocks.stale(t, ROOT)]
        ledger = doc_figures.load_ledger(LEDGER) if LEDGER.exists() else {}
        stale += doc_figures.ledger_problems(texts, ledger)
        print("\n".join(stale) or "generated blocks and figure ledger are current")
        return 1 if stale else 0
    for name, text in texts.items():
        fresh = doc_blocks.refresh(text, ROOT)
        if fresh != text:
            (ROOT / name).write_text(fresh, encoding="utf-8")
            texts[name] = fresh
            print(f"rewrote the generated blocks of {name}")
    LEDGER.parent.mkdir(parents=True, exist_ok=True)
    LEDGER.write_text(doc_figures.dump_ledger(doc_figures.ledger_of(texts)), encoding="utf-8")
    n = sum(len(doc_figures.figures(t)) for t in texts.values())
    print(f"wrote {LEDGER.relative_to(ROOT)}: {n} figures on {len(texts)} pages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
