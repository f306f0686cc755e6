"""Does the seed method converge? VDP denoising (sigma 25, the benchmark's first 10 frames) fitted for
several budgets, from random weights and from a learned start (`vidprior train vdp`), beside BM3D.

    python benchmarks/vdp_convergence.py benchmarks/results --budgets 150,600,2400
    python benchmarks/vdp_convergence.py benchmarks/results --budgets 150,300,600 --init vdp-start.safetensors

Ablations at a fixed number of steps (so that a busy machine does not change them):

    python benchmarks/vdp_convergence.py benchmarks/results --only bedroom --budgets 100000 --param steps=2324 \
        [--param levels=1 | --param decoder=128,64,32]

One torch thread per run (so a training can share the machine); each finished row is kept in
``denoise-vdp-convergence.json``, so the command carries on where it stopped, and the table is rewritten to
``denoise-vdp-convergence.md`` after every row. Extra ``--param key=value`` settings (ablations) name a row too.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from vidprior import metrics
from vidprior.bench import load_clips
from vidprior.methods import METHODS, RunOptions
from vidprior.problems import Problem, add_gaussian_noise
from vidprior.requests import parse_params

CLIPS, SIGMA, FRAMES = ("bedroom", "tennis"), 25.0, 10


def table(rows: list[dict]) -> str:
    lines = ["## denoise-vdp-convergence", "",
             "`python benchmarks/vdp_convergence.py`: VDP denoising at sigma 25 (10 frames, 256x144), one torch",
             "thread per run, 2-core machine shared with a training; PSNR in dB. A run ends at its budget, its",
             "step count, or at the noise floor (the fit's error to the noisy frames falls to the noise's:",
             "fitting further only fits noise), whichever comes first: `seconds` is the time it took.", "",
             "| clip | start | settings | budget s | seconds | steps | psnr | bm3d |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['clip']} | {r['start']} | {r['settings'] or 'default'} | {r['budget']:g} | "
                     f"{r['seconds']:.0f} | {r['steps']} | {r['psnr']:.2f} | {r['bm3d']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--budgets", default="150,600,2400")
    parser.add_argument("--init", default="")
    parser.add_argument("--param", action="append", default=[])
    parser.add_argument("--clips", type=Path, default=Path("../shared/data/clips"))
    parser.add_argument("--only", default=",".join(CLIPS), help="comma-separated clip names")
    args = parser.parse_args()
    torch.set_num_threads(1)
    store = args.out / "denoise-vdp-convergence.json"
    rows = json.loads(store.read_text()) if store.is_file() else []
    extra = parse_params(args.param)
    settings = " ".join(f"{k}={v}" for k, v in sorted(extra.items()))
    start = "learned" if args.init else "random"
    for clip in load_clips(args.clips, FRAMES, only=args.only.split(",")):
        noisy = add_gaussian_noise(clip.frames, SIGMA, seed=0)
        problem = Problem("denoise", noisy, sigma=SIGMA)
        bm3d = next((r["bm3d"] for r in rows if r["clip"] == clip.name), None)
        if bm3d is None:
            bm3d = metrics.psnr(METHODS["bm3d"].run(problem, RunOptions(progress=False)), clip.frames)
        for budget in map(float, args.budgets.split(",")):
            if any(r["clip"] == clip.name and r["start"] == start and r["budget"] == budget
                   and r["settings"] == settings for r in rows):
                continue
            params = {**extra, **({"init": args.init, "init_steps": 0} if args.init else {})}
            options = RunOptions(budget=budget, progress=False, params=params)
            began = time.monotonic()
            result = METHODS["vdp"].run(problem, options)
            rows.append({"clip": clip.name, "start": start, "settings": settings, "budget": budget,
                         "steps": options.stats["steps"], "seconds": time.monotonic() - began,
                         "psnr": metrics.psnr(result, clip.frames), "bm3d": bm3d})
            print(rows[-1], file=sys.stderr)
            args.out.mkdir(parents=True, exist_ok=True)
            store.write_text(json.dumps(rows, indent=1))
            (args.out / "denoise-vdp-convergence.md").write_text(table(rows))


if __name__ == "__main__":
    main()
