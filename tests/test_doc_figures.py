"""Every figure the README and docs publish is pinned (issue 15: "changing any published figure by one digit
fails").

Guards, from the strongest (docs/testing.md has the table):

* generated blocks are re-run from the command their marker names and compared exactly
  (``<!-- generated:begin `COMMAND` -->``, jalapeno/doccheck/doc_blocks.py: the Jalapeño-1 spec sheet, the
  preset table of docs/hardware.md, the known-chip table of docs/chips.md, the cost table of docs/tco.md, the
  search campaign's per-study table); the headline block by tests/test_headline_snapshot.py and
  docs/validation.md as a whole by tests/test_docs_snapshot.py;
* the compare tables against the committed ``jalapeno compare --json`` records they quote;
* the README's result figures must repeat the figures of the docs pages each bullet cites, and its
  inventory (model configs, chip presets, traces, published results) must count what ships;
* the ledger (tests/snapshots/doc_figures.json) pins every figure of every page, so a figure that moves
  without ``python scripts/regen_snapshots.py`` (or ``scripts/regen_docs.sh``) fails, and so does a new page.

``test_changing_any_sampled_figure_by_one_digit_fails`` proves it on 26 sampled figures.
"""

from __future__ import annotations

import functools
import random
import re
from pathlib import Path

import pytest

from jalapeno.doccheck import doc_blocks
from jalapeno.doccheck import doc_figures as dfig
from jalapeno.report import spec_sheet

ROOT = Path(__file__).resolve().parents[1]
LEDGER = ROOT / "tests" / "snapshots" / "doc_figures.json"
REGEN = "python scripts/regen_snapshots.py (or scripts/regen_docs.sh)"
# marker names other than ``generated``, and the test that regenerates their block
OTHER_BLOCKS = {"headline": "tests/test_headline_snapshot.py"}
# README figures that do not repeat their cited page, each with why (the lead reconciles; remove when fixed)
README_KNOWN: dict[tuple[str, str], str] = {}


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    return dfig.pages(ROOT)


@pytest.fixture(scope="module")
def ledger() -> dict[str, list[list[str]]]:
    return dfig.load_ledger(LEDGER)


@pytest.fixture(scope="module")
def fresh(texts) -> dict[tuple[str, str], str]:
    """Every generated block's fresh text, keyed by (page, command): each command run once (about 1 s in
    all)."""
    return {
        (n, b.command): doc_blocks.render(b, doc_blocks.run(b.command, ROOT))
        for n, t in texts.items()
        for b in doc_blocks.blocks(t)
    }


def _block_problems(texts: dict[str, str], fresh: dict[tuple[str, str], str]) -> list[str]:
    """Unknown markers, and each generated block against its fresh run."""
    out = []
    for name, t in texts.items():
        out += [
            f"{name}: block {m.group(1)!r} has no regenerating test (use generated:begin)"
            for m in re.finditer(r"^<!-- (\w+):begin", t, re.MULTILINE)
            if m.group(1) != "generated" and m.group(1) not in OTHER_BLOCKS
        ]
        n = len(doc_blocks.blocks(t))
        if (
            len(re.findall(r"^<!-- generated:begin", t, re.MULTILINE)),
            len(re.findall(r"^<!-- generated:end", t, re.MULTILINE)),
        ) != (n, n):
            out.append(f"{name}: unbalanced or malformed generated-block markers")
        for b in doc_blocks.blocks(t):
            if (name, b.command) not in fresh:
                out.append(f"{name}: new generated block `{b.command}`")
            elif b.body != fresh[(name, b.command)]:
                out.append(f"{name}: generated block `{b.command}` differs from a fresh run")
    return out


