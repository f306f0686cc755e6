#!/usr/bin/env bash
# The Video Dynamics Prior against the classical baselines of every task, and the pyramid-loss
# ablation; writes benchmarks/results/<task>-vdp.* and <task>-vdp-single-scale.*, then RESULTS.md.
# Two clips (ONLY) at the default budget (150 s per 30-frame window): about 50 minutes on 2 cores.
source "$(dirname "$0")/common.sh"
bench --task denoise --frames "${DENOISE_FRAMES:-10}" --methods nlmeans,bm3d,vdp --name denoise-vdp
bench --task denoise --frames "${DENOISE_FRAMES:-10}" --sigma 25,50 --methods vdp --param levels=1 \
  --name denoise-vdp-single-scale
bench --task upscale --methods bicubic,lanczos,bm3d-lanczos,vdp --name upscale-vdp
bench --task interpolate --methods blend,flowinterp,vdp --name interpolate-vdp
bench --task inpaint --methods telea,ns,flowfill,vdp --name inpaint-vdp
python3 benchmarks/collect.py "$OUT" > benchmarks/RESULTS.md
echo "wrote benchmarks/RESULTS.md"
