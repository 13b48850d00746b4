"""``jalapeno serve``: replay a request trace through a simulated fleet and report its metrics.

Thin: loads the trace (``workload``), the model and chips, builds one step oracle per chip kind
(``cost.oracle.CostOracle`` with the chip's parameters and mapper from ``cost.params.setup_for``),
runs ``serving.simulate`` and prints a table or JSON; optionally a Chrome/Perfetto timeline and SVG
plots (``report.plots``). See docs/serving.md, "Command line".
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np

from jalapeno.commands.options import (
    as_flags,
    dtype_options,
    emit_json,
    engine_option,
    hardware_option,
    json_option,
    model_option,
    quiet_option,
    renamed,
    timings_option,
)
from jalapeno.commands.parallel_options import parallel_options
from jalapeno.commands.pool_options import DECODE_KEYS, DECODE_KNOB_KEYS, decode_flags, decode_plan_options
from jalapeno.commands.serve_fleet import (
    TIER_GBPS,
    Fleet,
    deployment_echo,
    resolve_fleet,
    sim_options,
)
from jalapeno.commands.serve_output import print_run, write_plots
from jalapeno.errors import JalapenoError
from jalapeno.hardware.tco import PRICE_RULES
from jalapeno.serving.config import TOPOLOGIES
from jalapeno.serving.routers.base import ROUTERS
from jalapeno.serving.schedulers.base import SCHEDULERS

if TYPE_CHECKING:
    from jalapeno.cost.oracle import CostOracle
    from jalapeno.cost.params import CostParams
    from jalapeno.cost.pipeline import Parallel
    from jalapeno.graph.precision import Precision
    from jalapeno.hardware import ChipSpec
    from jalapeno.models.config import ModelConfig
    from jalapeno.serving import SimResult
    from jalapeno.workload import Trace

MIN_KV_TOKENS = 16  # one KV block (the simulator's default block size)
MAX_REPLICAS = 10_000  # replicas (each pool): a fleet beyond it takes minutes to build and is a typo
MAX_CHIPS = 4_096  # tp and pp: chips of one replica
MAX_SPECULATIVE = 64  # draft tokens a step
MAX_TRACE_S = 1e9  # --start-s, --duration-s: 31 years, inside int64 nanoseconds
MIN_GBPS, MAX_GBPS = 1e-3, 1e7  # link and tier bandwidths: 1 Mb/s to 10 Pb/s


_renamed = renamed  # the name bench and older callers import


def _check(
    flag: str, value: float | None, *, minimum: float = 0.0, strict: bool = True, maximum: float | None = None
) -> None:
    if value is None:
        return
    ok = math.isfinite(value) and (value > minimum if strict else value >= minimum)
    ok = ok and (maximum is None or value <= maximum)
    if not ok:
        bound = f"{'>' if strict else '>='} {minimum:g}"
        if maximum is not None:
            bound = f"in [{minimum:g}, {maximum:g}]"
        got = f"{value:,}" if isinstance(value, int) else f"{value:g}"
        raise JalapenoError(f"must be {bound}, got {got}", field=flag)


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def _only_with(condition: bool, flags: dict[str, Any], needs: str) -> None:
    for flag, value in flags.items():
        if value is not None and not condition:
            raise JalapenoError(f"only with {needs}", field=flag)


# --- pieces --------------------------------------------------------------------------------------------
def load_workload(
    trace: str,
    *,
    start_s: float | None,
    duration_s: float | None,
    limit: int | None,
    rate: float | None,
    arrivals: str,
    seed: int,
) -> Trace:
    """The trace window, rescaled to ``rate`` requests/s; ``arrivals="poisson"`` keeps every request
    (tokens, prefix blocks, order) and draws new, seeded Poisson arrival times at the same mean rate."""
    from jalapeno.workload import load_trace, rescale

    tr = _renamed("--trace", load_trace, trace, start_s=start_s, duration_s=duration_s, limit=limit)
    if rate is not None:
        tr = _renamed("--rate", rescale, tr, rate=rate)
    if arrivals == "poisson":
        tr = poisson_arrivals(tr, seed)
    return tr


def poisson_arrivals(tr: Trace, seed: int) -> Trace:
    from jalapeno.workload import Trace

    n, r = len(tr), tr.stats.mean_rate_per_s
    if n > 1 and r <= 0:
        raise JalapenoError(
            "the trace has no rate to keep (all arrivals at one instant); give --rate", field="--arrivals"
        )
    gaps = np.random.default_rng(seed).exponential(1.0 / r if r > 0 else 1.0, max(0, n - 1))
    times = np.concatenate(([0.0], np.cumsum(gaps))).tolist()
    reqs = tuple(replace(q, arrival_s=t) for q, t in zip(tr.requests, times, strict=True))
    return Trace(f"{tr.name} poisson(seed={seed})", reqs, tr.source, tr.attribution)


def build_oracle(
    model: ModelConfig,
    chip: ChipSpec,
    precision: Precision,
    tp: int,
    engine: str = "fused",
    pp: int = 1,
    parallel: Parallel | None = None,
) -> tuple[CostOracle, CostParams]:
    """(oracle, cost parameters) for replicas of ``tp`` x ``pp`` x ``chip`` (``pp`` pipeline stages), or
    of the ``parallel`` plan when given."""
    from jalapeno.cost.oracle import CostOracle
    from jalapeno.cost.params import setup_for
    from jalapeno.cost.pipeline import Parallel

    params, timer = setup_for(chip, engine)
    oracle = CostOracle(
        model, chip, params, precision=precision, timer=timer, parallel=parallel or Parallel(tp, pp)
    )
    if oracle.kv_capacity_tokens < MIN_KV_TOKENS:
        raise JalapenoError(
            f"{model.name} leaves room for {oracle.kv_capacity_tokens} KV tokens on {tp * pp} x "
            f"{chip.name}; raise --tp or --pp, or use a smaller --dtype/--kv-dtype",
            field="memory",
        )
    return oracle, params


def price_fleet(fleet: Fleet, res: SimResult, rule: str) -> dict[str, Any]:
    """The fleet's TCO from its simulated average power and token rates (``hardware.tco``, the rule every
    command uses), plus $/Mtok under each price rule; ``usd_per_mtok`` is None for a chip with no price."""
    from jalapeno.hardware.tco import PRICE_RULES, missing_price, pools_tco

    pools = [(chip, n * chips) for chip, n, chips in fleet.pools]
    rates = (res.avg_power_w, res.throughput_total_tokens_per_s, res.throughput_tokens_per_s)
    by_rule = {r: pools_tco(pools, *rates, r) for r in PRICE_RULES}
    tco = by_rule[rule]
    return {
        "usd_per_mtok": tco.usd_per_mtok if tco else None,
        "usd_per_mtok_missing": missing_price([c for c, _ in pools], rule),
        "usd_per_mtok_output": tco.usd_per_mtok_output if tco else None,
        "usd_per_mtok_by_rule": {r: t.usd_per_mtok if t else None for r, t in by_rule.items()},
        "tco": tco.to_json() if tco else None,
    }


# --- outputs -------------------------------------------------------------------------------------------


def _prepare_dir(flag: str, path: Path, *, create: bool) -> None:
    try:
        if create:
            path.mkdir(parents=True, exist_ok=True)
        elif not path.parent.is_dir():
            raise JalapenoError(f"directory {str(path.parent)!r} does not exist", field=flag)
    except OSError as e:
        raise JalapenoError(f"cannot create {str(path)!r}: {e.strerror}", field=flag) from None


@click.command(name="serve")
@click.option(
    "--trace",
    "-t",
    default="azure-code",
    show_default=True,
    help="Bundled trace name (jalapeno traces) or a trace file (Azure/BurstGPT CSV, "
    "Mooncake/TraceLab JSONL).",
)
@model_option
@hardware_option
@click.option(
    "--replicas",
    "-n",
    type=int,
    default=None,
    help="Replicas [1] (with disagg: --prefill-replicas/--decode-replicas).",
)
@click.option(
    "--tp", type=int, default=1, show_default=True, help="Tensor-parallel chips per pipeline stage."
)
@click.option(
    "--pp",
    type=int,
    default=1,
    show_default=True,
    help="Pipeline stages per replica (layers split over them); a replica uses tp x pp chips.",
)
@parallel_options
@click.option(
    "--scheduler",
    default=None,
    help="; ".join(f"{k}: {v}" for k, v in SCHEDULERS.summaries().items())
    + " [vllm; sarathi with --topology disagg, where it runs the prefill pool] (docs/serving.md).",
)
@click.option(
    "--topology",
    default="colocated",
    show_default=True,
    help="colocated (every replica prefills and decodes) or disagg (a prefill and a decode pool, "
    "KV sent over a link).",
)
@click.option(
    "--router",
    default="round_robin",
    show_default=True,
    help="; ".join(f"{k}: {v}" for k, v in ROUTERS.summaries().items()) + ".",
)
@click.option("--prefix-cache", is_flag=True, help="Reuse KV of shared prompt prefixes (trace block hashes).")
@dtype_options
@click.option("--max-num-seqs", type=int, default=None, help="Requests a replica runs at once [256].")
@click.option(
    "--max-num-batched-tokens",
    type=int,
    default=None,
    help="Token budget of a step [8192 vllm, 2048 sarathi].",
)
@click.option(
    "--max-model-len", type=int, default=None, help="Drop requests with prompt + output above this."
)
@click.option(
    "--preemption", default="recompute", show_default=True, help="recompute, or swap (needs --tier-gb)."
)
@click.option("--start-s", type=float, default=None, help="Trace slice: start, seconds from the trace start.")
@click.option("--duration-s", type=float, default=None, help="Trace slice: length in seconds.")
@click.option("--limit", type=int, default=None, help="Trace slice: keep the first N requests.")
@click.option("--rate", type=float, default=None, help="Rescale arrivals to R requests/s (mean).")
@click.option(
    "--arrivals",
    default="trace",
    show_default=True,
    help="trace (as recorded), or poisson (same requests, seeded Poisson arrivals at the same mean rate).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --arrivals poisson.")
@click.option("--ttft-slo", type=float, default=1.0, show_default=True, help="TTFT SLO, seconds.")
@click.option("--tpot-slo", type=float, default=0.025, show_default=True, help="TPOT SLO, seconds.")
@click.option("--prefill-replicas", type=int, default=None, help="Disagg: prefill pool size [1].")
@click.option("--decode-replicas", type=int, default=None, help="Disagg: decode pool size [1].")
@click.option("--decode-hardware", default=None, help="Disagg: a different chip for the decode pool.")
@decode_plan_options
@click.option(
    "--kv-link-gbps",
    type=float,
    default=None,
    help="Disagg: prefill-to-decode KV link per prefill replica, Gb/s [the NICs of one prefill and one "
    "decode attention replica, resharded (docs/parallel.md); 400 without NIC figures].",
)
@click.option(
    "--speculative", type=int, default=None, metavar="K", help="Speculative decoding: K draft tokens a step."
)
@click.option(
    "--acceptance",
    type=float,
    default=None,
    metavar="A",
    help="Per-token draft acceptance probability (with --speculative).",
)
@click.option(
    "--draft-cost",
    type=float,
    default=None,
    help="Draft time per token / target decode step time [0: prompt lookup].",
)
@click.option("--tier-gb", type=float, default=None, help="Lower KV tier (host DRAM) per replica, GB.")
@click.option(
    "--tier-gbps",
    type=float,
    default=None,
    help=f"Lower KV tier bandwidth, Gb/s [{TIER_GBPS:g}: PCIe 5 x16].",
)
@click.option(
    "--price-rule",
    default="margin",
    show_default=True,
    help="Chip price in $/Mtok: margin ((cost + NRE/volume) / (1 - margin), the same for every chip), "
    "cost (no margin) or street (the preset's market price); docs/tco.md.",
)
@click.option(
    "--trace-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a Chrome/Perfetto timeline (JSON) here.",
)
@click.option("--trace-events", type=int, default=200_000, show_default=True, help="Cap on timeline events.")
@click.option(
    "--plot-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write latency_cdf.svg and power.svg here.",
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write requests.csv (one row a request, dropped ones too) and steps.csv (one row a step) here; "
    ".parquet too when pyarrow is installed.",
)
@engine_option
@quiet_option
@timings_option
@json_option
def command(**o: Any) -> None:
    """Simulate a fleet serving a request trace: latency, goodput, energy and cost."""
    with as_flags({"pp": "--pp", "tp": "--tp"}):
        run(o)


def _topology(o: dict[str, Any]) -> None:
    """Fill in the topology and the scheduler's default; ``--scheduler disagg`` (deprecated, this release
    only) still means ``--topology disagg`` with the sarathi prefill scheduler, as it did."""
    o.setdefault("topology", "colocated")
    if o["scheduler"] == "disagg":
        if o["topology"] not in ("colocated", "disagg"):
            return  # _validate names the bad --topology
        click.echo(
            "warning: --scheduler disagg is deprecated and goes in the next release: use --topology disagg "
            "(its prefill pool runs --scheduler, default sarathi)",
            err=True,
        )
        o["topology"], o["scheduler"] = "disagg", None
    if o["scheduler"] is None:
        o["scheduler"] = "sarathi" if o["topology"] == "disagg" else "vllm"


def _validate(o: dict[str, Any]) -> None:
    _topology(o)
    for flag in ("max_num_seqs", "max_num_batched_tokens", "max_model_len", "limit"):
        _check(_flag(flag), o[flag], minimum=1, strict=False)
    for flag, most in (
        ("replicas", MAX_REPLICAS),
        ("prefill_replicas", MAX_REPLICAS),
        ("tp", MAX_CHIPS),
        ("decode_replicas", MAX_REPLICAS),
        ("pp", MAX_CHIPS),
        ("speculative", MAX_SPECULATIVE),
        *((k, MAX_CHIPS) for k in DECODE_KEYS),
    ):
        _check(_flag(flag), o[flag], minimum=1, strict=False, maximum=most)
    for flag in ("start_s", "duration_s"):
        _check(_flag(flag), o[flag], strict=flag == "duration_s", maximum=MAX_TRACE_S)
    for flag in ("kv_link_gbps", "tier_gbps"):
        _check(_flag(flag), o[flag], minimum=MIN_GBPS, strict=False, maximum=MAX_GBPS)
    _check("--decode-redundant-experts", o["decode_redundant_experts"], strict=False)
    _check("--decode-ep-imbalance", o["decode_ep_imbalance"], minimum=1.0, strict=False, maximum=1e6)
    _check("--trace-events", o["trace_events"], minimum=10, strict=False)
    _check("--seed", o["seed"], strict=False)
    _check("--rate", o["rate"], minimum=1e-9, strict=False, maximum=1e9)
    for flag in ("ttft_slo", "tpot_slo"):
        _check(_flag(flag), o[flag], maximum=1e9)
    for flag in ("tier_gb", "draft_cost"):
        _check(_flag(flag), o[flag], strict=False)
    _check("--acceptance", o["acceptance"], strict=False, maximum=1.0)

    for flag, names in (
        ("scheduler", SCHEDULERS.names()),
        ("router", ROUTERS.names()),
        ("topology", TOPOLOGIES),
        ("preemption", ("recompute", "swap")),
        ("arrivals", ("trace", "poisson")),
        ("price_rule", PRICE_RULES),
    ):
        if o[flag] not in names:
            raise JalapenoError(f"must be one of {', '.join(names)}; got {o[flag]!r}", field=_flag(flag))
    disagg = o["topology"] == "disagg"
    pool_flags = (
        "prefill_replicas",
        "decode_replicas",
        "decode_hardware",
        "kv_link_gbps",
        *DECODE_KEYS,
        *DECODE_KNOB_KEYS,
    )
    _only_with(disagg, {_flag(k): o[k] for k in pool_flags}, "--topology disagg")
    if disagg and o["replicas"] is not None:
        raise JalapenoError(
            "with --topology disagg, size the pools with --prefill-replicas and --decode-replicas",
            field="--replicas",
        )
    _only_with(
        o["speculative"] is not None, {_flag(k): o[k] for k in ("acceptance", "draft_cost")}, "--speculative"
    )
    if o["speculative"] is not None and o["acceptance"] is None:
        raise JalapenoError("give the per-token acceptance rate, e.g. --acceptance 0.7", field="--acceptance")
    _only_with(o["tier_gb"] is not None, {"--tier-gbps": o["tier_gbps"]}, "--tier-gb")
    if o["preemption"] == "swap" and o["tier_gb"] is None:
        raise JalapenoError("swap needs a lower tier: give --tier-gb", field="--preemption")


def run(o: dict[str, Any]) -> dict[str, Any]:
    """Run one ``serve`` invocation from its option values; prints and returns the JSON document."""
    from jalapeno.report.console import dropped_reasons, progress
    from jalapeno.serving import TimelineRecorder, simulate
    from jalapeno.serving.tables import StepTable, request_table
    from jalapeno.tableio import out_dir, write_table

    wall = [time.perf_counter()]
    _validate(o)
    if o["trace_out"] is not None:
        _prepare_dir("--trace-out", o["trace_out"], create=False)
    if o["plot_dir"] is not None:
        _prepare_dir("--plot-dir", o["plot_dir"], create=True)
    tables_dir = out_dir("--out-dir", o["out_dir"]) if o.get("out_dir") is not None else None
    steps = StepTable() if tables_dir is not None else None
    fleet = resolve_fleet(o)
    tr = load_workload(
        o["trace"],
        start_s=o["start_s"],
        duration_s=o["duration_s"],
        limit=o["limit"],
        rate=o["rate"],
        arrivals=o["arrivals"],
        seed=o["seed"],
    )
    check_span(tr, o)
    wall.append(time.perf_counter())
    oracle, params = build_oracle(
        fleet.model, fleet.chip, fleet.precision, fleet.tp, o["engine"], fleet.pp, fleet.parallel
    )
    doracle, dparams = (None, None)
    if fleet.decode_chip is not None or fleet.decode_parallel is not None:
        dplan = fleet.decode_plan
        assert dplan is not None
        with as_flags(decode_flags(o)):
            doracle, dparams = build_oracle(
                fleet.model,
                fleet.decode_chip or fleet.chip,
                fleet.precision,
                dplan.tp,
                o["engine"],
                dplan.pp,
                dplan,
            )
    wall.append(time.perf_counter())
    timeline = TimelineRecorder(o["trace_events"]) if o["trace_out"] is not None else None
    with progress(len(tr), "simulating", enabled=not o.get("quiet")) as update:
        res = simulate(
            tr.requests,
            oracle,
            progress=update,
            timeline=timeline,
            on_step=steps.on_step if steps is not None else None,
            **sim_options(o, fleet, doracle),
        )
    wall.append(time.perf_counter())
    dsource = dparams.source if dparams is not None else params.source
    same = dparams is None or (fleet.decode_chip is None and dsource == params.source)
    cost_params = params.source if same else f"{params.source}; decode: {dsource}"
    sim = res.to_dict()
    sim.pop("usd_per_mtok_replica_hour", None)  # serve prices the fleet by the TCO rule instead
    doc = {
        "command": "serve",
        "deployment": deployment_echo(o, fleet, cost_params),
        "workload_stats": {
            "name": tr.name,
            "source": tr.source,
            "requests": len(tr),
            "span_s": tr.stats.span_s,
            "mean_rate_per_s": tr.stats.mean_rate_per_s,
        },
        **sim,
        **price_fleet(fleet, res, o["price_rule"]),
        "dropped_reasons": dropped_reasons(res.dropped),
    }
    doc["error_band"] = published_band(fleet.chip)
    files = []
    if timeline is not None:
        _write("--trace-out", timeline.write, o["trace_out"])
        files.append(str(o["trace_out"]))
    if o["plot_dir"] is not None:
        title = f"{fleet.model.name} on {fleet.tp} x {fleet.chip.name}, {tr.name}"
        files += [str(p) for p in _write("--plot-dir", write_plots, o["plot_dir"], res, title)]
    if tables_dir is not None and steps is not None:
        files += [
            str(p)
            for p in _write(
                "--out-dir", write_table, request_table(res, tr.requests), tables_dir / "requests"
            )
        ]
        files += [str(p) for p in _write("--out-dir", write_table, steps.cols, tables_dir / "steps")]
    if files:
        doc["files"] = files
    wall.append(time.perf_counter())
    if not o.get("no_timings"):  # wall-clock seconds: the only part of the document a rerun changes
        phases = ("load", "oracle", "simulate", "output")
        doc["timings"] = {f"{k}_s": b - a for k, (a, b) in zip(phases, pairwise(wall), strict=True)}
        doc["timings"].update(event_loop_s=res.sim_wall_s, total_s=wall[-1] - wall[0])
    if o["as_json"]:
        emit_json(doc)
    else:
        print_run(doc, files)
    return doc


def published_band(chip: Any) -> dict[str, Any] | None:
    """The chip's model-error band (published / predicted throughput: its held-out rows, its family's, or for
    a chip with neither the band of what it runs on, ``cost.unseen_band``), if any: read a throughput T of
    this run as T x lo .. T x hi (`jalapeno calibrate --all --write`)."""
    from jalapeno.cost.params import UNSEEN_FILE, chip_band

    band = chip_band(chip)
    if band is None:
        return None
    general = band[2].startswith(("unseen-chip band", "defaults band"))
    where = (
        f"hardware/calibration/{UNSEEN_FILE}, docs/compare.md" if general else "docs/validation-published.md"
    )
    return {"lo": band[0], "hi": band[1], "source": where, "basis": band[2]}


def check_span(tr: Trace, o: dict[str, Any]) -> None:
    """Refuse, before simulating, a trace whose arrivals span more than the simulator's horizon."""
    from jalapeno.serving.metrics import MAX_POWER_WINDOWS

    horizon_s = MAX_POWER_WINDOWS * 1.0  # serve's power windows are 1 s
    if tr.stats.span_s > horizon_s:
        flag = "--rate" if o["rate"] is not None else "--trace"
        raise JalapenoError(
            f"arrivals span {tr.stats.span_s:.3g} s, beyond the {horizon_s:.3g} s the simulator "
            "holds; raise --rate or slice with --duration-s/--limit",
            field=flag,
        )


def _write(flag: str, fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except OSError as e:
        raise JalapenoError(f"cannot write: {e}", field=flag) from None
