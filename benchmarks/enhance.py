"""`vidprior enhance` on old footage made from the shared clips, against the FFmpeg route a user would take and the
package's classical chain.

The case: each clip downscaled x2 (area), every second frame dropped, coded by x264 at CRF 28 (an old, small,
low-frame-rate file); each route brings it back to the clip's size and frame rate (x2, x2) and is scored against
the clip's frames. Routes:

- ``ffmpeg``: FFmpeg's Lanczos scaling then ``minterpolate`` (motion-compensated, ``mi_mode=mci``), through
  PyAV's filter graph (the same libavfilter as ``ffmpeg -vf scale=...:flags=lanczos,minterpolate=...``);
- ``classical``: `vidprior.enhance` with nlmeans, lanczos and flowinterp;
- ``enhance``: `vidprior.enhance` with the defaults (denoiser, upscaler, flowinterp), and ``no denoise``
  (sigma 0: the upscaler alone meets the coding noise).

FFmpeg's minterpolate drops the last frames of the stream; every route is scored on the frames it gives
(the count is in the table). Speed: seconds per output frame on one 854×480 case (train480 ``car-turn``,
made the same way), wall time of the whole call on 2 cores.

    python benchmarks/enhance.py ../shared/data/clips [--frames 60] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

from vidprior import enhance, metrics
from vidprior.methods import CODECS
from vidprior.video import read_video

CRF = 28
SPEED_CLIP = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "train480" / "car-turn"


def old_footage(frames: np.ndarray, fps: float, path: Path) -> None:
    """Write ``frames`` (T, H, W, 3) downscaled x2, every second one, through x264 at `CRF` to ``path``."""
    h, w = frames.shape[1:3]
    low = np.stack([cv2.resize(f, (w // 2, h // 2), interpolation=cv2.INTER_AREA) for f in frames[::2]])
    path.write_bytes(CODECS["x264"].encode(low, fps / 2, CRF))


def ffmpeg_route(path: Path, size: tuple[int, int]) -> np.ndarray:
    """Lanczos to ``size`` (W, H), then minterpolate to twice the frame rate: (T, H, W, 3) uint8."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        graph = av.filter.Graph()
        chain = [graph.add_buffer(template=stream), graph.add("scale", f"{size[0]}:{size[1]}:flags=lanczos"),
                 graph.add("minterpolate", f"fps={2 * stream.average_rate}:mi_mode=mci"), graph.add("buffersink")]
        for a, b in zip(chain, chain[1:]):
            a.link_to(b)
        graph.configure()
        out = []

        def drain() -> None:
            while True:
                try:
                    out.append(graph.pull().to_ndarray(format="rgb24"))
                except (BlockingIOError, av.error.EOFError):
                    return

        for frame in container.decode(stream):
            graph.push(frame)
            drain()
        graph.push(None)
        drain()
    return np.stack(out)


def routes(source: Path, work: Path, size: tuple[int, int]) -> dict[str, tuple[np.ndarray, float]]:
    """{route: (frames, seconds)} for the old file ``source``."""
    out = {}
    began = time.monotonic()
    out["ffmpeg"] = (ffmpeg_route(source, size), time.monotonic() - began)
    for name, kwargs in (("classical", {"methods": {"denoise": "nlmeans", "upscale": "lanczos"}}),
                         ("no denoise", {"sigma": 0}), ("enhance", {})):
        target = work / f"{name.replace(' ', '-')}.mkv"
        began = time.monotonic()
        enhance(source, target, scale=2, factor=2, options=None, **kwargs)
        out[name] = (read_video(target).frames, time.monotonic() - began)
    return out