def test_extraction_rules_find_figures_and_skip_names_dates_flags_and_versions() -> None:
    line = (
        "Jalapeño-1 (N3, 311 mm², $2,892) serves 3.60x on Llama-3.1-8B, 2026-12-05, issue 10, #15, "
        "`jalapeno explore --trials 300 -b 64`, torch==2.13.0, B200 x0.54-x1.01, decode -52%, 1-256, "
        "[doc](docs/search-2026-12-05.md), p10 1.98x, 64x64, MLPerf v5.1"
    )
    got = [f.text for f in dfig.figures(line)]
    assert got == ["311", "2,892", "3.60", "0.54", "1.01", "52", "1", "256", "1.98", "64", "64"]
    # code blocks count: a table printed by a command is a figure too
    assert [f.text for f in dfig.figures("```\n h200-sxm   989.4   141\n```")] == ["989.4", "141"]
    f = dfig.figures("one\nthe die is 311 mm²")[0]
    assert (f.line, f.context) == (2, "the die is")


def test_every_page_matches_the_figure_ledger(texts, ledger) -> None:
    problems = dfig.ledger_problems(texts, ledger)
    assert not problems, f"published figures changed without regenerating: {problems[:5]}; run {REGEN}"


def test_a_new_page_or_a_new_figure_needs_the_regen_command(texts, ledger) -> None:
    new = {**texts, "docs/new-study.md": "# A study\n\nIt runs 12.5x faster.\n"}
    assert dfig.ledger_problems(new, ledger) == ["docs/new-study.md: page not in the ledger"]
    more = {**texts, "README.md": texts["README.md"] + "\nOne more figure: 7 chips.\n"}
    assert dfig.ledger_problems(more, ledger) == [
        f"README.md: {len(ledger['README.md']) + 1} figures, the ledger has {len(ledger['README.md'])}"
    ]
    # a page with no figures at all still needs its (empty) ledger entry
    assert dfig.ledger_problems({**texts, "docs/x.md": "no numbers"}, ledger) == [
        "docs/x.md: page not in the ledger"
    ]


def test_generated_blocks_are_a_fresh_run_of_their_commands(texts, fresh) -> None:
    problems = _block_problems(texts, fresh)
    assert not problems, f"{problems}; run {REGEN}"
    cmds = {c for _, c in fresh}
    assert {
        "python -m jalapeno.report.spec_sheet",
        "COLUMNS=120 jalapeno hardware",
        "jalapeno chip table --markdown",
        "python scripts/chip_costs.py --prices",
        "python scripts/search_campaign.py --render docs/search-2026-12-05.json",
    } <= cmds


def test_spec_sheet_is_the_presets(texts) -> None:
    """docs/jalapeno-1.md's spec sheet is a generated block of the preset (hardware.arch.sheet, board power,
    physical checks, TCO margin rule) and the recorded fleet; hand-checked anchors so a wrong generator cannot
    pass."""
    block = next(
        b
        for b in doc_blocks.blocks(texts["docs/jalapeno-1.md"])
        if b.command == "python -m jalapeno.report.spec_sheet"
    )
    assert block.body == spec_sheet.markdown() + "\n"
    rows = dict(re.findall(r"^\| ([^|]+?) \| (.+) \|$", block.body, re.MULTILINE))
    # 32 enabled cores x 4 arrays x 64 x 64 PEs x 2 FLOP/MAC x 1.5 GHz = 1.5729e15 bf16, twice for fp8
    assert "fp8 3.15 PFLOP/s, bf16 1.57 PFLOP/s" in rows["formats, peak (dense, full clock)"]
    # 4 stacks x 1024 pins x 7.8 Gb/s / 8 = 3.99 TB/s; 4 x 24 GB
    assert rows["main memory"].startswith("4 HBM3E 8-high stacks: 96 GB at 3.99 TB/s")
    # 4 links x 4 lanes x 112 Gb/s / 8 = 224 GB/s a direction
    assert "224 GB/s a direction" in rows["chip-to-chip"]
    # the margin rule: price = (cost + NRE / volume) / (1 - 0.75) >= 4 x cost
    cost = float(re.match(r"\$([\d,]+)", rows["cost"]).group(1).replace(",", ""))
    price = float(re.match(r"\$([\d,]+)", rows["price"]).group(1).replace(",", ""))
    assert price >= 4 * cost
    # the die's parts add up to its total (within the rounding of nine printed integers)
    die = rows["die"]
    total = int(re.match(r"(\d+) mm²", die).group(1))
    assert abs(sum(int(x) for x in re.findall(r"[a-zA-Z] (\d+)", die)) - total) <= 5
    # the deployment row is the recorded best azure-code fleet of the headline table
    assert rows["deployment found with it"].startswith(
        "2 replicas of 1 chip, chunked prefill (Sarathi) with a 512"
    )


