"""Regenerate the spec-sheet block of docs/jalapeno-1.md and the figure ledger of every page (issue 15).

    python scripts/regen_snapshots.py            # rewrite the spec block, then the ledger from the pages
    python scripts/regen_snapshots.py --check    # exit 1 if either is stale (what tests/test_doc_figures.py checks)

Run last, after every generator that writes a page (``scripts/regen_docs.sh`` does): the ledger
(tests/snapshots/doc_figures.json) records the figures the pages hold when it runs. Never edit it by hand.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from jalapeno.report import doc_figures, spec_sheet

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "jalapeno-1.md"
LEDGER = ROOT / "tests" / "snapshots" / "doc_figures.json"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only report what is stale")
    a = ap.parse_args()
    text = DOC.read_text(encoding="utf-8")
    fresh = spec_sheet.replace_block(text, spec_sheet.markdown())
    if a.check:
        stale = [] if fresh == text else [f"{DOC.relative_to(ROOT)}: spec-sheet block"]
        ledger = doc_figures.load_ledger(LEDGER) if LEDGER.exists() else {}
        stale += doc_figures.ledger_problems(doc_figures.pages(ROOT), ledger)
        print("\n".join(stale) or "spec sheet and figure ledger are current")
        return 1 if stale else 0
    if fresh != text:
        DOC.write_text(fresh, encoding="utf-8")
        print(f"rewrote the spec-sheet block of {DOC.relative_to(ROOT)}")
    texts = doc_figures.pages(ROOT)
    LEDGER.parent.mkdir(parents=True, exist_ok=True)
    LEDGER.write_text(doc_figures.dump_ledger(doc_figures.ledger_of(texts)), encoding="utf-8")
    n = sum(len(doc_figures.figures(t)) for t in texts.values())
    print(f"wrote {LEDGER.relative_to(ROOT)}: {n} figures on {len(texts)} pages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