def score(result: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    n = min(len(result), len(truth))
    return {"psnr": metrics.psnr(result[:n], truth[:n]), "ssim": metrics.ssim(result[:n], truth[:n]), "frames": n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", type=Path)
    parser.add_argument("--frames", type=int, default=60, help="frames of each clip (the first ones)")
    parser.add_argument("--only", default=None, help="comma-separated clip names")
    parser.add_argument("--no-speed", action="store_true", help="skip the 854x480 speed case")
    parser.add_argument("--out", type=Path, default=None, help="also write enhance.md and .json in this folder")
    args = parser.parse_args()
    clips = sorted(p for p in args.clips.iterdir() if (p / "frames").is_dir()
                   and (not args.only or p.name in args.only.split(",")))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for clip in clips:
            video = read_video(clip / "frames", count=args.frames)
            truth = video.frames[: len(video.frames) - (1 - len(video.frames) % 2)]  # an odd count: ends on a kept one
            old_footage(truth, video.fps, work / "old.mp4")
            for route, (frames, seconds) in routes(work / "old.mp4", work, truth.shape[2:0:-1]).items():
                rows.append({"clip": clip.name, "route": route, "seconds": seconds, **score(frames, truth)})
                print(f"{clip.name:12s} {route:10s} PSNR {rows[-1]['psnr']:.2f}  SSIM {rows[-1]['ssim']:.4f}  "
                      f"{rows[-1]['frames']} frames  {seconds:.1f} s", flush=True)
        speed = {}
        if not args.no_speed:
            video = read_video(SPEED_CLIP / "frames")
            old_footage(video.frames, video.fps, work / "old480.mp4")
            began = time.monotonic()
            report = enhance(work / "old480.mp4", work / "out480.mkv", scale=2, factor=2)
            speed = {"clip": SPEED_CLIP.name, "frames": report.frames, "seconds": time.monotonic() - began,
                     "peak_mb": report.peak_memory_mb}
            print(f"854x480: {speed['seconds'] / speed['frames']:.2f} s per output frame", flush=True)
    names = list(dict.fromkeys(r["route"] for r in rows))
    cell = {(r["clip"], r["route"]): r for r in rows}
    lines = ["| clip | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for clip in clips:
        lines.append(f"| {clip.name} | " + " | ".join(
            f"{cell[clip.name, n]['psnr']:.2f} / {cell[clip.name, n]['ssim']:.3f}" for n in names) + " |")
    lines.append("| mean | " + " | ".join(
        f"**{np.mean([cell[c.name, n]['psnr'] for c in clips]):.2f}** / "
        f"{np.mean([cell[c.name, n]['ssim'] for c in clips]):.3f}" for n in names) + " |")
    lines.append("| seconds per clip | " + " | ".join(
        f"{np.mean([cell[c.name, n]['seconds'] for c in clips]):.1f}" for n in names) + " |")
    lines.append("| frames scored | " + " | ".join(
        f"{np.mean([cell[c.name, n]['frames'] for c in clips]):.0f}" for n in names) + " |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        text = ("## enhance: old footage (x2 smaller, half the frames, x264 CRF 28) brought back\n\n"
                f"`python benchmarks/enhance.py {args.clips} --out {args.out}`: PSNR (dB) / SSIM against the clips' "
                f"frames (first {args.frames}), {os.cpu_count()} cores, no GPU. ffmpeg: Lanczos + minterpolate "
                "(mci); classical: `vidprior.enhance` with nlmeans, lanczos, flowinterp; no denoise: "
                "`enhance --sigma 0`; enhance: the defaults.\n\n" + table + "\n")
        if speed:
            text += (f"\nSpeed: `vidprior.enhance` x2 x2 on {speed['clip']} (427x240 -> 854x480, "
                     f"{speed['frames']} output frames): {speed['seconds'] / speed['frames']:.2f} s per output frame, "
                     f"peak memory {speed['peak_mb']:.0f} MB.\n")
        (args.out / "enhance.md").write_text(text)
        (args.out / "enhance.json").write_text(json.dumps(
            {"machine": platform.machine(), "cores": os.cpu_count(), "rows": rows, "speed": speed}, indent=1) + "\n")


if __name__ == "__main__":
    main()
