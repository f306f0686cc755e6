#!/usr/bin/env bash
# The learned fill over flowfill (issue 26) on the six shared clips: what each part buys (flowfill, + the
# network on every frame, FGVC's keyframe route, + adaptation to the video for 60 s), then the mask aid on
# clips whose masks leave the shadow out, and speed and memory. Writes benchmarks/results/inpaint-fill*,
# shadow-aid.md, inpaint-speed.*, then RESULTS.md. About 40 minutes on 2 cores.
source "$(dirname "$0")/common.sh"
export ONLY=${FILL_CLIPS:-bedroom,bmx-trees,carphone,running_car,schoolgirls,tennis}
bench --task inpaint --methods flowfill,fill,fill:route=keyframe,fill:adapt=60 --name inpaint-fill
python3 benchmarks/shadow_aid.py "$OUT"
python3 benchmarks/speed.py inpaint "$OUT"
python3 benchmarks/collect.py "$OUT" > benchmarks/RESULTS.md
echo "wrote benchmarks/RESULTS.md"
