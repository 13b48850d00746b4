"""Two-batch overlap stage by stage: which compute each all-to-all hides under, as SGLang schedules prefill.

``cost.expert.overlap`` lets each micro-batch last max(compute, all-to-all): every all-to-all may hide under
any of the step's compute. The published schedule is stricter. SGLang's prefill strategy for DeepSeek-V3
(``_compute_moe_deepseek_blog_prefill`` in ``python/sglang/srt/operations_strategy.py``, the TBO the blog of
2025-05-05 describes, "following DeepSeek's system design"; ``tbo_delta_stages=0``) cuts a MoE layer of one
micro-batch at two yields::

    P: shared experts, combine_b (wait), output, [next layer] norms, attention, gate, top-k, dispatch_a
    Q: dispatch_b (wait), routed experts (and their permutation kernels), combine_a

and runs the two micro-batches A, B in lockstep on one compute stream: A.P, B.P, A.Q, B.Q, A.P', ... Each
all-to-all is launched at the end of one stage and waited for inside a later one, so it hides only under the
compute between the two:

* A's dispatch (launched at the end of A.P, needed at A.Q) under B.P;
* B's dispatch (end of B.P, needed at B.Q) under A.Q;
* A's combine (end of A.Q, needed in A.P' after A's shared experts) under B.Q and A's shared experts;
* B's combine (end of B.Q, needed in B.P' after B's shared experts) under A.P' and B's shared experts.

A stage the all-to-all outlasts leaves the compute stream waiting; the layer lasts its compute plus those
waits, and at least its four all-to-alls back to back (one communication stream). Every rank waits at each
all-to-all for the slowest: the compute of each stage is the hottest rank's (its routed experts at the
imbalance), the all-to-alls carry the hottest rank's bytes (``cost.expert``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from jalapeno.cost.step import OpCost

EP_EXPERTS = "ep_experts"  # the expert FFN of one expert-parallel rank: whole experts, never tensor-sharded
# the Q stage: the routed expert GEMMs and the kernels between dispatch_b and combine_a
# (cost.published_glue: SGLang's scatter, scale alignment, activation, quantization, gather)
EXPERT_SIDE = frozenset(
    {EP_EXPERTS, "moe_ep_scatter", "tma_scale_align", "moe_silu_mul", "moe_down_quant", "moe_ep_gather"}
)
SHARED = frozenset(
    {"quant_shared_gate_up", "shared_gate_up", "shared_act", "quant_shared_down", "shared_down"}
)


@dataclass(frozen=True)
class MoeLayerStages:
    """One micro-batch's MoE layer on the hottest rank, seconds: its two compute stages, its all-to-alls."""

    p_s: float  # attention side: everything but the Q stage (shared experts included)
    q_s: float  # routed experts and their kernels
    shared_s: float  # the shared experts, the head of P that runs before its combine is awaited
    dispatch_s: float
    combine_s: float


def layer_stages(costs: Sequence[OpCost], dispatch_s: float, combine_s: float) -> MoeLayerStages:
    """The stages of one MoE layer instance from a rank's priced ops (``total_s`` over ``repeat``): the ops
    of the graph node that holds the routed experts."""
    node = next(c.op.layers for c in costs if c.op.name == EP_EXPERTS)
    p = q = sh = 0.0
    for c in costs:
        if c.op.layers != node or c.op.repeat == 0:
            continue
        t = c.total_s / c.op.repeat
        if c.op.name in EXPERT_SIDE:
            q += t
        else:
            p += t
            sh += t if c.op.name in SHARED else 0.0
    return MoeLayerStages(p, q, sh, dispatch_s, combine_s)


def prefill_layer_s(a: MoeLayerStages, b: MoeLayerStages) -> float:
    """One MoE layer of micro-batches ``a`` and ``b`` under SGLang's prefill schedule (module docstring):
    their compute plus each all-to-all's excess over the compute it hides under, at least the four
    all-to-alls back to back."""
    wait = (
        max(0.0, a.dispatch_s - b.p_s)
        + max(0.0, b.dispatch_s - a.q_s)
        + max(0.0, a.combine_s - b.q_s - a.shared_s)
        + max(0.0, b.combine_s - a.p_s - b.shared_s)
    )
    compute = a.p_s + a.q_s + b.p_s + b.q_s
    comm = a.dispatch_s + a.combine_s + b.dispatch_s + b.combine_s
    return max(compute + wait, comm)


def staged_wait_s(a: MoeLayerStages, b: MoeLayerStages) -> float:
    """What the schedule adds to one MoE layer over its compute (waits, or the communication stream's
    excess)."""
    return prefill_layer_s(a, b) - (a.p_s + a.q_s + b.p_s + b.q_s)
