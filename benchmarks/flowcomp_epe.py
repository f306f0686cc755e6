"""End-point error of the flow inside the holes: the smooth fill, the camera fill (`flow.fill_camera`, flowfill's
fallback) and the flow-completion network.

The holes are the inpaint benchmark's (`vidprior.bench.make_cases`, same clips and seed); the
truth is the DIS flow of the clean frames at the network's working resolution (1/scale of the
frames, the scale the weights were trained at; 4 without weights). Both answers see the true flow
outside the holes, so this measures completion alone. EPE is the mean length of the error vector
inside the holes, over the forward and backward flows of every frame, in pixels of the working
resolution (x scale: in pixels of the frames).

    python benchmarks/flowcomp_epe.py ../shared/data/clips [--weights W.safetensors] [--only bedroom] [--scale 1]
                                      [--out benchmarks/results]
"""

import argparse
from pathlib import Path

import numpy as np

from vidprior.bench import load_clips, make_cases
from vidprior.flowcomp import camera_flows, complete_flows, load_flowcomp, smooth_flows
from vidprior.flowcomp.data import clip_flows
from vidprior.flowcomp.scale import working_frames, working_holes


def epe(forward: np.ndarray, backward: np.ndarray, truth: tuple[np.ndarray, np.ndarray], holes: np.ndarray) -> float:
    """Mean EPE inside ``holes`` (T, h, w) over forward flows 0..T-2 and backward flows 1..T-1."""
    errors = [np.linalg.norm(forward[:-1] - truth[0][:-1], axis=-1)[holes[:-1]],
              np.linalg.norm(backward[1:] - truth[1][1:], axis=-1)[holes[1:]]]
    return float(np.concatenate(errors).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", type=Path, help="folder of clips: <name>/frames/ (+ <name>/masks/)")
    parser.add_argument("--weights", type=Path, default=None, help="flow-completion weights (none: smooth fill only)")
    parser.add_argument("--only", default=None, help="comma-separated clip names (default: all)")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--out", type=Path, default=None, help="also write flowcomp-epe-SCALE.md in this folder")
    parser.add_argument("--scale", type=int, default=None,
                        help="working scale (default: the weights'); the shared 256x144 clips at 1 are about the "
                             "size of train480's 854x480 at 4")
    args = parser.parse_args()
    net, scale = None, 4
    if args.weights:
        net, meta = load_flowcomp(args.weights)
        scale = int(meta["scale"])
    scale = args.scale or scale
    clips = load_clips(args.clips, args.frames)
    rows = []
    for clip in clips:
        if args.only and clip.name not in args.only.split(","):
            continue
        case = make_cases("inpaint", clip, clips, [], 2, 0)[0]
        holes = working_holes(case.problem.hole, scale)
        truth = clip_flows(working_frames(case.reference, scale))
        row = {"smooth fill": epe(*smooth_flows(*truth, holes), truth, holes),
               "camera fill": epe(*camera_flows(*truth, holes), truth, holes)}
        if net is not None:
            row["network"] = epe(*complete_flows(net, *truth, holes), truth, holes)
        rows.append((clip.name, holes.shape[1:], row))
    columns = list(rows[0][2])
    lines = [f"EPE inside the holes, pixels at 1/{scale} size (x{scale} for frame pixels); weights: {args.weights}",
             "", "| clip | size | " + " | ".join(columns) + " |", "|---" * (len(columns) + 2) + "|"]
    lines += [f"| {name} | {w}x{h} | " + " | ".join(f"{row[c]:.5f}" for c in columns) + " |"
              for name, (h, w), row in rows]
    lines.append("| mean | | " + " | ".join(f"{np.mean([r[c] for _, _, r in rows]):.5f}" for c in columns) + " |")
    print("\n".join(lines))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"flowcomp-epe-{scale}.md").write_text(
            f"## flowcomp-epe-{scale}\n\n`python benchmarks/flowcomp_epe.py ../shared/data/clips --weights W --scale "
            f"{scale} --out benchmarks/results`: the inpaint benchmark's holes, DIS flow of the clean frames as "
            "the truth.\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
