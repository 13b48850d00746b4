"""The published head-to-head table (docs/jalapeno-1.md) rendered from ``explore.headline``'s rows.

``explore.headline`` computes each (workload, chip) row at its recorded fleet; this module only renders them
as the markdown block between the doc's headline markers and splices that block into a document.
"""

from __future__ import annotations

from typing import Any

BEGIN, END = "<!-- headline:begin (scripts/regen_headline.py) -->", "<!-- headline:end -->"


def markdown(rows: list[dict[str, Any]]) -> str:
    """The table docs/jalapeno-1.md publishes between its headline markers."""
    head = (
        "| workload | chip | best fleet | goodput/W (req/s/kW) | vs H200 | $/Mtok | vs H200 | SLO attainment "
        "|\n"
        "|---|---|---|---:|---:|---:|---:|---:|"
    )
    lines = [BEGIN, head]
    for r in rows:
        if r["fleet"] is None:
            lines.append(
                f"| {r['workload']} | {r['chip']} | no deployment meets the SLO | - | - | - | - | - |"
            )
            continue
        miss = "" if r["feasible"] else " (misses the SLO)"
        lines.append(
            f"| {r['workload']} | {r['chip']} | {r['fleet']}{miss} | {r['goodput_per_kw']:.2f} | "
            f"{r.get('ratio_goodput_per_watt', 0):.2f}x | {r['usd_per_mtok']:.4f} | "
            f"{r.get('ratio_usd_per_mtok', 0):.2f}x | {r['slo_attainment']:.3f} |"
        )
    lines.append(END)
    return "\n".join(lines)


def block_of(text: str) -> str:
    """The headline block of a document (markers included)."""
    i, j = text.index(BEGIN), text.index(END)
    return text[i : j + len(END)]


def replace_block(text: str, block: str) -> str:
    i, j = text.index(BEGIN), text.index(END)
    return text[:i] + block + text[j + len(END) :]
