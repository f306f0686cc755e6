"""Video as mp4 bytes in memory (PyAV): the codecs the benchmark compares against, and the H.264 that
trainings put their clips through to learn what compression does."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import av
import numpy as np

_SIZE_TAG = "comment"


def encoder(codec: str, options: dict) -> Callable[[np.ndarray, float, float], bytes]:
    """An encoder of frames to mp4 bytes by ``codec`` (e.g. 'libx264') with ``options``."""

    def encode(frames: np.ndarray, fps: float, quality: float) -> bytes:
        """uint8 (T, H, W, 3) -> mp4 bytes; the size stored in metadata, frames padded inside.

        Odd sizes are padded to even; frames under 64 pixels to 64, since libx265 (as shipped with
        PyAV 18) writes out of bounds in its lookahead for smaller frames (seen with valgrind).
        """
        _, height, width = frames.shape[:3]
        pad_h, pad_w = max(64, height + height % 2) - height, max(64, width + width % 2) - width
        padded = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        buffer = io.BytesIO()
        with av.open(buffer, "w", format="mp4") as container:
            container.metadata[_SIZE_TAG] = f"{width}x{height}"
            stream = container.add_stream(codec, rate=round(fps or 25))
            stream.width, stream.height = padded.shape[2], padded.shape[1]
            stream.pix_fmt = "yuv420p"
            stream.options = {**options, "crf": str(int(round(quality)))}
            if "threads" in options:
                stream.codec_context.thread_count = int(options["threads"])
            for frame in padded:
                for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        return buffer.getvalue()

    return encode


def iter_decode(data: bytes) -> Iterator[np.ndarray]:
    """mp4 bytes -> uint8 (H, W, 3) frames one by one, cropped back to the size stored by the encoder."""
    with av.open(io.BytesIO(data), "r") as container:
        size = container.metadata.get(_SIZE_TAG, "")
        width, height = (int(v) for v in size.split("x")) if "x" in size else (None, None)
        for frame in container.decode(video=0):
            yield np.ascontiguousarray(frame.to_ndarray(format="rgb24")[:height, :width])


def sizes(data: bytes) -> tuple[tuple[int, int], tuple[int, int]]:
    """(width, height) of the coded frames and of the frames the encoder was given (smaller when it padded)."""
    with av.open(io.BytesIO(data), "r") as container:
        stream = container.streams.video[0]
        coded = (stream.codec_context.width, stream.codec_context.height)
        size = container.metadata.get(_SIZE_TAG, "")
    return coded, tuple(int(v) for v in size.split("x")) if "x" in size else coded


def decode(data: bytes) -> np.ndarray:
    """mp4 bytes -> uint8 (T, H, W, 3), cropped back to the size stored by the encoder."""
    return np.stack(list(iter_decode(data)))


X264_VERYSLOW = encoder("libx264", {"preset": "veryslow"})  # the benchmark's H.264
X265_SLOW = encoder("libx265", {"preset": "slow", "x265-params": "log-level=error"})  # the benchmark's HEVC
# the hybrid codec's base: x265 at its most thorough, tuned for PSNR (no psycho-visual rate-distortion, no adaptive
# quantisation); -9.7 % BD-rate against X265_SLOW on the benchmark clips by itself
X265_BASE_OPTIONS = {"preset": "veryslow", "tune": "psnr", "x265-params": "log-level=error"}
X265_BASE = encoder("libx265", X265_BASE_OPTIONS)
X264_FAST = encoder("libx264", {"preset": "veryfast", "threads": "1"})  # one thread: the same bytes every time


def h264(frames: np.ndarray, crf: float, fps: float = 25.0) -> np.ndarray:
    """(T, H, W, 3) uint8 through x264 (preset veryfast, one thread) at ``crf`` and back: what a phone or an old
    upload did."""
    return decode(X264_FAST(frames, fps, crf))
