"""Join the per-task tables of `vidprior bench` into one markdown page (printed to stdout).

    python benchmarks/collect.py benchmarks/results > benchmarks/RESULTS.md
"""

import re
import sys
from pathlib import Path

ORDER = ("inpaint", "denoise", "interpolate", "upscale", "compress")
HEADER = """# Benchmark results

Produced by `bash benchmarks/run.sh` (that is, `vidprior bench --clips ../shared/data/clips --task T` for
every task, then this collector); the `<task>-vdp*`, `<task>-dnerv`, `inpaint-ilvi*`/`inpaint-dip` and
`inpaint-vinet*` sections come from `bash benchmarks/vdp.sh`, `bash benchmarks/dnerv.sh`,
`bash benchmarks/ilvi.sh` and `bash benchmarks/vinet.sh` (see the scripts for their clips), the
batch/web-app section from `python benchmarks/serving.py`. Inputs
are the clean shared clips with synthetic degradations made by `vidprior.problems` (seeded);
figures are means over clips. PSNR/SSIM are per-frame means on RGB;
`psnr_hole` counts only the filled pixels; `psnr_y` is the super-resolution convention (Y channel,
border crop = scale); `warp_error` is the temporal warping error (lower is better, see
`vidprior.metrics.warping_error`); `lpips` is LPIPS-AlexNet (lower is better); `unseen` is the share of
the hole pixels that no frame shows (flowfill fills them with Telea) and `psnr_unseen` the PSNR on those
pixels alone; `s/clip` is wall time per
clip and `peak MB` the peak resident memory of the benchmark process while the method ran.

Issue 29 ran `mask-carry` again with 1, 2 and 3 painted keyframes and the mask-propagation network
(`network`, `snap+network`, `adapted`: fine-tuned on the keyframes first, and `covering`, what the web app fills),
every carried mask an object (no holes or loose pieces unless the keyframes have them; `holes` counts the masks
with holes: the true masks of these three clips have holes at the keyframes, so holes are kept there); added
`propose` (`python benchmarks/propose.py ../shared/data/clips`: one click on the object, its mask proposed) and
`enhance` (`python benchmarks/enhance.py ../shared/data/clips --frames 31`: old footage, x2 smaller, half the
frames, x264 CRF 28, brought back by `vidprior enhance` against FFmpeg's Lanczos + minterpolate).

Issue 30 made the hybrid codec (x265 veryslow/tune psnr with a trained post-filter over it, fitted to the clip)
the default of `vidprior compress`: `compress` gains `x265-psnr` (its base alone), `hybrid-plain` (no per-clip
fit), `hybrid`, and BD-rates against x265 as well as x264, over CRF 23-38; `compress-speed` (`python
benchmarks/codec_speed.py`) the command line's encode and decode times at 256×144 and 854×480;
`compress-look-tennis.png` (`python benchmarks/look.py compress tennis`) a crop at CRF 38.

Issue 28 made `flowinterp` splat both frames forward on quadratic paths (DIS matched at full size on small
frames) and `interp` a synthesis network over the splatted frames and their features: `interpolate` has the
ablations (`warp=reversal`: the flow reversal of before; `paths=straight`), `interpolate-x4`/`-x8` the wider
gaps, `interpolate-preset-flows` the same warps with the DIS preset's flows, `interpolate-look-*.png` (`python
benchmarks/look.py interpolate CLIP`) the in-between frame of tennis and bmx-trees cropped on the object, and
`interpolate-speed` the new times (s per output frame; 240 frames for memory).

Issue 27 made the recurrent denoiser and upscaler (features carried along the flow through the whole clip, both
ways) the defaults: in `denoise` and `upscale`, `denoiser` and `upscaler` are now the recurrent networks and
the rows `arch=window` the five-frame ones of before (the `denoise` rows of those, and `bm3d-lanczos` in
`upscale`, are kept from issue 17/18's runs; the same weights give the same figures); `upscale` gains the
old-video case (x4, then x264 at CRF 28, level unknown); `denoise-30` runs both denoisers on 30 frames,
`denoise-adapt` and `upscale-adapt` the recurrent networks' `--adapt 30s` on three clips; `denoise-look.png`
and `upscale-look.png` (`python benchmarks/look.py`) show one frame of each; the speed sections were run
again.

Issue 26 made `fill` (flowfill, then the trained fill network) the default inpainting: the `inpaint` section
was run again with it (`psnr_unseen`: PSNR on the hole pixels no frame sees), `inpaint-fill` (`bash
benchmarks/fill.sh`) adds its keyframe route and `--adapt 60s`, `inpaint-shadow-aid` the mask aid on clips whose
masks leave the shadow out, and `inpaint-speed` now times `fill`.

Issue 19 added `mask-carry` (`python benchmarks/mask_carry.py ../shared/data/clips`: how well a mask painted
on two or three frames follows the object to the others) and `editor` (`python benchmarks/editor.py`: how soon
the web app shows a carried mask and a job's progress moves, on an 854×480 clip).

Issue 18 added `interp` and `upscaler` to the `interpolate` and `upscale` sections (`bash benchmarks/run.sh`
with `TASKS="interpolate upscale"`), `interpolate-x4` (`vidprior bench --task interpolate --factor 4 --methods
flowinterp,interp --name interpolate-x4`), `upscale-x2` (the same with `--task upscale --factor 2`),
and `interpolate-speed` / `upscale-speed` from
`python benchmarks/speed.py interpolate|upscale`.

Issue 17 added the `denoise` section's `bm4d`, `denoiser` and phone case (`bash benchmarks/run.sh` with
`TASKS=denoise`); `denoise-vdp-convergence` comes from `python benchmarks/vdp_convergence.py` and
`denoise-speed` from `python benchmarks/speed.py denoise`. The older `denoise-vdp*` sections have no phone case.

Issue 16 changed `flowfill`: the `inpaint`, `inpaint-headroom`, `inpaint-ilvi` and `inpaint-speed`
sections were run after it; the other `inpaint-*` sections are older, and their telea/ns/flowfill rows
show the flowfill of before (37.13 dB, 23.99 in the holes).
"""


def main(folder: Path) -> None:
    print(HEADER)
    tables = sorted(folder.glob("*.md"), key=lambda p: (ORDER.index(p.stem.split("-")[0])
                                                       if p.stem.split("-")[0] in ORDER else 99, p.stem))
    for table in tables:  # <task>.md first, then <task>-<variant>.md
        print(re.sub(r"\]\(([\w-]+\.png)\)", rf"]({folder.name}/\1)", table.read_text()))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
