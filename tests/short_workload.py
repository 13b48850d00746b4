"""The 30-second azure-code workload and the small fleets the Monte Carlo and model-error tests run on
(tests/test_compare.py, tests/test_model_error.py, tests/test_moe_codesign.py): short enough to simulate in
well under a second, long enough for every fleet to reach its steady state."""

from __future__ import annotations

from typing import Any

from jalapeno.explore.design import Deployment

SHORT: dict[str, Any] = {
    "name": "azure-30s",
    "model": "qwen2.5-coder-32b",
    "precision": {"weights": "fp8", "activations": "fp8", "kv": "fp8"},
    "trace": {"name": "azure-code", "start_s": 0, "duration_s": 30},
    "slo": {"ttft_s": 1.0, "tpot_s": 0.025, "attainment": 0.9},
    "prefix_cache": True,
}
H200_FLEET = Deployment(tp=2, replicas=1, scheduler="sarathi", max_num_batched_tokens=512)
J1_FLEET = Deployment(tp=1, replicas=1, scheduler="sarathi", max_num_batched_tokens=512)
