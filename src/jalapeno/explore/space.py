"""A design space as data: parameter ranges and choices for a processor and its deployment, plus limits.

YAML in, frozen ``DesignSpace`` out, validated as strictly as the chip files: unknown keys, missing
keys, empty or reversed ranges, duplicate choices and wrong types raise ``JalapenoError`` naming the
dotted field (``processor.cores.count.int``) and the file. ``space_to_dict`` is the inverse of
``space_from_dict``.

    name: coding-asic
    base: coding-asic-base.yaml          # an architecture file: every figure not searched, with sources
    processor:                           # a parameter per dotted path into the base architecture
      cores.count: {int: [16, 192], log: true}
      memory: {choices: {hbm3e: {memory.kind: hbm3e, ...}, lpddr5x: {...}}}   # a bundle sets several paths
    deployment:
      tp: {choices: [1, 2, 4]}
    constraints: {die_area_mm2: 858, tdp_w: 700, price_usd: 30000, chips: 16}

A parameter has exactly one of ``int: [lo, hi]``, ``float: [lo, hi]`` or ``choices``; ``log: true``
samples a range log-uniformly; ``levels`` sets how many values the grid baseline takes (default 3);
``also`` lists further paths that take the same value (square arrays: rows and cols); ``note``.
Choices are a list of scalars, or a mapping label -> {path: value or figure} (a bundle).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jalapeno.errors import JalapenoError
from jalapeno.hardware.loader import parse_yaml

TOP_REQUIRED = ("name", "base", "processor", "deployment")
TOP_OPTIONAL = ("description", "constraints", "fixed")
PARAM_KEYS = ("int", "float", "choices", "log", "levels", "also", "note")
DEPLOYMENT = (
    "tp",
    "replicas",
    "scheduler",
    "max_num_seqs",
    "max_num_batched_tokens",
    "prefill_share",
    "router",
    "topology",
    "ep",
    "tbo",
    "decode_tp",  # disagg: the decode pool's own plan (design.Deployment)
    "decode_ep",
    "decode_tbo",
)
CONSTRAINTS = ("die_area_mm2", "tdp_w", "price_usd", "cost_usd", "chips")
Scalar = int | float | str | bool


@dataclass(frozen=True)
class Param:
    """One search dimension. ``kind`` is int, float or choice; a bundle's choices are its labels."""

    name: str
    group: str  # processor | deployment
    kind: str
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    choices: tuple[Scalar, ...] = ()
    bundles: Mapping[str, Mapping[str, Any]] | None = None  # label -> {path: value}
    also: tuple[str, ...] = ()
    levels: int = 3
    note: str = ""

    def grid(self) -> list[Scalar]:
        """The values the grid baseline visits: every choice, or ``levels`` points over the range."""
        if self.kind == "choice":
            return list(self.choices)
        u = np.linspace(0.0, 1.0, self.levels) if self.levels > 1 else np.array([0.5])
        vals = [self.decode(float(x)) for x in u]
        return list(dict.fromkeys(vals))

    def sample(self, rng: np.random.Generator) -> Scalar:
        if self.kind == "choice":
            return self.choices[int(rng.integers(len(self.choices)))]
        return self.decode(float(rng.random()))

    def decode(self, u: float) -> Scalar:
        """A value from a position ``u`` in [0, 1] (log-scaled ranges map u log-uniformly)."""
        u = min(max(u, 0.0), 1.0)
        if self.kind == "choice":
            return self.choices[min(int(u * len(self.choices)), len(self.choices) - 1)]
        lo, hi = self.low, self.high
        x = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))) if self.log else lo + u * (hi - lo)
        if self.kind == "int":
            return int(min(max(round(x), lo), hi))
        return float(min(max(x, lo), hi))  # exp(log(hi)) may exceed hi by an ulp

    def encode(self, value: Scalar) -> float:
        """Position of ``value`` in [0, 1]: the surrogate's feature (choices: index / (n - 1))."""
        if self.kind == "choice":
            n = len(self.choices)
            return self.choices.index(value) / (n - 1) if n > 1 else 0.0
        lo, hi, x = self.low, self.high, float(value)
        if hi == lo:
            return 0.0
        if self.log:
            return (math.log(x) - math.log(lo)) / (math.log(hi) - math.log(lo))
        return (x - lo) / (hi - lo)

    def check(self, value: Any) -> Scalar:
        """``value`` if it lies in this dimension, else a ``JalapenoError`` naming the parameter."""
        if self.kind == "choice":
            if value not in self.choices:
                raise JalapenoError(f"{value!r} is not one of {list(self.choices)}", field=self.name)
            return value
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or not self.low <= value <= self.high or (self.kind == "int" and value != int(value)):
            raise JalapenoError(
                f"{value!r} is outside {self.kind} [{self.low:g}, {self.high:g}]", field=self.name
            )
        return int(value) if self.kind == "int" else float(value)


