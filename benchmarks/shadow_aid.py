"""The mask aid (`vidprior.shadow`) on clips whose masks leave the shadow out (train480's car-turn and
car-roundabout, 854x480, held out of the fill's training) and on one whose masks hold it (tennis).

    python benchmarks/shadow_aid.py benchmarks/results [--look DIR]   # --look: PNG frames to look at

Per clip (masks grown by 4 px, as `--mask-dilate 4`): what the aid adds to the mask (closing the contacts,
then the shadow; % of the mask's area) and its time; then the default object removal (`fill`) with the
plain and with the grown mask, and the brightness of the result where the shadow was, as a share of the
ground's around it (a ring just outside the grown mask): a shadow left behind reads well below 100 %.
DAVIS frames are not committed: --look writes them outside the repository for a person to see.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
import numpy as np

from vidprior.masks import dilate
from vidprior.methods import METHODS, RunOptions
from vidprior.problems import Problem
from vidprior.shadow import close_contacts, grow_into_shadow
from vidprior.video import read_video

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
CLIPS = (("car-turn", DATA / "train480" / "car-turn", 25), ("car-roundabout", DATA / "train480" / "car-roundabout", 25),
         ("tennis", DATA / "clips" / "tennis", 30))
RING = 9  # pixels of ground around the grown mask that the shadow's place is compared with
DILATE = 4  # --mask-dilate, as a user covers the object's edges


def brightness(frames: np.ndarray, region: np.ndarray) -> float:
    return float((frames.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))[region].mean())


def remove(frames: np.ndarray, holes: np.ndarray) -> np.ndarray:
    problem = Problem("inpaint", frames, holes)
    return problem.finalize(METHODS["fill"].run(problem, RunOptions(progress=False)))


def main(out: Path, look: Path | None) -> None:
    rows = []
    for name, folder, count in CLIPS:
        frames = read_video(folder / "frames", count=count).frames
        masks = read_video(folder / "masks", count=count).frames.max(axis=3) > 127
        masks = np.stack([dilate(m, DILATE) for m in masks])
        began = time.monotonic()
        grown = grow_into_shadow(frames, masks)
        seconds = time.monotonic() - began
        closed = close_contacts(masks)
        shadow = grown & ~closed
        ring = np.stack([cv2.dilate(g.astype(np.uint8), np.ones((2 * RING + 1,) * 2, np.uint8)) > 0 for g in grown])
        ring &= ~grown
        plain, aided = remove(frames, masks), remove(frames, grown)
        ground = brightness(aided, ring)
        row = {"clip": name, "size": f"{frames.shape[2]}x{frames.shape[1]}", "frames": len(frames),
               "contacts": 100 * (closed & ~masks).sum() / masks.sum(), "shadow": 100 * shadow.sum() / masks.sum(),
               "seconds": seconds}
        if shadow.any():
            row.update(plain=100 * brightness(plain, shadow) / ground, aided=100 * brightness(aided, shadow) / ground)
        rows.append(row)
        print(row, file=sys.stderr)
        if look:
            look.mkdir(parents=True, exist_ok=True)
            for t in (0, len(frames) // 2, len(frames) - 1):
                shown = frames[t].copy()
                shown[masks[t]] = (0.5 * shown[masks[t]] + [0, 127, 0]).astype(np.uint8)
                shown[grown[t] & ~masks[t]] = (0.4 * shown[grown[t] & ~masks[t]] + [153, 0, 0]).astype(np.uint8)
                cv2.imwrite(str(look / f"{name}-{t:02d}.png"),
                            np.concatenate([shown, plain[t], aided[t]], axis=0)[..., ::-1])
    lines = ["## inpaint-shadow-aid: growing masks into the object's shadow and contacts", "",
             "`python benchmarks/shadow_aid.py benchmarks/results`: the true DAVIS masks grown by "
             f"{DILATE} px (`--mask-dilate {DILATE}`), which leave the shadow "
             "out on the two cars (train480, held out of the fill's training) and hold it on tennis. Added: % of "
             "the mask's area, by closing its contacts and by the shadow; brightness where the shadow was after "
             f"removal (`fill`) with the plain and the grown mask, as % of the ground's in a {RING}-pixel ring "
             "around the grown mask (a shadow left behind reads well below 100); 2 cores, no GPU.", "",
             "| clip | size | frames | contacts + | shadow + | aid s | shadow's place, plain mask | grown mask |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['clip']} | {r['size']} | {r['frames']} | {r['contacts']:.1f}% | {r['shadow']:.1f}% | "
                     f"{r['seconds']:.1f} | " + (f"{r['plain']:.0f}% | {r['aided']:.0f}% |" if "plain" in r
                                                else "no shadow added | |"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "inpaint-shadow-aid.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    args = sys.argv[1:]
    look = Path(args[args.index("--look") + 1]) if "--look" in args else None
    main(Path(args[0]) if args and args[0] != "--look" else Path("benchmarks/results"), look)
