"""The board a published result's GPUs sat on, from its system description: the scale-up network it had.

A preset prices its chip on the usual board (an H100 on the 8-GPU HGX board's NVSwitches). An MLPerf
system description names its GPUs' links (``accelerator_interconnect``, bundled as the row's
``interconnect`` column): ``"18x 4th Gen NVLink"`` on the 8-GPU board, every link into the switches;
``"6x 4th Gen NVLink"`` on the 4-GPU HGX H100 board (Dell XE9640, Fujitsu GX2560 M7), 6 links to each
of the 3 peers and no switch (``hardware.boards``). A row whose system names fewer links than the chip
has, and few enough that every peer gets that many (k x (GPUs - 1) <= links), ran on such a full mesh;
``system_chip`` returns the chip rewired so, and the chip unchanged otherwise (its own board, or a
description that says nothing: "NVLink", "XGMI", "5th-gen NVLink and NVLink Switches").
"""

from __future__ import annotations

import re

from jalapeno.cost.published import PublishedRow
from jalapeno.hardware.boards import switchless_mesh
from jalapeno.hardware.spec import ChipSpec

_LINKS = re.compile(r"^\s*(\d+)\s*x\s.*nvlink", re.IGNORECASE)


def published_links(row: PublishedRow) -> int | None:
    """Links a GPU the row's system description names (``"6x 4th Gen NVLink, 900GB/s"`` -> 6); None
    where it names no count."""
    m = _LINKS.match(row.interconnect)
    return int(m.group(1)) if m else None


def system_url(row: PublishedRow) -> str:
    """The system description file next to the row's result (``closed/<submitter>/systems/<system>.json``)."""
    repo, _, path = row.url.partition("/tree/main/")
    parts = path.split("/")
    if len(parts) < 4 or parts[2] != "results":
        return row.url
    return f"{repo}/blob/main/{parts[0]}/{parts[1]}/systems/{parts[3]}.json"


def system_chip(row: PublishedRow, chip: ChipSpec) -> ChipSpec:
    """``chip`` on the board the row's system had: a full mesh of ``k`` links a peer where the system
    names ``k`` links a GPU, fewer than a switched chip's ``links`` and ``k x (GPUs - 1) <= links``;
    else ``chip`` itself."""
    k, ic = published_links(row), chip.interconnect
    if k is None or ic is None or ic.topology != "switch" or row.n_chips < 2:
        return chip
    links = int(ic.links.value)
    if k >= links or k * (row.n_chips - 1) > links:
        return chip
    source = f"{row.submitter} {row.system}: accelerator_interconnect {row.interconnect!r}, {system_url(row)}"
    return switchless_mesh(chip, row.n_chips, k, source)
