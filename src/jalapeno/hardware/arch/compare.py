"""Known chips as architectures against their public figures: the table in docs/chips.md.

For each architecture preset naming ``compare_to`` (a datasheet preset), the derived peak FLOP/s,
memory bandwidth and capacity, die area, TDP and manufacturing cost are set against the public
figure (the preset's, or the architecture's ``public`` section). A public figure whose source is our
own estimate (``source`` starting with "estimate") is not public: the row says so and has no error.
A TDP held at the architecture's power limit (``power.limit_w``) is an input, and its row says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from jalapeno.hardware.arch import derived_preset, list_arch_presets, sheet
from jalapeno.hardware.arch.spec import ArchSpec
from jalapeno.hardware.datasheet import load_preset
from jalapeno.hardware.spec import ChipSpec, Figure

METRICS = (
    ("peak bf16", "FLOP/s"),
    ("peak int8/fp8", "OP/s"),
    ("memory bandwidth", "B/s"),
    ("memory capacity", "B"),
    ("die area", "mm2"),
    ("TDP", "W"),
    ("manufacturing cost", "USD"),
)
TOLERANCE = 0.15


@dataclass(frozen=True)
class Row:
    chip: str
    metric: str
    unit: str
    ours: float
    public: float | None
    source: str

    @property
    def error(self) -> float | None:
        return None if self.public is None else self.ours / self.public - 1.0


def _public(f: Figure | None) -> tuple[float | None, str]:
    if f is None:
        return None, "not public"
    if f.source.lower().startswith("estimate"):
        return None, "not public (the preset holds a placeholder estimate)"
    return f.value, f.source + (" [secondary]" if f.secondary else "")


def rows_for(arch: ArchSpec) -> list[Row]:
    chip = derived_preset(arch.name)
    ref: ChipSpec = load_preset(arch.compare_to)
    s = sheet(arch)
    low = next((d for d in ("fp8", "int8") if d in chip.matrix_flops and d in ref.matrix_flops), None)
    pairs: list[tuple[str, float, Figure | None]] = [
        ("peak bf16", chip.peak_flops("bf16") or 0.0, ref.matrix_flops.get("bf16")),
        (
            "peak int8/fp8",
            chip.peak_flops(low) or 0.0 if low else 0.0,
            ref.matrix_flops.get(low) if low else None,
        ),
        ("memory bandwidth", chip.memory_bandwidth_bytes_per_s, ref.main_memory.bandwidth_bytes_per_s),
        ("memory capacity", chip.memory_bytes, ref.main_memory.capacity_bytes),
        ("die area", s.area["total"].value, arch.public.get("die_area_mm2") or ref.die_area_mm2),
        ("TDP", s.power["total"].value, arch.public.get("tdp_w") or ref.tdp_w),
        ("manufacturing cost", s.cost["total"].value, arch.public.get("cost_usd")),
    ]
    units = dict(METRICS)
    out = []
    for metric, ours, fig in pairs:
        if metric == "peak int8/fp8" and not low:
            continue
        pub, src = _public(fig)
        label = f"peak {low}" if metric == "peak int8/fp8" else metric
        limit = arch.power.limit_w
        if metric == "TDP" and limit is not None and abs(ours - limit.value) <= 1e-6 * limit.value:
            label = "TDP (its power limit: an input)"  # peak activity exceeds it; DVFS holds the chip there
        out.append(Row(arch.name, label, units[metric], ours, pub, src))
    return out


def known_chip_rows() -> list[Row]:
    from jalapeno.hardware.arch import resolve_arch

    return [r for n in list_arch_presets() if resolve_arch(n).compare_to for r in rows_for(resolve_arch(n))]


def _fmt(x: float | None, unit: str) -> str:
    if x is None:
        return "n/a"
    if unit in ("FLOP/s", "OP/s"):
        return f"{x / 1e12:,.0f} T{unit}"
    if unit == "B/s":
        return f"{x / 1e12:.2f} TB/s" if x >= 1e12 else f"{x / 1e9:,.0f} GB/s"
    if unit == "B":
        return f"{x / 1e9:,.1f} GB" if x >= 1e9 else f"{x / 1e6:,.0f} MB"
    if unit == "USD":
        return f"${x:,.0f}"
    return f"{x:,.0f} {unit}"


def markdown(rows: list[Row]) -> str:
    lines = ["| chip | metric | ours | public | error | public source |", "|---|---|---:|---:|---:|---|"]
    for r in rows:
        err = "" if r.error is None else f"{100 * r.error:+.1f}%"
        lines.append(
            f"| {r.chip} | {r.metric} | {_fmt(r.ours, r.unit)} | {_fmt(r.public, r.unit)} | {err} | "
            f"{r.source.replace('|', '/')[:140]} |"
        )
    return "\n".join(lines) + "\n"
