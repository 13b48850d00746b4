"""The decode pool's own parallel plan in ``serve --topology disagg`` (``--decode-tp/-pp/-ep/-dp``).

DeepSeek, SGLang and Dynamo size the two pools of a disaggregated deployment differently (prefill EP32,
decode EP144; prefill TP8, decode TP4 x replicas). Each ``--decode-*`` option defaults to the prefill
pool's value (``--dp`` to ep / tp as for the prefill pool), so leaving them out runs today's deployment.
The expert-parallel knobs (``--redundant-experts``, ``--ep-imbalance``, ``--tbo``) apply to every pool
that runs expert parallelism. docs/parallel.md, "One plan per pool".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from jalapeno.commands.parallel_options import plan
from jalapeno.cost.pipeline import Parallel

DECODE_KEYS = ("decode_tp", "decode_pp", "decode_ep", "decode_dp")
# the fields a decode plan's errors name (``Parallel`` and the oracle), as the options the user typed
DECODE_FLAGS = {
    "tp": "--decode-tp",
    "pp": "--decode-pp",
    "ep": "--decode-ep",
    "dp": "--decode-dp",
    "redundant_experts": "--redundant-experts",
    "ep_imbalance": "--ep-imbalance",
}
EP_KNOBS = ("redundant_experts", "ep_imbalance", "tbo")


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
    return f


def given(o: dict[str, Any]) -> bool:
    """Whether any ``--decode-*`` plan option was given."""
    return any(o.get(k) is not None for k in DECODE_KEYS)


def pool_plans(o: dict[str, Any]) -> tuple[Parallel, Parallel]:
    """(prefill plan, decode plan). The EP knobs go to each pool with ep > 1; when neither has, to the
    prefill plan, which refuses them as before (``--tbo`` without ``--ep``)."""
    tp, pp = o["tp"], o.get("pp") or 1
    ep = o.get("decode_ep") or o.get("ep") or 1
    dtp, dpp = o.get("decode_tp") or tp, o.get("decode_pp") or pp
    dec = {"ep": ep, "dp": o.get("decode_dp")}
    if o.get("decode_dp") is None and o.get("decode_ep") is None and o.get("decode_tp") is None:
        dec["dp"] = o.get("dp")  # nothing of the group changed: the prefill pool's --dp, checked alike
    prefill_ep = (o.get("ep") or 1) > 1
    knobs = {k: o.get(k) for k in EP_KNOBS}
    if ep > 1:
        dec.update(knobs)
    pre = dict(o) if prefill_ep or ep == 1 else {**o, **dict.fromkeys(EP_KNOBS)}
    return plan(tp, pp, pre), _decode(dtp, dpp, dec)


def _decode(tp: int, pp: int, dec: dict[str, Any]) -> Parallel:
    from jalapeno.commands.options import as_flags

    with as_flags(DECODE_FLAGS):
        return plan(tp, pp, dec)
