"""The 30-second azure-code workload and the small fleets the Monte Carlo and model-error tests run on
(tests/test_compare.py, tests/test_model_error.py, tests/test_moe_codesign.py): short enough to simulate in
well under a second, long enough for every fleet to reach its steady state."""

from __future__ import annotations

from pathlib import Path
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

# A workload file small enough for a CLI test (qwen2.5-coder-1.5b, 20 s of azure-code) for the commands that
# take one by path (explore, compare): tests/test_json_schemas.py, test_cli_errors.py, test_formats.py,
# test_tco.py.
TINY_WORKLOAD = (
    "name: tiny\nmodel: qwen2.5-coder-1.5b\nprecision: {weights: fp8, activations: fp8, kv: fp8}\n"
    "trace: {name: azure-code, start_s: 0, duration_s: 20}\n"
    "slo: {ttft_s: 1.0, tpot_s: 0.025, attainment: 0.9}\n"
)


def write_tiny_workload(directory: Path) -> Path:
    """``TINY_WORKLOAD`` written to ``directory``/tiny.yaml."""
    w = directory / "tiny.yaml"
    w.write_text(TINY_WORKLOAD, encoding="utf-8")
    return w
