"""The published head-to-head figures equal what the code computes now (issue 15: snapshots of published
figures).

docs/jalapeno-1.md's headline block is regenerated here from the recorded best fleets (no sweep, no search:
``jalapeno.explore.headline`` computes, ``jalapeno.report.headline`` renders), and the README's headline
sentence must quote it. The Monte Carlo ranges the README and the doc quote must equal the recorded
``jalapeno compare`` output (docs/data/compare-azure-code.json), so a range cannot drift from the command that
produced it. Regenerate all of it with scripts/regen_docs.sh.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jalapeno.explore.headline import headline_rows, load_fleets, ratio
from jalapeno.report.headline import block_of, markdown

ROOT = Path(__file__).resolve().parents[1]
DOC, README = ROOT / "docs" / "jalapeno-1.md", ROOT / "README.md"
COMPARE = ROOT / "docs" / "data" / "compare-azure-code.json"


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return headline_rows(load_fleets())


def test_doc_block_is_a_fresh_evaluation_of_the_recorded_fleets(rows: list[dict]) -> None:
    assert block_of(DOC.read_text(encoding="utf-8")) == markdown(rows), (
        "docs/jalapeno-1.md is stale: python scripts/regen_headline.py"
    )


def test_readme_headline_quotes_the_doc(rows: list[dict]) -> None:
    text = README.read_text(encoding="utf-8")
    g = ratio(rows, "azure-code", "ratio_goodput_per_watt")
    u = ratio(rows, "azure-code", "ratio_usd_per_mtok")
    assert f"{g:.2f}x the goodput per watt" in text
    assert f"{u:.2f}x its cost per million tokens" in text
    for w in ("azure-code-8x", "mooncake-conversation", "agentic-coding"):
        assert f"{ratio(rows, w, 'ratio_goodput_per_watt'):.2f}x on {w}" in text, w


def test_quoted_ranges_are_the_recorded_compare_output() -> None:
    rec = json.loads(COMPARE.read_text(encoding="utf-8"))
    assert rec["workload"] == "azure-code" and rec["reference"] == "h200-sxm"
    j1 = next(c for c in rec["rows"] if c["chip"] == "jalapeno-1")
    g, u = j1["ratio_goodput_per_watt"], j1["ratio_usd_per_mtok"]
    quoted = (
        f"p10 {g['p10']:.2f}x, p50 {g['p50']:.2f}x, p90 {g['p90']:.2f}x",
        f"p10 {u['p10']:.2f}x, p50 {u['p50']:.2f}x, p90 {u['p90']:.2f}x",
    )
    for path in (README, DOC):
        text = path.read_text(encoding="utf-8")
        for q in quoted:
            assert q in text, (path.name, q)
