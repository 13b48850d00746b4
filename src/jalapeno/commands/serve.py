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
from pathlib import Path
from typing import Any

import click
import numpy as np

from jalapeno.commands.options import dtype_options, emit_json, hardware_option, json_option, model_option
from jalapeno.errors import JalapenoError
from jalapeno.serving.config import ROUTERS, SCHEDULERS

# Default price of a replica-hour: the chips' price amortized over AMORTIZATION_YEARS plus their energy
# at TDP (provisioned power, an upper bound on the energy term) times PUE at USD_PER_KWH.
AMORTIZATION_YEARS = 4.0
HOURS_PER_YEAR = 8766.0  # 365.25 days
USD_PER_KWH = 0.08
PUE = 1.2
KV_LINK_GBPS = 400.0  # one 400 Gb/s NIC per replica (InfiniBand NDR / ConnectX-7)
TIER_GBPS = 512.0  # PCIe 5.0 x16, one direction (64 GB/s)
POWER_PLOT_POINTS = 1500


class _OneLineErrors(click.Command):
    """Option parsing errors become one ``error: --flag: ...`` line (exit 2), like every bad input."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.MissingParameter as e:
            raise JalapenoError(e.format_message().rstrip(".")) from None
        except click.BadParameter as e:
            flag = max(e.param.opts, key=len) if e.param is not None and e.param.opts else None
            raise JalapenoError(e.message if flag else e.format_message(), field=flag) from None
        except click.UsageError as e:
            raise JalapenoError(e.format_message()) from None


def _renamed(flag: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; a ``JalapenoError`` it raises is re-raised naming the command-line ``flag``."""
    try:
        return fn(*args, **kwargs)
    except JalapenoError as e:
        msg = str(e)
        if e.field and msg.startswith(f"{e.field}: "):
            msg = msg[len(e.field) + 2:]
        raise JalapenoError(msg, field=flag) from None


def _check(flag: str, value: float | None, *, minimum: float = 0.0, strict: bool = True,
           maximum: float | None = None) -> None:
    if value is None:
        return
    ok = math.isfinite(value) and (value > minimum if strict else value >= minimum)
    ok = ok and (maximum is None or value <= maximum)
    if not ok:
        bound = f"{'>' if strict else '>='} {minimum:g}"
        if maximum is not None:
            bound = f"in [{minimum:g}, {maximum:g}]"
        raise JalapenoError(f"must be {bound}, got {value:g}", field=flag)


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def _only_with(condition: bool, flags: dict[str, Any], needs: str) -> None:
    for flag, value in flags.items():
        if value is not None and not condition:
            raise JalapenoError(f"only with {needs}", field=flag)


# --- pieces --------------------------------------------------------------------------------------------
def load_workload(trace: str, *, start_s: float | None, duration_s: float | None, limit: int | None,
                  rate: float | None, arrivals: str, seed: int) -> Any:
    """The trace window, rescaled to ``rate`` requests/s; ``arrivals="poisson"`` keeps every request
    (tokens, prefix blocks, order) and draws new, seeded Poisson arrival times at the same mean rate."""
    from jalapeno.workload import load_trace, rescale

    tr = _renamed("--trace", load_trace, trace, start_s=start_s, duration_s=duration_s, limit=limit)
    if rate is not None:
        tr = _renamed("--rate", rescale, tr, rate=rate)
    if arrivals == "poisson":
        tr = poisson_arrivals(tr, seed)
    return tr


def poisson_arrivals(tr: Any, seed: int) -> Any:
    from jalapeno.workload import Trace

    n, r = len(tr), tr.stats.mean_rate_per_s
    if n > 1 and r <= 0:
        raise JalapenoError("the trace has no rate to keep (all arrivals at one instant); give --rate",
                            field="--arrivals")
    gaps = np.random.default_rng(seed).exponential(1.0 / r if r > 0 else 1.0, max(0, n - 1))
    times = np.concatenate(([0.0], np.cumsum(gaps))).tolist()
    reqs = tuple(replace(q, arrival_s=t) for q, t in zip(tr.requests, times))
    return Trace(f"{tr.name} poisson(seed={seed})", reqs, tr.source, tr.attribution)


