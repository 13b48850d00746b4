"""Expert-rank imbalance after EPLB in SGLang's wide-EP runs, as its blog published it.

SGLang's blog (https://lmsys.org/blog/2025-05-05-large-scale-ep/, *Expert Parallelism Load Balancer*, figure
``eplb-balancedness.png``: "Effects of Scale and EPLB to Balancedness") plots, from a simulation on its expert
statistics, the "GPU balancedness ... ratio between mean computation time and maximum computation time for a
MoE layer among GPUs", estimated from "the number of tokens for a GPU". With EPLB: 0.944 / 0.902 / 0.800 /
0.810 at 8 / 16 / 32 / 72 GPUs; without: 0.674 / 0.614 / 0.551 / 0.478 at 8 / 16 / 32 / 64 (points read off
the figure's pixels: log2 x axis, gridlines 0.2 apart; reading error under 0.005). The hottest rank's load
over the mean is the reciprocal: 1 / 0.800 = 1.25 at EP32 with EPLB, the deployment of SGLang's default
prefill rows (EPLB from "a distribution matching the input/output data"). The simulation's batch is not
stated; the range is the with-EPLB points at 32 and 72 GPUs (0.80-0.81).
"""

from __future__ import annotations

EPLB_FIGURE = "https://lmsys.org/images/blog/large_scale_ep/eplb-balancedness.png"
# GPUs -> balancedness (mean / max MoE-layer load over the GPUs), SGLang's simulation
BALANCEDNESS_WITH_EPLB = {8: 0.944, 16: 0.902, 32: 0.800, 72: 0.810}
BALANCEDNESS_WITHOUT_EPLB = {8: 0.674, 16: 0.614, 32: 0.551, 64: 0.478}
BALANCEDNESS_EP32_RANGE = (0.800, 0.810)


def eplb_imbalance(gpus: int = 32, balancedness: dict[int, float] = BALANCEDNESS_WITH_EPLB) -> float:
    """The hottest rank's MoE load over the mean at ``gpus`` expert ranks: 1 / balancedness."""
    return round(1.0 / balancedness[gpus], 4)


SGLANG_PREFILL_IMBALANCE = eplb_imbalance(32)  # 1.25: SGLang's default (EPLB) EP32 prefill rows
