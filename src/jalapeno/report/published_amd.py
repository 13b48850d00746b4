"""AMD's vLLM serving mechanics and their known gaps, as docs/validation-published.md states them
(cost/vllm_host.py prices them); kept here so the page's generator stays small."""

from __future__ import annotations

AMD_VLLM_MECHANISMS = (
    "(7) AMD's vLLM runs (cost/vllm_host.py, settings read from their harness code into "
    "src/jalapeno/data/published_engines/vllm_engine.csv): vLLM's V0 engine idles the GPU while the host "
    "takes the sampled tokens back, builds the outputs, schedules and prepares the next step, 5-13 ms a "
    "scheduler call by vLLM's multi-step RFC (github.com/vllm-project/vllm/issues/6854; priced at its 9 "
    "ms midpoint, an estimate); the v5.1 yaml's num_scheduler_steps N runs N decode steps a call, so a "
    "decode step pays 9 / N ms and a prefill step (always a single step) 9 ms, while v4.1's vLLM 0.4.3 "
    "predates multi-step scheduling and pays it every step. A multi-step engine admits prompts only at "
    "its scheduler calls, so one prefill step takes the prompts that arrived over N decode steps (m = "
    "rate x N steps, m / (1 - e^-m) given one came) and a prompt waits up to that interval for its first "
    "token; AMD's v4.1 server harness batches queries for 0.3 s (or 96) and sends each batch to one of "
    "its replicas (sync_sut.py batch_samples_loop, --enable-batcher), so a replica's prompts come in "
    "bursts of 1 + system rate x 0.3 s (3.6 on the 1-GPU system, 25 on the 8-GPU one). A request's decode"
    " steps then meet whole bursts: the p99 TPOT takes k times a Poisson count's variance (the prompt "
    "lengths' 1 + cv^2 becomes k + cv^2). At the batches the AMD Llama-2-70B server logs show, the p99 "
    "TPOT lands within 3% on all four runs (70-86% before) and the v5.1 MI300X interactive p99 TTFT at "
    "436 of 436 ms (125 before). "
)

AMD_VLLM_GAP = (
    "- AMD vLLM engine (item 7 of Serving mechanics): the 9 ms host bubble is an estimate inside vLLM's "
    "reported 5-13 ms; across that range the MI300X held-out rows read 16.2% median / 20.1% max (5 ms), "
    "14.3% / 16.1% (9 ms) and 11.3% / 16.6% (13 ms), so its target holds only from the midpoint up. The "
    "v4.1 offline rows stay +11% and +15% (vLLM 0.4.3 against the fit's 0.9.0: AMD's v5.1 patches, e.g. "
    "swizzled fp8 GEMM weights and its scheduler, are not priced; the v4.1 free-KV prefill gate "
    "VLLM_SCHED_PREFILL_KVC_FREEPCT 31 lowers the mean batch by about 15%, under 1% of throughput). The "
    "MI325X fits a compute scale 1.37 x the MI300X's on the same CDNA 3 silicon: its Llama-2-70B yaml "
    "sets VLLM_MLPERF_SWIZZLE_FP8_LINEAR (swizzled fp8 GEMM weights, Swizzle-fp8-linear.patch) and its "
    "interactive run is vLLM's V1 engine with chunked prefill, the MI300X's neither; it is an engine "
    "difference fitted as a chip scale, not silicon. The V1 run (MI325X interactive, vLLM 0.6.5) pays no "
    "bubble (V1 overlaps the host's work); no figure for what it leaves was found."
)
