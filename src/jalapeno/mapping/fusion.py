"""Which elementwise ops fuse into their neighbours, and what traffic that removes.

Rules by op name (the graph builder's names are stable): a fused consumer runs in its producer's
epilogue (or, for norms, the next matmul's prologue) on the vector unit while the tile is still in
SRAM, so it launches no kernel and its main-memory traffic shrinks to what the fusion cannot remove
(a residual add still reads the residual stream and writes the sum; a KV write still writes the cache).
The producer writes less when its output is consumed in place: a gated MLP's ``gate_up`` writes the
activated half, ``o_proj`` and ``down`` hand their output to the residual add, which writes the sum.
"""

from __future__ import annotations

from jalapeno.graph.ops import Op

# consumer -> (share of act_read_bytes still read from main memory, share of act_write_bytes written)
CONSUMERS: dict[str, tuple[float, float]] = {
    "act": (0.0, 0.0),
    "shared_act": (0.0, 0.0),  # SwiGLU in the gate_up epilogue
    "rope": (0.0, 0.0),
    "qk_norm": (0.0, 0.0),  # in the qkv_proj epilogue
    "kv_write": (0.0, 1.0),  # K/V go from the qkv_proj epilogue straight to the cache
    "attn_norm": (0.0, 0.0),
    "mlp_norm": (0.0, 0.0),
    "final_norm": (0.0, 0.0),  # next matmul's prologue
    "q_a_norm": (0.0, 0.0),
    "kv_a_norm": (0.0, 0.0),
    "residual_add": (0.5, 1.0),  # reads the residual, writes the sum; the other input is in SRAM
}
# producer -> share of act_write_bytes still written to main memory
PRODUCERS: dict[str, float] = {"gate_up": 0.5, "shared_gate_up": 0.5, "o_proj": 0.0, "down": 0.0}


def fused_consumer(op: Op) -> tuple[float, float] | None:
    return CONSUMERS.get(op.name) if op.kind in ("elementwise", "norm", "rope", "kv_write") else None


def producer_write_share(op: Op) -> float:
    return PRODUCERS.get(op.name, 1.0)


def remaining_main_bytes(op: Op, rule: tuple[float, float]) -> float:
    """Main-memory bytes a fused consumer still moves."""
    read, write = rule
    return (
        op.act_read_bytes * read
        + op.act_write_bytes * write
        + op.kv_write_bytes
        + op.kv_read_bytes
        + op.weight_bytes
    )