@dataclass(frozen=True)
class DesignSpace:
    name: str
    base: str  # path of the base architecture file (resolved against the space file's folder)
    params: tuple[Param, ...]
    constraints: Mapping[str, float] = field(default_factory=dict)
    fixed: Mapping[str, Scalar] = field(default_factory=dict)  # deployment values not searched
    description: str = ""
    source_file: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise JalapenoError(f"no parameter {name!r} in space {self.name!r}", field="param")

    def sample(self, rng: np.random.Generator) -> dict[str, Scalar]:
        return {p.name: p.sample(rng) for p in self.params}

    def check(self, design: Mapping[str, Any]) -> dict[str, Scalar]:
        """A complete design with every value inside its dimension, in parameter order."""
        missing = [n for n in self.names if n not in design]
        extra = [k for k in design if k not in self.names]
        if missing or extra:
            raise JalapenoError(
                f"design {'lacks ' + ', '.join(missing) if missing else 'has unknown ' + ', '.join(extra)}",
                field="design",
            )
        return {p.name: p.check(design[p.name]) for p in self.params}

    def vector(self, design: Mapping[str, Any]) -> np.ndarray:
        return np.array([p.encode(design[p.name]) for p in self.params], dtype=np.float64)

    def grid_size(self) -> int:
        return math.prod(len(p.grid()) for p in self.params)

    def grid_point(self, index: int) -> dict[str, Scalar]:
        """The ``index``-th point of the full-factorial grid (mixed radix, first parameter fastest)."""
        out: dict[str, Scalar] = {}
        for p in self.params:
            g = p.grid()
            index, r = divmod(index, len(g))
            out[p.name] = g[r]
        return out

    def grid(self) -> Iterator[dict[str, Scalar]]:
        return (self.grid_point(i) for i in range(self.grid_size()))

    def base_path(self) -> Path:
        p = Path(self.base)
        if p.is_absolute() or not self.source_file or self.source_file.startswith("<"):
            return p
        return Path(self.source_file).parent / p


# ---------------------------------------------------------------- loading


def load_space(path_or_text: str | Path) -> DesignSpace:
    """A bundled space name (``coding-asic``), a path to a space YAML file, or YAML text."""
    if isinstance(path_or_text, str) and "\n" in path_or_text:
        return space_from_dict(parse_yaml(path_or_text, "<text>"), origin="<text>")
    s = str(path_or_text).strip()
    path = Path(s)
    if not isinstance(path_or_text, Path) and not s.endswith((".yaml", ".yml")) and not path.is_file():
        bundled = bundled_space_path(s)
        if bundled is None:
            raise JalapenoError(
                f"unknown design space {s!r}; bundled: {', '.join(bundled_spaces())} "
                "(or a path to a .yaml file)",
                field="space",
            )
        path = bundled
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise JalapenoError(f"cannot read design space {path}: {e}", field="space") from None
    return space_from_dict(parse_yaml(text, str(path)), origin=str(path))


