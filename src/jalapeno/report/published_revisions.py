"""Dated before/after records of docs/validation-published.md: what each revision of the predictor moved.

Records, not live tables: each "before" column is `jalapeno calibrate --all --json` at the commit it names.
"""

ROWS_MOVED = (
    "| chip | row | published tok/s/GPU | error before | error after | set (before -> after) |",
    "| --- | --- | ---: | ---: | ---: | --- |",
    "| h200-sxm | v4.1 mixtral-8x7b offline 8xh200-sxm | 7,377.8 | +21.4% | -1.3% | held-out -> fit |",
    "| h200-sxm | v4.1 mixtral-8x7b server 8xh200-sxm | 7,147.1 | +24.2% | +1.3% | held-out -> fit |",
    "| h200-sxm | v4.1 llama-2-70b server 8xh200-sxm | 3,653.5 | +1.7% | +4.8% | held-out -> held-out |",
    "| h200-sxm | v5.1 llama-2-70b server 8xh200-sxm | 4,155.5 | -10.6% | -7.9% | held-out -> held-out |",
    "| h200-sxm | v5.1 mixtral-8x7b offline 8xh200-sxm | 7,671.6 | +16.7% | -5.1% | held-out -> held-out |",
    "| h200-sxm | v5.1 mixtral-8x7b server 8xh200-sxm | 7,499.1 | +18.4% | -3.4% | held-out -> held-out |",
    "| h100-sxm | v4.1 llama-2-70b offline 4xh100-sxm | 2,648.5 | +35.1% | +32.2% | held-out -> held-out |",
    "| h100-sxm | v4.1 llama-2-70b offline 8xh100-sxm | 3,065.6 | +16.8% | +14.2% | held-out -> held-out |",
    "| h100-sxm | v4.1 mixtral-8x7b offline 4xh100-sxm | 6,660.4 | +23.2% | +2.7% | held-out -> held-out |",
    "| h100-sxm | v4.1 mixtral-8x7b offline 8xh100-sxm | 6,552.0 | +25.2% | +4.4% | held-out -> held-out |",
    "| h100-sxm | v4.1 mixtral-8x7b server 4xh100-sxm | 6,339.6 | +28.9% | +7.1% | held-out -> held-out |",
    "| h100-sxm | v4.1 mixtral-8x7b server 8xh100-sxm | 6,349.4 | +28.7% | +7.0% | held-out -> held-out |",
    (
        "| b200 | trtllm-perf-overview llama-3.1-70b fixed 1xb200 | 274.0 | +22.9% | +14.6% "
        "| held-out -> held-out |"
    ),
    "| mi300x | v5.1 mixtral-8x7b offline 8xmi300x | 6,627.2 | +11.6% | -12.6% | held-out -> held-out |",
    "| mi300x | v5.1 mixtral-8x7b server 8xmi300x | 5,975.5 | +22.3% | -3.9% | held-out -> held-out |",
    "| mi325x | v5.1 mixtral-8x7b offline 8xmi325x | 8,597.7 | +10.1% | -9.5% | held-out -> held-out |",
    "| mi325x | v5.1 mixtral-8x7b server 8xmi325x | 7,472.9 | +25.4% | +3.3% | held-out -> held-out |",
    "| mi355x | v5.1 llama-3.1-405b offline 8xmi355x | 242.8 | +4.0% | +1.6% | held-out -> held-out |",
)
# a record, not a live table: the "before" column is `jalapeno calibrate --all --json` at commit 06d3102,
# the "after" column the same command after the MoE knob, the length-biased running context, the
# tile-aligned batch and the 8-bit attention (cost/published_fit.py, cost/scenario.py, graph/precision.py)
REVISION = """Held-out error per chip (`jalapeno calibrate --all --json`, before: commit 06d3102; after: \
this page's command).
The H200 has two fewer held-out rows: its v4.1 Mixtral rows now fit the MoE knob. On the same 15 rows the
before column reads 5.1% median and 18.4% max.

| chip | held-out rows (before -> after) | median before | median after | max before | max after \
| target after |
| --- | ---: | ---: | ---: | ---: | ---: | --- |
| h200-sxm | 17 -> 15 | 5.9% | 4.8% | 24.2% | 14.3% | met |
| h100-sxm | 12 -> 12 | 27.9% | 10.7% | 47.4% | 47.0% | median met, max missed |
| b200 | 17 -> 17 | 10.8% | 11.7% | 86.9% | 86.6% | median met, max missed |
| gb200-nvl72 | 3 -> 3 | 29.0% | 28.9% | 79.9% | 79.6% | missed |
| mi300x | 7 -> 7 | 18.2% | 13.5% | 26.0% | 26.4% | median met, max missed |
| mi325x | 3 -> 3 | 10.1% | 5.8% | 25.4% | 9.5% | met |
| mi355x | 1 -> 1 | 4.0% | 1.6% | 4.0% | 1.6% | met |

Rows whose error moved by 2 points or more:

""" + "\n".join(ROWS_MOVED)

