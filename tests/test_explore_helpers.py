"""Small space and workload files shared by the explore and report tests (no tests here; fast: a 1.5B model,
20 s of trace)."""

from __future__ import annotations

from pathlib import Path

BASE = (
    Path(__file__).resolve().parents[1] / "src" / "jalapeno" / "explore" / "spaces" / "coding-asic-base.yaml"
)

WORKLOAD = """\
name: tiny
model: qwen2.5-coder-1.5b
precision: {weights: fp8}
trace: {name: azure-code, start_s: 0, duration_s: 20}
slo: {ttft_s: 1.0, tpot_s: 0.025, attainment: 0.9}
"""

SPACE = f"""\
name: tiny-space
base: {BASE}
processor:
  cores.count: {{int: [4, 64], log: true}}
  cores.matrix.rows: {{choices: [64, 128], also: [cores.matrix.cols]}}
  memory.devices: {{int: [1, 4]}}
deployment:
  tp: {{choices: [1, 2]}}
  replicas: {{int: [1, 3]}}
  scheduler: {{choices: [sarathi, disagg]}}
fixed: {{max_num_batched_tokens: 512}}
constraints: {{die_area_mm2: 858, tdp_w: 700, chips: 4}}
"""


def write_files(tmp: Path) -> tuple[Path, Path]:
    s, w = tmp / "space.yaml", tmp / "workload.yaml"
    s.write_text(SPACE, encoding="utf-8")
    w.write_text(WORKLOAD, encoding="utf-8")
    return s, w
