"""Chip YAML in, frozen ``ChipSpec`` out: strict validation at the boundary.

Every number in a chip file is a *figure*, a mapping ``{value, source, secondary, note}``; labels
(``process_node``) are figures with a text value. Anything wrong (unknown key, missing key, a figure
without a source, a non-positive size or rate, a value that is not a number, bad YAML) raises
``JalapenoError`` whose ``field`` is the dotted path of the offending key and whose message says
where (chip, file, line) and what would be valid. No other exception escapes ``load_chip``.

``chip_to_dict`` is the inverse: ``chip_from_dict(chip_to_dict(c)) == c``.
"""

from __future__ import annotations

import difflib
import math
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import yaml

from jalapeno.errors import JalapenoError
from jalapeno.hardware.kinds import KINDS
from jalapeno.hardware.spec import TOP_FIGURES, ChipSpec, Figure, Flag, Interconnect, MemoryLevel, TextFigure

# Compute dtypes a chip may quote a rate for (the ``compute`` names of jalapeno.dtypes, plus fp64,
# fp16 for chips whose 16-bit vector rate differs from bf16, and fp6).
FLOP_DTYPES = ("fp64", "fp32", "tf32", "bf16", "fp16", "fp8", "fp6", "int8", "fp4", "int4")
# "hbm": a stacked DRAM whose generation the vendor has not disclosed.
MEMORY_KINDS = (
    "hbm",
    "hbm2",
    "hbm2e",
    "hbm3",
    "hbm3e",
    "hbm4",
    "lpddr5",
    "lpddr5x",
    "gddr6",
    "gddr6x",
    "gddr7",
    "ddr4",
    "ddr5",
    "sram",
    "edram",
)
TOPOLOGIES = ("switch", "ring", "torus2d", "torus3d", "mesh", "dragonfly")

FIGURE_KEYS = ("value", "source", "secondary", "note", "range")
CHIP_REQUIRED = (
    "name",
    "vendor",
    "kind",
    "description",
    "launch_year",
    "process_node",
    "matrix_flops",
    "vector_flops",
    "memory",
    "tdp_w",
)
CHIP_OPTIONAL = (
    "idle_w",
    "interconnect",
    "die_area_mm2",
    "transistors",
    "clock_hz",
    "cores",
    "price_usd",
    "extra",
)
MEMORY_REQUIRED = ("name", "kind", "capacity_bytes", "bandwidth_bytes_per_s")
MEMORY_OPTIONAL = ("latency_s", "energy_pj_per_bit", "off_chip")
LINK_REQUIRED = ("name", "links", "bandwidth_bytes_per_s", "latency_s", "domain_size", "topology")
LINK_OPTIONAL = ("energy_pj_per_bit", "in_network_reduction")
# Figures that count things: their value must be a whole number.
INTEGRAL = ("launch_year", "cores", "transistors", "links", "domain_size")
_SIMPLE_FIGURES = tuple(k for k in TOP_FIGURES if k != "process_node")  # process_node is a TextFigure


class _Lines(dict[Any, Any]):
    """A YAML mapping that remembers the line of each key (for error messages)."""

    lines: dict[Any, int]


if TYPE_CHECKING:
    _SafeLoader = yaml.SafeLoader
else:  # the C loader exists only where PyYAML was built against libyaml
    _SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):
    """Safe loader that rejects duplicate keys and records key lines."""


