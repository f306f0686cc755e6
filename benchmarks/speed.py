"""Speed and peak memory of a task's methods by frame size and clip length (memory must not grow with clip
length: it is set by the method's window, which a short clip does not fill).

    python benchmarks/speed.py inpaint benchmarks/results   # fill, flowfill; ~5 minutes
    python benchmarks/speed.py denoise benchmarks/results   # denoiser (recurrent plain and adapted 30 s, window), bm3d
    python benchmarks/speed.py interpolate                  # interp x2 (plain, adapted), flowinterp (and reversal)
    python benchmarks/speed.py upscale                      # upscaler x4 (recurrent plain and adapted, window),
                                                            # lanczos, bm3d-lanczos

Each run is its own process (`vidprior.restore`, the path the command line takes: frames read in windows,
written as lossless FFV1), so its peak resident memory is its own. The frames are the shared clip `tennis`
(with its real object masks for inpainting; with Gaussian noise of sigma 25 for denoising), resized to the
size measured and played back and forth to reach the length. For interpolation the size is the input's
and the output has twice the frames less one; for upscaling it is the output's (the input, a quarter of
it a side, has Gaussian noise of sigma 10 for bm3d-lanczos). BM3D runs on a few frames only (its time per
frame does not depend on the clip's length).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLIP = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "clips" / "tennis"
# task -> runs of (method, settings, width, height, frames)
RUNS = {
    "inpaint": [("fill", {}, w, h, n) for w, h, n in ((256, 144, 30), (854, 480, 30), (854, 480, 120))]
               + [("flowfill", {}, 854, 480, 30)],
    "denoise": [("denoiser", {}, w, h, n) for w, h, n in ((256, 144, 30), (256, 144, 300), (854, 480, 30),
                                                          (854, 480, 120))]
               + [("denoiser", {"adapt": 30}, 256, 144, 30), ("denoiser", {"arch": "window"}, 854, 480, 30),
                  ("bm3d", {}, 256, 144, 3), ("bm3d", {}, 854, 480, 2)],
    "interpolate": [(m, p, w, h, n) for m, p in (("interp", {}), ("interp", {"adapt": 30}), ("flowinterp", {}))
                    for w, h, n in ((256, 144, 30), (854, 480, 30))]
                   + [("interp", {}, 854, 480, n) for n in (120, 240)]
                   + [("flowinterp", {"warp": "reversal"}, 854, 480, 30)],
    "upscale": [("upscaler", {}, w, h, n) for w, h, n in ((256, 144, 30), (256, 144, 300), (852, 480, 30),
                                                          (852, 480, 120))]
               + [("upscaler", {"adapt": 30}, 256, 144, 30), ("upscaler", {"arch": "window"}, 852, 480, 30),
                  ("lanczos", {}, 256, 144, 30), ("lanczos", {}, 852, 480, 30), ("bm3d-lanczos", {}, 256, 144, 3),
                  ("bm3d-lanczos", {}, 852, 480, 2)],
}
SIGMA = 25.0
FACTOR = {"interpolate": 2, "upscale": 4}
ABOUT = {"inpaint": "with its object masks", "denoise": f"with Gaussian noise, sigma {SIGMA:g}",
         "interpolate": "x2, the size given is the input's", "upscale": "x4, the size given is the output's"}


def measure(task: str, method: str, params: dict, width: int, height: int, count: int) -> dict:
    import cv2
    import numpy as np

    import vidprior
    from vidprior.bench import NOISY_SR_SIGMA
    from vidprior.methods import RunOptions
    from vidprior.problems import add_gaussian_noise, downscale_frames
    from vidprior.video import read_video, write_video

    clip = read_video(CLIP / "frames").frames
    order = np.resize(np.concatenate([np.arange(len(clip)), np.arange(len(clip) - 2, 0, -1)]), count)
    frames = (cv2.resize(clip[i], (width, height), interpolation=cv2.INTER_CUBIC) for i in order)
    extra = {}
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        if task == "inpaint":
            masks = read_video(CLIP / "masks").frames.max(axis=3) > 127
            holes = (cv2.resize(masks[i].astype(np.uint8) * 255, (width, height), interpolation=cv2.INTER_NEAREST)
                     for i in order)
            write_video(folder / "mask.mkv", (np.repeat(h[..., None], 3, 2) for h in holes), 25)
            extra["mask"] = folder / "mask.mkv"
        elif task == "denoise":  # frame by frame: the noise of a whole long clip in float64 would set the peak
            frames = (add_gaussian_noise(f[None], SIGMA, seed=t)[0] for t, f in enumerate(frames))
            extra["sigma"] = SIGMA
        elif task == "upscale":
            frames = (downscale_frames(f[None], FACTOR[task])[0] for f in frames)
            if method == "bm3d-lanczos":
                frames = (add_gaussian_noise(f[None], NOISY_SR_SIGMA, seed=t)[0] for t, f in enumerate(frames))
                extra["sigma"] = NOISY_SR_SIGMA
        if task in FACTOR:
            extra["factor"] = FACTOR[task]
        write_video(folder / "in.mkv", frames, 25)
        began = time.perf_counter()
        report = vidprior.restore(task, folder / "in.mkv", folder / "out.mkv", method=method,
                                  options=RunOptions(progress=False, params=params), **extra)
        seconds = time.perf_counter() - began
    return {"method": report.method, "settings": " ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}"
                                                          for k, v in params.items()),
            "size": f"{width}x{height}", "frames": count, "seconds": seconds, "per_frame": seconds / count,
            "per_output": seconds / report.frames,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(task: str, out: Path) -> None:
    rows = []
    for method, params, width, height, count in RUNS[task]:
        done = subprocess.run([sys.executable, __file__, "--one", task, method, json.dumps(params), str(width),
                               str(height), str(count)], capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(rows[-1], file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{task}-speed.json").write_text(json.dumps({"machine": platform.processor() or platform.machine(),
                                                         "cores": os.cpu_count(), "rows": rows}, indent=1))
    outputs = task == "interpolate"  # more frames out than in: time per output frame too
    lines = [f"## {task}-speed: time and memory by frame size and clip length", "",
             f"`python benchmarks/speed.py {task}`: `vidprior.restore` on the shared clip `tennis` "
             f"({ABOUT[task]}), "
             f"resized, looped to the length; {os.cpu_count()} cores, no GPU. Time includes reading, the windows' "
             "context frames and writing.", "",
             "| method | settings | size | frames | seconds | s/frame |" + (" s/output frame |" if outputs else "")
             + " peak MB |", "|---|---|---|---|---|---|" + ("---|" if outputs else "") + "---|"]
    lines += [f"| {r['method']} | {r['settings'] or 'default'} | {r['size']} | {r['frames']} | {r['seconds']:.1f} | "
              f"{r['per_frame']:.2f} |" + (f" {r['per_output']:.2f} |" if outputs else "") + f" {r['peak_mb']:.0f} |"
              for r in rows]
    (out / f"{task}-speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        task, method, params, *numbers = sys.argv[2:]
        print(json.dumps(measure(task, method, json.loads(params), *map(int, numbers))))
    else:
        main(sys.argv[1], Path(sys.argv[2]) if len(sys.argv) > 2 else Path("benchmarks/results"))