def _readme_cites(readme: str) -> list[tuple[str, list[str]]]:
    """The README's 'What the numbers say' bullets with the docs pages each cites ('same page' = the
    previous)."""
    sec = readme[
        readme.index("## What the numbers say") : readme.index(
            "\n## ", readme.index("## What the numbers say") + 3
        )
    ]
    out, prev = [], []
    for b in re.split(r"\n(?=- \*\*)", sec)[1:]:
        cites = sorted(set(re.findall(r"docs/[\w./-]+\.md", b))) or (prev if "same page" in b else [])
        out.append((b, cites))
        prev = cites
    return out


def _matches(fig: str, doc_figs: set[str]) -> bool:
    """As printed with its unit (3.60x, 1.9%), or a more precise doc figure with the same unit rounded to the
    README's digits (1.9% from 1.93%)."""
    if fig in doc_figs:
        return True
    num, unit = fig.rstrip("x%"), fig[len(fig.rstrip("x%")) :]
    d = len(num.split(".")[1]) if "." in num else 0
    want = num.replace(",", "")
    return any(
        v.endswith(unit)
        and (unit or v[-1:].isdigit())
        and f"{float(v.rstrip('x%').replace(',', '')):.{d}f}" == want
        for v in doc_figs
    )


def _significant(fig: str) -> int:
    return len(fig.replace(",", "").replace(".", "").lstrip("0"))


@functools.lru_cache(maxsize=64)
def _tokens(text: str) -> frozenset[str]:
    """A page's figures with their unit (3.60x, 1.9%, 311), as printed."""
    return frozenset(f.text + f.unit for f in dfig.figures(text))


def _readme_problems(texts: dict[str, str]) -> tuple[list[tuple[str, str, list[str]]], set[tuple[str, str]]]:
    """README result figures (two or more significant digits) that are not on a page their bullet cites, and
    the README_KNOWN entries met; single digits are counts (4 stacks, 2 cores) that the ledger pins."""
    bad, seen = [], set()
    for bullet, cites in _readme_cites(texts["README.md"]):
        assert cites, f"a README result bullet cites no docs page: {bullet[:80]!r}"
        doc_figs = set().union(*(_tokens(texts[c]) for c in cites))
        for f in dfig.figures(bullet):
            if _significant(f.text) < 2 or _matches(f.text + f.unit, doc_figs):
                continue
            if (f.text, f.context) in README_KNOWN:
                seen.add((f.text, f.context))
                continue
            bad.append((f.text, f.context, cites))
    return bad, seen


def test_readme_figures_repeat_the_pages_they_cite(texts) -> None:
    bad, seen = _readme_problems(texts)
    assert not bad, f"README figures that are not on the page they cite: {bad}"
    assert seen == set(README_KNOWN), f"fixed, remove from README_KNOWN: {set(README_KNOWN) - seen}"


