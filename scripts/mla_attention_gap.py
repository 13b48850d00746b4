"""Does MLA decode attention at its published kernel rate explain the DeepSeek-R1 rows' step growth per
cached token (scripts/deepseek_step_gap.py)? docs/validation-moe.md, "Decode step by category".

    /work/bin/jpy scripts/mla_attention_gap.py

At the three B200 operating points of ``deepseek_step_gap.points`` it prices the attention-decode kernels of
the group's step (the b200 parameters its Llama-2-70B rows fitted, fused engine) three ways, per cached token
a rank holds: as ``deepseek_step_gap`` prices them, with their compute format set to the KV cache's (BF16 or
FP8: the MLA kernels compute in the cache's format, FlashMLA in BF16; the graph already does), and at the
fraction of the peaks FlashMLA's README published on H800 (580 of 989 TFLOPS BF16, 3,000 of 3,350 GB/s;
a Hopper kernel's efficiency carried to Blackwell, an assumption), against the published step's growth.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from jalapeno.cost.op_time import ChipRates
from jalapeno.cost.params import fused_engine
from jalapeno.cost.published import load_published
from jalapeno.cost.published_decode_kernels import FLASHMLA_H800
from jalapeno.cost.published_run import calibrate_all
from jalapeno.cost.step import Estimator
from jalapeno.graph.batch import Batch
from jalapeno.graph.builder import build_graph
from jalapeno.graph.precision import Precision
from jalapeno.hardware.registry import resolve_chip
from jalapeno.models import resolve_model

sys.path.insert(0, str(Path(__file__).parent))
from deepseek_step_gap import points

H800_BF16, H800_BW = 989.4e12, 3.35e12


def attention_ns(est: Estimator, g, tok: int, dtype: str | None) -> float:
    """The attention-decode kernels' time a step, ns per cached token (``dtype``: their compute format)."""
    ops = [replace(o, dtype=dtype) if dtype and o.kind == "attention" else o for o in g.ops]
    costs, _, _, _ = est.price_op_list([o for o in ops if o.name == "attn_decode"])
    return sum(c.total_s for c in costs) * 1e9 / tok


def main() -> None:
    rows = {r.id: r for r in load_published()}
    fits, _ = calibrate_all(list(rows.values()), ["b200"])
    chip, model = resolve_chip("b200"), resolve_model("deepseek-r1")
    prm = fused_engine(fits["b200"].params)
    rates = ChipRates.of(chip)
    flops, bw = FLASHMLA_H800["2025-02-24"]
    fmla = replace(prm, attn_prefill_eff=flops / H800_BF16, attn_decode_mem_eff=bw / H800_BW)
    est, est_f = Estimator(chip, prm, 1), Estimator(chip, fmla, 1)
    print(
        f"b200 attention: compute eff {prm.attn_prefill_eff:.3f} -> {fmla.attn_prefill_eff:.3f}, "
        f"KV bandwidth eff {prm.attn_decode_mem_eff:.3f} -> {fmla.attn_decode_mem_eff:.3f}; "
        f"BF16 peak {rates.matrix_peak('bf16') / 1e12:.0f} TFLOPS"
    )
    cols = (
        "point",
        "published ns/token",
        "model ns/token",
        "attention as priced",
        "in the KV format",
        "FlashMLA eff.",
        "gap closed",
    )
    print("| " + " | ".join(cols) + " |")
    print("|" + " --- |" * len(cols))
    from jalapeno.cost.expert import ep_step
    from jalapeno.cost.pipeline import Parallel

    par = Parallel(tp=1, dp=8, ep=8)
    for name, per_rank, ctx, kv, pub_s in points(rows):
        g = build_graph(model, Batch.decode(per_rank, ctx), Precision.of("nvfp4", "nvfp4", kv))
        sc, _ = ep_step(est, model, par, [(g, per_rank * 8)], cuda_graph=True)
        tok = per_rank * ctx
        base, fmt, fl = (
            attention_ns(est, g, tok, None),
            attention_ns(est, g, tok, kv),
            attention_ns(est_f, g, tok, kv),
        )
        pub, mod = pub_s * 1e9 / tok, sc.time_s * 1e9 / tok
        print(
            f"| {name} | {pub:.0f} | {mod:.0f} | {base:.1f} | {fmt:.1f} | {fl:.1f} | "
            f"{(fl - base) / (pub - mod):.0%} |"
        )


if __name__ == "__main__":
    main()
