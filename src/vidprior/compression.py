"""`vidprior compress` / `decompress` / `extract`: a video to a .vpr file (the hybrid codec, or pure DNeRV)
and back, with the figures."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from . import metrics, mp4
from .codec import bitstream
from .errors import VidpriorError
from .files import atomic_write
from .fit import pick_device
from .methods import CODECS, COMPRESSORS, RunOptions, dnerv, hybrid
from .video import VideoInfo, check_output, list_images, probe, read_video, write_video

MAX_FIT_BYTES = 4 * 1024**3  # the DNeRV fit keeps ~40 bytes per pixel of the clip in memory
X264_CRF = 23  # x264's default, what a user of x264 gets without choosing
DEFAULT_BPP = (0.05, 0.5)  # the range the default rate (x264's at X264_CRF) is clamped to


def run_compress(source: Path, output: Path, options: RunOptions | None = None, method: str | None = None,
                 bpp: float | None = None, params: int | None = None, start: int = 0,
                 frames: int | None = None, crf: int | None = None) -> str:
    """Compress ``source`` into ``output`` (.vpr) with ``method`` (hybrid, the default, or dnerv); returns a
    one-line report. options: the method's settings in ``params`` (e.g. {"update": False}), its budget.

    With no rate given (``bpp``; for dnerv also ``params``, its network's size; for hybrid also ``crf``, its
    base stream's) the rate is the one x264 needs at CRF 23 for the same frames, clamped to `DEFAULT_BPP`. The
    report gives the input's own size beside the file's figures, and x264's when it was measured.
    """
    options = options or RunOptions()
    if crf is not None:
        options.params["crf"] = crf
    method = method or COMPRESSORS[0]
    if method not in COMPRESSORS:
        raise VidpriorError(f"--method {method}: compress with one of {', '.join(COMPRESSORS)}")
    source, output = Path(source), Path(output)
    info = probe(source)
    check_output(output, source, suffix=".vpr")
    count = min(frames or info.frames, max(info.frames - start, 0))
    if method == "dnerv" and count * info.height * info.width * 40 > MAX_FIT_BYTES:
        raise VidpriorError(f"{count} frames of {info.width}x{info.height} need more than 4 GB to fit; "
                            "compress a part with --start/--frames")
    video = read_video(source, start, frames)
    t, h, w = video.frames.shape[:3]
    notes = [input_figures(source, info, start, t)]
    if bpp is not None:
        options.params["bpp"] = bpp
    if params is not None:
        options.params["params"] = params
    rate_given = any(options.params.get(k) is not None for k in ("bpp", "params", "crf"))
    if not rate_given:
        size, quality = x264_figures(video.frames, video.fps)
        rate = metrics.bits_per_pixel(size, t, h, w)
        options.params["bpp"] = min(max(rate, DEFAULT_BPP[0]), DEFAULT_BPP[1])
        clamped = f", clamped to {DEFAULT_BPP[0]}-{DEFAULT_BPP[1]}" if options.params["bpp"] != rate else ""
        notes.append(f"x264 CRF {X264_CRF}: {size} bytes = {rate:.4f} bpp, PSNR {quality:.2f} dB "
                     f"(target {options.params['bpp']:.4f} bpp{clamped}; set one with --bpp)")
    began = time.monotonic()
    data = (hybrid if method == "hybrid" else dnerv).compress(video.frames, video.fps, options)
    seconds = time.monotonic() - began
    with atomic_write(output) as tmp:
        tmp.write_bytes(data)
    meta = bitstream.decode(data)[0]
    decoded, _ = decode_vpr(data, weights=options.params.get("weights"))
    if method == "hybrid":
        spent = hybrid.parts(data)
        what = (f"hybrid: x265 CRF {meta['crf']} base {spent['base']} bytes + post-filter update "
                f"{spent['update']} bytes + header {spent['header']} bytes"
                + ("; the post-filter is off: it would not help this video" if meta.get("level", 0) is None else ""))
    else:
        what = "dnerv"
    return (f"{output}: {t} frames {w}x{h} in {len(data)} bytes = "
            f"{metrics.bits_per_pixel(len(data), t, h, w):.4f} bpp ({what}), PSNR "
            f"{metrics.psnr(decoded, video.frames):.2f} dB, encoded in {seconds:.0f}s; " + "; ".join(notes))


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


def decode_vpr(data: bytes, device: str = "cpu", base_only: bool = False, weights: Path | None = None
               ) -> tuple[np.ndarray, float]:
    """(frames (T, H, W, 3) uint8, fps) of a .vpr file's bytes, whichever codec made it."""
    frames, fps = _frames(data, device, base_only, weights)
    return np.stack(list(frames)), fps


def _frames(data: bytes, device: str, base_only: bool, weights: Path | None):
    meta = bitstream.decode(data)[0]
    if meta.get("format") == hybrid.FORMAT:
        frames, fps, _ = hybrid.read(data, weights, base_only)
        return frames, fps
    if base_only:
        raise VidpriorError(f"--base-only: this .vpr file holds a {meta.get('format')} video, which has no base "
                            "stream (only hybrid files do)")
    frames, fps = dnerv.decompress(data, device=device)
    return iter(frames), fps


def _read(source: Path) -> bytes:
    source = Path(source)
    if not source.is_file():
        raise VidpriorError(f"{source}: no such file")
    return source.read_bytes()


def run_decompress(source: Path, output: Path, crf: int = 18, device: str = "auto", base_only: bool = False,
                   weights: Path | None = None) -> str:
    """Decode ``source`` (.vpr) into ``output`` (a video or a frame folder), frame by frame; a one-line report."""
    data = _read(source)
    check_output(Path(output), Path(source))
    began = time.monotonic()
    frames, fps = _frames(data, str(pick_device(device, loud=False)), base_only, weights)
    count = 0

    def counted():
        nonlocal count
        for frame in frames:
            count += 1
            yield frame

    write_video(Path(output), counted(), fps=fps, crf=crf)
    seconds = time.monotonic() - began
    return (f"{output}: {count} frames decoded{' (base stream only)' if base_only else ''} in {seconds:.2f}s "
            f"({count / max(seconds, 1e-9):.1f} frames/s, writing included)")


def run_extract(source: Path, output: Path) -> str:
    """Write the base stream of a hybrid .vpr file to ``output`` (.mp4), for any player."""
    data = _read(source)
    output = Path(output)
    check_output(output, Path(source), suffix=".mp4")
    stream = hybrid.base_stream(data)
    with atomic_write(output) as tmp:
        tmp.write_bytes(stream)
    (width, height), original = mp4.sizes(stream)
    padded = (f"; its frames are {width}x{height}, the video's {original[0]}x{original[1]} padded at the right and "
              "bottom (HEVC here needs even sizes of at least 64)" if (width, height) != original else "")
    return f"{output}: the HEVC base stream, {len(stream)} bytes (mp4; plays without the post-filter{padded})"
