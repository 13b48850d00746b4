"""What a design is judged on: a model, its number formats, traffic and a latency SLO.

A workload is a bundled name (``azure-code``, ``mooncake-conversation``, ``agentic-coding``: YAML files
in ``explore/workloads/``) or a YAML file of the same shape:

    name: azure-code
    model: qwen2.5-coder-32b
    precision: {weights: fp8, activations: fp8, kv: fp8}
    trace: {name: azure-code, start_s: 0, duration_s: 600, rate_scale: 1.0}   # or sessions: {...}
    slo: {ttft_s: 1.0, tpot_s: 0.025, attainment: 0.9}
    prefix_cache: true

Requests whose prompt plus output exceed the model's context length are left out (and counted in
``Workload.requests``' trace name), the same for every chip.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jalapeno.errors import JalapenoError
from jalapeno.hardware.loader import parse_yaml

TOP_REQUIRED = ("name", "model", "slo")
TOP_OPTIONAL = ("description", "precision", "trace", "sessions", "prefix_cache")
TRACE_KEYS = ("name", "start_s", "duration_s", "rate_scale")
SESSION_KEYS = ("num_sessions", "session_rate_per_s", "turns", "think_time_s", "max_prompt_tokens", "seed")
SLO_KEYS = ("ttft_s", "tpot_s", "attainment")


@dataclass(frozen=True)
class Workload:
    name: str
    model: str
    slo_ttft_s: float = 1.0
    slo_tpot_s: float = 0.025
    attainment: float = 0.9
    weights: str = "bf16"
    activations: str | None = None
    kv: str | None = None
    trace: Mapping[str, Any] = field(default_factory=dict)  # name, start_s, duration_s, rate_scale
    sessions: Mapping[str, Any] = field(default_factory=dict)
    prefix_cache: bool = True
    description: str = ""

    def model_config(self) -> Any:
        from jalapeno.models import resolve_model

        return resolve_model(self.model)

    def precision(self) -> Any:
        from jalapeno.graph.precision import Precision

        return Precision.of(self.weights, self.activations, self.kv)

    def slo(self) -> Any:
        from jalapeno.serving import SLO

        return SLO(self.slo_ttft_s, self.slo_tpot_s)

    def requests(self) -> tuple[Any, ...]:
        k = self.key()
        if k not in _CACHE:
            _CACHE.clear() if len(_CACHE) > 8 else None
            _CACHE[k] = _requests(self)
        return _CACHE[k]

    def key(self) -> str:
        """A stable identity for caches and the trial store."""
        import json

        return json.dumps(self.to_dict(), sort_keys=True, default=str)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "model": self.model,
            "precision": {"weights": self.weights, "activations": self.activations, "kv": self.kv},
            "slo": {"ttft_s": self.slo_ttft_s, "tpot_s": self.slo_tpot_s, "attainment": self.attainment},
            "prefix_cache": self.prefix_cache,
        }
        if self.trace:
            d["trace"] = dict(self.trace)
        if self.sessions:
            d["sessions"] = dict(self.sessions)
        if self.description:
            d["description"] = self.description
        return d

    def describe(self) -> str:
        p = self.precision()
        what = (
            f"{self.trace.get('name')} [{self.trace.get('start_s', 0):g} s, "
            f"+{self.trace.get('duration_s', 'all')} s]"
            if self.trace
            else f"agentic sessions {dict(self.sessions)}"
        )
        if self.trace and self.trace.get("rate_scale", 1.0) != 1.0:
            what += f" at {self.trace['rate_scale']:g}x rate"
        return (
            f"{self.model} ({p.label}) on {what}; SLO TTFT <= {self.slo_ttft_s:g} s and TPOT <= "
            f"{self.slo_tpot_s * 1e3:g} ms for {self.attainment:.0%} of requests"
        )


_CACHE: dict[str, tuple[Any, ...]] = {}


def _requests(w: Workload) -> tuple[Any, ...]:
    from jalapeno.workload import load_trace, rescale, sessions, slice_trace

    if w.trace:
        tr = load_trace(str(w.trace["name"]))
        start = float(w.trace.get("start_s", 0.0))
        dur = w.trace.get("duration_s")
        tr = slice_trace(tr, start, float(dur) if dur is not None else None)
        scale = float(w.trace.get("rate_scale", 1.0))
        if scale != 1.0:
            tr = rescale(tr, factor=scale)
    else:
        s = dict(w.sessions)
        tr = sessions(int(s.pop("num_sessions")), **s)
    limit = w.model_config().max_position_embeddings
    reqs = tuple(r for r in tr.requests if r.prompt_tokens + r.output_tokens <= limit)
    if not reqs:
        raise JalapenoError(f"workload {w.name!r} has no requests within the model's context", field="trace")
    return reqs


# ---------------------------------------------------------------- loading


def workloads_dir() -> Path:
    return Path(__file__).parent / "workloads"


def bundled_workloads() -> list[str]:
    return sorted(p.stem for p in workloads_dir().glob("*.yaml"))


def resolve_workload(name_or_path: str | Path) -> Workload:
    """A bundled workload name or a path to a workload YAML file."""
    s = str(name_or_path).strip()
    path = Path(s)
    if not s.endswith((".yaml", ".yml")) and not path.is_file():
        if s not in bundled_workloads():
            raise JalapenoError(
                f"unknown workload {s!r}; bundled: {', '.join(bundled_workloads())} "
                "(or a path to a .yaml file)",
                field="workload",
            )
        path = workloads_dir() / f"{s}.yaml"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise JalapenoError(f"cannot read workload {path}: {e}", field="workload") from None
    return workload_from_dict(parse_yaml(text, str(path)), origin=str(path))


def workload_from_dict(data: Any, *, origin: str = "<dict>") -> Workload:
    def fail(f: str, what: str) -> JalapenoError:
        return JalapenoError(f"{what} ({origin})", field=f)

    def mapping(v: Any, f: str, keys: tuple[str, ...]) -> Mapping[str, Any]:
        if not isinstance(v, Mapping):
            raise fail(f, f"must be a mapping, got {type(v).__name__}")
        bad = [k for k in v if k not in keys]
        if bad:
            raise fail(f"{f}.{bad[0]}" if f else str(bad[0]), f"unknown key; valid: {', '.join(keys)}")
        return v

    def num(m: Mapping[str, Any], k: str, f: str, *, hi: float = math.inf) -> float:
        v = m[k]
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or not 0 < v <= hi:
            raise fail(f"{f}.{k}", f"must be a number in (0, {hi:g}], got {v!r}")
        return float(v)

    d = mapping(data, "", TOP_REQUIRED + TOP_OPTIONAL)
    for k in TOP_REQUIRED:
        if k not in d:
            raise fail(k, "missing")
    for k in ("name", "model"):
        if not isinstance(d[k], str) or not d[k].strip():
            raise fail(k, f"must be a non-empty string, got {d[k]!r}")
    slo = mapping(d["slo"], "slo", SLO_KEYS)
    kw: dict[str, Any] = {
        k2: num(slo, k, "slo", hi=1.0 if k == "attainment" else math.inf)
        for k, k2 in (("ttft_s", "slo_ttft_s"), ("tpot_s", "slo_tpot_s"), ("attainment", "attainment"))
        if k in slo
    }
    prec = mapping(d.get("precision") or {}, "precision", ("weights", "activations", "kv"))
    for k in ("weights", "activations", "kv"):
        if prec.get(k) is not None:
            if not isinstance(prec[k], str):
                raise fail(f"precision.{k}", f"must be a dtype name, got {prec[k]!r}")
            kw[k] = prec[k]
    if ("trace" in d) == ("sessions" in d):
        raise fail("trace", "give exactly one of trace and sessions")
    if "trace" in d:
        t = mapping(d["trace"], "trace", TRACE_KEYS)
        if not isinstance(t.get("name"), str):
            raise fail("trace.name", "must name a bundled trace or a trace file")
        for k in ("duration_s", "rate_scale"):
            if t.get(k) is not None:
                num(t, k, "trace")
        if not isinstance(t.get("start_s", 0), (int, float)) or t.get("start_s", 0) < 0:
            raise fail("trace.start_s", "must be a number >= 0")
        kw["trace"] = dict(t)
    else:
        s = mapping(d["sessions"], "sessions", SESSION_KEYS)
        if not isinstance(s.get("num_sessions"), int) or s["num_sessions"] < 1:
            raise fail("sessions.num_sessions", "must be a whole number >= 1")
        kw["sessions"] = dict(s)
    pc = d.get("prefix_cache", True)
    if not isinstance(pc, bool):
        raise fail("prefix_cache", f"must be true or false, got {pc!r}")
    w = Workload(
        name=d["name"].strip(),
        model=d["model"].strip(),
        prefix_cache=pc,
        description=str(d.get("description") or ""),
        **kw,
    )
    try:
        w.model_config()
        w.precision()
    except JalapenoError as e:
        raise fail("model" if "model" in str(e).lower() else "precision", str(e)) from None
    return w
