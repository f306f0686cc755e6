#!/usr/bin/env bash
# Reproduces benchmarks/RESULTS.md: every task on the shared clips, every method that serves it.
#   bash benchmarks/run.sh                                   # all tasks, all methods
#   TASKS="inpaint denoise" bash benchmarks/run.sh           # some tasks
#   METHODS_inpaint=telea,flowfill,ilvi bash benchmarks/run.sh   # some methods of a task
# Denoising is scored on the first 10 frames of each clip (DENOISE_FRAMES): BM3D costs ~4.6 s per
# 256x144 frame here and BM4D about three times that, so 30 frames x 6 clips x 4 noise cases would take
# hours. The fitted methods (vdp, dip, dnerv) are in vdp.sh, ilvi.sh and dnerv.sh; the hybrid codec's speed in
# codec_speed.py. Add one method to an
# earlier run without running the others again: vidprior bench ... --methods NAME --keep.
set -euo pipefail
cd "$(dirname "$0")/.."
CLIPS=${CLIPS:-../shared/data/clips}
OUT=benchmarks/results
VIDPRIOR=${VIDPRIOR:-vidprior}
for task in ${TASKS:-inpaint denoise interpolate upscale compress}; do
  frames=${FRAMES:-30}
  [ "$task" = denoise ] && frames=${DENOISE_FRAMES:-10}
  methods_var="METHODS_$task"
  methods=${!methods_var:-}
  [ "$task" = denoise ] && methods=${methods:-nlmeans,bm3d,bm4d,denoiser:arch=window,denoiser,denoiser:adapt=30}
  [ "$task" = interpolate ] && methods=${methods:-blend,flowinterp:warp=reversal,flowinterp:paths=straight,flowinterp,interp:paths=straight,interp,interp:adapt=30}
  [ "$task" = upscale ] && methods=${methods:-bicubic,lanczos,bm3d-lanczos,upscaler:arch=window,upscaler,upscaler:adapt=30}
  [ "$task" = compress ] && methods=${methods:-x264,x265,x265-psnr,hybrid-plain,hybrid}
  $VIDPRIOR bench --clips "$CLIPS" --task "$task" --frames "$frames" --out "$OUT" -q ${methods:+--methods "$methods"}
  if [ "$task" = interpolate ]; then  # wider gaps: what splatting, quadratic paths and the network buy there
    for factor in 4 8; do
      $VIDPRIOR bench --clips "$CLIPS" --task interpolate --factor $factor --frames "$frames" --out "$OUT" -q \
        --methods flowinterp:warp=reversal,flowinterp,interp:paths=straight,interp --name interpolate-x$factor
    done
  fi
done
python3 benchmarks/collect.py "$OUT" > benchmarks/RESULTS.md
echo "wrote benchmarks/RESULTS.md"
