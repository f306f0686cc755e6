#!/usr/bin/env bash
# Reproduces benchmarks/RESULTS.md: every task on the shared clips, every method that serves it.
#   bash benchmarks/run.sh                 # all tasks
#   TASKS="inpaint denoise" bash benchmarks/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CLIPS=${CLIPS:-../shared/data/clips}
FRAMES=${FRAMES:-30}
OUT=benchmarks/results
VIDPRIOR=${VIDPRIOR:-vidprior}
for task in ${TASKS:-inpaint denoise interpolate upscale compress}; do
  $VIDPRIOR bench --clips "$CLIPS" --task "$task" --frames "$FRAMES" --out "$OUT" -q
done
python3 benchmarks/collect.py "$OUT" > benchmarks/RESULTS.md
echo "wrote benchmarks/RESULTS.md"