def spaces_dir() -> Path:
    return Path(__file__).parent / "spaces"


def bundled_spaces() -> list[str]:
    return sorted(p.stem for p in spaces_dir().glob("*.yaml") if not p.stem.endswith("-base"))


def bundled_space_path(name: str) -> Path | None:
    p = spaces_dir() / f"{name}.yaml"
    return p if name in bundled_spaces() else None


def space_from_dict(data: Any, *, origin: str = "<dict>") -> DesignSpace:
    return _SpaceParser(origin).space(data)


def space_to_dict(space: DesignSpace) -> dict[str, Any]:
    """The YAML-shaped dict of a space (inverse of ``space_from_dict``)."""
    out: dict[str, Any] = {"name": space.name, "base": space.base}
    if space.description:
        out["description"] = space.description
    for group in ("processor", "deployment"):
        out[group] = {p.name: _param_dict(p) for p in space.params if p.group == group}
    if space.constraints:
        out["constraints"] = dict(space.constraints)
    if space.fixed:
        out["fixed"] = dict(space.fixed)
    return out


def _param_dict(p: Param) -> dict[str, Any]:
    d: dict[str, Any]
    if p.kind == "choice":
        d = {
            "choices": {k: dict(v) for k, v in p.bundles.items()}
            if p.bundles is not None
            else list(p.choices)
        }
    else:
        d = {p.kind: [int(p.low) if p.kind == "int" else p.low, int(p.high) if p.kind == "int" else p.high]}
        if p.log:
            d["log"] = True
        if p.levels != 3:
            d["levels"] = p.levels
    if p.also:
        d["also"] = list(p.also)
    if p.note:
        d["note"] = p.note
    return d


