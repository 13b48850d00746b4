"""DeepSeek-V3's Day-6 MTP decode step (88 sequences a GPU, EP144, KV 4,989, 2 tokens verified) priced by
the serving oracle as a verify step (``StepShape.decode_queries``) and as the prefill chunks it was priced as
before, against ``graph.verify`` (``published_moe.mtp_step_s``). Quoted in docs/serving.md (speculative
decoding).

    python scripts/verify_step.py            # the fitted decode expert-rank factor (docs/validation-moe.md)
    python scripts/verify_step.py --uniform  # uniform routing's floor
"""

from __future__ import annotations

import sys
from dataclasses import replace

from jalapeno.cost import published_moe as pm
from jalapeno.cost.oracle import CostOracle
from jalapeno.cost.params import setup_for
from jalapeno.hardware.registry import resolve_chip
from jalapeno.models import resolve_model
from jalapeno.seams.step_oracle import StepShape

# docs/validation-moe.md: decode expert-rank factor fitted on sglang-blog with the two micro-batches
# overlapping step by step, as the serving oracle prices them (1.6309 under the published schedules)
FITTED_FACTOR = 1.9985


def main() -> None:
    gamma = None if "--uniform" in sys.argv else FITTED_FACTOR
    row = next(r for r in pm.ROWS if r.id == "deepseek-day6-decode")
    # the row as the serving oracle can price it: the factor in place of the imbalance, none of the decode
    # kernels' published rates (cost.published_decode_kernels), which the oracle does not model
    row = replace(
        row, ep_imbalance=0.0, masked_moe=False, flashmla="", launch_gap=False, ll_kernels=False, ll_nic=False
    )
    cfg, chip = resolve_model("deepseek-v3"), resolve_chip(row.chip)
    prm, timer = setup_for(chip, "fused")
    o = CostOracle(cfg, chip, prm, precision=pm._precision(), timer=timer, parallel=pm._plan(row, gamma))
    nd, k1 = row.per_gpu * row.ep, pm.MTP_TOKENS
    dctx = nd * row.length
    chunk = StepShape(0, 0, nd, nd * k1, dctx * k1 + nd * k1 * (k1 + 1) // 2, dctx + nd * k1)
    plain = o.step(StepShape(nd, dctx)).time_s
    draft = pm.MTP_DRAFT_COST * plain
    factor = gamma or "uniform"
    print(f"{row.id}: {row.per_gpu} seqs/GPU, EP{row.ep}, KV {row.length}, expert factor {factor}")
    print(f"plain decode step                      {plain * 1e3:8.2f} ms")
    print(f"verify priced as prefill chunks (old)  {(o.step(chunk).time_s + draft) * 1e3:8.2f} ms")
    verify = o.step(StepShape(nd, dctx, decode_queries=k1)).time_s + draft
    print(f"verify priced as decode, 2 queries     {verify * 1e3:8.2f} ms")
    step = pm.mtp_step_s(replace(row, tbo_stages=False), gamma)  # step by step, like the oracle
    print(f"graph.verify (published_moe)           {step * 1e3:8.2f} ms")


if __name__ == "__main__":
    main()
