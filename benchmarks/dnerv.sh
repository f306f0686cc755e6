#!/usr/bin/env bash
# DNeRV against the classical baselines: rate-distortion beside x264/x265 (with BD-rate), frame
# interpolation and inpainting; writes benchmarks/results/<task>-dnerv.*, then RESULTS.md.
# Rate-distortion and interpolation on two clips (ONLY), inpainting on all six (INPAINT_CLIPS), at
# the default fitting budget (150 s per fit): about 50 minutes on 2 cores.
source "$(dirname "$0")/common.sh"
bench --task compress --methods x264,x265,dnerv --name compress-dnerv
bench --task interpolate --methods blend,flowinterp,dnerv --name interpolate-dnerv
ONLY=${INPAINT_CLIPS:-bedroom,bmx-trees,carphone,running_car,schoolgirls,tennis}
bench --task inpaint --methods telea,ns,flowfill,dnerv --name inpaint-dnerv
python3 benchmarks/collect.py "$OUT" > benchmarks/RESULTS.md
echo "wrote benchmarks/RESULTS.md"
