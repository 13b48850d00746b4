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
