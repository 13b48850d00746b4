"""Regenerate the head-to-head block of docs/jalapeno-1.md (and check it).

    python scripts/regen_headline.py --sweep      # re-run the report's full sweep, record the best fleets (minutes)
    python scripts/regen_headline.py              # evaluate the recorded fleets, rewrite the doc block (seconds)
    python scripts/regen_headline.py --check      # exit 1 if the doc block differs from a fresh evaluation

The recorded fleets live in src/jalapeno/explore/spaces/headline-fleets.json with the date and command.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

from jalapeno.explore.headline import FLEETS_PATH, headline_rows, load_fleets, sweep_fleets
from jalapeno.report.headline import block_of, markdown, replace_block

DOC = Path(__file__).resolve().parents[1] / "docs" / "jalapeno-1.md"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweep", action="store_true", help="re-run the sweep and record the best fleets first")
    ap.add_argument("--check", action="store_true", help="only compare the doc with a fresh evaluation")
    ap.add_argument("--workers", type=int, default=None)
    a = ap.parse_args()
    if a.sweep:
        fleets = sweep_fleets(workers=a.workers)
        FLEETS_PATH.write_text(json.dumps({"date": datetime.date.today().isoformat(),
                                           "command": "python scripts/regen_headline.py --sweep",
                                           "fleets": fleets}, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {FLEETS_PATH}")
    block = markdown(headline_rows(load_fleets()))
    text = DOC.read_text(encoding="utf-8")
    if a.check:
        ok = block_of(text) == block
        print("docs/jalapeno-1.md headline block is " + ("current" if ok else "STALE: rerun without --check"))
        return 0 if ok else 1
    DOC.write_text(replace_block(text, block), encoding="utf-8")
    print(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
