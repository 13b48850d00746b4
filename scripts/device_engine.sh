#!/usr/bin/env bash
# The next GPU run for issue 6 (serving replay TPOT): the replay engine's own costs, taken apart, and a new
# replay whose step rows carry the host-time breakdown. From the repository root on a lent device machine:
#   OUT=/path bash scripts/device_engine.sh
# Writes $OUT/h200-engine.json + engine.log (`jalapeno measure engine`: serve-decode and serve-prefill-host
# on qwen2.5-coder-7b (fit) and llama-3.1-8b (held out), ~70 s) and $OUT/h200-serve.json + serve.log (the
# Azure code replay of [1050, 1110) s, 257 requests: a *different* slice than the bundled [265, 325) s, so it
# is new held-out data, ~55 s).
# Total ~2.5 min of device time plus start-up; test it first with `--quick --device cpu` (see docs/measure.md).
set -o pipefail
: "${OUT:?set OUT to the output folder}"
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.sm,clocks.max.sm --format=csv 2>&1 | tee "$OUT/nvidia-smi.txt"
PYTHONUNBUFFERED=1 PYTHONPATH=src python3 -m jalapeno.cli measure engine --models qwen2.5-coder-7b,llama-3.1-8b \
  --out "$OUT/h200-engine.json" --budget-s "${ENGINE_BUDGET:-150}" 2>&1 | tee "$OUT/engine.log"
PYTHONUNBUFFERED=1 PYTHONPATH=src python3 -m jalapeno.cli measure serve --model llama-3.1-8b --trace azure-code \
  --start-s "${SERVE_START_S:-1050}" --duration-s "${SERVE_DURATION_S:-60}" --out "$OUT/h200-serve.json" \
  --budget-s "${SERVE_BUDGET:-120}" 2>&1 | tee "$OUT/serve.log"
