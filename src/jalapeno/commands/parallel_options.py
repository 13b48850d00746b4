"""Expert-parallel options shared by ``estimate`` and ``serve`` (``--ep/--dp`` and the EP knobs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from jalapeno.cost.pipeline import Parallel
from jalapeno.errors import JalapenoError

if TYPE_CHECKING:
    from jalapeno.hardware.spec import ChipSpec

# the EP knobs of a plan (the group itself is ep and dp); ``pool_options`` hands them to each pool
EP_KNOBS = ("redundant_experts", "ep_imbalance", "tbo", "ep_dispatch", "attn_imbalance", "comm_sms")
EP_KEYS = ("ep", "dp", *EP_KNOBS)
# the wide-EP mechanisms of ``Parallel`` (docs/parallel.md, "Wide EP"): option name by field
WIDE_EP_FLAGS = {k: f"--{k.replace('_', '-')}" for k in ("ep_dispatch", "attn_imbalance", "comm_sms")}


def parallel_options(f: Callable) -> Callable:
    f = _wide_ep_options(f)
    f = click.option(
        "--tbo",
        is_flag=True,
        help="With --ep: two-micro-batch overlap (all-to-alls hidden under the other half's compute).",
    )(f)
    f = click.option(
        "--ep-imbalance",
        type=float,
        default=None,
        help="With --ep: hottest expert rank's load over the mean [uniform routing's floor].",
    )(f)
    f = click.option(
        "--redundant-experts",
        type=int,
        default=0,
        show_default=True,
        help="With --ep: extra replicas of hot experts (EPLB), a multiple filling the ranks evenly.",
    )(f)
    f = click.option(
        "--dp",
        type=int,
        default=None,
        help="Data-parallel attention replicas of the group [ep / tp] (docs/parallel.md).",
    )(f)
    return click.option(
        "--ep",
        type=int,
        default=1,
        show_default=True,
        help="Expert-parallel chips (= tp x dp); --batch is the whole group's.",
    )(f)


def _wide_ep_options(f: Callable) -> Callable:
    f = click.option(
        "--attn-imbalance",
        type=float,
        default=None,
        help="With --ep: slowest data-parallel attention rank's decode attention time over the mean [1].",
    )(f)
    f = click.option(
        "--comm-sms",
        type=int,
        default=None,
        help="With --ep --tbo (estimate only): cores (SMs) the all-to-all kernels hold; compute runs on the "
        "rest [0].",
    )(f)
    return click.option(
        "--ep-dispatch",
        type=click.Choice(["per-expert", "per-node"]),
        default=None,
        help="With --ep over several nodes: a token sent once per expert (DeepEP low-latency) or once per "
        "remote node, forwarded inside it (DeepEP normal) [per-expert].",
    )(f)


def plan(tp: int, pp: int, o: dict[str, Any]) -> Parallel:
    """The ``Parallel`` the options name; ``--dp`` defaults to ep / tp (the rest of the group)."""
    ep = o.get("ep") or 1
    dp = o.get("dp")
    if dp is None:
        dp = max(1, ep // tp) if ep > 1 else 1
    wide = _wide_ep(ep, o)
    return Parallel(
        tp, pp, ep, dp, o.get("redundant_experts") or 0, o.get("ep_imbalance"), bool(o.get("tbo")), **wide
    )


def _wide_ep(ep: int, o: dict[str, Any]) -> dict[str, Any]:
    """``Parallel``'s wide-EP fields from the options, each refused with its option's name and fix."""
    dispatch, attn, sms = o.get("ep_dispatch"), o.get("attn_imbalance"), o.get("comm_sms")
    out: dict[str, Any] = {}
    for key, v in (("ep_dispatch", dispatch), ("attn_imbalance", attn), ("comm_sms", sms)):
        if v is not None and ep == 1:
            raise JalapenoError("applies to expert parallelism; set --ep > 1", field=WIDE_EP_FLAGS[key])
    if dispatch is not None:
        out["ep_dispatch"] = dispatch.replace("-", "_")
    if attn is not None:
        if not 1.0 <= attn <= 1e6:
            raise JalapenoError(
                f"the slowest rank's attention time over the mean is in [1, 1e6], got {attn!r}; "
                "use 1 for balanced ranks",
                field="--attn-imbalance",
            )
        out["attn_imbalance"] = attn
    if sms is not None:
        if sms < 0:
            raise JalapenoError(f"must be an integer >= 0, got {sms}", field="--comm-sms")
        if sms and not o.get("tbo"):
            raise JalapenoError(
                "cores held by the all-to-all apply under two-batch overlap; add --tbo", field="--comm-sms"
            )
        out["comm_sms"] = sms
    return out


def check_on_chip(par: Parallel, chip: ChipSpec) -> None:
    """The wide-EP options against the chip: per-node dispatch needs an EP group spanning several
    scale-up domains (inside one it is the per-expert all-to-all), and the communication kernels must
    leave the compute some of the chip's cores."""
    d = chip.scale_up_chips
    if par.ep_dispatch == "per_node" and par.ep <= d:
        raise JalapenoError(
            f"per-node dispatch needs an EP group over several nodes, but ep={par.ep} fits one {d}-chip "
            f"scale-up domain of {chip.name}; set --ep > {d} or drop it",
            field="--ep-dispatch",
        )
    if par.comm_sms:
        cores = int(chip.cores.value) if chip.cores is not None else 0
        if par.comm_sms >= cores:
            raise JalapenoError(
                f"{par.comm_sms} cores for the all-to-all leave none of {chip.name}'s {cores} for compute; "
                f"use fewer than {cores}",
                field="--comm-sms",
            )
