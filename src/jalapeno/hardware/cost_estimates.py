"""Manufacturing-cost estimates for the presets no analyst has priced, from the project's own cost model.

A preset's ``extra.cost.total_usd`` is what ``hardware.tco`` prices a chip from (docs/tco.md). Five
presets (H100, H200, B200, the GB200 NVL72 GPU, MI300X) carry analyst estimates; the others get one of three
derivations here,
each stated in the preset's ``source`` so a reader can rerun it (``python scripts/chip_costs.py``):

* ``datasheet``: ``arch.cost.datasheet_chip_cost`` on the chip's die area(s), node, memory and package:
  the same wafer prices, yields, HBM $/GB, package and test constants as every derived architecture.
* ``architecture``: ``arch.cost.chip_cost`` on the project's microarchitecture description of the chip
  (``hardware/presets/arch/<name>.yaml``), where the vendor publishes no die area.
* ``memory swap``: a published cost breakdown of a sibling chip with the same dies, its memory repriced.

``CHECKS`` runs the datasheet derivation on chips with an analyst estimate; its error there (docs/tco.md)
is what the ranges (``spread``) are sized against. ``tests/test_tco.py`` holds every preset's figure equal
to ``Estimate.figure()`` so the two cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jalapeno.hardware.arch.cost import Die, chip_cost, datasheet_chip_cost
from jalapeno.hardware.arch.model import Part
from jalapeno.hardware.arch.tech import Technology

MODEL = "project cost model (hardware/arch/cost.py)"


@dataclass(frozen=True)
class Estimate:
    """One chip's derivation. ``spread``: the range is value x (1 -+ spread). ``note``: where each input
    comes from and which inputs are assumptions."""

    chip: str
    spread: float
    note: str
    dies: tuple[Die, ...] = ()
    package: str = ""
    memory_gb: float = 0.0
    memory_kind: str = ""
    sites: int = 0
    arch: str = ""  # an architecture preset name: ``chip_cost`` of it
    base_usd: float = 0.0  # memory swap: the sibling's cost without its memory
    base_what: str = ""

    @property
    def basis(self) -> str:
        return "architecture" if self.arch else "memory swap" if self.base_usd else "datasheet"

    def parts(self) -> dict[str, Part]:
        if self.arch:
            from jalapeno.hardware.arch import resolve_arch

            return chip_cost(resolve_arch(self.arch))
        if self.base_usd:
            usd_gb = Technology("n5")(f"dram_usd_per_gb.{self.memory_kind}")
            mem = Part(self.memory_gb * usd_gb, f"{self.memory_gb:g} GB x ${usd_gb:g}/GB")
            base = Part(self.base_usd, self.base_what)
            return {"base": base, "memory": mem, "total": Part(base.value + mem.value, "base + memory")}
        return datasheet_chip_cost(self.dies, self.package, self.memory_gb, self.memory_kind, self.sites)

    @property
    def value_usd(self) -> float:
        return float(round(self.parts()["total"].value))

    @property
    def range_usd(self) -> list[float]:
        v = self.value_usd
        return [float(round(v * (1 - self.spread))), float(round(v * (1 + self.spread)))]

    @property
    def source(self) -> str:
        if self.arch:
            from jalapeno.hardware.arch import model, resolve_arch

            a = resolve_arch(self.arch)
            m = a.memory
            mem = (
                f", {m.devices.value * m.capacity_bytes_per_device.value / 1e9:.0f} GB {m.kind}" if m else ""
            )
            return (
                f"derived: {MODEL} chip_cost of the architecture description {self.arch}: die "
                f"{model.area(a)['total'].value:.0f} mm2 (derived) at {a.node.value}{mem}, {a.package} "
                "package"
            )
        mem = f", {self.memory_gb:g} GB {self.memory_kind}" if self.memory_gb else ", no DRAM"
        if self.base_usd:
            return f"derived: {self.base_what}{mem} at the technology library's $/GB"
        dies = " + ".join(
            f"{d.count} x {d.area_mm2:g} mm2" if d.count > 1 else f"{d.area_mm2:g} mm2" for d in self.dies
        )
        node = "/".join(dict.fromkeys(d.node for d in self.dies))
        stacks = f" on {self.sites} stack sites" if self.sites else ""
        return f"derived: {MODEL} from die {dies} at {node}{mem}{stacks}, {self.package} package"

    def figure(self) -> dict[str, Any]:
        """The preset's ``extra.cost.total_usd`` figure."""
        return {
            "value": self.value_usd,
            "range": self.range_usd,
            "source": self.source,
            "secondary": True,
            "note": self.note,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "chip": self.chip,
            "basis": self.basis,
            **self.figure(),
            "parts": {k: {"usd": v.value, "formula": v.formula} for k, v in self.parts().items()},
        }


