"""Frames to look at beside the tables: the same crop of one frame by each method, side by side, as a PNG.

    python benchmarks/look.py denoise schoolgirls   # sigma 25: noisy | window | recurrent | bm4d | clean
    python benchmarks/look.py upscale tennis        # old video: input | lanczos | window | recurrent | truth
    python benchmarks/look.py interpolate tennis    # x2: cross-fade | reversal | splatting | network | truth
    python benchmarks/look.py compress tennis       # CRF 38: x265 slow | x265 tune psnr | hybrid | truth

Denoising takes the benchmark's first 10 frames with Gaussian noise of sigma 25 (seed 0) and shows frame 5;
upscaling the first 30 frames downscaled x4 and through x264 at CRF 28 (the benchmark's old-video case) and
shows frame 15; interpolation the first 29 frames with every second one dropped, and frame 15, one that was
dropped, cropped around the clip's object (its mask) and enlarged three times (the file is named after the clip:
interpolate-look-tennis.png). Each row also gives the PSNR of the
whole clip (of the made frames, for interpolation) and, for flicker, the mean absolute change between
consecutive output frames against the clean clip's.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from vidprior import metrics
from vidprior.bench import OLD_VIDEO_CRF
from vidprior.methods import CODECS, METHODS, RunOptions
from vidprior.problems import Problem, add_gaussian_noise, downscale_frames, drop_frames
from vidprior.video import read_video

CLIPS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "clips"
RUNS = {"denoise": [("denoiser", {"arch": "window"}, "five frames"), ("denoiser", {}, "recurrent"),
                    ("bm4d", {}, "BM4D")],
        "upscale": [("lanczos", {}, "Lanczos"), ("upscaler", {"arch": "window"}, "five frames"),
                    ("upscaler", {}, "recurrent")],
        "interpolate": [("flowinterp", {"warp": "reversal"}, "flow reversal"), ("flowinterp", {}, "splatting"),
                        ("interp", {}, "network")]}


def change(frames: np.ndarray) -> float:
    """Mean absolute difference between consecutive frames (0-255)."""
    return float(np.abs(np.diff(frames.astype(np.float32), axis=0)).mean())


def label(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    cv2.putText(out, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def zoom_on(where: np.ndarray, size: tuple[int, int] = (72, 96), scale: int = 3):
    """A function that crops a frame to ``size`` (h, w) around the centre of mass of ``where`` (H, W) and enlarges
    it ``scale`` times."""
    ys, xs = np.nonzero(where)
    y, x = (int(ys.mean()), int(xs.mean())) if len(ys) else (where.shape[0] // 2, where.shape[1] // 2)
    top = int(np.clip(y - size[0] // 2, 0, where.shape[0] - size[0]))
    left = int(np.clip(x - size[1] // 2, 0, where.shape[1] - size[1]))
    return lambda image: cv2.resize(image[top: top + size[0], left: left + size[1]], None, fx=scale, fy=scale,
                                    interpolation=cv2.INTER_NEAREST)


def object_mask(clip: str, index: int) -> np.ndarray:
    """The clip's object mask (H, W) bool at frame ``index``."""
    return read_video(CLIPS / clip / "masks").frames[index].max(axis=2) > 127


LOOK_CRF = 38  # compress: the low end of the benchmark's range, where coding errors show


def look_compress(clip: str, out: Path) -> None:
    """Frame 15 of the first 30 coded at CRF `LOOK_CRF` by x265 (slow), the hybrid's base (x265 tune psnr) and
    the hybrid codec, its middle enlarged twice."""
    clean, shown = read_video(CLIPS / clip / "frames").frames[:30], 15
    view = zoom_on(np.ones(clean.shape[1:3], bool), scale=2)  # the middle of the frame
    tiles, lines = [], []
    for codec, name in (("x265", "x265 slow"), ("x265-psnr", "x265 psnr"), ("hybrid", "hybrid")):
        data = CODECS[codec].encode(clean, 25.0, LOOK_CRF)
        result = CODECS[codec].decode(data)
        tiles.append(label(view(result[shown]), f"{name} {len(data)} B"))
        lines.append(f"{name}: {len(data)} bytes = {metrics.bits_per_pixel(len(data), *clean.shape[:3]):.4f} bpp, "
                     f"PSNR {metrics.psnr(result, clean):.2f} dB")
    tiles.append(label(view(clean[shown]), "clean"))
    path = Path(out) / f"compress-look-{clip}.png"
    cv2.imwrite(str(path), np.concatenate(tiles, 1)[..., ::-1])
    print(f"{path}: {clip} frame {shown}, CRF {LOOK_CRF}\n" + "\n".join(lines))


def main(task: str, clip: str, out: Path) -> None:
    if task == "compress":
        return look_compress(clip, out)
    frames = read_video(CLIPS / clip / "frames").frames
    if task == "denoise":
        clean, shown = frames[:10], 5
        observed = add_gaussian_noise(clean, 25.0, seed=0)
        problem, first = Problem("denoise", observed, sigma=25.0), ("noisy", observed)
    elif task == "interpolate":
        clean, shown = frames[:29], 15
        problem = Problem("interpolate", drop_frames(clean, 2), factor=2)
        crossfade = ((clean[shown - 1].astype(np.float32) + clean[shown + 1]) / 2).round().astype(np.uint8)
        first = ("cross-fade", {shown: crossfade})
    else:
        clean, shown = frames[:30, : frames.shape[1] // 4 * 4, : frames.shape[2] // 4 * 4], 15
        x264 = CODECS["x264"]
        low = downscale_frames(clean, 4)
        observed = x264.decode(x264.encode(low, 25.0, OLD_VIDEO_CRF))
        problem = Problem("upscale", observed, factor=4)
        first = ("input (nearest)", np.repeat(np.repeat(observed, 4, 1), 4, 2))
    results = [METHODS[method].run(problem, RunOptions(progress=False, params=params))
               for method, params, _ in RUNS[task]]
    view = (lambda image: image) if task != "interpolate" else zoom_on(object_mask(clip, shown))
    tiles, lines = [label(view(first[1][shown]), first[0])], []
    for (_, _, name), result in zip(RUNS[task], results):
        tiles.append(label(view(result[shown]), name))
        scored = slice(1, None, 2) if task == "interpolate" else slice(None)  # the made frames only
        lines.append(f"{name}: PSNR {metrics.psnr(result[scored], clean[scored]):.2f} dB, frame-to-frame change "
                     f"{change(result):.2f} (clean {change(clean):.2f})")
    tiles.append(label(view(clean[shown]), "clean"))
    path = Path(out) / (f"{task}-look-{clip}.png" if task == "interpolate" else f"{task}-look.png")
    cv2.imwrite(str(path), np.concatenate(tiles, 1)[..., ::-1])
    print(f"{path}: {clip} frame {shown}\n" + "\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3] if len(sys.argv) > 3 else "benchmarks/results"))
