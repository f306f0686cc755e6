"""One click to start a mask (`vidprior.propose`): how much of the object a click proposes.

For each clip with ``masks/`` (the true object masks) and a few of its frames, the click falls on the object's
pixel nearest its centre; the proposal (from the motion towards the frames 1, 2 and 4 before and after it, as the
web app asks) is scored by its IoU with the true mask; seconds per click on 2 cores.

    python benchmarks/propose.py ../shared/data/clips [--frames 10,30,50] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from vidprior.propose import propose
from vidprior.video import iter_frames


def click(mask: np.ndarray) -> tuple[int, int]:
    """(x, y) of the pixel of ``mask`` nearest its centre."""
    ys, xs = np.nonzero(mask)
    k = int(np.argmin((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2))
    return int(xs[k]), int(ys[k])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", type=Path)
    parser.add_argument("--frames", default="10,30,50", help="comma-separated frames to click on")
    parser.add_argument("--out", type=Path, default=None, help="also write propose.md and .json in this folder")
    args = parser.parse_args()
    rows = []
    for clip in sorted(p for p in args.clips.iterdir() if (p / "masks").is_dir()):
        for t in map(int, args.frames.split(",")):
            frames = list(iter_frames(clip / "frames", t - 4, 9))  # t-4 .. t+4
            truth = next(iter_frames(clip / "masks", t, 1)).max(axis=2) > 127
            began = time.perf_counter()
            mask, how = propose(frames[4], [frames[4 + d] for gap in (1, 2, 4) for d in (-gap, gap)], click(truth))
            seconds = time.perf_counter() - began
            iou = float((mask & truth).sum() / (mask | truth).sum())
            rows.append({"clip": clip.name, "frame": t, "iou": iou, "found_by": how, "seconds": seconds})
            print(f"{clip.name:12s} frame {t:3d}  IoU {iou:.3f}  by {how}  {seconds:.2f} s", flush=True)
    lines = ["| clip | " + " | ".join(f"frame {t}" for t in args.frames.split(",")) + " | mean |",
             "|---" * (len(args.frames.split(",")) + 2) + "|"]
    for name in dict.fromkeys(r["clip"] for r in rows):
        mine = [r for r in rows if r["clip"] == name]
        lines.append(f"| {name} | " + " | ".join(f"{r['iou']:.3f} ({r['found_by']})" for r in mine)
                     + f" | {np.mean([r['iou'] for r in mine]):.3f} |")
    lines.append(f"\nMean IoU {np.mean([r['iou'] for r in rows]):.3f}; {np.mean([r['seconds'] for r in rows]):.2f} s "
                 "per click.")
    print("\n".join(lines))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "propose.md").write_text(
            "## propose: one click on the object, its mask proposed\n\n"
            f"`python benchmarks/propose.py {args.clips} --out {args.out}`: a click on the object's pixel nearest its "
            f"centre, the proposal's IoU with the true mask (how it was found); {os.cpu_count()} cores, no GPU.\n\n"
            + "\n".join(lines) + "\n")
        (args.out / "propose.json").write_text(json.dumps({"rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