_RANGE_MODEL = (
    "Range +-30%: the datasheet model lands within -3% to +19% of the analyst estimates for H100, H200 "
    "and B200 (scripts/chip_costs.py)."
)
_RANGE_GUESS = "Range +-40%: an assumed die area or node (above) on top of the model's +-30%."
_RANGE_SWAP = (
    "Range +-20%, as MI325X: the analyst base's spread (Epoch AI, $5,700-7,300 for B200: -11%/+14%) and "
    "the HBM3e price (12-high stacks are priced per GB as 8-high ones)."
)
_B200_BASE = (
    "Epoch AI's B200 cost breakdown without its HBM (logic dies ~$900, CoWoS-L packaging ~$1,100, packaging "
    "yield loss ~$1,000, other ~$500; HBM3e ~$2,900 of the ~$6,400), as reported by Silicon Analysts "
    "(https://siliconanalysts.com/analysis/nvidia-b200-blackwell-cost-breakdown) and FourWeekMBA "
    "(https://fourweekmba.com/the-6400-chip-that-sells-for-40000-inside-nvidias-b200-economics)"
)
_MI300X_BASE = (
    "Silicon Analysts' MI300X cost breakdown without its HBM (logic dies $600, CoWoS-S + SoIC packaging "
    "$1,200, test and assembly $600; Cost Bridge, Feb 2026, https://siliconanalysts.com/tools/cost-bridge)"
)

