"""Expert-parallel options shared by ``estimate`` and ``serve`` (``--ep/--dp`` and the EP knobs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from jalapeno.cost.pipeline import Parallel

EP_KEYS = ("ep", "dp", "redundant_experts", "ep_imbalance", "tbo")


def parallel_options(f: Callable) -> Callable:
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


def plan(tp: int, pp: int, o: dict[str, Any]) -> Parallel:
    """The ``Parallel`` the options name; ``--dp`` defaults to ep / tp (the rest of the group)."""
    ep = o.get("ep") or 1
    dp = o.get("dp")
    if dp is None:
        dp = max(1, ep // tp) if ep > 1 else 1
    return Parallel(
        tp, pp, ep, dp, o.get("redundant_experts") or 0, o.get("ep_imbalance"), bool(o.get("tbo"))
    )
