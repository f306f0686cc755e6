"""flowfill on clips that are not the benchmark's, to see that it was not tuned to the six: the DAVIS clips of
`../shared/data/train480` (none of flowfill is fitted to them), downscaled to 256x144, first 30 frames, with
the benchmark's kind of holes (another clip's object masks, `dog`'s, moved along a path; seed = the clip's
index). Hole PSNR of Telea, the flowfill of before issue 16 (kept in `inpaint_headroom.py`) and today's.

    python benchmarks/inpaint_other_clips.py ../shared/data/train480 benchmarks/results   # ~3 minutes
"""

import sys
from pathlib import Path

import cv2
import numpy as np
from inpaint_headroom import old_flowfill, telea

from vidprior import metrics
from vidprior.methods import METHODS, RunOptions
from vidprior.problems import Problem, moving_masks
from vidprior.video import read_video

CLIPS = ("bear", "boat", "bus", "camel", "cows", "dance-twirl", "elephant", "flamingo", "hike", "kite-walk", "lucia",
         "motorbike", "paragliding", "rhino", "soapbox", "swing", "train")
SIZE, FRAMES, DONOR = (256, 144), 30, "dog"


def main(folder: Path, out: Path) -> None:
    donor = read_video(folder / DONOR / "masks").frames.max(axis=3) > 127
    rows = {}
    for index, name in enumerate(CLIPS):
        frames = read_video(folder / name / "frames", count=FRAMES).frames
        frames = np.stack([cv2.resize(f, SIZE, interpolation=cv2.INTER_AREA) for f in frames])
        holes = moving_masks(donor, SIZE[::-1], len(frames), seed=index, coverage=0.10)
        new = METHODS["flowfill"].run(Problem("inpaint", frames, holes), RunOptions(progress=False))
        rows[name] = [metrics.psnr(x, frames, region=holes) for x in (telea(frames, holes),
                                                                      old_flowfill(frames, holes), new)]
        print(name, [round(v, 2) for v in rows[name]], file=sys.stderr)
    mean = np.mean(list(rows.values()), axis=0)
    lines = ["## inpaint-other-clips", "",
             "`python benchmarks/inpaint_other_clips.py ../shared/data/train480 benchmarks/results`: hole PSNR on 17",
             "DAVIS clips that are not the benchmark's, at 256x144, 30 frames, the benchmark's kind of holes.", "",
             "| clip | telea | flowfill before #16 | flowfill |", "|---|---|---|---|"]
    lines += [f"| {name} | " + " | ".join(f"{v:.2f}" for v in row) + " |" for name, row in rows.items()]
    lines.append("| mean | " + " | ".join(f"{v:.2f}" for v in mean) + " |")
    out.mkdir(parents=True, exist_ok=True)
    (out / "inpaint-other-clips.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
