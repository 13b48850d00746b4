"""The operator node: one small frozen type for every op of a step, plus a verifier.

An ``Op`` describes one kernel's work *per instance*; ``repeat`` says how many identical instances
the step runs (identical layers share one node, so a 126-layer decode graph has ~20 nodes, not 2,500).
Totals multiply by ``repeat``. Bytes are split by what they are: weights, activations, KV cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field

OP_KINDS = frozenset(
    {
        "embedding",
        "norm",
        "matmul",
        "rope",
        "attention",
        "kv_write",
        "elementwise",
        "router",
        "moe",
        "lm_head",
    }
)


@dataclass(frozen=True, slots=True)
class AttentionShape:
    """What an attention kernel computes: ``pairs`` (query, key) dot products per head."""

    phase: str  # "decode" or "prefill"
    seqs: int
    query_tokens: int
    kv_tokens: int  # KV positions read (compulsory, once per sequence)
    pairs: int
    heads: int
    kv_heads: int
    head_dim_qk: int
    head_dim_v: int


@dataclass(frozen=True, slots=True)
class Op:
    name: str
    kind: str
    repeat: int
    flops: float
    weight_bytes: float = 0.0
    act_read_bytes: float = 0.0
    act_write_bytes: float = 0.0
    kv_read_bytes: float = 0.0
    kv_write_bytes: float = 0.0
    params: float = 0.0  # weight elements this op owns (all experts, for param counting)
    active_params: float = 0.0  # weight elements one token uses
    m: int = 0  # matmul: (m, k) @ (k, n), ``groups`` times (MoE: one GEMM per touched expert)
    n: int = 0
    k: int = 0
    groups: int = 1
    dtype: str = "bf16"  # compute format (the engine rate this op runs at)
    weight_dtype: str = ""
    layers: str = ""  # which layers this node stands for, e.g. "0-31" or "sliding: 0,2,..,34"
    attention: AttentionShape | None = field(default=None)

    @property
    def bytes(self) -> float:
        """All bytes moved to and from main memory by one instance (compulsory traffic)."""
        return (
            self.weight_bytes
            + self.act_read_bytes
            + self.act_write_bytes
            + self.kv_read_bytes
            + self.kv_write_bytes
        )

    @property
    def shape(self) -> str:
        if self.kind in ("matmul", "lm_head", "router", "moe") and self.m:
            g = f"{self.groups}x " if self.groups > 1 else ""
            return f"{g}({self.m},{self.k})@({self.k},{self.n})"
        a = self.attention
        if a is not None:
            return (
                f"{a.phase} seqs={a.seqs} q={a.query_tokens} kv={a.kv_tokens} "
                f"heads={a.heads}/{a.kv_heads} d={a.head_dim_qk}/{a.head_dim_v}"
            )
        return ""


def verify(op: Op) -> Op:
    """Reject impossible nodes at build time (negative work, unknown kind, inconsistent matmul FLOPs)."""
    assert op.kind in OP_KINDS, op.kind
    assert op.repeat >= 1, op
    for v in (
        op.flops,
        op.weight_bytes,
        op.act_read_bytes,
        op.act_write_bytes,
        op.kv_read_bytes,
        op.kv_write_bytes,
        op.params,
        op.active_params,
    ):
        assert v >= 0, op
    if op.kind in ("matmul", "lm_head", "router") and op.m:
        assert abs(op.flops - 2.0 * op.m * op.n * op.k * op.groups) <= 1e-6 * op.flops + 1, op
    return op