def build_oracle(model: Any, chip: Any, precision: Any, tp: int) -> tuple[Any, Any]:
    """(oracle, cost parameters) for replicas of ``tp`` x ``chip``."""
    from jalapeno.cost.oracle import CostOracle
    from jalapeno.cost.params import setup_for

    params, timer = setup_for(chip)
    oracle = CostOracle(model, chip, params, tp=tp, precision=precision, timer=timer)
    if oracle.kv_capacity_tokens < 16:
        raise JalapenoError(f"{model.name} leaves room for {oracle.kv_capacity_tokens} KV tokens on {tp} x "
                            f"{chip.name}; raise --tp or use a smaller --dtype/--kv-dtype", field="memory")
    return oracle, params


def replica_price(chip: Any, tp: int) -> tuple[float | None, str]:
    """Default $/replica-hour: ``tp`` chips' price over AMORTIZATION_YEARS plus TDP x PUE at USD_PER_KWH."""
    if chip.price_usd is None:
        return None, f"no price_usd for {chip.name}"
    capex = chip.price_usd.value * tp / (AMORTIZATION_YEARS * HOURS_PER_YEAR)
    energy = chip.tdp_w.value * tp * PUE / 1000.0 * USD_PER_KWH
    return capex + energy, (f"{tp} x ${chip.price_usd.value:,.0f} over {AMORTIZATION_YEARS:g} y + {tp} x "
                            f"{chip.tdp_w.value:g} W TDP x PUE {PUE:g} at ${USD_PER_KWH:g}/kWh")


def _fleet_price(usd: float | None, pools: list[tuple[Any, int]], tp: int) -> tuple[float | None, str]:
    """One $/replica-hour for the fleet: given, or the replica-weighted mean of each pool's default."""
    if usd is not None:
        return usd, "--usd-per-replica-hour"
    total, replicas, notes = 0.0, 0, []
    for chip, n in pools:
        price, note = replica_price(chip, tp)
        if price is None:
            return None, note
        total, replicas = total + price * n, replicas + n
        notes.append(note)
    return total / replicas, "; ".join(dict.fromkeys(notes))


# --- outputs -------------------------------------------------------------------------------------------
def write_plots(plot_dir: Path, res: Any, title: str) -> list[Path]:
    """latency_cdf.svg (TTFT and TPOT CDFs with the SLO thresholds) and power.svg (fleet power)."""
    from jalapeno.report.plots import PALETTE, cdf_series, downsample, hline, line_svg, vline

    cols = res.per_request
    cdf = line_svg([cdf_series(cols.get("ttft_s", ()), "TTFT", color=PALETTE[0]),
                    cdf_series(cols.get("tpot_s", ()), "TPOT", color=PALETTE[1]),
                    vline(res.slo.ttft_s, f"TTFT SLO {res.slo.ttft_s:g} s", color=PALETTE[0]),
                    vline(res.slo.tpot_s, f"TPOT SLO {res.slo.tpot_s:g} s", color=PALETTE[1])],
                   title=f"Latency CDF, {res.completed:,} completed requests: {title}", xlabel="latency (s)",
                   ylabel="fraction of requests", logx=True, ylim=(0.0, 1.0), width=760)
    series = res.power_series
    t0 = series[0][0] if series else 0.0
    span = series[-1][0] - t0 if series else 0.0
    unit, div = ("h", 3600.0) if span > 3 * 3600 else ("min", 60.0) if span > 1200 else ("s", 1.0)
    xs, ys, k = downsample([(t - t0) / div for t, _ in series], [w for _, w in series], POWER_PLOT_POINTS)
    end = xs[-1] if xs else 1.0
    power = line_svg([_series(f"fleet power ({k * res.power_window_s:g} s windows)", xs, ys, PALETTE[0]),
                      hline(res.avg_power_w, f"average {res.avg_power_w:,.0f} W", x=(0.0, end),
                            color=PALETTE[1])],
                     title=f"Fleet power: {title}", xlabel=f"time ({unit})", ylabel="power (W)",
                     ylim=(0.0, None), width=760)
    paths = [plot_dir / "latency_cdf.svg", plot_dir / "power.svg"]
    for path, svg in zip(paths, (cdf, power)):
        path.write_text(svg, encoding="utf-8")
    return paths


def _series(label: str, xs: list[float], ys: list[float], color: str) -> Any:
    from jalapeno.report.plots import Series

    return Series(label, tuple(xs), tuple(ys), color)


def _prepare_dir(flag: str, path: Path, *, create: bool) -> None:
    try:
        if create:
            path.mkdir(parents=True, exist_ok=True)
        elif not path.parent.is_dir():
            raise JalapenoError(f"directory {str(path.parent)!r} does not exist", field=flag)
    except OSError as e:
        raise JalapenoError(f"cannot create {str(path)!r}: {e.strerror}", field=flag) from None