ESTIMATES: tuple[Estimate, ...] = (
    Estimate(
        "a100-80gb-sxm",
        0.3,
        dies=(Die(826, "n7"),),
        package="cowos-s",
        memory_gb=80,
        memory_kind="hbm2e",
        sites=6,
        note="Die 826 mm2 at TSMC N7 and 80 GB HBM2e in five active of six stack sites (NVIDIA A100 "
        "whitepaper and datasheet); CoWoS-S interposer (TSMC 2.5D, as every HBM GPU of its generation). "
        + _RANGE_MODEL,
    ),
    Estimate(
        "groq-lpu",
        0.3,
        dies=(Die(725, "gf14"),),
        package="organic",
        note="Die 725 mm2 at 14 nm (Abts et al., ISCA 2020), GlobalFoundries 14 nm wafer priced as 16/12 nm "
        "(CSET 2020), 230 MB SRAM and no DRAM, organic flip-chip package. Cross-checks: the die alone "
        "~$111 here against under $110 in V. Engineer's estimate ($3,500-4,000 wafers, 50% yield, "
        "vengineer.hatenablog.com, Aug 2024); the groq-lpu-arch description costs $973. " + _RANGE_MODEL,
    ),
    Estimate(
        "gaudi3",
        0.4,
        dies=(Die(600, "n5", 2),),
        package="cowos-s",
        memory_gb=128,
        memory_kind="hbm2e",
        sites=8,
        note="Two mirror-image compute dies at TSMC 5 nm with 128 GB HBM2e in eight stacks (R. Kaplan, "
        "Hot Chips 2024). Assumed: 600 mm2 a die (Intel publishes no die area; each under the 858 mm2 "
        "reticle) and a CoWoS-S interposer. " + _RANGE_GUESS,
    ),
    Estimate(
        "tpu-v5p",
        0.4,
        dies=(Die(600, "n5"),),
        package="cowos-s",
        memory_gb=95,
        memory_kind="hbm2e",
        sites=6,
        note="95 GB HBM2e (Google Cloud TPU v5p documentation). Assumed: die 600 mm2 (TPU v4's is under 600 "
        "mm2 at 7 nm, Jouppi et al., ISCA 2023; Google publishes none for v5p), a TSMC N5-class node (as "
        "tpu-v5e-arch), six stack sites and a CoWoS-S interposer. " + _RANGE_GUESS,
    ),
    Estimate(
        "tpu-v6e",
        0.4,
        dies=(Die(600, "n5"),),
        package="cowos-s",
        memory_gb=32,
        memory_kind="hbm2e",
        sites=2,
        note="32 GB HBM (Google Cloud TPU v6e documentation; generation not disclosed, priced as HBM2e). "
        "Assumed: die 600 mm2 (TPU v4's under-600 mm2 class, Jouppi et al., ISCA 2023; Google publishes "
        "none for v6e), a TSMC N5-class node, two stack sites and a CoWoS-S interposer. " + _RANGE_GUESS,
    ),
    Estimate(
        "inferentia2",
        0.4,
        dies=(Die(838, "n7"),),
        package="cowos-s",
        memory_gb=34.4,
        memory_kind="hbm2e",
        sites=2,
        note="32 GiB HBM in two stacks (AWS Neuron documentation). Assumed: Trainium1's silicon, "
        "which has the same two NeuronCore-v2, 190 TFLOPS bf16 and 32 GiB at 820 GB/s (AWS Neuron "
        "documentation): 7 nm and ~55 billion transistors (UncoverAlpha, 'Amazon Trainium', 2025), i.e. "
        "838 mm2 at the A100's 65.6 M transistors/mm2 at N7 (54.2e9 / 826 mm2, NVIDIA A100 whitepaper); "
        "HBM2e on a CoWoS-S interposer. " + _RANGE_GUESS,
    ),
    Estimate(
        "tpu-v5e",
        0.4,
        arch="tpu-v5e-arch",
        note="Google publishes no die area or node for v5e: the architecture description (docs/chips.md; "
        "an N5-class node and two HBM2e stacks assumed) derives its die (133 mm2) from its MXUs, SRAM and "
        "PHYs. " + _RANGE_GUESS,
    ),
    Estimate(
        "trainium2",
        0.4,
        arch="trainium2-arch",
        note="AWS publishes no die area or node for Trainium2: the architecture description (docs/chips.md; "
        "AWS NKI architecture guide, an N5-class node assumed, 4 HBM3 stacks) derives its die from its "
        "NeuronCores and SRAM. " + _RANGE_GUESS,
    ),
    Estimate(
        "mi325x",
        0.2,
        memory_gb=256,
        memory_kind="hbm3e",
        base_usd=2400,
        base_what=_MI300X_BASE,
        note="MI325X has MI300X's chiplets and package (AMD CDNA 3 white paper) with 256 GB HBM3e instead "
        "of 192 GB HBM3: the MI300X breakdown, its memory repriced at the technology library's HBM3e $/GB "
        "(TrendForce). Range +-20%: MI300X's +-15% and the HBM3e price.",
    ),
    Estimate(
        "b300",
        0.2,
        memory_gb=288,
        memory_kind="hbm3e",
        base_usd=3500,
        base_what=_B200_BASE,
        note="B300 (Blackwell Ultra) keeps B200's package: two reticle-sized dies at TSMC 4NP, 208 B "
        "transistors, CoWoS-L (NVIDIA GTC 2025), with 288 GB HBM3e in eight 12-high stacks instead of 192 GB "
        "in 8-high ones: Epoch AI's B200 breakdown, its HBM repriced at the technology library's HBM3e $/GB "
        "(TrendForce). " + _RANGE_SWAP + " Cross-check: the datasheet model on 2 x 800 mm2 at N4, 288 GB, "
        "CoWoS-L gives $9,311 (+7%).",
    ),
    Estimate(
        "gb300-nvl72",
        0.2,
        memory_gb=288,
        memory_kind="hbm3e",
        base_usd=3500,
        base_what=_B200_BASE,
        note="Per GPU: the B300 chip cost (the same Blackwell Ultra package with 288 GB HBM3e physical, 279 "
        "GB usable). The Grace CPU (half a GB300 superchip per GPU), the NVLink switch trays and the rack "
        "are not the chip's cost: they belong to the system per-slot capex (tco.yaml system.host_usd, "
        "system.network_usd), as for every chip. " + _RANGE_SWAP,
    ),
    Estimate(
        "mi355x",
        0.3,
        memory_gb=288,
        memory_kind="hbm3e",
        base_usd=2400,
        base_what=_MI300X_BASE,
        note="MI355X stacks eight XCDs (110 mm2 each at TSMC N3P, ISSCC 2026; MI300X: eight of 115 mm2 at "
        "N5) on two N6 I/O dies (MI300X: four) on a CoWoS-S interposer with 288 GB HBM3e in eight 12-high "
        "stacks (AMD CDNA 4 white paper, Hot Chips 2025): MI300X's breakdown less its HBM, its memory "
        "repriced at the technology library's HBM3e $/GB. Range +-30%: MI325X's +-20% for the same chiplets, "
        "+-10% more for the new XCD node and I/O dies. Cross-check: the datasheet model on 8 x 110 mm2 at N3 "
        "stacked on an assumed 2 x 740 mm2 at N6 (priced as N7) gives $9,553 (+26%), its $1.1/mm2 test on "
        "2,360 mm2 of silicon the difference.",
    ),
    Estimate(
        "tpu-v7",
        0.4,
        dies=(Die(600, "n3", 2),),
        package="cowos-l",
        memory_gb=206.2,
        memory_kind="hbm3e",
        sites=8,
        note="Two compute dies and 192 GiB HBM3e in eight stacks per chip (Google, Hot Chips 2025; "
        "Cloud TPU7x documentation). Assumed: 600 mm2 a die (the TPU v4 class, Jouppi et al., ISCA 2023; "
        "Google publishes no die area), a TSMC N3-class node (Google discloses none; its 2025 peers MI355X "
        "and Trainium3 are N3P) and a CoWoS-L interposer, as B200's two large dies and eight stacks. "
        + _RANGE_GUESS,
    ),
    Estimate(
        "trainium3",
        0.4,
        dies=(Die(600, "n3", 2),),
        package="cowos-s",
        memory_gb=154.6,
        memory_kind="hbm3e",
        sites=4,
        note="Two compute chiplets (AWS Neuron documentation, Trainium3 architecture), TSMC 3 nm (Tom's "
        "Hardware, Dec 2025), 144 GiB HBM3e in four stacks (AWS Neuron documentation). Assumed: 600 mm2 a "
        "chiplet (AWS publishes no die area; the project's assumption for an undisclosed die, as Gaudi 3 and "
        "TPU v5p) and a CoWoS-S interposer. " + _RANGE_GUESS,
    ),
)

# The datasheet model on chips an analyst has priced: its error there sizes the ranges above.
CHECKS: tuple[tuple[Estimate, float, str], ...] = (
    (
        Estimate(
            "h100-sxm",
            0.3,
            "",
            dies=(Die(814, "n4"),),
            package="cowos-s",
            memory_gb=80,
            memory_kind="hbm3",
            sites=6,
        ),
        3320,
        "Raymond James (Barron's, 2023)",
    ),
    (
        Estimate(
            "h200-sxm",
            0.3,
            "",
            dies=(Die(814, "n4"),),
            package="cowos-s",
            memory_gb=141,
            memory_kind="hbm3e",
            sites=6,
        ),
        4800,
        "Silicon Analysts Cost Bridge (2026)",
    ),
    (
        Estimate(
            "b200",
            0.3,
            "",
            dies=(Die(800, "n4", 2),),
            package="cowos-l",
            memory_gb=192,
            memory_kind="hbm3e",
            sites=8,
        ),
        6400,
        "Epoch AI via Silicon Analysts (2 x ~800 mm2 dies)",
    ),
)


def estimate(chip: str) -> Estimate:
    for e in ESTIMATES:
        if e.chip == chip:
            return e
    raise KeyError(chip)