# the third session of 2026-12-05 (issues 11 and 12): before = commit d14ebe7
REVISION_2 = """Held-out error per chip (`jalapeno calibrate --all --json`, before: commit d14ebe7; after: \
this page's command).
What changed in between: every MLPerf row is priced at the serving configuration its submitter published \
(tensor and pipeline parallelism, batch cap, per-step token budget with chunked prefill as a mix of \
full-chunk and
decode-only steps, CUDA graphs, TensorRT-LLM's fused GEMM + all-reduce; a prompt's first token waits for step
boundaries); tensor-parallel all-reduces run in \
the residual stream's 16 bits, and on NVSwitch chips in the switch (NVLink SHARP); AMD's open-division MI355X
Llama-3.1-405B row is priced as the model AMD served (layers 59-84 dropped: 100 of 126). The MI355X row is
therefore not the same row before and after (its before reads the full 405B).

| chip | held-out rows (before -> after) | median before | median after | max before | max after \
| target after |
| --- | ---: | ---: | ---: | ---: | ---: | --- |
| h200-sxm | 15 -> 15 | 4.8% | 7.4% | 14.3% | 19.0% | met |
| h100-sxm | 12 -> 12 | 10.7% | 11.2% | 47.0% | 47.8% | median met, max missed |
| b200 | 17 -> 17 | 11.7% | 13.4% | 86.6% | 49.8% | median met, max missed |
| gb200-nvl72 | 3 -> 3 | 28.9% | 17.5% | 79.6% | 24.3% | max met, median missed |
| mi300x | 7 -> 7 | 13.5% | 16.1% | 26.4% | 27.1% | missed |
| mi325x | 3 -> 3 | 6.1% | 5.6% | 8.4% | 15.6% | met |
| mi355x | 1 -> 1 | 3.9% | 2.6% | 3.9% | 2.6% | met |

Held-out rows whose error moved by 5 points or more:

| chip | row | published tok/s/GPU | error before | error after |
| --- | --- | ---: | ---: | ---: |
| h200-sxm | v5.1 llama-3.1-405b interactive 8xh200-sxm | 25.3 | +0.4% | +12.3% |
| h200-sxm | v5.1 llama-3.1-405b offline 8xh200-sxm | 68.8 | -4.8% | +10.3% |
| h200-sxm | v5.1 llama-3.1-405b server 8xh200-sxm | 36.9 | -1.1% | +11.2% |
| h200-sxm | v5.1 llama-3.1-8b server 8xh200-sxm | 7,246 | +3.3% | -2.2% |
| h100-sxm | v5.1 llama-3.1-8b server 1xh100-sxm | 5,104 | +40.7% | +24.8% |
| b200 | v5.1 llama-3.1-405b interactive 8xb200 | 93.9 | +86.6% | +49.8% |
| b200 | v5.1 llama-3.1-405b offline 8xb200 | 203 | +29.8% | +14.3% |
| b200 | v5.1 llama-3.1-405b server 8xb200 | 155 | +63.4% | +14.9% |
| b200 | v5.1 llama-3.1-8b offline 8xb200 | 17,094 | +7.4% | +26.0% |
| b200 | v5.1 llama-3.1-8b server 8xb200 | 16,068 | +11.7% | +33.6% |
| b200 | v5.1 llama-3.1-405b offline 8xb200 | 205 | +28.8% | +13.4% |
| b200 | v5.1 llama-3.1-405b server 8xb200 | 156 | +62.2% | +14.1% |
| b200 | v5.1 llama-3.1-8b offline 8xb200 | 18,370 | -0.0% | +17.3% |
| b200 | v5.1 llama-3.1-8b server 8xb200 | 16,086 | +11.6% | +33.5% |
| b200 | trtllm-perf-overview llama-3.1-70b fixed 1xb200 | 6,920 | +14.5% | +5.9% |
| b200 | trtllm-perf-overview llama-3.1-70b fixed 1xb200 | 6,842 | +14.1% | +5.6% |
| b200 | trtllm-perf-overview llama-3.1-70b fixed 1xb200 | 1,362 | +2.3% | -4.3% |
| b200 | trtllm-perf-overview llama-3.1-70b fixed 1xb200 | 274 | +14.6% | +4.8% |
| gb200-nvl72 | v5.1 llama-3.1-405b offline 4xgb200-nvl72 | 212 | +28.9% | +17.5% |
| gb200-nvl72 | v5.1 llama-3.1-405b server 4xgb200-nvl72 | 146 | +79.6% | +24.3% |
| mi300x | v5.1 mixtral-8x7b server 8xmi300x | 5,976 | -3.9% | -11.5% |
| mi325x | v5.1 mixtral-8x7b offline 8xmi325x | 8,598 | -8.4% | -15.6% |
| mi325x | v5.1 mixtral-8x7b server 8xmi325x | 7,473 | +4.7% | -5.6% |
"""