def print_run(doc: dict[str, Any], files: list[str]) -> None:
    from rich.console import Console

    from jalapeno.report.console import serving_table

    d, w = doc["deployment"], doc["workload"]
    con = Console()
    pools = (f"{d['prefill_replicas']} prefill + {d['decode_replicas']} decode replicas"
             if d["scheduler"] == "disagg" else f"{d['replicas']} replica{'s' * (d['replicas'] != 1)}")
    decode = f" (decode on {d['decode_hardware']})" if d["decode_hardware"] else ""
    con.print(f"[bold]{d['model']}[/] on [bold]{d['tp']} x {d['hardware']}[/]{decode} ({d['precision']}), "
              f"{pools}, {d['scheduler']}, {d['router']}" + (", prefix cache" if d["prefix_cache"] else ""))
    con.print(f"trace {w['name']}: {w['requests']:,} requests over {w['span_s']:,.0f} s "
              f"({w['mean_rate_per_s']:.3g} req/s); cost parameters: {d['cost_params']}")
    con.print(serving_table(doc))
    if d["usd_per_replica_hour"] is not None:
        con.print(f"$/replica-hour {d['usd_per_replica_hour']:.3f}: {d['usd_per_replica_hour_source']}")
    for f in files:
        con.print(f"wrote {f}")


@click.command(name="serve", cls=_OneLineErrors)
@click.option("--trace", "-t", default="azure-code", show_default=True,
              help="Bundled trace name (jalapeno traces) or a trace file (Azure/BurstGPT CSV, "
              "Mooncake/TraceLab JSONL).")
@model_option
@hardware_option
@click.option("--replicas", "-n", type=int, default=None,
              help="Replicas [1] (with disagg: --prefill-replicas/--decode-replicas).")
@click.option("--tp", type=int, default=1, show_default=True, help="Tensor-parallel chips per replica.")
@click.option("--scheduler", default="vllm", show_default=True,
              help=f"{', '.join(SCHEDULERS)}: vllm is continuous batching, sarathi chunked prefill, disagg "
              "prefill and decode pools (docs/serving.md).")
@click.option("--router", default="round_robin", show_default=True, help=", ".join(ROUTERS) + ".")
@click.option("--prefix-cache", is_flag=True, help="Reuse KV of shared prompt prefixes (trace block hashes).")
@dtype_options
@click.option("--max-num-seqs", type=int, default=None, help="Requests a replica runs at once [256].")
@click.option("--max-num-batched-tokens", type=int, default=None,
              help="Token budget of a step [8192 vllm, 2048 sarathi].")
@click.option("--max-model-len", type=int, default=None,
              help="Drop requests with prompt + output above this.")
@click.option("--preemption", default="recompute", show_default=True,
              help="recompute, or swap (needs --tier-gb).")
@click.option("--start-s", type=float, default=None, help="Trace slice: start, seconds from the trace start.")
@click.option("--duration-s", type=float, default=None, help="Trace slice: length in seconds.")
@click.option("--limit", type=int, default=None, help="Trace slice: keep the first N requests.")
@click.option("--rate", type=float, default=None, help="Rescale arrivals to R requests/s (mean).")
@click.option("--arrivals", default="trace", show_default=True,
              help="trace (as recorded), or poisson (same requests, seeded Poisson arrivals at the "
              "same mean rate).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --arrivals poisson.")
@click.option("--ttft-slo", type=float, default=1.0, show_default=True, help="TTFT SLO, seconds.")
@click.option("--tpot-slo", type=float, default=0.025, show_default=True, help="TPOT SLO, seconds.")
@click.option("--prefill-replicas", type=int, default=None, help="Disagg: prefill pool size [1].")
@click.option("--decode-replicas", type=int, default=None, help="Disagg: decode pool size [1].")
@click.option("--decode-hardware", default=None, help="Disagg: a different chip for the decode pool.")
@click.option("--kv-link-gbps", type=float, default=None,
              help=f"Disagg: prefill-to-decode KV link per prefill replica, Gb/s [{KV_LINK_GBPS:g}].")
@click.option("--speculative", type=int, default=None, metavar="K",
              help="Speculative decoding: K draft tokens a step.")
@click.option("--acceptance", type=float, default=None, metavar="A",
              help="Per-token draft acceptance probability (with --speculative).")
@click.option("--draft-cost", type=float, default=None,
              help="Draft time per token / target decode step time [0: prompt lookup].")
