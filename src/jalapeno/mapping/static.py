"""What a statically scheduled chip (kind asic / tpu / lpu) pays beyond its engines' steady-state issue.

A compiler schedules every op ahead of time, so the engines issue every cycle they have data: the
losses are not an "issue efficiency" but four things the schedule cannot avoid, each modelled explicitly
(the mapper adds them; ``jalapeno.mapping.event_sim`` replays them tile by tile):

* **Compiled shape buckets.** A program is compiled for a fixed set of shapes; a step's token count is
  padded up to the next bucket (powers of two from ``MIN_TOKENS`` up to ``token_bucket_gap``, then
  multiples of it: vLLM's TPU runner, ``_get_paddings``), each sequence's KV length to a multiple of
  ``kv_bucket_tokens`` (paged attention's block). The padded rows are computed and moved like real ones.
* **Cross-core barriers and reductions.** Cores synchronize at the end of every op (the next op reads
  what all of them wrote), and split-K partial sums or flash-decoding partial outputs are combined in
  ``ceil(log2(parts))`` rounds over the NoC, each a barrier plus one tile over a core's NoC link.
* **DMA setup.** Each tile transfer (an operand stage in, a result out) costs ``dma_setup_s`` of its core's
  DMA queue before its bytes move; queues pipeline setups with data movement, so many small tiles make an
  op issue-bound on the queue (AWS Neuron's guide to inefficient DMA transfers describes the effect).
* **Load imbalance.** Work units (output tiles, attention units) not divisible by the cores leave cores
  idle in the last wave: already in the mapper's ``waves = ceil(units / cores)``.

GPUs (kind gpu) keep their measured ``matrix_issue_efficiency`` and per-kernel overhead: dynamic issue,
hardware scheduling and these losses are inside what was measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from jalapeno.graph.ops import Op
from jalapeno.hardware.arch.spec import ArchSpec
from jalapeno.hardware.kinds import is_static
from jalapeno.hardware.spec import Figure

MIN_TOKENS = 16  # vLLM's TPU runner: the smallest compiled token count
MATMUL_KINDS = ("matmul", "lm_head", "router")  # rows are the step's tokens (or sequences): padded

# Defaults for an architecture whose runtime section does not state them (estimates with ranges; the
# YAML keys of the same names override them; docs/mapping.md gives the reasoning).
DEFAULTS: dict[str, Figure] = {
    "token_bucket_gap": Figure(
        128,
        "estimate: vLLM TPU runner buckets (powers of two, then multiples of "
        "VLLM_TPU_BUCKET_PADDING_GAP); 128 = one systolic tile of rows",
        True,
        range=(64.0, 512.0),
    ),
    "kv_bucket_tokens": Figure(
        128,
        "estimate: paged-attention KV block of 128 tokens (ragged paged attention "
        "on TPU pages 16-128 tokens; one block per kv tile)",
        True,
        range=(16.0, 512.0),
    ),
    "dma_setup_s": Figure(
        1e-7,
        "estimate: descriptor generation, semaphore wait and packet setup per transfer "
        "(AWS Neuron, 'How to identify and reduce inefficient DMA transfers': a fixed cost per "
        "transfer independent of its size)",
        True,
        range=(2e-8, 5e-7),
    ),
    "barrier_s": Figure(
        2e-7,
        "estimate: a cross-core barrier over the on-chip mesh, ~2 x diameter router hops "
        "plus semaphore handling",
        True,
        range=(5e-8, 1e-6),
    ),
}


@dataclass(frozen=True)
class StaticSchedule:
    token_bucket_gap: int
    kv_bucket_tokens: int
    dma_setup_s: float
    barrier_s: float

    @classmethod
    def of(cls, arch: ArchSpec) -> StaticSchedule | None:
        """The architecture's static-schedule constants, or None for a dynamically scheduled GPU."""
        if not is_static(arch.kind):
            return None
        rt = arch.runtime
        v = {k: (getattr(rt, k) or d).value for k, d in DEFAULTS.items()}
        return cls(int(v["token_bucket_gap"]), int(v["kv_bucket_tokens"]), v["dma_setup_s"], v["barrier_s"])

    def pad_tokens(self, n: int) -> int:
        """The compiled token count a step of ``n`` tokens runs at."""
        if n <= 0:
            return n
        if n <= MIN_TOKENS:
            return MIN_TOKENS
        p = 1 << math.ceil(math.log2(n))
        g = self.token_bucket_gap
        return p if p <= g else -(-n // g) * g

    def pad_kv(self, n: int) -> int:
        return -(-n // self.kv_bucket_tokens) * self.kv_bucket_tokens if n > 0 else n

    def pad(self, op: Op) -> Op:
        """``op`` at its compiled shape: token rows and per-sequence KV lengths padded, work scaled."""
        if op.kind in MATMUL_KINDS and op.m:
            m = self.pad_tokens(op.m)
            if m == op.m:
                return op
            f = m / op.m
            return replace(
                op,
                m=m,
                flops=op.flops * f,
                act_read_bytes=op.act_read_bytes * f,
                act_write_bytes=op.act_write_bytes * f,
            )
        if op.kind == "attention" and op.attention is not None:
            a = op.attention
            seqs = max(a.seqs, 1)
            per = -(-a.kv_tokens // seqs)
            extra = self.pad_kv(per) * seqs - a.kv_tokens
            if extra <= 0:
                return op
            pairs = a.pairs + a.query_tokens * (self.pad_kv(per) - per)
            fk, fp = (a.kv_tokens + extra) / max(a.kv_tokens, 1), pairs / max(a.pairs, 1)
            return replace(
                op,
                attention=replace(a, kv_tokens=a.kv_tokens + extra, pairs=pairs),
                flops=op.flops * fp,
                kv_read_bytes=op.kv_read_bytes * fk,
            )
        return op

    def combine_s(self, parts: Any, tile_bytes: Any, link_bw: float) -> Any:
        """Time to combine ``parts`` partial results of ``tile_bytes`` each (log-tree over the NoC);
        numpy arrays or numbers."""
        if type(parts) is int:  # ceil(log2(parts)) exactly, without numpy
            return (max(parts, 1) - 1).bit_length() * (self.barrier_s + tile_bytes / link_bw)
        rounds = np.ceil(np.log2(np.maximum(parts, 1)))
        return rounds * (self.barrier_s + tile_bytes / link_bw)
