"""One self-contained HTML page: inline CSS, inline SVG plots, no scripts, no network.

    from jalapeno.report.html import Section, page, table, figure, para
    html = page("Title", [Section("Results", [para("..."), table(header, rows), figure(svg, "caption")])])

Everything given as text is escaped; SVG documents from ``report.plots``/``report.charts`` are inlined
as they are (they are escaped where they were made). Deterministic: equal inputs give equal bytes.
"""

from __future__ import annotations

import html as _html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

# A backslash at a line end joins it to the next line (kept within 110 columns, the CSS unchanged).
CSS = """
body{font-family:Helvetica,Arial,sans-serif;max-width:1100px;margin:24px auto;padding:0 16px;\
color:#1a1a1a;line-height:1.45}
h1{font-size:26px;margin-bottom:4px} h2{font-size:20px;margin-top:36px;\
border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:16px;margin-top:22px} p.sub{color:#555;margin-top:0}
table{border-collapse:collapse;margin:10px 0 18px 0;font-size:13px} \
th,td{border:1px solid #d0d0d0;padding:4px 8px;vertical-align:top}
th{background:#f3f3f3;text-align:left} \
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.src{color:#555;font-size:12px;max-width:420px} tr.hl td{background:#fff7e0}
figure{margin:12px 0 22px 0} figcaption{color:#444;font-size:13px;margin-top:4px;max-width:900px}
.note{background:#f6f8fa;border-left:3px solid #999;padding:8px 12px;font-size:13px;margin:12px 0}
.big{font-size:18px} code{background:#f3f3f3;padding:1px 4px;border-radius:3px;font-size:12px}
nav a{margin-right:12px;font-size:13px}
"""
_NUM = re.compile(r"^[-+]?[$]?[\d,]*\.?\d+(e[-+]?\d+)?\s*(x|%|W|s|ms|GB|TB/s|mm2|req/s/kW|\$)?$")


def esc(text: Any) -> str:
    return _html.escape(str(text), quote=True)


@dataclass(frozen=True)
class Section:
    title: str
    blocks: Sequence[str] = field(default_factory=tuple)
    anchor: str = ""

    @property
    def id(self) -> str:
        return self.anchor or re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")


def para(text: str, *, cls: str = "") -> str:
    return f"<p{f' class={chr(34)}{cls}{chr(34)}' if cls else ''}>{esc(text)}</p>"


def note(text: str) -> str:
    return f'<div class="note">{esc(text)}</div>'


def bullets(items: Iterable[str]) -> str:
    return "<ul>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>"


def code(text: str) -> str:
    return f"<p><code>{esc(text)}</code></p>"


def table(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    highlight: Iterable[int] = (),
    source_cols: Iterable[int] = (),
    caption: str = "",
) -> str:
    """A table; cells that look like numbers are right-aligned; ``source_cols`` are set small and grey."""
    hl, src = set(highlight), set(source_cols)
    out = ["<table>"]
    if caption:
        out.append(f"<caption>{esc(caption)}</caption>")
    out.append("<tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>")
    for i, row in enumerate(rows):
        cells = []
        for j, c in enumerate(row):
            cls = "src" if j in src else ("num" if _NUM.match(str(c).strip()) else "")
            cells.append(f'<td class="{cls}">{esc(c)}</td>' if cls else f"<td>{esc(c)}</td>")
        out.append(
            f"<tr{' class=' + chr(34) + 'hl' + chr(34) if i in hl else ''}>" + "".join(cells) + "</tr>"
        )
    out.append("</table>")
    return "\n".join(out)


def figure(svg: str, caption: str) -> str:
    body = svg.split("?>", 1)[-1] if svg.startswith("<?xml") else svg
    return f"<figure>{body}<figcaption>{esc(caption)}</figcaption></figure>"


def page(title: str, sections: Sequence[Section], *, subtitle: str = "", footer: str = "") -> str:
    nav = " ".join(f'<a href="#{esc(s.id)}">{esc(s.title)}</a>' for s in sections)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{esc(title)}</h1>",
    ]
    if subtitle:
        out.append(f'<p class="sub">{esc(subtitle)}</p>')
    out.append(f"<nav>{nav}</nav>")
    for s in sections:
        out.append(f'<h2 id="{esc(s.id)}">{esc(s.title)}</h2>')
        out.extend(s.blocks)
    if footer:
        out.append(f'<p class="sub">{esc(footer)}</p>')
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"
