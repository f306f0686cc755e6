"""`vidprior compress` / `decompress`: a video to a DNeRV .vpr file and back, with the figures."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from . import metrics
from .errors import VidpriorError
from .files import atomic_write
from .fit import pick_device
from .methods import CODECS, RunOptions
from .methods.dnerv import compress, decompress
from .video import VideoInfo, check_output, list_images, probe, read_video, write_video

MAX_FIT_BYTES = 4 * 1024**3  # the fit keeps ~40 bytes per pixel of the clip in memory
X264_CRF = 23  # x264's default, what a user of x264 gets without choosing
DEFAULT_BPP = (0.05, 0.5)  # the range the default rate (x264's at X264_CRF) is clamped to


def run_compress(source: Path, output: Path, options: RunOptions, bpp: float | None = None,
                 params: int | None = None, start: int = 0, frames: int | None = None) -> str:
    """Compress ``source`` into ``output`` (.vpr); returns a one-line report.

    With no rate given (``bpp``, ``params``, or either in ``options.params``) the rate is the one
    x264 needs at CRF 23 for the same frames, clamped to `DEFAULT_BPP`. The report gives the input's
    own size beside DNeRV's figures, and x264's when it was measured.
    """
    source, output = Path(source), Path(output)
    info = probe(source)
    check_output(output, source, suffix=".vpr")
    count = min(frames or info.frames, max(info.frames - start, 0))
    if count * info.height * info.width * 40 > MAX_FIT_BYTES:
        raise VidpriorError(f"{count} frames of {info.width}x{info.height} need more than 4 GB to fit; "
                            "compress a part with --start/--frames")
    video = read_video(source, start, frames)
    t, h, w = video.frames.shape[:3]
    notes = [input_figures(source, info, start, t)]
    if bpp is not None:
        options.params["bpp"] = bpp
    if params is not None:
        options.params["params"] = params
    if options.params.get("bpp") is None and options.params.get("params") is None:
        size, quality = x264_figures(video.frames, video.fps)
        rate = metrics.bits_per_pixel(size, t, h, w)
        options.params["bpp"] = min(max(rate, DEFAULT_BPP[0]), DEFAULT_BPP[1])
        clamped = f", clamped to {DEFAULT_BPP[0]}-{DEFAULT_BPP[1]}" if options.params["bpp"] != rate else ""
        notes.append(f"x264 CRF {X264_CRF}: {size} bytes = {rate:.4f} bpp, PSNR {quality:.2f} dB "
                     f"(target {options.params['bpp']:.4f} bpp{clamped}; set one with --bpp)")
    began = time.monotonic()
    data = compress(video.frames, video.fps, options)
    seconds = time.monotonic() - began
    with atomic_write(output) as tmp:
        tmp.write_bytes(data)
    decoded, _ = decompress(data)
    return (f"{output}: {t} frames {w}x{h} in {len(data)} bytes = "
            f"{metrics.bits_per_pixel(len(data), t, h, w):.4f} bpp, PSNR {metrics.psnr(decoded, video.frames):.2f} dB, "
            f"encoded in {seconds:.0f}s; " + "; ".join(notes))


def input_figures(source: Path, info: VideoInfo, start: int, count: int) -> str:
    """The size of the input's own encoding: a frame folder's files compressed, or the whole video file."""
    if source.is_dir():
        size = sum(file.stat().st_size for file in list_images(source)[start: start + count])
        held = f"{count} files"
    else:
        size, count = source.stat().st_size, info.frames
        held = f"{count} frames"
    return f"input {size} bytes for {held} = {metrics.bits_per_pixel(size, count, info.height, info.width):.4f} bpp"


def x264_figures(frames: np.ndarray, fps: float) -> tuple[int, float]:
    """Bytes and PSNR of ``frames`` coded by x264 at CRF `X264_CRF`."""
    x264 = CODECS["x264"]
    data = x264.encode(frames, fps, X264_CRF)
    return len(data), metrics.psnr(x264.decode(data), frames)


def run_decompress(source: Path, output: Path, crf: int = 18, device: str = "auto") -> str:
    source = Path(source)
    if not source.is_file():
        raise VidpriorError(f"{source}: no such file")
    check_output(Path(output), source)
    began = time.monotonic()
    frames, fps = decompress(source.read_bytes(), device=str(pick_device(device, loud=False)))
    seconds = time.monotonic() - began
    write_video(Path(output), iter(np.asarray(frames)), fps=fps, crf=crf)
    return f"{output}: {len(frames)} frames decoded in {seconds:.2f}s ({len(frames) / max(seconds, 1e-9):.1f} frames/s)"
