"""Architecture YAML in, frozen ``ArchSpec`` out, validated as strictly as the chip presets.

The same rules as ``jalapeno.hardware.loader`` (whose parser this one extends): every number is a
figure ``{value, source, secondary, note}``; unknown keys, missing keys, figures without a source,
non-positive or non-finite values, fractions outside (0, 1] and counts that are not whole all raise
``JalapenoError`` naming the dotted field, the file and the line. No other exception escapes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from jalapeno.errors import JalapenoError
from jalapeno.hardware.arch.spec import (
    DATAFLOWS,
    DRAM_KINDS,
    ENGINE_KINDS,
    FUSION,
    LINK_TOPOLOGIES,
    NOC_TOPOLOGIES,
    PACKAGES,
    SRAM_STYLES,
    ArchSpec,
    Cores,
    Dram,
    Links,
    MatrixEngine,
    Noc,
    Power,
    Runtime,
    Sram,
    VectorUnit,
)
from jalapeno.hardware.arch.tech import nodes
from jalapeno.hardware.kinds import KINDS, is_static
from jalapeno.hardware.loader import FLOP_DTYPES, _ChipParser, _join, _r, _read, parse_yaml
from jalapeno.hardware.spec import Figure, TextFigure

TOP_REQUIRED = (
    "name",
    "vendor",
    "kind",
    "description",
    "launch_year",
    "node",
    "voltage_v",
    "clock_hz",
    "cores",
    "noc",
    "runtime",
    "package",
)
TOP_OPTIONAL = ("shared_sram", "memory", "links", "power", "compare_to", "public", "technology")
CORE_REQUIRED = ("count", "matrix", "vector", "sram")
CORE_OPTIONAL = ("physical", "register_file_bytes")
MATRIX_REQUIRED = ("kind", "engines", "rows", "cols", "rates", "dataflows", "accumulator_bytes")
MATRIX_OPTIONAL = ("depth", "clock_hz", "load_rows_per_cycle")
VECTOR_REQUIRED = ("lanes", "rates")
VECTOR_OPTIONAL = ("sfu_ops_per_cycle", "clock_hz")
SRAM_REQUIRED = ("capacity_bytes", "bandwidth_bytes_per_cycle")
SRAM_OPTIONAL = ("style", "bank_bytes")
DRAM_REQUIRED = (
    "kind",
    "devices",
    "capacity_bytes_per_device",
    "bus_bits_per_device",
    "pin_rate_bps",
    "latency_s",
    "efficiency",
)
DRAM_OPTIONAL = ("sites", "gemm_efficiency", "kv_read_efficiency")
NOC_REQUIRED = ("topology", "bandwidth_bytes_per_s")
NOC_OPTIONAL = ("multicast",)
LINK_REQUIRED = ("topology", "count", "lanes", "lane_rate_bps", "hop_latency_s", "domain_size")
LINK_OPTIONAL = ("dims",)
RUNTIME_REQUIRED = ("kernel_overhead_s", "launch_s", "fusion")
RUNTIME_STATIC = ("token_bucket_gap", "kv_bucket_tokens", "dma_setup_s", "barrier_s")
RUNTIME_OPTIONAL = ("eager_launch_s", "kernels_per_op", "matrix_issue_efficiency", *RUNTIME_STATIC)
POWER_OPTIONAL = ("limit_w", "idle_w", "active_static_w", "pj_per_flop", "pj_per_byte_main", "dvfs_beta")
# Figures that count things (whole numbers) and figures that are fractions in (0, 1].
WHOLE = frozenset(
    {
        "count",
        "physical",
        "engines",
        "rows",
        "cols",
        "depth",
        "lanes",
        "devices",
        "sites",
        "bus_bits_per_device",
        "domain_size",
        "launch_year",
        "multicast",
        "token_bucket_gap",
        "kv_bucket_tokens",
    }
)
FRACTIONS = frozenset({"efficiency", "gemm_efficiency", "kv_read_efficiency", "matrix_issue_efficiency"})
# Physical bounds a figure's value (and its range) must lie in: beyond them a file has a unit error, and the
# power model (energy ~ V^2) would overflow instead of refusing. CMOS logic runs from near-threshold
# (~0.3 V) to overdrive (~1.2 V); 0.1-3 V leaves room on both sides.
BOUNDS = {"voltage_v": (0.1, 3.0)}


def load_arch(path_or_text: str | Path) -> ArchSpec:
    """Load an architecture from a YAML file path or YAML text."""
    text, origin = _read(path_or_text)
    return arch_from_dict(parse_yaml(text, origin), origin=origin)


def arch_from_dict(data: Any, *, origin: str = "<dict>") -> ArchSpec:
    return _ArchParser(origin).arch(data)


def is_arch_data(data: Any) -> bool:
    """True for parsed YAML shaped like an architecture file (it has ``cores``, not ``matrix_flops``)."""
    return isinstance(data, Mapping) and "cores" in data and "matrix_flops" not in data


class _ArchParser(_ChipParser):
    def num(self, data: Mapping[Any, Any], key: str, field: str) -> Figure:
        f = self.figure(data, key, field)
        path = _join(field, key)
        if key in WHOLE and not float(f.value).is_integer():
            raise self.fail(f"{path}.value", f"must be a whole number, got {f.value:g}", data[key], "value")
        if key in FRACTIONS and f.value > 1:
            raise self.fail(
                f"{path}.value", f"must be a fraction in (0, 1], got {f.value:g}", data[key], "value"
            )
        lo, hi = BOUNDS.get(key, (-math.inf, math.inf))
        for what, vals in (("value", (f.value,)), ("range", f.range or ())):
            if any(not lo <= v <= hi for v in vals):
                raise self.fail(
                    f"{path}.{what}",
                    f"must lie in [{lo:g}, {hi:g}], got {f.value if what == 'value' else list(vals)}",
                    data[key],
                    what,
                )
        if key in FRACTIONS and f.range is not None and f.range[1] > 1:
            raise self.fail(
                f"{path}.range",
                f"a fraction's range must stay in (0, 1], got {list(f.range)}",
                data[key],
                "range",
            )
        return f

    def opt(self, data: Mapping[Any, Any], key: str, field: str) -> Figure | None:
        return self.num(data, key, field) if data.get(key) is not None else None

    def section(
        self, data: Mapping[Any, Any], key: str, req: tuple[str, ...], opt: tuple[str, ...], field: str = ""
    ) -> Mapping[Any, Any]:
        path = _join(field, key)
        m = self.mapping(data[key], path, data, key)
        self.keys(m, path, req, opt)
        return m

    def arch(self, data: Any) -> ArchSpec:
        data = self.mapping(data, "")
        if isinstance(data.get("name"), str) and data["name"].strip():
            self.chip_name = data["name"].strip()
        self.keys(data, "", TOP_REQUIRED, TOP_OPTIONAL)
        out: dict[str, Any] = {k: self.text(data, k, "") for k in ("name", "vendor", "description")}
        out["kind"] = self.text(data, "kind", "", KINDS.names())
        out["package"] = self.text(data, "package", "", PACKAGES)
        out["node"] = self.node(data)
        for k in ("launch_year", "voltage_v", "clock_hz"):
            out[k] = self.num(data, k, "")
        out["cores"] = self.cores(data)
        out["noc"] = self.noc(data)
        out["runtime"] = self.runtime(data, out["kind"])
        if data.get("shared_sram") is not None:
            out["shared_sram"] = self.sram(data, "shared_sram", "")
        if data.get("memory") is not None:
            out["memory"] = self.dram(data)
        if data.get("links") is not None:
            out["links"] = self.links(data)
        if data.get("power") is not None:
            out["power"] = self.power(data)
        if data.get("compare_to") is not None:
            out["compare_to"] = self.text(data, "compare_to", "")
        for k in ("public", "technology"):
            out[k] = self.figures(data, k)
        return ArchSpec(source_file=self.origin, **out)

    def node(self, data: Mapping[Any, Any]) -> TextFigure:
        n = self.text_figure(data, "node", "")
        if n.value not in nodes():
            raise self.fail(
                "node.value",
                f"unknown process node {_r(n.value)}",
                data["node"],
                "value",
                f"valid: {', '.join(nodes())}",
            )
        return n

    def cores(self, data: Mapping[Any, Any]) -> Cores:
        m = self.section(data, "cores", CORE_REQUIRED, CORE_OPTIONAL)
        count = self.num(m, "count", "cores")
        physical = self.opt(m, "physical", "cores") or count
        if physical.value < count.value:
            raise self.fail(
                "cores.physical.value",
                f"{physical.value:g} physical cores < {count.value:g} enabled",
                m,
                "physical",
            )
        return Cores(
            count=count,
            physical=physical,
            matrix=self.matrix(m),
            vector=self.vector(m),
            sram=self.sram(m, "sram", "cores"),
            register_file_bytes=self.opt(m, "register_file_bytes", "cores"),
        )

    def matrix(self, core: Mapping[Any, Any]) -> MatrixEngine:
        f = "cores.matrix"
        m = self.section(core, "matrix", MATRIX_REQUIRED, MATRIX_OPTIONAL, "cores")
        kind = self.text(m, "kind", f, ENGINE_KINDS)
        depth = self.opt(m, "depth", f) or Figure(1.0, "systolic array: one MAC per PE")
        if kind == "systolic" and depth.value != 1:
            raise self.fail(
                f"{f}.depth.value", "a systolic array has depth 1 (use kind: dot_product)", m, "depth"
            )
        return MatrixEngine(
            kind=kind,
            engines=self.num(m, "engines", f),
            rows=self.num(m, "rows", f),
            cols=self.num(m, "cols", f),
            depth=depth,
            rates=self.by_dtype(m, f),
            dataflows=self.choices(m, "dataflows", f, DATAFLOWS),
            accumulator_bytes=self.num(m, "accumulator_bytes", f),
            clock_hz=self.opt(m, "clock_hz", f),
            load_rows_per_cycle=self.opt(m, "load_rows_per_cycle", f),
        )

    def vector(self, core: Mapping[Any, Any]) -> VectorUnit:
        f = "cores.vector"
        m = self.section(core, "vector", VECTOR_REQUIRED, VECTOR_OPTIONAL, "cores")
        return VectorUnit(
            lanes=self.num(m, "lanes", f),
            rates=self.by_dtype(m, f),
            sfu_ops_per_cycle=self.opt(m, "sfu_ops_per_cycle", f),
            clock_hz=self.opt(m, "clock_hz", f),
        )

    def by_dtype(self, m: Mapping[Any, Any], field: str, key: str = "rates") -> Mapping[str, Figure]:
        path = _join(field, key)
        r = self.mapping(m[key], path, m, key)
        if not r:
            raise self.fail(path, "needs at least one dtype", m, key, f"valid: {', '.join(FLOP_DTYPES)}")
        self.keys(r, path, (), FLOP_DTYPES)
        return MappingProxyType({d: self.num(r, d, path) for d in FLOP_DTYPES if d in r})

    def choices(self, m: Mapping[Any, Any], key: str, field: str, valid: tuple[str, ...]) -> tuple[str, ...]:
        v, path = m[key], _join(field, key)
        if not isinstance(v, list) or not v or not all(isinstance(x, str) for x in v):
            raise self.fail(
                path, f"must be a non-empty list of names, got {_r(v)}", m, key, f"valid: {', '.join(valid)}"
            )
        bad = [x for x in v if x not in valid]
        if bad or len(set(v)) != len(v):
            what = f"{_r(bad[0])} is not valid" if bad else "duplicate entry"
            raise self.fail(path, what, m, key, f"valid: {', '.join(valid)}")
        return tuple(v)

    def sram(self, data: Mapping[Any, Any], key: str, field: str) -> Sram:
        path = _join(field, key)
        m = self.section(data, key, SRAM_REQUIRED, SRAM_OPTIONAL, field)
        style = self.text(m, "style", path, SRAM_STYLES) if m.get("style") is not None else "hd"
        return Sram(
            self.num(m, "capacity_bytes", path),
            self.num(m, "bandwidth_bytes_per_cycle", path),
            style,
            self.opt(m, "bank_bytes", path),
        )

    def dram(self, data: Mapping[Any, Any]) -> Dram:
        f = "memory"
        m = self.section(data, f, DRAM_REQUIRED, DRAM_OPTIONAL)
        devices = self.num(m, "devices", f)
        sites = self.opt(m, "sites", f) or devices
        if sites.value < devices.value:
            raise self.fail(
                "memory.sites.value", f"{sites.value:g} PHY sites < {devices.value:g} devices", m, "sites"
            )
        figs = {k: self.num(m, k, f) for k in DRAM_REQUIRED if k not in ("kind", "devices")}
        return Dram(
            kind=self.text(m, "kind", f, DRAM_KINDS),
            devices=devices,
            sites=sites,
            **figs,
            gemm_efficiency=self.opt(m, "gemm_efficiency", f),
            kv_read_efficiency=self.opt(m, "kv_read_efficiency", f),
        )

    def noc(self, data: Mapping[Any, Any]) -> Noc:
        m = self.section(data, "noc", NOC_REQUIRED, NOC_OPTIONAL)
        return Noc(
            self.text(m, "topology", "noc", NOC_TOPOLOGIES),
            self.num(m, "bandwidth_bytes_per_s", "noc"),
            self.opt(m, "multicast", "noc"),
        )

    def links(self, data: Mapping[Any, Any]) -> Links:
        f = "links"
        m = self.section(data, f, LINK_REQUIRED, LINK_OPTIONAL)
        topo = self.text(m, "topology", f, LINK_TOPOLOGIES)
        figs = {k: self.num(m, k, f) for k in LINK_REQUIRED if k != "topology"}
        dims = self.dims(m, topo, int(figs["domain_size"].value))
        return Links(topology=topo, dims=dims, **figs)

    def dims(self, m: Mapping[Any, Any], topo: str, domain: int) -> tuple[int, ...]:
        want = {"torus2d": 2, "torus3d": 3}.get(topo, 0)
        v = m.get("dims")
        if not want:
            if v is not None:
                raise self.fail("links.dims", f"only torus topologies take dims, not {topo}", m, "dims")
            return ()
        if (
            not isinstance(v, list)
            or len(v) != want
            or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 2 for x in v)
        ):
            raise self.fail(
                "links.dims", f"{topo} needs a list of {want} whole numbers >= 2, got {_r(v)}", m, "dims"
            )
        prod = 1
        for x in v:
            prod *= x
        if prod != domain:
            raise self.fail("links.dims", f"product {prod} != domain_size {domain}", m, "dims")
        return tuple(v)

    def runtime(self, data: Mapping[Any, Any], arch_kind: str = "") -> Runtime:
        f = "runtime"
        m = self.section(data, f, RUNTIME_REQUIRED, RUNTIME_OPTIONAL)
        fusion = self.text_figure(m, "fusion", f)
        if fusion.value not in FUSION:
            raise self.fail(
                "runtime.fusion.value",
                f"{_r(fusion.value)} is not valid",
                m["fusion"],
                "value",
                f"valid: {', '.join(FUSION)}",
            )
        if arch_kind in KINDS and not is_static(arch_kind) and m.get("matrix_issue_efficiency") is None:
            raise self.fail(
                "runtime.matrix_issue_efficiency",
                "missing required key",
                data,
                f,
                f"a dynamically issued kind's ({arch_kind}) issue efficiency is measured; only "
                "statically scheduled kinds derive it",
            )
        # keyword by keyword (mypy checks each type), in the order the figures were read before:
        # RUNTIME_STATIC, then RUNTIME_REQUIRED
        return Runtime(
            fusion=fusion,
            eager_launch_s=self.opt(m, "eager_launch_s", f),
            kernels_per_op=self.counts(m, "kernels_per_op", f),
            matrix_issue_efficiency=self.opt(m, "matrix_issue_efficiency", f),
            token_bucket_gap=self.opt(m, "token_bucket_gap", f),
            kv_bucket_tokens=self.opt(m, "kv_bucket_tokens", f),
            dma_setup_s=self.opt(m, "dma_setup_s", f),
            barrier_s=self.opt(m, "barrier_s", f),
            kernel_overhead_s=self.num(m, "kernel_overhead_s", f),
            launch_s=self.num(m, "launch_s", f),
        )

    def counts(self, data: Mapping[Any, Any], key: str, field: str) -> Mapping[str, Figure]:
        """A mapping of names to whole-number figures (``runtime.kernels_per_op``)."""
        out = self.figures(data, key, field)
        for k, f in out.items():
            if not float(f.value).is_integer():
                raise self.fail(
                    f"{field}.{key}.{k}.value",
                    f"must be a whole number, got {f.value:g}",
                    data[key][k],
                    "value",
                )
        return out

    def power(self, data: Mapping[Any, Any]) -> Power:
        f = "power"
        m = self.section(data, f, (), POWER_OPTIONAL)
        figs = {k: self.opt(m, k, f) for k in POWER_OPTIONAL if k != "pj_per_flop"}
        flop = (
            self.by_dtype(m, f, "pj_per_flop") if m.get("pj_per_flop") is not None else MappingProxyType({})
        )
        return Power(pj_per_flop=flop, **figs)

    def figures(self, data: Mapping[Any, Any], key: str, field: str = "") -> Mapping[str, Figure]:
        if data.get(key) is None:
            return MappingProxyType({})
        path = _join(field, key)
        m = self.mapping(data[key], path, data, key)
        for k in m:
            if not isinstance(k, str) or not k.strip() or not k.isprintable():
                raise self.fail(f"{path}.{_r(k)}", "keys must be non-empty printable strings", m, k)
        return MappingProxyType({k: self.num(m, k, path) for k in m})


def check_names(arch: ArchSpec, valid_tech: tuple[str, ...]) -> None:
    """Cross-file checks the parser cannot do alone (technology keys exist)."""
    for k in arch.technology:
        if k not in valid_tech:
            raise JalapenoError(
                f"unknown technology constant {k!r} in {arch.source_file}; valid: {', '.join(valid_tech)}",
                field=f"technology.{k}",
            )