def test_readme_inventory_counts_what_ships(texts) -> None:
    from jalapeno.cost.published import load_published
    from jalapeno.hardware import list_presets
    from jalapeno.hardware.arch import list_arch_presets
    from jalapeno.models.registry import list_models
    from jalapeno.workload.bundled import bundled_names

    text = " ".join(texts["README.md"].split())
    for n, what in (
        (len(list_models()), "model configs"),
        (len(list_presets()), "chip presets"),
        (len(list_arch_presets()), "parameterized architectures"),
        (len(bundled_names()), "request traces"),
        (len(load_published()), "published benchmark results"),
    ):
        assert f"{n} {what}" in text, f"README: '{n} {what}'"


def _mutate(text: str, f: dfig.Figure) -> str:
    lines = text.splitlines(keepends=True)
    line = lines[f.line - 1]
    k = f.col + max(i for i, ch in enumerate(f.text) if ch.isdigit())  # the last digit: a one-digit change
    lines[f.line - 1] = line[:k] + str((int(line[k]) + 1) % 10) + line[k + 1 :]
    return "".join(lines)


def _in_block(text: str, f: dfig.Figure) -> bool:
    at = sum(len(s) for s in text.splitlines(keepends=True)[: f.line - 1]) + f.col
    return any(b.start <= at < b.end for b in doc_blocks.blocks(text))


def test_changing_any_sampled_figure_by_one_digit_fails(texts, ledger, fresh) -> None:
    """The must-show, proved: 20 figures sampled over every page (seeded) and 6 more inside generated blocks,
    each changed by one digit in memory; the checks above catch every one, and a block's figure is caught by
    the fresh run of its command alone (without the ledger)."""
    rng = random.Random(15)
    figs = [(n, f) for n, t in texts.items() for f in dfig.figures(t)]
    in_blocks = [(n, f) for n, f in figs if _in_block(texts[n], f)]
    sample = rng.sample(figs, 20) + rng.sample(in_blocks, 6)
    assert len({n for n, _ in sample}) >= 10, "the sample spans the pages"
    for name, f in sample:
        changed = {name: _mutate(texts[name], f)}  # the other pages are unchanged and pass (tests above)
        assert changed[name] != texts[name]
        caught = dfig.ledger_problems(changed, {name: ledger[name]}) + _block_problems(changed, fresh)
        assert caught, f"{name}:{f.line} {f.text!r} changed by one digit and nothing failed"
        if (name, f) in in_blocks:
            assert _block_problems(changed, fresh), f"{name}: the block check missed {f.text!r}"


def test_readme_cross_check_alone_catches_a_changed_result_figure(texts, ledger) -> None:
    """Every README result figure of two or more significant digits, changed by one digit: the ledger catches
    each, and the cross-check with the cited page catches it by itself unless the new value happens to be
    printed on that page too (0.37x -> 0.38x on docs/jalapeno-1.md, whose table has 0.38x): about 2 in 3
    today (51 of 79)."""
    readme = texts["README.md"]
    lo, hi = readme.index("## What the numbers say"), readme.index("\n## Layout")
    starts = [0]
    for s in readme.splitlines(keepends=True):
        starts.append(starts[-1] + len(s))
    cited = [
        f
        for f in dfig.figures(readme)
        if _significant(f.text) >= 2
        and lo < starts[f.line - 1] < hi
        and (f.text, f.context) not in README_KNOWN
    ]
    missed = []
    for f in cited:
        changed = {**texts, "README.md": _mutate(readme, f)}
        assert dfig.ledger_problems({"README.md": changed["README.md"]}, {"README.md": ledger["README.md"]})
        if not _readme_problems(changed)[0]:
            missed.append(f.text + f.unit)
    assert len(cited) >= 50 and len(missed) <= 0.4 * len(cited), (len(cited), missed)


# ----------------------------------------------------------- tables of recorded `jalapeno compare` output


def _compare_json(page: str, row: dict[str, str]) -> str:
    """Which committed compare JSON a page's table row quotes (each page names it in its text)."""
    if page == "docs/compare.md":
        return "docs/data/compare-azure-code.json"
    if "previous" in row["chip"]:  # the campaign's dated record of docs/compare.md's run at that date
        return f"docs/search-2026-12-05-compare-{row['workload']}-previous.json"
    return f"docs/search-2026-12-05-compare-{row['workload']}.json"


