"""Masks painted on a few keyframes, turned into masks for every frame: how well each method follows the object.

For each clip with ``masks/`` (the true object masks), the keyframes' masks are painted from the true
ones (first and last frame; a second case adds the middle frame) and every method makes the masks of
all frames; the score is the IoU with the true mask, mean over the frames that are not keyframes.
Methods: ``glide`` (`vidprior.masks.keyframe_masks`: the mask moved in a straight line between
keyframes), ``flow`` (`vidprior.carry.carry_masks` without snapping: carried along the optical flow)
and ``flow+snap`` (carried and snapped to the object, the default). Seconds: one clip, all its frames.

    python benchmarks/mask_carry.py ../shared/data/clips [--only tennis] [--frames 60] [--out benchmarks/results]
"""

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from vidprior.carry import carry_masks
from vidprior.masks import keyframe_masks
from vidprior.video import iter_frames, probe

METHODS = {
    "glide": lambda video, keys, total: keyframe_masks(keys, total),
    "flow": lambda video, keys, total: carry_masks(video, keys, total, snap=False),
    "flow+snap": lambda video, keys, total: carry_masks(video, keys, total, snap=True),
}


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (H, W) bool masks (1 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def score(method: str, clip: Path, truth: np.ndarray, keys: list[int]) -> tuple[float, float]:
    """(mean IoU over the frames that are not keyframes, seconds) of ``method`` on ``clip`` with the true masks
    (T, H, W) painted on the ``keys`` frames."""
    total = len(truth)
    start = time.perf_counter()
    masks = list(METHODS[method](clip / "frames", {k: truth[k] for k in keys}, total))
    seconds = time.perf_counter() - start
    return float(np.mean([iou(m, truth[t]) for t, m in enumerate(masks) if t not in keys])), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", type=Path, help="folder of clips: <name>/frames/ and <name>/masks/ (255 = object)")
    parser.add_argument("--only", default=None, help="comma-separated clip names (default: all with masks)")
    parser.add_argument("--frames", type=int, default=60, help="frames of each clip (the first ones)")
    parser.add_argument("--out", type=Path, default=None, help="also write mask-carry.md and .json in this folder")
    args = parser.parse_args()
    clips = sorted(p for p in args.clips.iterdir() if (p / "masks").is_dir()
                   and (not args.only or p.name in args.only.split(",")))
    rows = []
    for clip in clips:
        total = min(args.frames, probe(clip / "frames").frames)
        truth = np.stack([f.max(axis=2) > 127 for f in iter_frames(clip / "masks", 0, total)])
        for case, keys in (("2 keyframes", [0, total - 1]), ("3 keyframes", [0, total // 2, total - 1])):
            for method in METHODS:
                value, seconds = score(method, clip, truth, keys)
                rows.append({"clip": clip.name, "case": case, "keyframes": keys, "method": method, "iou": value,
                             "seconds": seconds, "size": f"{truth.shape[2]}x{truth.shape[1]}", "frames": total})
                print(f"{clip.name:12s} {case} {method:10s} IoU {value:.3f}  {seconds:.1f} s", flush=True)
    lines = []
    for case in ("2 keyframes", "3 keyframes"):
        lines += [f"{case}: mean IoU over the other frames (seconds per clip)", "",
                  "| clip | " + " | ".join(METHODS) + " |", "|---" * (len(METHODS) + 1) + "|"]
        cell = {(r["clip"], r["method"]): r for r in rows if r["case"] == case}
        for clip in clips:
            lines.append(f"| {clip.name} | " + " | ".join(
                f"{cell[clip.name, m]['iou']:.3f} ({cell[clip.name, m]['seconds']:.1f} s)" for m in METHODS) + " |")
        lines += ["| mean | " + " | ".join(
            f"{np.mean([cell[c.name, m]['iou'] for c in clips]):.3f} "
            f"({np.mean([cell[c.name, m]['seconds'] for c in clips]):.1f} s)" for m in METHODS) + " |", ""]
    print("\n".join(lines))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        size = rows[0]["size"] if rows else "?"
        (args.out / "mask-carry.md").write_text(
            "## mask-carry: masks painted on keyframes, carried to every frame\n\n"
            f"`python benchmarks/mask_carry.py {args.clips} --out {args.out}`: the clips with true object masks "
            f"({size}, first {args.frames} frames), keyframes painted from the true masks; IoU with the true "
            f"masks; {os.cpu_count()} cores, no GPU. glide: `keyframe_masks`; flow: `carry_masks(snap=False)`; "
            "flow+snap: `carry_masks` (default).\n\n" + "\n".join(lines))
        (args.out / "mask-carry.json").write_text(json.dumps(
            {"machine": platform.machine(), "cores": os.cpu_count(), "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
