"""Where the MoE path misses MLPerf's DeepSeek-R1: the group's step at the runs' own load, not the scenario.

    /work/bin/jpy scripts/deepseek_step_gap.py

For B200 (TP8 EP8 attention DP, the b200 parameters its Llama-2-70B rows fitted) it prints, at three
published operating points, the published step (the time every request in flight writes one token) against
the model's group step (``cost.expert.ep_step``, decode only) and its attention-decode part, per cached token
a rank holds:

* MLPerf v5.1 NVIDIA B200 DeepSeek-R1 Server: decoding requests by Little's law from the bundled log summary
  (samples/s x (mean latency - mean TTFT) = 1,231, 154 a rank) at the benchmark's running context
  (``running_context``: 4,977 tokens); the step is the log's mean TPOT;
* TensorRT-LLM's DeepSeek-R1 B200 max-throughput recipes (docs/source/blogs/
  Best_perf_practice_on_DeepSeek-R1_in_TensorRT-LLM.md at NVIDIA/TensorRT-LLM f0c873f5): 7,168 in flight
  (896 a rank, FP8 KV) at 43,146.2 tok/s, and 3,072 (384 a rank, FP16 KV) at 36,384.1 tok/s, ISL 1,024 and
  OSL 2,048, so 2,048 tokens a running request; the step is requests in flight / output tokens/s.

Then the held-out errors again with the decode expert-rank factor the SGLang blog's row fitted (1.9985,
docs/validation-moe.md) in place of uniform routing's floor: a sensitivity, never applied.
"""

from __future__ import annotations

from dataclasses import replace

from jalapeno.cost import published_ep as pe
from jalapeno.cost.expert import ep_step
from jalapeno.cost.params import fused_engine
from jalapeno.cost.pipeline import Parallel
from jalapeno.cost.published import load_published
from jalapeno.cost.published_fit import row_shape
from jalapeno.cost.published_run import calibrate_all
from jalapeno.cost.scenario_limits import load_logged_runs
from jalapeno.cost.step import Estimator
from jalapeno.graph.batch import Batch
from jalapeno.graph.builder import build_graph
from jalapeno.graph.precision import Precision
from jalapeno.hardware.registry import resolve_chip
from jalapeno.models import resolve_model

SGLANG_DECODE_FACTOR = 1.9985  # docs/validation-moe.md, fitted on the SGLang blog's decode row


def points(rows: dict) -> list[tuple[str, int, int, str, float]]:
    """(name, requests a rank, tokens a running request, KV dtype, published step in seconds)."""
    srv = rows["5.1-0069:deepseek-r1:Server"]
    log = load_logged_runs()[srv.id]
    busy = log.decoding(1)
    isl, osl, _, _, fr = row_shape(srv)
    from jalapeno.cost.scenario import running_context

    return [
        ("MLPerf B200 server", round(busy / 8), running_context(isl, osl, fr), "fp8", log.tpot_mean_s),
        ("TRT-LLM recipe, FP8 KV", 896, 1024 + 1024, "fp8", 7168 / 43146.2042),
        ("TRT-LLM recipe, FP16 KV", 384, 1024 + 1024, "bf16", 3072 / 36384.0838),
    ]


def main() -> None:
    rows = {r.id: r for r in load_published()}
    fits, _ = calibrate_all(list(rows.values()), ["h200-sxm", "b200", "gb200-nvl72", "gb300-nvl72"])
    chip, model = resolve_chip("b200"), resolve_model("deepseek-r1")
    prm = fused_engine(fits["b200"].params)
    est, par = Estimator(chip, prm, 1), Parallel(tp=1, dp=8, ep=8)
    cols = ("point", "a rank", "tokens", "published step", "ns/token", "model step", "ns/token", "attention")
    print("| " + " | ".join(cols) + " | ns/token |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, per_rank, ctx, kv, pub_s in points(rows):
        g = build_graph(model, Batch.decode(per_rank, ctx), Precision.of("nvfp4", "nvfp4", kv))
        sc, _ = ep_step(est, model, par, [(g, per_rank * 8)], cuda_graph=True)
        attn = sum(c.time.time_s * c.op.repeat for c in sc.ops if c.op.name == "attn_decode")
        tok = per_rank * ctx
        print(
            f"| {name} | {per_rank} | {ctx:,} | {pub_s * 1e3:.1f} ms | {pub_s * 1e9 / tok:.0f} | "
            f"{sc.time_s * 1e3:.1f} ms | {sc.time_s * 1e9 / tok:.0f} | "
            f"{attn * 1e3:.1f} ms | {attn * 1e9 / tok:.1f} |"
        )
    print()
    print("| chip | row | published | predicted | with the SGLang factor |")
    print("| --- | --- | ---: | ---: | ---: |")
    base = pe.ep_parallel
    for f in fits.values():
        for c in f.ep_checked:
            p = fused_engine(f.params)
            m, ch = resolve_model(c.row.model), resolve_chip(c.row.chip)
            pe.ep_parallel = lambda r: replace(base(r), ep_imbalance=SGLANG_DECODE_FACTOR)  # type: ignore[assignment]
            alt = pe.ep_result(c.row, m, ch, p, row_shape(c.row))
            pe.ep_parallel = base  # type: ignore[assignment]
            a = alt.tokens_per_s_per_chip if alt else float("nan")
            print(
                f"| {f.chip} | {c.row.key} | {c.row.per_chip:,.0f} | "
                f"{c.predicted or 0:,.0f} ({c.error or 0:+.0%}) | {a:,.0f} ({a / c.row.per_chip - 1:+.0%}) |"
            )


if __name__ == "__main__":
    main()
