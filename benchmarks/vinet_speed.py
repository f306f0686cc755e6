"""VINet inference speed and peak memory at 256x144 and 854x480 (the shipped weights, this machine).

    python benchmarks/vinet_speed.py benchmarks/results      # writes inpaint-vinet-speed.md/.json

Each size runs in its own process so that its peak resident memory is its own. The frames are the
first 30 of the shared clip `tennis` with its object masks, resized to the size measured.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

SIZES = ((256, 144), (854, 480))
CLIP = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "clips" / "tennis"


def measure(width: int, height: int, frames: int = 30) -> dict:
    import cv2
    import numpy as np
    import torch

    from vidprior.video import read_video
    from vidprior.vinet import inpaint_frames, load_vinet

    clip = read_video(CLIP / "frames", count=frames).frames
    masks = read_video(CLIP / "masks", count=frames).frames.max(axis=3) > 127
    clip = np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_CUBIC) for f in clip])
    masks = np.stack([cv2.resize(m.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) > 0
                      for m in masks])
    net, meta = load_vinet()
    inpaint_frames(net, clip[:3], masks[:3], warmup=0)  # first-call overheads out of the timing
    began = time.perf_counter()
    inpaint_frames(net, clip, masks)
    seconds = time.perf_counter() - began
    return {"size": f"{width}x{height}", "frames": frames, "seconds": seconds, "fps": frames / seconds,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "threads": torch.get_num_threads(), "width": net.config.width,
            "weights": sum(p.numel() for p in net.parameters())}


def main(out: Path) -> None:
    rows = []
    for width, height in SIZES:
        done = subprocess.run([sys.executable, __file__, "--one", str(width), str(height)], capture_output=True,
                              text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    out.mkdir(parents=True, exist_ok=True)
    (out / "inpaint-vinet-speed.json").write_text(json.dumps({"machine": platform.processor() or platform.machine(),
                                                              "cores": os.cpu_count(), "rows": rows}, indent=1))
    lines = ["## inpaint-vinet-speed: VINet inference speed (shipped weights, CPU)", "",
             f"`python benchmarks/vinet_speed.py`: 30 frames of `tennis` with its object masks, resized; "
             f"{rows[0]['threads']} torch threads on {os.cpu_count()} cores, no GPU; network width "
             f"{rows[0]['width']} ({rows[0]['weights']:,} weights). frames/s counts output frames; the time "
             "includes the 5-frame warm-up of the recurrence.",
             "", "| size | frames/s | seconds for 30 frames | peak MB |", "|---|---|---|---|"]
    lines += [f"| {r['size']} | {r['fps']:.2f} | {r['seconds']:.1f} | {r['peak_mb']:.0f} |" for r in rows]
    (out / "inpaint-vinet-speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        print(json.dumps(measure(int(sys.argv[2]), int(sys.argv[3]))))
    else:
        main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("benchmarks/results"))