def _construct_mapping(loader: Any, node: yaml.MappingNode) -> _Lines:
    seen: set[str] = set()
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
            if key_node.value in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key_node.value!r}", key_node.start_mark
                )
            seen.add(key_node.value)
    out = _Lines(loader.construct_mapping(node, deep=True))
    out.lines = {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


# ---------------------------------------------------------------- entry points


def load_chip(path_or_text: str | Path) -> ChipSpec:
    """Load a chip from a YAML file path (``Path`` or a string naming a file) or from YAML text."""
    text, origin = _read(path_or_text)
    return chip_from_dict(parse_yaml(text, origin), origin=origin)


def parse_yaml(text: str, origin: str = "<text>") -> Any:
    """YAML text to Python data; syntax errors become a ``JalapenoError`` naming file and line."""
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{origin}:{mark.line + 1}:{mark.column + 1}" if mark else origin
        raise JalapenoError(f"invalid YAML in {where}: {_oneline(e.problem or e.context)}") from None
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as e:
        raise JalapenoError(f"invalid YAML in {origin}: {_oneline(e)}") from None


def chip_from_dict(data: Any, *, origin: str = "<dict>") -> ChipSpec:
    """Validate parsed data (a mapping shaped like a chip YAML file) into a ``ChipSpec``."""
    return _ChipParser(origin).chip(data)


def chip_to_dict(chip: ChipSpec) -> dict[str, Any]:
    """The YAML-shaped dict of a chip (inverse of ``chip_from_dict``)."""
    out: dict[str, Any] = {k: getattr(chip, k) for k in ("name", "vendor", "kind", "description")}
    for k in TOP_FIGURES:
        if getattr(chip, k) is not None:
            out[k] = _figure_dict(getattr(chip, k))
    out["matrix_flops"] = {d: _figure_dict(f) for d, f in chip.matrix_flops.items()}
    out["vector_flops"] = {d: _figure_dict(f) for d, f in chip.vector_flops.items()}
    out["memory"] = [_level_dict(m) for m in chip.memory]
    if chip.interconnect is not None:
        out["interconnect"] = _link_dict(chip.interconnect)
    if chip.extra:
        out["extra"] = {k: _figure_dict(f) for k, f in chip.extra.items()}
    return out


def _float_or_self(x: Any) -> Any:
    """A numeric string as its float; anything else unchanged (the range check then refuses it)."""
    if isinstance(x, str):
        try:
            return float(x)
        except ValueError:
            return x
    return x


def _figure_dict(f: Figure | TextFigure) -> dict[str, Any]:
    d: dict[str, Any] = {"value": f.value, "source": f.source, "secondary": f.secondary}
    if f.note:
        d["note"] = f.note
    if isinstance(f, Figure) and f.range is not None:
        d["range"] = list(f.range)
    return d


def _level_dict(m: MemoryLevel) -> dict[str, Any]:
    d: dict[str, Any] = {"name": m.name, "kind": m.kind, "off_chip": m.off_chip}
    for k in ("capacity_bytes", "bandwidth_bytes_per_s", "latency_s", "energy_pj_per_bit"):
        if getattr(m, k) is not None:
            d[k] = _figure_dict(getattr(m, k))
    return d


def _link_dict(ic: Interconnect) -> dict[str, Any]:
    d: dict[str, Any] = {"name": ic.name, "topology": ic.topology}
    for k in ("links", "bandwidth_bytes_per_s", "latency_s", "domain_size", "energy_pj_per_bit"):
        if getattr(ic, k) is not None:
            d[k] = _figure_dict(getattr(ic, k))
    f = ic.in_network_reduction
    if f is not None:
        d["in_network_reduction"] = {"value": f.value, "source": f.source, "secondary": f.secondary}
        if f.note:
            d["in_network_reduction"]["note"] = f.note
    return d


def _read(path_or_text: str | Path) -> tuple[str, str]:
    """(text, origin). A str with no newline that names an existing file, or ends in .yaml/.yml, is a path."""
    if isinstance(path_or_text, Path):
        return _read_file(path_or_text), str(path_or_text)
    if not isinstance(path_or_text, str):
        raise JalapenoError(f"expected a YAML path or text, got {type(path_or_text).__name__}")
    s = path_or_text
    if "\n" not in s and (s.strip().lower().endswith((".yaml", ".yml")) or _is_file(s)):
        return _read_file(Path(s.strip())), s.strip()
    return s, "<text>"


def _is_file(s: str) -> bool:
    try:
        return Path(s.strip()).is_file()
    except (OSError, ValueError):
        return False


def _read_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise JalapenoError(f"chip file not found: {path}") from None
    except UnicodeDecodeError:
        raise JalapenoError(f"chip file is not UTF-8 text: {path}") from None
    except OSError as e:
        raise JalapenoError(f"cannot read chip file {path}: {e.strerror or e}") from None


# ---------------------------------------------------------------- validation


@dataclass
class _ChipParser:
    """Walks one chip's data; every failure names the dotted field, the chip, the file and the line."""

    origin: str
    chip_name: str = ""

    def fail(self, field: str, what: str, node: Any = None, key: Any = None, hint: str = "") -> JalapenoError:
        chip = f" in chip {_r(self.chip_name)}" if self.chip_name else ""
        line = node.lines.get(key) if isinstance(node, _Lines) and key is not None else None
        loc = f"{self.origin}:{line}" if line else self.origin
        return JalapenoError(f"{what}{chip} ({loc}){'; ' + hint if hint else ''}", field=field)

    # -- structure

    def mapping(self, data: Any, field: str, parent: Any = None, key: Any = None) -> Mapping[Any, Any]:
        if not isinstance(data, Mapping):
            got = type(data).__name__ if data is not None else "nothing"
            raise self.fail(field or "chip", f"must be a mapping, got {got}", parent, key)
        return data

    def keys(
        self, data: Mapping[Any, Any], field: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> None:
        valid = required + optional
        for k in data:
            if not isinstance(k, str) or k not in valid:
                raise self.fail(_join(field, _key(k)), "unknown key", data, k, _suggest(_key(k), valid))
        for k in required:
            if k not in data:
                raise self.fail(
                    _join(field, k), "missing required key", hint=f"required: {', '.join(required)}"
                )

    def text(self, data: Mapping[Any, Any], key: str, field: str, choices: tuple[str, ...] = ()) -> str:
        v = data[key]
        path = _join(field, key)
        if not isinstance(v, str) or not v.strip():
            raise self.fail(path, f"must be a non-empty string, got {_r(v)}", data, key)
        if choices and v not in choices:
            raise self.fail(path, f"{_r(v)} is not valid", data, key, _suggest(v, choices))
        return v.strip()

    # -- figures

    def figure(self, data: Mapping[Any, Any], key: str, field: str) -> Figure:
        path = _join(field, key)
        fig = self._figure_map(data, key, path)
        value = self.number(fig, path)
        if key in INTEGRAL and not float(value).is_integer():
            raise self.fail(f"{path}.value", f"must be a whole number, got {value}", fig, "value")
        if key == "launch_year" and not 1950 <= value <= 2100:
            raise self.fail(
                f"{path}.value", f"must be a year between 1950 and 2100, got {value:g}", fig, "value"
            )
        return Figure(value, *self._provenance(fig, path), range=self._range(fig, path, value))

    def _range(self, fig: Mapping[Any, Any], path: str, value: float) -> tuple[float, float] | None:
        """``range: [lo, hi]`` of an estimated figure: numbers with lo <= value <= hi."""
        r = fig.get("range")
        if r is None:
            return None
        if isinstance(r, list):  # YAML 1.1 reads 2e-06 (no dot) as a string, as ``number`` accepts for values
            r = [_float_or_self(x) for x in r]
        ok = (
            isinstance(r, list)
            and len(r) == 2
            and all(isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) for x in r)
        )
        if not ok or not r[0] <= value <= r[1]:
            raise self.fail(
                f"{path}.range",
                f"must be [lo, hi] with lo <= value ({value:g}) <= hi, got {_r(r)}",
                fig,
                "range",
            )
        return float(r[0]), float(r[1])

    def text_figure(self, data: Mapping[Any, Any], key: str, field: str) -> TextFigure:
        path = _join(field, key)
        fig = self._figure_map(data, key, path)
        v = fig["value"]
        if not isinstance(v, str | int | float) or isinstance(v, bool) or not str(v).strip():
            raise self.fail(f"{path}.value", f"must be a non-empty label, got {_r(v)}", fig, "value")
        if "range" in fig:
            raise self.fail(f"{path}.range", "a label has no range", fig, "range")
        return TextFigure(str(v).strip(), *self._provenance(fig, path))

    def _figure_map(self, data: Mapping[Any, Any], key: str, path: str) -> Mapping[Any, Any]:
        fig = data[key]
        if not isinstance(fig, Mapping):
            raise self.fail(
                path,
                f"must be a figure mapping {{value, source, secondary, note}}, got {_r(fig)}",
                data,
                key,
                "every figure needs a value and the source it came from",
            )
        for k in fig:
            if k not in FIGURE_KEYS:
                raise self.fail(_join(path, _key(k)), "unknown key", fig, k, _suggest(_key(k), FIGURE_KEYS))
        for k in ("value", "source"):
            if k not in fig:
                hint = "every figure must cite its source (URL or document)" if k == "source" else ""
                raise self.fail(f"{path}.{k}", "missing required key", data, key, hint)
        return fig

    def _provenance(self, fig: Mapping[Any, Any], path: str) -> tuple[str, bool, str]:
        src = fig["source"]
        if not isinstance(src, str) or not src.strip():
            raise self.fail(
                f"{path}.source",
                f"must be a non-empty string (URL or document), got {_r(src)}",
                fig,
                "source",
            )
        secondary = fig.get("secondary", False)
        if not isinstance(secondary, bool):
            raise self.fail(
                f"{path}.secondary", f"must be true or false, got {_r(secondary)}", fig, "secondary"
            )
        note = fig.get("note", "")
        if note is None:
            note = ""
        if not isinstance(note, str):
            raise self.fail(f"{path}.note", f"must be a string, got {_r(note)}", fig, "note")
        return src.strip(), secondary, note.strip()

    def number(self, fig: Mapping[Any, Any], path: str) -> float:
        v = fig["value"]
        if isinstance(v, bool) or not isinstance(v, int | float | str):
            raise self.fail(f"{path}.value", f"must be a number, got {_r(v)}", fig, "value")
        try:
            x = float(v)
        except (ValueError, OverflowError):
            raise self.fail(f"{path}.value", f"must be a number, got {_r(v)}", fig, "value") from None
        if not math.isfinite(x):
            raise self.fail(f"{path}.value", f"must be finite, got {_r(v)}", fig, "value")
        if x <= 0:
            raise self.fail(f"{path}.value", f"must be > 0, got {x:g}", fig, "value")
        return x

    # -- sections

    def chip(self, data: Any) -> ChipSpec:
        data = self.mapping(data, "")
        name = data.get("name")
        if isinstance(name, str) and name.strip():
            self.chip_name = name.strip()
        self.keys(data, "", CHIP_REQUIRED, CHIP_OPTIONAL)
        fields: dict[str, Any] = {k: self.text(data, k, "") for k in ("name", "vendor", "description")}
        fields["kind"] = self.text(data, "kind", "", KINDS.names())
        fields["process_node"] = self.text_figure(data, "process_node", "")
        for k in _SIMPLE_FIGURES:
            if data.get(k) is not None or k in CHIP_REQUIRED:
                fields[k] = self.figure(data, k, "")
        fields["matrix_flops"] = self.rates(data, "matrix_flops", allow_empty=False)
        fields["vector_flops"] = self.rates(data, "vector_flops", allow_empty=True)
        fields["memory"] = self.memory(data)
        if data.get("interconnect") is not None:
            fields["interconnect"] = self.interconnect(data)
        fields["extra"] = self.extra(data)
        self.check_power(fields)
        return ChipSpec(source_file=self.origin, **fields)

    def rates(self, data: Mapping[Any, Any], key: str, *, allow_empty: bool) -> Mapping[str, Figure]:
        m = self.mapping(data[key] if data[key] is not None else {}, key, data, key)
        if not m and not allow_empty:
            raise self.fail(key, "needs at least one dtype", data, key, f"valid: {', '.join(FLOP_DTYPES)}")
        self.keys(m, key, (), FLOP_DTYPES)
        return MappingProxyType({d: self.figure(m, d, key) for d in FLOP_DTYPES if d in m})

    def memory(self, data: Mapping[Any, Any]) -> tuple[MemoryLevel, ...]:
        levels = data["memory"]
        if not isinstance(levels, list) or not levels:
            raise self.fail(
                "memory", "must be a non-empty list of levels (memory[0] is main memory)", data, "memory"
            )
        out = tuple(self.level(m, f"memory[{i}]") for i, m in enumerate(levels))
        names = [m.name for m in out]
        for i, n in enumerate(names):
            if n in names[:i]:
                raise self.fail(
                    f"memory[{i}].name", f"duplicate memory level name {_r(n)}", levels[i], "name"
                )
        return out

    def level(self, data: Any, field: str) -> MemoryLevel:
        m = self.mapping(data, field)
        self.keys(m, field, MEMORY_REQUIRED, MEMORY_OPTIONAL)
        kind = self.text(m, "kind", field, MEMORY_KINDS)
        off_chip = m.get("off_chip", kind not in ("sram", "edram"))
        if not isinstance(off_chip, bool):
            raise self.fail(f"{field}.off_chip", f"must be true or false, got {_r(off_chip)}", m, "off_chip")
        opt = {
            k: self.figure(m, k, field) for k in ("latency_s", "energy_pj_per_bit") if m.get(k) is not None
        }
        return MemoryLevel(
            name=self.text(m, "name", field),
            kind=kind,
            capacity_bytes=self.figure(m, "capacity_bytes", field),
            bandwidth_bytes_per_s=self.figure(m, "bandwidth_bytes_per_s", field),
            off_chip=off_chip,
            **opt,
        )

    def interconnect(self, data: Mapping[Any, Any]) -> Interconnect:
        f = "interconnect"
        m = self.mapping(data[f], f, data, f)
        self.keys(m, f, LINK_REQUIRED, LINK_OPTIONAL)
        figs = {
            k: self.figure(m, k, f) for k in ("links", "bandwidth_bytes_per_s", "latency_s", "domain_size")
        }
        if m.get("energy_pj_per_bit") is not None:
            figs["energy_pj_per_bit"] = self.figure(m, "energy_pj_per_bit", f)
        topology = self.text(m, "topology", f, TOPOLOGIES)
        has = m.get("in_network_reduction") is not None
        reduce = self.flag(m, "in_network_reduction", f) if has else None
        if reduce is not None and reduce.value and topology != "switch":
            raise self.fail(
                f"{f}.in_network_reduction.value",
                f"a {topology} has no switch to reduce in",
                m,
                "in_network_reduction",
                "set it false or use topology: switch",
            )
        return Interconnect(
            name=self.text(m, "name", f), topology=topology, in_network_reduction=reduce, **figs
        )

    def flag(self, data: Mapping[Any, Any], key: str, field: str) -> Flag:
        """A sourced yes/no: ``{value: true|false, source, secondary, note}``."""
        path = _join(field, key)
        fig = self._figure_map(data, key, path)
        v = fig["value"]
        if not isinstance(v, bool):
            raise self.fail(f"{path}.value", f"must be true or false, got {_r(v)}", fig, "value")
        if "range" in fig:
            raise self.fail(f"{path}.range", "a yes/no has no range", fig, "range")
        return Flag(v, *self._provenance(fig, path))

    def extra(self, data: Mapping[Any, Any]) -> Mapping[str, Figure]:
        if data.get("extra") is None:
            return MappingProxyType({})
        m = self.mapping(data["extra"], "extra", data, "extra")
        for k in m:
            if not isinstance(k, str) or not k.strip() or not k.isprintable():
                raise self.fail(f"extra.{_key(k)}", "extra keys must be non-empty printable strings", m, k)
        return MappingProxyType({k: self.figure(m, k, "extra") for k in m})

    def check_power(self, fields: Mapping[str, Any]) -> None:
        idle, tdp = fields.get("idle_w"), fields["tdp_w"]
        if idle is not None and idle.value > tdp.value:
            raise self.fail("idle_w.value", f"idle power {idle.value:g} W exceeds tdp_w {tdp.value:g} W")


def _oneline(x: Any) -> str:
    return " ".join(str(x).split())


def _r(value: Any) -> str:
    """A short one-line repr of a user value for error messages."""
    return reprlib.repr(value)


def _key(k: Any) -> str:
    """A mapping key as it may appear in a dotted field name (one printable line)."""
    return k if isinstance(k, str) and k.isprintable() and len(k) <= 60 else _r(k)


def _join(field: str, key: str) -> str:
    return f"{field}.{key}" if field else key


def _suggest(word: str, valid: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, valid, n=1, cutoff=0.6)
    guess = f"did you mean {close[0]!r}? " if close else ""
    return f"{guess}valid: {', '.join(valid)}"
