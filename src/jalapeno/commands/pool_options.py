"""The decode pool's own parallel plan in ``serve --topology disagg`` (``--decode-tp/-pp/-ep/-dp``).

DeepSeek, SGLang and Dynamo size the two pools of a disaggregated deployment differently (prefill EP32,
decode EP144; prefill TP8, decode TP4 x replicas). Each ``--decode-*`` option defaults to the prefill
pool's value (``--dp`` to ep / tp as for the prefill pool), so leaving them out runs today's deployment.
The expert-parallel knobs (``--redundant-experts``, ``--ep-imbalance``, ``--tbo``) apply to every pool
that runs expert parallelism; ``--decode-redundant-experts``, ``--decode-ep-imbalance`` and
``--decode-tbo/--no-decode-tbo`` set the decode pool's own (default: the prefill pool's). docs/parallel.md,
"One plan per pool".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from jalapeno.commands.parallel_options import EP_KNOBS, plan
from jalapeno.cost.pipeline import Parallel

DECODE_KEYS = ("decode_tp", "decode_pp", "decode_ep", "decode_dp")
DECODE_KNOB_KEYS = ("decode_redundant_experts", "decode_ep_imbalance", "decode_tbo")
# the fields a decode plan's errors name (``Parallel`` and the oracle), as the options the user typed
DECODE_FLAGS = {
    "tp": "--decode-tp",
    "pp": "--decode-pp",
    "ep": "--decode-ep",
    "dp": "--decode-dp",
    "redundant_experts": "--redundant-experts",
    "ep_imbalance": "--ep-imbalance",
}
# of EP_KNOBS, --ep-dispatch/--attn-imbalance/--comm-sms go to each EP pool alike (no --decode-* of their own)


def decode_plan_options(f: Callable) -> Callable:
    for key, what in reversed(
        (
            ("tp", "tensor-parallel chips [the prefill pool's]"),
            ("pp", "pipeline stages [the prefill pool's]"),
            ("ep", "expert-parallel chips [the prefill pool's]"),
            ("dp", "data-parallel attention replicas [its ep / tp]"),
        )
    ):
        f = click.option(
            f"--decode-{key}", type=int, default=None, help=f"Disagg: the decode pool's {what}."
        )(f)
    return _decode_knob_options(f)


def _decode_knob_options(f: Callable) -> Callable:
    f = click.option(
        "--decode-tbo/--no-decode-tbo",
        default=None,
        help="Disagg: the decode pool's two-micro-batch overlap [--tbo].",
    )(f)
    f = click.option(
        "--decode-ep-imbalance",
        type=float,
        default=None,
        help="Disagg: the decode pool's hottest expert rank's load over the mean [--ep-imbalance].",
    )(f)
    return click.option(
        "--decode-redundant-experts",
        type=int,
        default=None,
        help="Disagg: the decode pool's redundant experts [--redundant-experts].",
    )(f)


def decode_flags(o: dict[str, Any]) -> dict[str, str]:
    """``DECODE_FLAGS``, naming ``--decode-<knob>`` for each EP knob the decode pool has of its own."""
    own = {k: f"--decode-{k.replace('_', '-')}" for k in EP_KNOBS if o.get(f"decode_{k}") is not None}
    return {**DECODE_FLAGS, **own}


def given(o: dict[str, Any]) -> bool:
    """Whether any ``--decode-*`` plan option was given."""
    return any(o.get(k) is not None for k in (*DECODE_KEYS, *DECODE_KNOB_KEYS))


def pool_plans(o: dict[str, Any]) -> tuple[Parallel, Parallel]:
    """(prefill plan, decode plan). The EP knobs go to each pool with ep > 1 (the decode pool's own
    ``--decode-*`` knobs, else the prefill pool's); when neither has, to the prefill plan, which refuses them
    as before (``--tbo`` without ``--ep``); the decode pool's own knobs to it whatever its ep (a decode pool
    without expert parallelism refuses them)."""
    tp, pp = o["tp"], o.get("pp") or 1
    ep = o.get("decode_ep") or o.get("ep") or 1
    dtp, dpp = o.get("decode_tp") or tp, o.get("decode_pp") or pp
    dec = {"ep": ep, "dp": o.get("decode_dp")}
    if o.get("decode_dp") is None and o.get("decode_ep") is None and o.get("decode_tp") is None:
        dec["dp"] = o.get("dp")  # nothing of the group changed: the prefill pool's --dp, checked alike
    prefill_ep = (o.get("ep") or 1) > 1
    own = {k: o.get(f"decode_{k}") for k in EP_KNOBS}
    knobs = {k: o.get(k) if own[k] is None else own[k] for k in EP_KNOBS}
    if ep > 1 or any(v is not None for v in own.values()):
        dec.update(knobs)
    pre = dict(o) if prefill_ep or ep == 1 else {**o, **dict.fromkeys(EP_KNOBS)}
    return plan(tp, pp, pre), _decode(dtp, dpp, dec, decode_flags(o))


def _decode(tp: int, pp: int, dec: dict[str, Any], flags: dict[str, str]) -> Parallel:
    from jalapeno.commands.options import as_flags

    with as_flags(flags):
        return plan(tp, pp, dec)
