#!/usr/bin/env bash
# VINet (shipped weights) against the classical inpainting baselines on all six shared clips, the
# gain of test-time adaptation of 30/60/120 s (three clips), and inference speed/memory at 256x144
# and 854x480. Writes benchmarks/results/inpaint-vinet*.*, then RESULTS.md. ~20 minutes on 2 cores.
source "$(dirname "$0")/common.sh"
ALL=bedroom,bmx-trees,carphone,running_car,schoolgirls,tennis
ONLY=${VINET_CLIPS:-$ALL} bench --task inpaint --methods telea,ns,flowfill,vinet --name inpaint-vinet
export ONLY=${ADAPT_CLIPS:-bmx-trees,carphone,tennis}
for seconds in ${ADAPT:-30 60 120}; do
  bench --task inpaint --methods vinet --param adapt=$seconds --name inpaint-vinet-adapt$seconds
done
python3 benchmarks/vinet_speed.py "$OUT"
python3 benchmarks/collect.py "$OUT" > benchmarks/RESULTS.md
echo "wrote benchmarks/RESULTS.md"