COMPARE_PAGES = ("docs/compare.md", "docs/search-2026-12-05.md")


def _compare_tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Tables whose header has goodput/W and p10 columns: (header, rows of cells)."""
    out, lines = [], text.splitlines()
    for i, s in enumerate(lines):
        if s.startswith("| ") and "goodput/W (req/s/kW)" in s and "| p10 |" in s:
            head = [c.strip() for c in s.strip("|").split("|")]
            rows = []
            for r in lines[i + 2 :]:
                if not r.startswith("|"):
                    break
                rows.append([c.strip().replace("**", "") for c in r.strip("|").split("|")])
            out.append((head, rows))
    return out


def _printed_as(cell: str, value: float) -> bool:
    """``cell``'s first number is ``value`` rounded to the digits printed (3.60x from 3.597, 12.3 from
    12.27)."""
    m = re.search(r"\d+(?:\.\d+)?", cell)
    assert m, cell
    d = len(m.group(0).split(".")[1]) if "." in m.group(0) else 0
    return m.group(0) == f"{value:.{d}f}"


def _compare_row_problems(head: list[str], cells: list[str], rec: dict, page: str) -> list[str]:
    # strict=False throughout: a table row parsed from the page may have fewer cells than its header
    row = dict(zip(head, cells, strict=False))
    chip = next(c for c in rec["rows"] if c["chip"] == row["chip"].split()[0])
    prefix, want = "goodput", {}
    for col, _cell in zip(head, cells, strict=False):
        if col.startswith("goodput/W"):
            want[col], prefix = chip["goodput_per_watt"] * 1e3, "ratio_goodput_per_watt"
        elif col == "$/Mtok":
            want[col + "#"], prefix = chip["usd_per_mtok"], "ratio_usd_per_mtok"
        elif col.startswith("vs H200"):
            want[f"{prefix} point"] = chip[prefix + "_point"]
        elif col in ("p10", "p50", "p90"):
            want[f"{prefix} {col}"] = chip[prefix][col]
    vals = [
        c
        for col, c in zip(head, cells, strict=False)
        if col.startswith(("goodput/W", "$/Mtok", "vs H200", "p10", "p50", "p90"))
    ]
    out = [
        f"{page}: {row['chip']} {k} printed {c!r}, the JSON has {v:.4g}"
        # strict=False: two columns may share a key of ``want``
        for (k, v), c in zip(want.items(), vals, strict=False)
        if not _printed_as(c, v)
    ]
    fleet = re.match(r"(\d+) x tp(\d+)", row.get("best fleet", ""))
    if fleet and (int(fleet.group(1)), int(fleet.group(2))) != (
        chip["fleet"]["replicas"],
        chip["fleet"]["tp"],
    ):
        out.append(
            f"{page}: {row['chip']} fleet {row['best fleet']!r}, the JSON has {chip['fleet']['label']}"
        )
    samples = re.match(r"(\d+)/(\d+)", row["samples meeting the SLO"])
    if (int(samples.group(1)), int(samples.group(2))) != (chip["samples_feasible"], rec["samples"]):
        out.append(
            f"{page}: {row['chip']} samples {samples.group(0)}, the JSON has "
            f"{chip['samples_feasible']}/{rec['samples']}"
        )
    attained = re.search(r"([0-9.]+) attained", row["samples meeting the SLO"])
    if attained and not _printed_as(attained.group(1), chip["slo_attainment"]):
        out.append(
            f"{page}: {row['chip']} attainment {attained.group(1)}, the JSON has {chip['slo_attainment']:.4g}"
        )
    return out


def _compare_problems(texts: dict[str, str]) -> tuple[list[str], int]:
    import json

    out, n = [], 0
    for page in COMPARE_PAGES:
        tables = _compare_tables(texts[page])
        assert tables, f"{page}: no compare table found"
        for head, rows in tables:
            for cells in rows:
                rec = json.loads(
                    (ROOT / _compare_json(page, dict(zip(head, cells, strict=False)))).read_text(
                        encoding="utf-8"
                    )
                )
                out += _compare_row_problems(head, cells, rec, page)
                n += 1
    return out, n


def test_compare_tables_are_the_recorded_compare_json(texts) -> None:
    """Every row of the compare tables (docs/compare.md, docs/search-2026-12-05.md) equals the committed
    `jalapeno compare --json` output it quotes, rounded as printed: goodput/W, $/Mtok, the point ratios and
    p10/p50/p90, the fleet, the samples meeting the SLO. The JSONs come from slow commands (a sweep and 32
    draws), so the suite checks the page against the record, and scripts/regen_docs.sh re-records."""
    problems, rows = _compare_problems(texts)
    assert rows == 7
    assert not problems, problems
    # and a one-digit change in a quoted p10 is caught by this check alone
    page = "docs/compare.md"
    p10 = re.search(r"\| \*\*(\d\.\d)(\d)x\*\* \|", texts[page])  # the first bold ratio, a p10
    assert p10
    bumped = f"| **{p10.group(1)}{(int(p10.group(2)) + 1) % 10}x** |"
    changed = {**texts, page: texts[page].replace(p10.group(0), bumped, 1)}
    assert changed[page] != texts[page]
    assert _compare_problems(changed)[0]


def test_a_stale_or_broken_block_is_found_and_refresh_rewrites_it(texts, fresh) -> None:
    cmd = "python -m jalapeno.report.spec_sheet"
    page = f"# p\n\n<!-- generated:begin `{cmd}` -->\n| | old |\n<!-- generated:end -->\nafter\n"
    assert doc_blocks.stale(page, ROOT) == [cmd]
    new = doc_blocks.refresh(page, ROOT)
    assert (
        new == f"# p\n\n<!-- generated:begin `{cmd}` -->\n{spec_sheet.markdown()}\n"
        "<!-- generated:end -->\nafter\n"
    )
    assert doc_blocks.stale(new, ROOT) == []
    broken = {"docs/x.md": f"<!-- generated:begin `{cmd}` -->\n| | old |\n"}  # no end marker
    assert _block_problems(broken, fresh) == ["docs/x.md: unbalanced or malformed generated-block markers"]
    other = {"docs/x.md": "<!-- table:begin -->\n| 1 |\n<!-- table:end -->\n"}
    assert _block_problems(other, fresh) == [
        "docs/x.md: block 'table' has no regenerating test (use generated:begin)"
    ]


def test_spec_sheet_prints_what_chip_show_reports() -> None:
    """The spec sheet's headline figures are ``jalapeno chip show jalapeno-1 --json``'s, as printed: both read
    one builder (``hardware/arch/sheet_doc.py``); this holds the rendering to it."""
    from jalapeno.commands.chip import sheet_json

    d, table = sheet_json("jalapeno-1"), spec_sheet.markdown()
    assert f"| die | {d['die_area_mm2']:.0f} mm² (" in table
    assert f"TDP {d['tdp_w']:.0f} W:" in table
    assert f"| price | ${d['price_usd']:,.0f}:" in table and f"${d['chip_cost_usd']:,.0f} to make" in table
    idle = d["board_power_breakdown"]["summary"]["idle"]["value"]
    assert f"idle {idle:.0f} W (" in table
    hbm = d["memory"][0]
    assert f"{hbm['capacity_bytes'] / 1e9:.0f} GB at {hbm['bandwidth_bytes_per_s'] / 1e12:.2f} TB/s" in table
    reticle = next(c for c in d["physical_checks"] if c["check"].startswith("reticle"))
    assert f"reticle {reticle['value']:.0f} of {reticle['limit']:,.0f} mm²" in table