@dataclass
class _SpaceParser:
    origin: str

    def fail(self, field: str, what: str) -> JalapenoError:
        return JalapenoError(f"{what} ({self.origin})", field=field)

    def mapping(self, data: Any, field: str) -> Mapping[Any, Any]:
        if not isinstance(data, Mapping):
            raise self.fail(field or "space", f"must be a mapping, got {type(data).__name__}")
        return data

    def keys(
        self, data: Mapping[Any, Any], field: str, required: tuple[str, ...], optional: tuple[str, ...]
    ) -> None:
        for k in data:
            if not isinstance(k, str) or k not in required + optional:
                raise self.fail(_join(field, str(k)), f"unknown key; valid: {', '.join(required + optional)}")
        for k in required:
            if k not in data:
                raise self.fail(_join(field, k), "missing")

    def text(self, data: Mapping[Any, Any], key: str, field: str = "") -> str:
        v = data.get(key)
        if not isinstance(v, str) or not v.strip():
            raise self.fail(_join(field, key), f"must be a non-empty string, got {v!r}")
        return v.strip()

    def space(self, data: Any) -> DesignSpace:
        data = self.mapping(data, "")
        self.keys(data, "", TOP_REQUIRED, TOP_OPTIONAL)
        params = self.group(data, "processor") + self.group(data, "deployment")
        if not params:
            raise self.fail("processor", "a space needs at least one parameter")
        desc = self.text(data, "description") if data.get("description") is not None else ""
        return DesignSpace(
            self.text(data, "name"),
            self.text(data, "base"),
            params,
            self.constraints(data),
            self.fixed(data, {p.name for p in params}),
            desc,
            self.origin,
        )

    def group(self, data: Mapping[Any, Any], group: str) -> tuple[Param, ...]:
        g = data[group]
        if g is None:
            return ()
        g = self.mapping(g, group)
        out = []
        for name, spec in g.items():
            if not isinstance(name, str) or not name.strip() or any(not part for part in name.split(".")):
                raise self.fail(_join(group, str(name)), "parameter names are dotted paths of non-empty keys")
            if group == "deployment" and name not in DEPLOYMENT:
                raise self.fail(
                    _join(group, name), f"unknown deployment parameter; valid: {', '.join(DEPLOYMENT)}"
                )
            out.append(self.param(name, group, self.mapping(spec, _join(group, name))))
        return tuple(out)

    def param(self, name: str, group: str, m: Mapping[Any, Any]) -> Param:
        f = _join(group, name)
        self.keys(m, f, (), PARAM_KEYS)
        kinds = [k for k in ("int", "float", "choices") if k in m]
        if len(kinds) != 1:
            raise self.fail(f, "needs exactly one of int, float, choices")
        also = self.also(m, f) if group == "processor" else ()
        if group == "deployment" and "also" in m:
            raise self.fail(_join(f, "also"), "only processor parameters take also")
        note = self.text(m, "note", f) if m.get("note") is not None else ""
        levels = self.levels(m, f)
        if kinds[0] == "choices":
            if "log" in m:
                raise self.fail(_join(f, "log"), "only ranges take log")
            choices, bundles = self.choices(m["choices"], _join(f, "choices"), group)
            _check_deployment_values(self, name, choices, _join(f, "choices"))
            return Param(
                name, group, "choice", choices=choices, bundles=bundles, also=also, levels=levels, note=note
            )
        kind = kinds[0]
        lo, hi = self.range(m[kind], _join(f, kind), kind)
        log = m.get("log", False)
        if not isinstance(log, bool):
            raise self.fail(_join(f, "log"), f"must be true or false, got {log!r}")
        if log and lo <= 0:
            raise self.fail(_join(f, kind), "a log range must be > 0")
        _check_deployment_range(self, name, lo, hi, kind, f)
        return Param(name, group, kind, lo, hi, log, also=also, levels=levels, note=note)

    def levels(self, m: Mapping[Any, Any], f: str) -> int:
        v = m.get("levels", 3)
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 64:
            raise self.fail(_join(f, "levels"), f"must be a whole number in [1, 64], got {v!r}")
        return v

    def also(self, m: Mapping[Any, Any], f: str) -> tuple[str, ...]:
        v = m.get("also", [])
        if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
            raise self.fail(_join(f, "also"), f"must be a list of dotted paths, got {v!r}")
        return tuple(x.strip() for x in v)

    def range(self, v: Any, f: str, kind: str) -> tuple[float, float]:
        ok = (
            isinstance(v, list)
            and len(v) == 2
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v)
        )
        if not ok:
            raise self.fail(f, f"must be a list [low, high] of two finite numbers, got {v!r}")
        lo, hi = float(v[0]), float(v[1])
        if kind == "int" and not (lo.is_integer() and hi.is_integer()):
            raise self.fail(f, f"an int range needs whole numbers, got {v!r}")
        if hi < lo:
            raise self.fail(f, f"low {lo:g} > high {hi:g}")
        return lo, hi

    def choices(
        self, v: Any, f: str, group: str
    ) -> tuple[tuple[Scalar, ...], Mapping[str, Mapping[str, Any]] | None]:
        if isinstance(v, Mapping):
            if group != "processor":
                raise self.fail(f, "bundles (label -> settings) are for processor parameters")
            if not v:
                raise self.fail(f, "needs at least one choice")
            bundles: dict[str, Mapping[str, Any]] = {}
            for label, settings in v.items():
                if not isinstance(label, str) or not label.strip():
                    raise self.fail(f, f"bundle labels must be non-empty strings, got {label!r}")
                s = self.mapping(settings, _join(f, label))
                if not s or not all(isinstance(k, str) and k.strip() for k in s):
                    raise self.fail(_join(f, label), "a bundle maps dotted paths to values")
                bundles[label] = dict(s)
            return tuple(bundles), bundles
        if not isinstance(v, list) or not v:
            raise self.fail(f, f"must be a non-empty list or a mapping of bundles, got {v!r}")
        for x in v:
            if not isinstance(x, (int, float, str, bool)) or (isinstance(x, float) and not math.isfinite(x)):
                raise self.fail(f, f"choices must be numbers, strings or booleans, got {x!r}")
        if len({(type(x).__name__, x) for x in v}) != len(v):
            raise self.fail(f, "duplicate choice")
        return tuple(v), None

    def constraints(self, data: Mapping[Any, Any]) -> dict[str, float]:
        c = data.get("constraints")
        if c is None:
            return {}
        c = self.mapping(c, "constraints")
        self.keys(c, "constraints", (), CONSTRAINTS)
        out = {}
        for k, v in c.items():
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v <= 0:
                raise self.fail(f"constraints.{k}", f"must be a number > 0, got {v!r}")
            out[k] = float(v)
        return out

    def fixed(self, data: Mapping[Any, Any], searched: set[str]) -> dict[str, Scalar]:
        fx = data.get("fixed")
        if fx is None:
            return {}
        fx = self.mapping(fx, "fixed")
        self.keys(fx, "fixed", (), DEPLOYMENT)
        out = {}
        for k, v in fx.items():
            if k in searched:
                raise self.fail(f"fixed.{k}", "is also a searched parameter")
            if not isinstance(v, (int, float, str, bool)):
                raise self.fail(f"fixed.{k}", f"must be a scalar, got {v!r}")
            if isinstance(v, (str, bool)):
                _check_deployment_values(self, k, (v,), f"fixed.{k}")
            else:
                _check_deployment_range(
                    self, k, float(v), float(v), "float" if k == "prefill_share" else "int", f"fixed.{k}"
                )
            out[k] = v
        return out