@click.option("--tier-gb", type=float, default=None, help="Lower KV tier (host DRAM) per replica, GB.")
@click.option("--tier-gbps", type=float, default=None,
              help=f"Lower KV tier bandwidth, Gb/s [{TIER_GBPS:g}: PCIe 5 x16].")
@click.option("--usd-per-replica-hour", type=float, default=None,
              help="Price of a replica-hour [chip price over 4 y + TDP energy at $0.08/kWh, PUE 1.2].")
@click.option("--trace-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a Chrome/Perfetto timeline (JSON) here.")
@click.option("--trace-events", type=int, default=200_000, show_default=True, help="Cap on timeline events.")
@click.option("--plot-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write latency_cdf.svg and power.svg here.")
@json_option
def command(**o: Any) -> None:
    """Simulate a fleet serving a request trace: latency, goodput, energy and cost."""
    run(o)


def _validate(o: dict[str, Any]) -> None:
    for flag in ("tp", "max_num_seqs", "max_num_batched_tokens", "max_model_len", "limit", "replicas",
                 "prefill_replicas", "decode_replicas", "speculative"):
        _check(_flag(flag), o[flag], minimum=1, strict=False)
    _check("--trace-events", o["trace_events"], minimum=10, strict=False)
    _check("--seed", o["seed"], strict=False)
    for flag in ("duration_s", "rate", "ttft_slo", "tpot_slo", "kv_link_gbps", "tier_gbps"):
        _check(_flag(flag), o[flag])
    for flag in ("start_s", "tier_gb", "usd_per_replica_hour", "draft_cost"):
        _check(_flag(flag), o[flag], strict=False)
    _check("--acceptance", o["acceptance"], strict=False, maximum=1.0)

    for flag, names in (("scheduler", SCHEDULERS), ("router", ROUTERS), ("preemption", ("recompute", "swap")),
                        ("arrivals", ("trace", "poisson"))):
        if o[flag] not in names:
            raise JalapenoError(f"must be one of {', '.join(names)}; got {o[flag]!r}", field=f"--{flag}")
    disagg = o["scheduler"] == "disagg"
    pool_flags = ("prefill_replicas", "decode_replicas", "decode_hardware", "kv_link_gbps")
    _only_with(disagg, {_flag(k): o[k] for k in pool_flags}, "--scheduler disagg")
    if disagg and o["replicas"] is not None:
        raise JalapenoError("with --scheduler disagg, size the pools with --prefill-replicas and "
                            "--decode-replicas", field="--replicas")
    _only_with(o["speculative"] is not None, {_flag(k): o[k] for k in ("acceptance", "draft_cost")},
               "--speculative")
    if o["speculative"] is not None and o["acceptance"] is None:
        raise JalapenoError("give the per-token acceptance rate, e.g. --acceptance 0.7", field="--acceptance")
    _only_with(o["tier_gb"] is not None, {"--tier-gbps": o["tier_gbps"]}, "--tier-gb")
    if o["preemption"] == "swap" and o["tier_gb"] is None:
        raise JalapenoError("swap needs a lower tier: give --tier-gb", field="--preemption")


