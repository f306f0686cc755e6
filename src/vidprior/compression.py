"""`vidprior compress` / `decompress`: a video to a DNeRV .vpr file and back, with the figures."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from . import metrics
from .errors import VidpriorError
from .fit import pick_device
from .methods import RunOptions
from .methods.dnerv import compress, decompress
from .video import check_output, probe, read_video, write_video

MAX_FIT_BYTES = 4 * 1024**3  # the fit keeps ~40 bytes per pixel of the clip in memory


def run_compress(source: Path, output: Path, options: RunOptions, bpp: float | None = None,
                 params: int | None = None, start: int = 0, frames: int | None = None) -> str:
    """Compress ``source`` into ``output`` (.vpr); returns a one-line report."""
    output = Path(output)
    if output.suffix.lower() != ".vpr":
        raise VidpriorError(f"{output}: the compressed file must end in .vpr")
    if output.resolve() == Path(source).resolve():
        raise VidpriorError(f"{output}: the output would overwrite the input; choose another output name")
    info = probe(Path(source))
    count = min(frames or info.frames, max(info.frames - start, 0))
    if count * info.height * info.width * 40 > MAX_FIT_BYTES:
        raise VidpriorError(f"{count} frames of {info.width}x{info.height} need more than 4 GB to fit; "
                            "compress a part with --start/--frames")
    video = read_video(Path(source), start, frames)
    if bpp is not None:
        options.params["bpp"] = bpp
    if params is not None:
        options.params["params"] = params
    began = time.monotonic()
    data = compress(video.frames, video.fps, options)
    seconds = time.monotonic() - began
    tmp = output.with_name(f".{output.name}.partial")
    tmp.write_bytes(data)
    tmp.replace(output)
    decoded, _ = decompress(data)
    t, h, w = video.frames.shape[:3]
    return (f"{output}: {t} frames {w}x{h} in {len(data)} bytes = "
            f"{metrics.bits_per_pixel(len(data), t, h, w):.4f} bpp, PSNR {metrics.psnr(decoded, video.frames):.2f} dB, "
            f"encoded in {seconds:.0f}s")


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
