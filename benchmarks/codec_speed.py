"""Time and peak memory of the hybrid codec on the command line: `vidprior compress` (default rate and a given
CRF) and `vidprior decompress` (full and --base-only), at 256×144 and 854×480, 30 frames.

    python benchmarks/codec_speed.py benchmarks/results     # writes compress-speed.json/.md; ~5 minutes

Each run is its own process (its peak resident memory is its own). The frames are the shared clip `tennis`
resized to the size measured; decoding writes lossless FFV1 (included in its time).
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLIP = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "clips" / "tennis"
SIZES = ((256, 144), (854, 480))
FRAMES = 30


def timed(*argv: str) -> tuple[float, float, str]:
    """(seconds, peak MB, stdout) of `vidprior ARGV` in a child process."""
    began = time.monotonic()
    with tempfile.TemporaryFile("w+") as said, tempfile.TemporaryFile("w+") as errors:
        child = subprocess.Popen([sys.executable, "-m", "vidprior", *argv], stdout=said, stderr=errors)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak memory
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - began
        said.seek(0)
        errors.seek(0)
        if child.returncode:
            raise SystemExit(f"vidprior {' '.join(argv)} failed: {errors.read().strip()}")
        return seconds, usage.ru_maxrss / 1024, said.read()


def main(out: Path) -> None:
    import cv2

    from vidprior.video import read_video, write_video

    frames = read_video(CLIP / "frames", 0, FRAMES).frames
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for width, height in SIZES:
            source = write_video(tmp / f"clip{width}.mkv",
                                 [cv2.resize(f, (width, height), interpolation=cv2.INTER_LANCZOS4) for f in frames],
                                 fps=25.0)
            for rate in ([], ["--param", "crf=30"]):
                packed = tmp / f"c{width}.vpr"
                packed.unlink(missing_ok=True)
                seconds, peak, said = timed("compress", str(source), "-o", str(packed), "-q", *rate)
                psnr = float(re.search(r"PSNR ([\d.]+) dB", said).group(1))
                bpp = float(re.search(r"= ([\d.]+) bpp", said).group(1))
                rows.append({"run": f"compress {' '.join(rate) or 'default rate'}", "size": f"{width}x{height}",
                             "seconds": seconds, "peak MB": peak, "bpp": bpp, "psnr": psnr})
                for extra in ([], ["--base-only"]):
                    back = tmp / f"back{width}.mkv"
                    back.unlink(missing_ok=True)
                    seconds, peak, _ = timed("decompress", str(packed), "-o", str(back), *extra)
                    rows.append({"run": f"decompress {' '.join(extra)}".strip() + f" ({' '.join(rate) or 'default'})",
                                 "size": f"{width}x{height}", "seconds": seconds, "peak MB": peak,
                                 "frames/s": FRAMES / seconds})
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    out.mkdir(parents=True, exist_ok=True)
    (out / "compress-speed.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=1))
    lines = [f"## compress-speed\n\nThe hybrid codec from the command line, {FRAMES} frames of `tennis` resized; "
             f"each run a process of its own (start-up included); {machine}; {time.strftime('%Y-%m-%d')}.\n",
             "| run | size | seconds | frames/s | bpp | PSNR | peak MB |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['run']} | {r['size']} | {r['seconds']:.1f} | {r.get('frames/s', float('nan')):.1f} | "
                     f"{r.get('bpp', float('nan')):.4f} | {r.get('psnr', float('nan')):.2f} | {r['peak MB']:.0f} |")
    (out / "compress-speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results"))