def run(o: dict[str, Any]) -> dict[str, Any]:
    """Run one ``serve`` invocation from its option values; returns the JSON document."""
    from jalapeno.graph.precision import Precision
    from jalapeno.hardware import resolve_chip
    from jalapeno.models import resolve_model
    from jalapeno.report.console import dropped_reasons, progress
    from jalapeno.serving import SLO, Disagg, Speculative, TierSpec, TimelineRecorder, simulate

    wall0 = time.perf_counter()
    _validate(o)
    if o["trace_out"] is not None:
        _prepare_dir("--trace-out", o["trace_out"], create=False)
    if o["plot_dir"] is not None:
        _prepare_dir("--plot-dir", o["plot_dir"], create=True)
    model = _renamed("--model", resolve_model, o["model"])
    chip = _renamed("--hardware", resolve_chip, o["hardware"])
    dchip = None
    if o["decode_hardware"] is not None:
        dchip = _renamed("--decode-hardware", resolve_chip, o["decode_hardware"])
    precision = Precision.of(o["dtype"], o["act_dtype"], o["kv_dtype"])
    tr = load_workload(o["trace"], start_s=o["start_s"], duration_s=o["duration_s"], limit=o["limit"],
                       rate=o["rate"], arrivals=o["arrivals"], seed=o["seed"])
    wall_load = time.perf_counter()
    tp, disagg = o["tp"], o["scheduler"] == "disagg"
    oracle, params = build_oracle(model, chip, precision, tp)
    doracle, dparams = build_oracle(model, dchip, precision, tp) if dchip is not None else (None, None)
    wall_oracle = time.perf_counter()

    n_pre, n_dec = o["prefill_replicas"] or 1, o["decode_replicas"] or 1
    replicas = n_pre + n_dec if disagg else (o["replicas"] or 1)
    pools = [(chip, n_pre), (dchip or chip, n_dec)] if disagg else [(chip, replicas)]
    usd, usd_source = _fleet_price(o["usd_per_replica_hour"], pools, tp)
    options: dict[str, Any] = {"dollars_per_replica_hour": usd, "preemption": o["preemption"]}
    for key in ("max_num_seqs", "max_num_batched_tokens", "max_model_len"):
        if o[key] is not None:
            options[key] = o[key]
    link_gbps = o["kv_link_gbps"] if o["kv_link_gbps"] is not None else KV_LINK_GBPS
    if disagg:
        options["disagg"] = Disagg(prefill_replicas=n_pre, decode_replicas=n_dec, decode_oracle=doracle,
                                   link_bandwidth_bytes_per_s=link_gbps * 1e9 / 8)
    if o["speculative"] is not None:
        options["speculative"] = Speculative(o["speculative"], o["acceptance"], o["draft_cost"] or 0.0)
    tier_gbps = o["tier_gbps"] if o["tier_gbps"] is not None else TIER_GBPS
    if o["tier_gb"] is not None:
        options["tier"] = TierSpec(o["tier_gb"] * 1e9, tier_gbps * 1e9 / 8)
    timeline = TimelineRecorder(o["trace_events"]) if o["trace_out"] is not None else None
    with progress(len(tr), "simulating", enabled=not o["as_json"]) as update:
        res = simulate(tr.requests, oracle, replicas=1 if disagg else replicas, scheduler=o["scheduler"],
                       router=o["router"], prefix_cache=o["prefix_cache"],
                       slo=SLO(ttft_s=o["ttft_slo"], tpot_s=o["tpot_slo"]), progress=update,
                       timeline=timeline, **options)
    wall_sim = time.perf_counter()

    deployment = {
        "model": model.name, "hardware": chip.name, "decode_hardware": dchip.name if dchip else None,
        "tp": tp, "replicas": replicas, "prefill_replicas": n_pre if disagg else None,
        "decode_replicas": n_dec if disagg else None, "scheduler": o["scheduler"], "router": o["router"],
        "prefix_cache": o["prefix_cache"], "precision": precision.label,
        "max_num_seqs": o["max_num_seqs"], "max_num_batched_tokens": o["max_num_batched_tokens"],
        "max_model_len": o["max_model_len"], "preemption": o["preemption"],
        "speculative": None if o["speculative"] is None else
        {"k": o["speculative"], "acceptance": o["acceptance"], "draft_cost": o["draft_cost"] or 0.0},
        "tier": None if o["tier_gb"] is None else {"capacity_gb": o["tier_gb"], "bandwidth_gbps": tier_gbps},
        "kv_link_gbps": link_gbps if disagg else None,
        "trace": o["trace"], "start_s": o["start_s"], "duration_s": o["duration_s"], "limit": o["limit"],
        "rate": o["rate"], "arrivals": o["arrivals"], "seed": o["seed"],
        "usd_per_replica_hour": usd, "usd_per_replica_hour_source": usd_source,
        "cost_params": params.source if dparams is None else f"{params.source}; decode: {dparams.source}",
    }
    s = tr.stats
    workload = {"name": tr.name, "source": tr.source, "requests": len(tr), "span_s": s.span_s,
                "mean_rate_per_s": s.mean_rate_per_s}
    doc = {"command": "serve", "deployment": deployment, "workload": workload,
           **res.to_dict(include_wall=True), "dropped_reasons": dropped_reasons(res.dropped)}
    files = []
    if timeline is not None:
        _write("--trace-out", timeline.write, o["trace_out"])
        files.append(str(o["trace_out"]))
    if o["plot_dir"] is not None:
        title = f"{model.name} on {tp} x {chip.name}, {tr.name}"
        files += [str(p) for p in _write("--plot-dir", write_plots, o["plot_dir"], res, title)]
    doc["wall_s"] = {"load": wall_load - wall0, "oracle": wall_oracle - wall_load,
                     "simulate": wall_sim - wall_oracle, "total": time.perf_counter() - wall0}
    if o["as_json"]:
        emit_json(doc)
    else:
        print_run(doc, files)
    return doc


def _write(flag: str, fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except OSError as e:
        raise JalapenoError(f"cannot write: {e}", field=flag) from None
