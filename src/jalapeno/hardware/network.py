"""The network between chips as data: a scale-up domain and, above it, a scale-out fabric.

A ``ScaleUp`` is one chip's view of its domain (NVLink + NVSwitch, ICI torus, Infinity Fabric
mesh): its topology, the chips in the domain, the chip's bandwidth per direction over all its
links, the link count, the per-hop latency (the alpha of an alpha-beta model) and whether its switch
reduces in the network (``in_network_reduction``, the preset's sourced flag). A ``ScaleOut`` is
the RDMA fabric between domains: NICs per chip, bytes/s per NIC per direction, end-to-end latency;
``rail_optimized`` means chip i of every domain shares a leaf switch (its "rail"), so same-rank
chips talk in one switch hop (NVIDIA's rail-optimized DGX SuperPOD design).
``in_network_eff`` is the share of the line rate an in-network all-reduce achieves: the preset's measured
nccl-tests bus bandwidth (``extra`` ``network.in_network_all_reduce_busbw_bytes_per_s``, 8 chips of one
domain) over the line-rate form's (``in_network_eff_of``); 1 without a measurement.
``ring_eff`` is the same for a ring on a switch: the measured ring bus bandwidth (``extra``
``network.ring_all_reduce_busbw_bytes_per_s``, NCCL_ALGO=RING) over the links' (a ring's bus bandwidth is
the bandwidth each port carries, so the ratio is direct). A switched domain without a measurement (a paper
chip, A100, H800) takes ``RING_EFF_UNMEASURED``, the lowest share measured on any bundled preset: under
the parity rule no unmeasured switch runs its rings faster than a measured one (range: up to the highest
measured share, 0.822 on H100/H200).

Presets describe the scale-up side in their ``interconnect`` block and the scale-out side in
``extra`` (``network.scale_out_nics_per_chip``, ``network.scale_out_nic_bytes_per_s``,
``network.scale_out_latency_s``), each figure with its source; ``network_of`` joins them. A designer
changes the network with ``dataclasses.replace`` (domain of 72, a torus, faster NICs).
"""

from __future__ import annotations

from dataclasses import dataclass

from jalapeno.errors import JalapenoError
from jalapeno.hardware.spec import ChipSpec

SCALE_UP_TOPOLOGIES = ("switch", "ring", "torus2d", "torus3d", "mesh", "dragonfly")
NIC_KEYS = (
    "network.scale_out_nics_per_chip",
    "network.scale_out_nic_bytes_per_s",
    "network.scale_out_latency_s",
)
NVLS_BUSBW_KEY = "network.in_network_all_reduce_busbw_bytes_per_s"
NVLS_BUSBW_GROUP = 8  # chips the measured bus bandwidth was taken on (nccl-tests all_reduce_perf, one node)
RING_BUSBW_KEY = "network.ring_all_reduce_busbw_bytes_per_s"
# The lowest measured ring share of the presets (b300: 695 of 900 GB/s, NVIDIA/nccl issue 2140; H100/H200
# read 370 of 450, 0.822): what a switched domain without its own measurement pays. Kept equal to the
# presets' minimum by tests/test_network_reduction.py.
RING_EFF_UNMEASURED = 695 / 900


