#!/usr/bin/env bash
# The one GPU run of `jalapeno measure all`, as run on a lent device machine from the repository root.
# Writes $OUT/h200-measure.json (rewritten after every point) and $OUT/measure.log.
# BUDGET: wall budget in seconds for new points (default 420); ENERGY_S: seconds per energy reading (default 1).
set -o pipefail
: "${OUT:?set OUT to the output folder}"
mkdir -p "$OUT"
{
  echo "== $(date -u +%FT%TZ) $(hostname)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,power.limit,power.draw,temperature.gpu,clocks.sm,clocks.max.sm --format=csv || true
  nvidia-smi -q -d POWER,CLOCK | head -60 || true
  python3 -c "import sys, torch; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda, 'gpu', torch.cuda.is_available())" || true
} 2>&1 | tee "$OUT/nvidia-smi.txt"
PYTHONUNBUFFERED=1 PYTHONPATH=src python3 -m jalapeno.cli measure all --out "$OUT/h200-measure.json" \
  --budget-s "${BUDGET:-420}" --energy-s "${ENERGY_S:-1}" 2>&1 | tee "$OUT/measure.log"
# The serving replay: Azure code [265, 325) s (228 requests) through the prefill_first engine with Llama-3.1-8B
# (random weights); writes $OUT/h200-serve.json (rewritten every ~10 s) and $OUT/serve.log. About 55 s on an H200.
PYTHONUNBUFFERED=1 PYTHONPATH=src python3 -m jalapeno.cli measure serve --model llama-3.1-8b --trace azure-code \
  --start-s "${SERVE_START_S:-265}" --duration-s "${SERVE_DURATION_S:-60}" --out "$OUT/h200-serve.json" \
  --budget-s "${SERVE_BUDGET:-120}" 2>&1 | tee "$OUT/serve.log"
