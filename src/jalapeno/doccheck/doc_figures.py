"""Every figure the README and the docs publish, found by clear rules, and the ledger that pins them (issue
15).

A *figure* is a number in a page's text (prose, tables and code blocks alike), e.g. ``3.60`` in ``3.60x``,
``2,892`` in ``$2,892``, ``311`` in ``311 mm²``. Not figures, and masked before the search:

* dates (``2026-12-05``), links' targets and URLs, HTML comments (the generated-block markers);
* version numbers (a number followed by ``.digit``, as ``2.13.0``), issue references (``issue 10``, ``#15``);
* command-line flags' values (``--trials 300``, ``-b 64``): the command is the text, not a result;
* digits inside a name: a number preceded by a letter (``h200``, ``fp8``, ``v5.1``, ``EP32``) or by a
  letter and a hyphen (``Llama-3.1-8B``, ``jalapeno-1``), except a multiplier ``x0.54``.

The ledger (``tests/snapshots/doc_figures.json``) records, page by page, every figure with the 30
characters before it. ``scripts/regen_snapshots.py`` writes it from the pages; a test extracts the figures
again and compares, so a changed digit, a new page or a figure added anywhere fails until the ledger is
regenerated, and the ledger's diff shows a reviewer every published figure that moved.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

LEDGER_SCHEMA = "jalapeno.doc_figures/1"
CONTEXT_CHARS = 30
_NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")
_MASKS = (
    re.compile(r"<!--.*?-->"),  # comments and generated-block markers
    re.compile(r"\]\([^)]*\)"),  # a link's target
    re.compile(r"https?://\S+"),  # bare URLs
    re.compile(r"\b\d{4}-\d{2}-\d{2}\b"),  # dates
    re.compile(r"(?i)\bissues? \d+(?:(?:, | and | or )\d+)*"),  # issue references
    re.compile(r"#\d+"),
    re.compile(r"(?<![\w-])--?[A-Za-z][\w.-]*[ =]\$?\{?[\w.:-]*\d[\w.,:+-]*\}?"),  # a flag and its value
)


@dataclass(frozen=True)
class Figure:
    """One published number: where it is (1-based line), its text and what precedes it on the line."""

    line: int
    col: int
    text: str
    context: str
    unit: str = ""  # ``x`` or ``%`` right after the number (3.60x, 1.9%), for cross-checks between pages

    def entry(self) -> list[str]:
        return [self.text, self.context]


def _mask(line: str) -> str:
    for rx in _MASKS:
        line = rx.sub(lambda m: " " * len(m.group(0)), line)
    return line


def _is_name_digit(s: str, i: int) -> bool:
    """True when the number starting at ``s[i]`` is part of a name (``h200``, ``Llama-3.1-8B``), not a figure:
    the word it continues (letters, digits, ``_ . -``) starts with a letter. ``x0.54`` is a multiplier."""
    c1 = s[i - 1] if i >= 1 else " "
    c2 = s[i - 2] if i >= 2 else " "
    if c1 == "x" and not c2.isalnum():
        return False
    k = i
    while k > 0 and (s[k - 1].isalnum() or s[k - 1] in "_.-"):
        k -= 1
    word = s[k:i]
    return bool(word) and (word[0].isalpha() or word[0] in "_." or c1 in "._" or c1.isdigit())


def figures(text: str) -> list[Figure]:
    """Every figure of a page, in reading order."""
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = _mask(raw)
        for m in _NUMBER.finditer(line):
            i, j = m.start(), m.end()
            if _is_name_digit(line, i) or re.match(r"\.\d", line[j : j + 2]):
                continue
            ctx = " ".join(raw[max(0, i - CONTEXT_CHARS) : i].split())
            unit = raw[j : j + 1] if raw[j : j + 1] in ("x", "%") else ""
            out.append(Figure(n, i, m.group(0), ctx, unit))
    return out


def pages(root: Path) -> dict[str, str]:
    """README.md and every docs/**/*.md page, keyed by their path from the repository root."""
    paths = [root / "README.md", *sorted((root / "docs").rglob("*.md"))]
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in paths}


def ledger_of(texts: dict[str, str]) -> dict[str, list[list[str]]]:
    return {name: [f.entry() for f in figures(t)] for name, t in sorted(texts.items())}


def dump_ledger(ledger: dict[str, list[list[str]]]) -> str:
    """The ledger as JSON, one figure a line, so its diff reads figure by figure."""
    parts = []
    for name, entries in ledger.items():
        rows = ",\n".join("  " + json.dumps(e, ensure_ascii=False) for e in entries)
        parts.append(f" {json.dumps(name)}: [\n{rows}\n ]" if entries else f" {json.dumps(name)}: []")
    head = (
        f'{{"schema": "{LEDGER_SCHEMA}",\n "regenerate": "python scripts/regen_snapshots.py",\n "pages": {{\n'
    )
    return head + ",\n".join(parts) + "\n}}\n"


def load_ledger(path: Path) -> dict[str, list[list[str]]]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc.get("schema") == LEDGER_SCHEMA, (
        f"{path}: schema {doc.get('schema')!r}, expected {LEDGER_SCHEMA}"
    )
    return doc["pages"]


def ledger_problems(texts: dict[str, str], ledger: dict[str, list[list[str]]]) -> list[str]:
    """Each way the pages differ from the ledger: a page missing from either, or its first changed figure."""
    out = [f"{n}: page not in the ledger" for n in texts if n not in ledger]
    out += [f"{n}: in the ledger but not on disk" for n in ledger if n not in texts]
    for name in sorted(set(texts) & set(ledger)):
        got, want = figures(texts[name]), ledger[name]
        # strict=False: the page and the ledger may differ in length (reported below)
        for k, (f, w) in enumerate(zip(got, want, strict=False)):
            if f.entry() != w:
                out.append(
                    f"{name}:{f.line}: figure {k} is {f.text!r} after {f.context!r}; the ledger has "
                    f"{w[0]!r} after {w[1]!r}"
                )
                break
        else:
            if len(got) != len(want):
                out.append(f"{name}: {len(got)} figures, the ledger has {len(want)}")
    return out
