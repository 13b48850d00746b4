"""The fused GEMM + all-reduce plugin's 4-bit kernel: one tile shape whatever M is.

TensorRT-LLM's GEMM + AllReduce plugin (build flag ``gemm_allreduce_plugin``; the flag's value, ``float16``
in NVIDIA's MLPerf v5.1 Llama-3.1-405B configurations, is the output type: the plugin instantiates NVFP4 x
NVFP4 -> FP16, plugins/gemmAllReducePlugin/gemmAllReducePlugin.cpp) runs 4-bit GEMMs only on Blackwell
("Sub-byte GEMMs not supported" on Hopper), and there in one configuration
(cutlass_kernels/allreduce_gemm/allreduce_gemm_runner.cu, commit 038ba99c:
``addSm100<..., _2SM, TileShape_128x256x128, ClusterShape_4x1x1>``; no swap of A and B, no split-K, a
static persistent scheduler, allreduce_gemm_impl_sm100.h). A cluster of four SMs (two 2-SM MMAs of
256 x 256) owns a 512-row x 256-column output tile; a decode step's few rows are padded to 512, and the
tiles run in whole waves over cores / 4 clusters. Hopper's FP8 plugin swaps A and B and has 16-, 32- and
64-row tiles: the general tiling (``op_time.matmul_compute_s``) prices it.

At a decode step of Llama-3.1-405B on four B200s (23 rows, N = 16,384, down's K = 13,312) that is 64 tiles
over 37 clusters, two waves of 2 x 512 x 256 x K: o_proj 19.1 and down 54.1 us against the general tiling's
8.7 and 21.8 (the weights' streaming time). MMAs on padded rows are priced as time only; the energy stays the
GEMM's counted FLOPs.
"""

from __future__ import annotations

import math
from dataclasses import replace

from jalapeno.cost.op_time import ChipRates, OpTime, op_time_of
from jalapeno.cost.params import CostParams
from jalapeno.dtypes import get_dtype
from jalapeno.graph.ops import Op

CLUSTER_M = 512  # rows of output a cluster owns: 4 CTAs x 128 (two 2-SM MMAs of 256 rows)
TILE_N = 256  # output columns a tile
CLUSTER_SMS = 4  # ClusterShape_4x1x1


def is_fused_4bit(op: Op) -> bool:
    """Whether the plugin runs ``op`` (a sharded row-parallel GEMM) on its 4-bit (Blackwell) kernel."""
    return get_dtype(op.dtype).bits == 4


def fused_4bit_compute_s(op: Op, rates: ChipRates, prm: CostParams) -> float:
    """Compute time of one instance at the kernel's only tile: ceil(tiles / clusters) waves of
    2 x 512 x 256 x (K + k_overhead) FLOPs, each cluster at 4 / cores of the chip's efficient rate."""
    clusters = max(1, rates.cores // CLUSTER_SMS)
    tiles = math.ceil(op.m / CLUSTER_M) * math.ceil(op.n / TILE_N) * max(1, op.groups)
    rate = rates.matrix_peak(op.dtype) * prm.eff(op.dtype) * min(1.0, CLUSTER_SMS / rates.cores)
    return math.ceil(tiles / clusters) * 2.0 * CLUSTER_M * TILE_N * (op.k + prm.k_overhead) / rate


def fused_4bit_time(op: Op, ot: OpTime, rates: ChipRates, prm: CostParams) -> OpTime:
    """``ot`` (the general tiling's time of ``op``) with its compute time at least the padded kernel's."""
    tc = max(ot.compute_s, fused_4bit_compute_s(op, rates, prm))
    if tc == ot.compute_s:
        return ot
    return replace(op_time_of(tc, ot.memory_s, ot.roofline_s, ot.kernels, prm), energy_j=ot.energy_j)
