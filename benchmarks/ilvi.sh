#!/usr/bin/env bash
# Internal-learning video inpainting (ilvi) beside the classical inpainting on the six clips, and
# its ablation on two: ilvi without the flow terms, and plain Deep Image Prior. ~30 minutes on 2 cores.
source "$(dirname "$0")/common.sh"
ONLY=${ILVI_CLIPS:-bedroom,bmx-trees,carphone,running_car,schoolgirls,tennis}
bench --task inpaint --methods telea,ns,flowfill,ilvi --name inpaint-ilvi
ONLY=${ABLATION_CLIPS:-bmx-trees,tennis}
bench --task inpaint --methods ilvi --param flow=0 --param consistency=0 --name inpaint-ilvi-noflow
bench --task inpaint --methods dip --name inpaint-dip
python3 benchmarks/collect.py "$OUT" > benchmarks/RESULTS.md
echo "wrote benchmarks/RESULTS.md"
