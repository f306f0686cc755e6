"""Masks painted on a few keyframes, turned into masks for every frame: how well each method follows the object.

For each clip with ``masks/`` (the true object masks), the keyframes' masks are painted from the true
ones (the first frame; the first and last; first, middle and last) and every method makes the masks of
all frames; the score is the IoU with the true mask, mean over the frames that are not keyframes.
Methods: ``glide`` (`vidprior.masks.keyframe_masks`: the mask moved in a straight line between
keyframes), ``flow`` (`vidprior.carry.carry_masks` without snapping: carried along the optical flow),
``flow+snap`` (carried and snapped to the object), ``network`` (carried and decided by the trained
mask-propagation network, `vidprior.maskprop`), ``snap+network`` (snapped, then decided by the network),
``adapted`` (the same with the network fine-tuned on the keyframes first, `maskprop.adaptation`, its seconds
included) and ``covering`` (what the web app fills: the union of flow+snap and snap+network,
`carry.covering_masks`). All but glide make every mask an object
(`carry.whole`). Seconds: one clip, all its frames. Holes: carried masks that enclose background (the true
masks of these clips have none at the keyframes).

    python benchmarks/mask_carry.py ../shared/data/clips [--only tennis] [--frames 60] [--weights FILE]
        [--adapt 40] [--out benchmarks/results]
"""

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from vidprior.carry import carry_masks, covering_masks, has_holes
from vidprior.maskprop.inference import refiner
from vidprior.masks import keyframe_masks
from vidprior.video import iter_frames, probe

OPTIONS: dict = {"weights": None, "adapt": 40}  # --weights, --adapt (steps)
METHODS = {
    "glide": lambda video, keys, total: keyframe_masks(keys, total),
    "flow": lambda video, keys, total: carry_masks(video, keys, total, snap=False),
    "flow+snap": lambda video, keys, total: carry_masks(video, keys, total, snap=True),
    "network": lambda video, keys, total: carry_masks(video, keys, total, snap=False,
                                                      refine=refiner(video, keys, OPTIONS["weights"])),
    "snap+network": lambda video, keys, total: carry_masks(video, keys, total,
                                                           refine=refiner(video, keys, OPTIONS["weights"])),
    "adapted": lambda video, keys, total: carry_masks(video, keys, total,
                                                      refine=refiner(video, keys, OPTIONS["weights"],
                                                                     adapt_steps=OPTIONS["adapt"])),
    "covering": lambda video, keys, total: covering_masks(video, keys, total, refiner(video, keys, OPTIONS["weights"])),
}
CASES = {"1 keyframe": lambda total: [0], "2 keyframes": lambda total: [0, total - 1],
         "3 keyframes": lambda total: [0, total // 2, total - 1]}


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (H, W) bool masks (1 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def score(method: str, clip: Path, truth: np.ndarray, keys: list[int]) -> tuple[float, float, list[float], int]:
    """(mean IoU over the frames that are not keyframes, seconds, IoU per frame, masks with holes) of ``method``
    on ``clip`` with the true masks (T, H, W) painted on the ``keys`` frames."""
    total = len(truth)
    start = time.perf_counter()
    masks = list(METHODS[method](clip / "frames", {k: truth[k] for k in keys}, total))
    seconds = time.perf_counter() - start
    per_frame = [iou(m, truth[t]) for t, m in enumerate(masks)]
    holes = sum(has_holes(m) for t, m in enumerate(masks) if t not in keys)
    return float(np.mean([v for t, v in enumerate(per_frame) if t not in keys])), seconds, per_frame, holes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", type=Path, help="folder of clips: <name>/frames/ and <name>/masks/ (255 = object)")
    parser.add_argument("--only", default=None, help="comma-separated clip names (default: all with masks)")
    parser.add_argument("--frames", type=int, default=60, help="frames of each clip (the first ones)")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated methods")
    parser.add_argument("--weights", type=Path, default=None, help="mask-propagation weights (default: shipped)")
    parser.add_argument("--adapt", type=int, default=OPTIONS["adapt"],
                        help="fine-tuning steps for 'adapted' (default 40, what a web app job does)")
    parser.add_argument("--out", type=Path, default=None, help="also write mask-carry.md and .json in this folder")
    args = parser.parse_args()
    OPTIONS.update(weights=args.weights, adapt=args.adapt)
    methods = args.methods.split(",")
    clips = sorted(p for p in args.clips.iterdir() if (p / "masks").is_dir()
                   and (not args.only or p.name in args.only.split(",")))
    rows = []
    for clip in clips:
        total = min(args.frames, probe(clip / "frames").frames)
        truth = np.stack([f.max(axis=2) > 127 for f in iter_frames(clip / "masks", 0, total)])
        for case, keys in ((case, pick(total)) for case, pick in CASES.items()):
            for method in methods:
                value, seconds, per_frame, holes = score(method, clip, truth, keys)
                rows.append({"clip": clip.name, "case": case, "keyframes": keys, "method": method, "iou": value,
                             "seconds": seconds, "holes": holes, "per_frame": per_frame,
                             "size": f"{truth.shape[2]}x{truth.shape[1]}", "frames": total})
                print(f"{clip.name:12s} {case} {method:10s} IoU {value:.3f}  {seconds:.1f} s  {holes} with holes",
                      flush=True)
    lines = []
    for case in CASES:
        lines += [f"{case}: mean IoU over the other frames (seconds per clip; masks with holes)", "",
                  "| clip | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
        cell = {(r["clip"], r["method"]): r for r in rows if r["case"] == case}
        for clip in clips:
            lines.append(f"| {clip.name} | " + " | ".join(
                "{iou:.3f} ({seconds:.1f} s; {holes})".format(**cell[clip.name, m])
                for m in methods) + " |")
        lines += ["| mean | " + " | ".join(
            f"**{np.mean([cell[c.name, m]['iou'] for c in clips]):.3f}** "
            f"({np.mean([cell[c.name, m]['seconds'] for c in clips]):.1f} s; "
            f"{sum(cell[c.name, m]['holes'] for c in clips)})" for m in methods) + " |", ""]
    print("\n".join(lines))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        size = rows[0]["size"] if rows else "?"
        (args.out / "mask-carry.md").write_text(
            "## mask-carry: masks painted on keyframes, carried to every frame\n\n"
            f"`python benchmarks/mask_carry.py {args.clips} --out {args.out}`: the clips with true object masks "
            f"({size}, first {args.frames} frames), keyframes painted from the true masks; IoU with the true "
            f"masks; {os.cpu_count()} cores, no GPU. glide: `keyframe_masks`; flow: `carry_masks(snap=False)`; "
            "flow+snap: `carry_masks`; network: `carry_masks(snap=False, refine=...)` with the shipped "
            "mask-propagation network; snap+network: `carry_masks(refine=...)`; adapted: the same with the network "
            f"fine-tuned for {args.adapt} steps on the keyframes first; covering: flow+snap and snap+network together "
            "(`covering_masks`, the web app's mask for object removal). All but glide "
            "fill holes and drop loose pieces (`carry.whole`).\n\n" + "\n".join(lines))
        (args.out / "mask-carry.json").write_text(json.dumps(
            {"machine": platform.machine(), "cores": os.cpu_count(), "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
