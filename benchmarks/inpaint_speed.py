"""Speed and peak memory of the default inpainting (`flowfill`) at 256x144, 854x480 and 1280x720, and at
30, 60, 120 and 240 frames (memory must not grow with clip length: it is set by the window, 30 frames with 10 of
context on each side, which a 30-frame clip does not fill).

    python benchmarks/inpaint_speed.py benchmarks/results      # writes inpaint-speed.md/.json, ~10 minutes

Each run is its own process (`vidprior.restore`, the path the command line takes: frames read in
windows of 30 with 10 frames of context on each side, written as lossless FFV1), so its peak
resident memory is its own. The frames are the shared clip `tennis` with its real object masks,
resized to the size measured and played back and forth to reach the length.
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

RUNS = ((256, 144, 30), (854, 480, 30), (1280, 720, 30), (854, 480, 60), (854, 480, 120), (854, 480, 240))
CLIP = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "clips" / "tennis"


def measure(width: int, height: int, count: int) -> dict:
    import cv2
    import numpy as np

    import vidprior
    from vidprior.methods import RunOptions
    from vidprior.video import read_video, write_video

    clip = read_video(CLIP / "frames").frames
    masks = read_video(CLIP / "masks").frames.max(axis=3) > 127
    order = np.concatenate([np.arange(len(clip)), np.arange(len(clip) - 2, 0, -1)])
    order = np.resize(order, count)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        frames = (cv2.resize(clip[i], (width, height), interpolation=cv2.INTER_CUBIC) for i in order)
        holes = (cv2.resize(masks[i].astype(np.uint8) * 255, (width, height), interpolation=cv2.INTER_NEAREST)
                 for i in order)
        write_video(folder / "in.mkv", frames, 25)
        write_video(folder / "mask.mkv", (np.repeat(h[..., None], 3, 2) for h in holes), 25)
        began = time.perf_counter()
        report = vidprior.restore("inpaint", folder / "in.mkv", folder / "out.mkv", mask=folder / "mask.mkv",
                                  method="flowfill", options=RunOptions(progress=False))
        seconds = time.perf_counter() - began
    return {"size": f"{width}x{height}", "frames": count, "seconds": seconds, "per_frame": seconds / count,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "method": report.method}


def main(out: Path) -> None:
    rows = []
    for width, height, count in RUNS:
        done = subprocess.run([sys.executable, __file__, "--one", str(width), str(height), str(count)],
                              capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(rows[-1], file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    (out / "inpaint-speed.json").write_text(json.dumps({"machine": platform.processor() or platform.machine(),
                                                        "cores": os.cpu_count(), "rows": rows}, indent=1))
    lines = ["## inpaint-speed: the default inpainting's time and memory by frame size and clip length", "",
             f"`python benchmarks/inpaint_speed.py`: `vidprior.restore` with `{rows[0]['method']}` (default "
             f"settings) on the shared clip `tennis` and its object masks, resized, looped to the length; "
             f"{os.cpu_count()} cores, no GPU. Time includes reading, the windows' context frames and writing.",
             "", "| size | frames | seconds | s/frame | peak MB |", "|---|---|---|---|---|"]
    lines += [f"| {r['size']} | {r['frames']} | {r['seconds']:.1f} | {r['per_frame']:.2f} | {r['peak_mb']:.0f} |"
              for r in rows]
    (out / "inpaint-speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        print(json.dumps(measure(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))))
    else:
        main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("benchmarks/results"))
