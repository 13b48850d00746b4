"""A chip on a board without a switch: the scale-up network a server has when it is not its preset's.

A preset describes its chip on the usual board: the H100 on the 8-GPU HGX board, its 18 NVLink 4 links
into four third-generation NVSwitches (a switch that reduces in the network). Servers with four SXM
GPUs carry the HGX H100 4-GPU board instead, which has no NVSwitch: each GPU splits its 18 links over
its 3 peers, 6 a pair. The MLPerf Inference v4.1 system descriptions say so (Dell PowerEdge XE9640 and
Fujitsu PRIMERGY GX2560 M7, 4 x H100-SXM-80GB: ``"accelerator_interconnect": "6x 4th Gen NVLink,
900GB/s"``, against ``"18x 4th Gen NVLink, 900GB/s"`` for the 8-GPU DGX H100;
github.com/mlcommons/inference_results_v4.1, ``closed/<submitter>/systems/<system>.json``), and
``nvidia-smi topo -m`` on a 4 x H100 SXM server reads NV6 between every pair (NVIDIA/nccl issue 1617).
That is a full mesh: a GPU reaches a peer over that pair's links only (NVLink does not forward through
a third GPU), 6 / 18 of its 450 GB/s per direction, and no switch sums anything.

``switchless_mesh`` rewrites a chip's ``interconnect`` block into that mesh, figures derived from the
preset's with the board's source, so ``cost.network`` prices it like any other full mesh (one link
a peer: a TP2 all-reduce runs over the pair's bundle alone, 3x the 8-GPU board's ring time).
"""

from __future__ import annotations

from dataclasses import replace

from jalapeno.errors import JalapenoError
from jalapeno.hardware.spec import ChipSpec, Figure, Flag, Interconnect


def switchless_mesh(chip: ChipSpec, chips: int, links_per_peer: int, source: str) -> ChipSpec:
    """``chip`` on a board of ``chips`` GPUs linked pairwise over ``links_per_peer`` of its links each
    (``source``: where the board's wiring is published). The mesh's "link" is a peer's bundle (the
    convention of ``topology: mesh``: ``links`` = peers); its bandwidth is the links used x the
    preset's bandwidth per link; the per-hop latency is the preset's."""
    ic = chip.interconnect
    if ic is None:
        raise JalapenoError(f"chip {chip.name!r} has no chip-to-chip links to rewire", field="interconnect")
    links = int(ic.links.value)
    if chips < 2 or links_per_peer < 1 or links_per_peer * (chips - 1) > links:
        raise JalapenoError(
            f"{chips} chips with {links_per_peer} links a peer need {links_per_peer * (chips - 1)} of "
            f"{chip.name}'s {links} links; use at least 2 chips and at most {links // max(1, chips - 1)} "
            "links a peer",
            field="links_per_peer",
        )
    per_link = ic.bandwidth_bytes_per_s.value / links
    bundle = f"{links_per_peer} of the chip's {links} links to each of its {chips - 1} peers"
    mesh = Interconnect(
        name=f"{ic.name.split(' + ')[0]}, {chips}-chip full mesh (no switch)",
        links=Figure(chips - 1, source, note=f"A link a peer (topology mesh): {bundle}."),
        bandwidth_bytes_per_s=Figure(
            per_link * links_per_peer * (chips - 1),
            f"derived: {bundle} x the preset's {per_link / 1e9:g} GB/s per link and direction "
            f"({ic.bandwidth_bytes_per_s.source}); wiring: {source}",
            note="Per direction, summed over the peers.",
        ),
        latency_s=ic.latency_s,
        domain_size=Figure(chips, source, note="The board's GPUs."),
        topology="mesh",
        energy_pj_per_bit=ic.energy_pj_per_bit,
        in_network_reduction=Flag(False, f"derived: a full mesh has no switch to reduce in ({source})"),
    )
    return replace(chip, interconnect=mesh)