def _deployment_choices() -> dict[str, tuple[str, ...]]:
    """Valid values of the named deployment axes: the serving registries' names; ``disagg`` on the scheduler
    axis is shorthand for the disaggregated topology (``design.DISAGG_SHORTHAND``)."""
    from jalapeno.serving.config import TOPOLOGIES
    from jalapeno.serving.routers.base import ROUTERS
    from jalapeno.serving.schedulers.base import SCHEDULERS

    return {"scheduler": (*SCHEDULERS.names(), "disagg"), "router": ROUTERS.names(), "topology": TOPOLOGIES}


def _check_deployment_values(p: _SpaceParser, name: str, values: tuple[Scalar, ...], f: str) -> None:
    valid = _deployment_choices().get(name)
    for v in values:
        if valid is not None and v not in valid:
            raise p.fail(f, f"{v!r} is not a {name}; valid: {', '.join(valid)}")
        whole = isinstance(v, int) and not isinstance(v, bool) and v >= 1
        counts = ("tp", "replicas", "max_num_seqs", "max_num_batched_tokens", "ep", "decode_tp", "decode_ep")
        if name in counts and not whole:
            raise p.fail(f, f"{name} values must be whole numbers >= 1, got {v!r}")
        if name in ("tbo", "decode_tbo") and not isinstance(v, bool):
            raise p.fail(f, f"{name} values must be true or false, got {v!r}")
        if name == "prefill_share" and (
            not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 < v < 1
        ):
            raise p.fail(f, f"prefill_share values must lie in (0, 1), got {v!r}")


def _check_deployment_range(p: _SpaceParser, name: str, lo: float, hi: float, kind: str, f: str) -> None:
    if name in ("scheduler", "router", "topology", "tbo", "decode_tbo"):
        raise p.fail(f, f"{name} takes choices, not a range")
    if name == "prefill_share":
        if not (lo > 0 and hi < 1):
            raise p.fail(f, f"prefill_share must lie in (0, 1), got [{lo:g}, {hi:g}]")
    elif name in DEPLOYMENT and (kind != "int" or lo < 1):
        raise p.fail(f, f"{name} is a whole number >= 1: use int: [low, high]")


def _join(field: str, key: str) -> str:
    return f"{field}.{key}" if field else key