def group_dims(topology: str, dims: tuple[int, ...], n: int) -> tuple[tuple[int, bool], ...]:
    """(length, closed ring?) of each dimension a contiguous group of ``n`` chips spans: on a torus it
    fills the first dimension, then the next, and closes a ring only when it spans a whole dimension;
    any other topology is one closed dimension of ``n`` (``cost.network`` prices collectives over it)."""
    if topology not in ("torus2d", "torus3d") or not dims:
        return ((n, True),)
    out, left = [], n
    for d in dims:
        if left <= 1:
            break
        span = min(d, left)
        out.append((span, span == d))
        left = -(-left // span)
    return tuple(out) or ((1, True),)


@dataclass(frozen=True)
class ScaleUp:
    """One chip's links into its scale-up domain."""

    topology: str  # switch (NVSwitch), ring, torus2d, torus3d, mesh (fully connected), dragonfly
    domain_size: int  # chips in one domain
    bw_bytes_per_s: float  # per chip, per direction, all links
    links: int
    latency_s: float  # per hop
    dims: tuple[int, ...] = ()  # torus: chips along each dimension (product = domain_size)
    in_network_reduction: bool = False  # the switch sums what the chips send (NVLink SHARP)
    in_network_eff: float = 1.0  # achieved / line-rate bandwidth of the in-network all-reduce
    ring_eff: float = 1.0  # achieved / line-rate bandwidth of a ring on a switch (NCCL's protocol overhead)

    def __post_init__(self) -> None:
        if self.topology not in SCALE_UP_TOPOLOGIES:
            raise JalapenoError(
                f"unknown topology {self.topology!r}; use one of {', '.join(SCALE_UP_TOPOLOGIES)}",
                field="topology",
            )
        if self.domain_size < 1 or self.bw_bytes_per_s <= 0 or self.links < 1 or self.latency_s < 0:
            raise JalapenoError("domain_size, links >= 1, bandwidth > 0, latency >= 0", field="scale_up")
        if not 0.0 < self.in_network_eff <= 1.0:
            raise JalapenoError(
                f"in_network_eff must be in (0, 1], got {self.in_network_eff}", field="in_network_eff"
            )
        if not 0.0 < self.ring_eff <= 1.0:
            raise JalapenoError(f"ring_eff must be in (0, 1], got {self.ring_eff}", field="ring_eff")
        if self.in_network_reduction and self.topology != "switch":
            raise JalapenoError(
                f"in-network reduction needs a switch, not a {self.topology}; set it false",
                field="in_network_reduction",
            )

    @property
    def link_bytes_per_s(self) -> float:
        """One link, one direction."""
        return self.bw_bytes_per_s / self.links


@dataclass(frozen=True)
class ScaleOut:
    """The RDMA fabric between scale-up domains, as one chip sees it."""

    nics_per_chip: float
    nic_bytes_per_s: float  # per NIC, per direction
    latency_s: float  # one message, end to end
    rail_optimized: bool = True

    @property
    def bw_bytes_per_s(self) -> float:
        """All of one chip's NICs, one direction."""
        return self.nics_per_chip * self.nic_bytes_per_s


@dataclass(frozen=True)
class Network:
    scale_up: ScaleUp
    scale_out: ScaleOut | None = None

    def domains(self, n: int) -> int:
        """Scale-up domains a contiguous group of ``n`` chips spans."""
        return -(-n // self.scale_up.domain_size)

    def check_group(self, n: int, field: str) -> None:
        """A group larger than one domain needs a scale-out fabric and whole domains."""
        d = self.scale_up.domain_size
        if n <= d:
            return
        if self.scale_out is None:
            raise JalapenoError(
                f"{n} chips exceed the {d}-chip scale-up domain and the chip has no scale-out NIC "
                f"figures (extra.network.*); use at most {d} chips",
                field=field,
            )
        if n % d:
            raise JalapenoError(
                f"{n} chips spanning {d}-chip domains must fill whole domains; use a multiple of {d}",
                field=field,
            )


def torus_dims(topology: str, domain_size: int) -> tuple[int, ...]:
    """A square/cubic torus shape when the domain is one (else no shape: priced as one ring)."""
    if topology not in ("torus2d", "torus3d"):
        return ()
    k = 2 if topology == "torus2d" else 3
    side = round(domain_size ** (1 / k))
    return (side,) * k if side**k == domain_size else ()


def in_network_eff_of(busbw_bytes_per_s: float, bw_bytes_per_s: float, n: int = NVLS_BUSBW_GROUP) -> float:
    """Achieved share of the line-rate in-network all-reduce from a measured bus bandwidth on ``n`` chips.

    nccl-tests reports busbw = algbw x 2 (n-1) / n whatever the algorithm, so the measured all-reduce of b
    bytes took t = 2 (n-1) / n b / busbw; the line-rate form (``cost.network.in_network_all_reduce_s``)
    moves (n+1) / n b through each port: t = (n+1) / n b / bw. The ratio, (n+1) busbw / (2 (n-1) bw),
    is what the switch path achieves (8 H100s: 480 GB/s busbw on 450 GB/s links, 0.686; capped at 1)."""
    return min(1.0, (n + 1) * busbw_bytes_per_s / (2 * (n - 1) * bw_bytes_per_s))


def network_of(chip: ChipSpec) -> Network | None:
    """The chip's network from its preset: ``interconnect`` (scale-up) plus ``extra`` NIC figures."""
    ic = chip.interconnect
    if ic is None:
        return None
    size = int(ic.domain_size.value)
    links = getattr(getattr(chip, "arch", None), "links", None)  # an architecture chip keeps its torus shape
    dims = tuple(links.dims) if links is not None and links.dims else torus_dims(ic.topology, size)
    busbw = chip.extra.get(NVLS_BUSBW_KEY)
    eff = in_network_eff_of(busbw.value, ic.bandwidth_bytes_per_s.value) if busbw is not None else 1.0
    ring = chip.extra.get(RING_BUSBW_KEY)
    if ring is not None:
        ring_eff = min(1.0, ring.value / ic.bandwidth_bytes_per_s.value)
    else:  # parity: an unmeasured switch pays the lowest measured share (a mesh's direct links: none)
        ring_eff = RING_EFF_UNMEASURED if ic.topology == "switch" else 1.0
    up = ScaleUp(
        ic.topology,
        size,
        ic.bandwidth_bytes_per_s.value,
        int(ic.links.value),
        ic.latency_s.value,
        dims,
        ic.reduces_in_network,
        eff,
        ring_eff,
    )
    figs = [chip.extra.get(k) for k in NIC_KEYS]
    out = None
    if all(f is not None for f in figs):
        nics, bw, lat = (f.value for f in figs if f is not None)
        out = ScaleOut(nics, bw, lat)
    return Network(up, out)
