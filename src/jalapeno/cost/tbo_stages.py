"""Two-batch overlap as the published schedules run it: which compute each all-to-all hides under.

``cost.expert.overlap`` lets each micro-batch last max(compute, all-to-all): every all-to-all may hide under
any of the step's compute. The published schedules are stricter. Each cuts a MoE layer of a micro-batch into
compute blocks, runs the two micro-batches' blocks in a fixed order on one compute stream and their
all-to-alls in launch order on one communication stream; a block that needs an all-to-all waits for it,
and an all-to-all starts when it is launched and the communication stream is free. ``stack_s`` simulates
that, block by block, over the model's MoE layers.

* **Prefill** (DeepSeek's Day-6 figure "Communication-Computation Overlapping during Prefilling Phase":
  ATTN(1), SHARED(0), ATTN(0), MLP(1), MLP(0), SHARED(1), ... with COMBINE(0), DISPATCH(1), DISPATCH(0),
  COMBINE(1) on the communication stream; SGLang's ``_compute_moe_deepseek_blog_prefill`` in
  ``python/sglang/srt/operations_strategy.py``, ``tbo_delta_stages=0``, the TBO of its 2025-05 blog). A
  micro-batch's layer is SHARED (the shared experts), ATTN (waits for its combine, then the output, the
  next layer's norms, MLA and routing gate; launches its dispatch at the end) and MLP (waits for its
  dispatch: the routed experts and their permutation kernels; launches its combine). Order per layer:
  A.SHARED, A.ATTN, B.SHARED, B.ATTN, A.MLP, B.MLP.
* **Decode** (Day 6: "we subdivide the attention layer into two steps and use a 5-stage pipeline", figure
  "... during Decoding Phase": SHARED(0) ATTN-0(1) | MLP(0) | ATTN-1(1) | SHARED(1) ATTN-0(0) | MLP(1) |
  ATTN-1(0), DISPATCH launched before SHARED and awaited by MLP, COMBINE launched after MLP and awaited by
  ATTN-0; SGLang's ``_compute_moe_deepseek_blog_decode``). ATTN-0: "MLA down/up projection and other ops
  after combine all-to-all and before core attention"; ATTN-1: "core attention, attention output
  projection and MoE routing gate". Order per layer: A.SHARED (launches A's dispatch at its start),
  B.ATTN-0 (waits for B's combine), A.MLP (waits for A's dispatch, launches A's combine), B.ATTN-1,
  B.SHARED (launches B's dispatch), A.ATTN-0 (waits for A's combine), B.MLP, A.ATTN-1.

Every rank waits at each all-to-all for the slowest: each block is the hottest rank's (its routed experts at
the imbalance, its attention at the slowest replica's load), each all-to-all carries the hottest rank's
bytes (``cost.expert``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from jalapeno.cost.step import OpCost

EP_EXPERTS = "ep_experts"  # the expert FFN of one expert-parallel rank: whole experts, never tensor-sharded
# MLP: the routed expert GEMMs and the kernels between dispatch and combine
# (cost.published_glue: SGLang's scatter, scale alignment, activation, quantization, gather)
EXPERT_SIDE = frozenset(
    {EP_EXPERTS, "moe_ep_scatter", "tma_scale_align", "moe_silu_mul", "moe_down_quant", "moe_ep_gather"}
)
SHARED = frozenset(
    {"quant_shared_gate_up", "shared_gate_up", "shared_act", "quant_shared_down", "shared_down"}
)
CORE_ATTENTION = frozenset({"attn_prefill", "attn_decode"})
GATE = "router"


@dataclass(frozen=True)
class MoeLayerBlocks:
    """One micro-batch's MoE layer on the hottest rank, seconds: its compute blocks and its all-to-alls."""

    shared_s: float  # SHARED
    attn0_s: float  # ATTN-0 (decode) / everything before ATTN's core attention (prefill)
    attn1_s: float  # ATTN-1: core attention through the routing gate
    mlp_s: float  # MLP: routed experts and their kernels
    dispatch_s: float
    combine_s: float

    @property
    def compute_s(self) -> float:
        return self.shared_s + self.attn0_s + self.attn1_s + self.mlp_s


def layer_blocks(costs: Sequence[OpCost], dispatch_s: float, combine_s: float) -> MoeLayerBlocks:
    """The blocks of one MoE layer instance from a rank's priced ops (``total_s`` over ``repeat``), the ops
    of the graph node that holds the routed experts, in graph order: core attention through the gate is
    ATTN-1, the other attention-side ops ATTN-0."""
    node = next(c.op.layers for c in costs if c.op.name == EP_EXPERTS)
    out = dict.fromkeys(("shared", "attn0", "attn1", "mlp"), 0.0)
    in_core = False
    for c in costs:
        if c.op.layers != node or c.op.repeat == 0:
            continue
        t, name = c.total_s / c.op.repeat, c.op.name
        in_core = in_core or name in CORE_ATTENTION
        side = "attn1" if in_core else "attn0"
        key = "mlp" if name in EXPERT_SIDE else "shared" if name in SHARED else side
        out[key] += t
        in_core = in_core and name != GATE
    return MoeLayerBlocks(out["shared"], out["attn0"], out["attn1"], out["mlp"], dispatch_s, combine_s)


# (micro-batch, block, awaits, launches, launch at the block's start): per layer, in compute-stream order
Block = tuple[str, str, str, str, bool]
SCHEDULES: dict[str, tuple[Block, ...]] = {
    "prefill": (
        ("a", "shared", "", "", False),
        ("a", "attn", "combine", "dispatch", False),
        ("b", "shared", "", "", False),
        ("b", "attn", "combine", "dispatch", False),
        ("a", "mlp", "dispatch", "combine", False),
        ("b", "mlp", "dispatch", "combine", False),
    ),
    "decode": (
        ("a", "shared", "", "dispatch", True),
        ("b", "attn0", "combine", "", False),
        ("a", "mlp", "dispatch", "combine", False),
        ("b", "attn1", "", "", False),
        ("b", "shared", "", "dispatch", True),
        ("a", "attn0", "combine", "", False),
        ("b", "mlp", "dispatch", "combine", False),
        ("a", "attn1", "", "", False),
    ),
}


def _block_s(x: MoeLayerBlocks, block: str) -> float:
    if block == "attn":
        return x.attn0_s + x.attn1_s
    return float(getattr(x, f"{block}_s"))


def stack_s(schedule: str, a: MoeLayerBlocks, b: MoeLayerBlocks, layers: int) -> float:
    """Seconds for ``layers`` MoE layers of micro-batches ``a`` and ``b`` under ``schedule`` (module
    docstring): the compute stream runs the blocks in order, each after the all-to-all it awaits; the
    communication stream runs the all-to-alls in launch order. The first layer's combines are done."""
    mb = {"a": a, "b": b}
    done = {("a", "combine"): 0.0, ("b", "combine"): 0.0}
    t = comm_free = 0.0
    for _ in range(layers):
        for m, block, awaits, launches, at_start in SCHEDULES[schedule]:
            start = max(t, done[(m, awaits)]) if awaits else t
            t = start + _block_s(mb[m], block)
            if launches:
                begin = max(start if at_start else t, comm_free)
                comm_free = begin + getattr(mb[m], f"{launches}_s")
                done[(m, launches)] = comm_free
    return max(t, comm_free)
