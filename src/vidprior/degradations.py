"""What real footage goes through, for training the denoiser and the upscaler on it: sensor noise (shot
and read), compression (JPEG per frame, H.264 over the clip), mild optical blur and downscaling. Each
function takes and returns (T, H, W, 3) uint8 frames; random ones take a numpy generator.

>>> clip = np.full((2, 16, 16, 3), 128, np.uint8)
>>> bool(gaussian(clip, 10.0, np.random.default_rng(0)).std() > 5), blur(clip, 1.0).shape
(True, (2, 16, 16, 3))
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from .mp4 import h264  # noqa: F401 (one of the degradations)
from .problems import downscale


def to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def gaussian(frames: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """White Gaussian noise of std ``sigma`` (0-255)."""
    return to_uint8(frames.astype(np.float32) + rng.normal(0.0, sigma, frames.shape).astype(np.float32))


def sensor(frames: np.ndarray, peak: float, read: float, rng: np.random.Generator) -> np.ndarray:
    """Poisson-Gaussian noise: photon counts of mean v/255 · ``peak`` (shot noise, lower peak = noisier),
    then Gaussian read noise of std ``read`` (0-255)."""
    shot = rng.poisson(frames.astype(np.float64) / 255.0 * peak) * (255.0 / peak)
    return to_uint8(shot + (rng.normal(0.0, read, frames.shape) if read > 0 else 0.0))


def jpeg(frames: np.ndarray, quality: int) -> np.ndarray:
    """Each frame through JPEG at ``quality`` (1-100)."""
    return np.stack([cv2.imdecode(cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])[1],
                                  cv2.IMREAD_UNCHANGED) for f in frames])


def blur(frames: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur of std ``sigma`` pixels (an out-of-focus or cheap lens); 0 leaves the frames."""
    if sigma <= 0:
        return frames
    return np.stack([cv2.GaussianBlur(f, (0, 0), sigma) for f in frames])


def shrink(frames: np.ndarray, factor: int) -> np.ndarray:
    """Antialiased bicubic downscaling by ``factor`` (the task's observation model), rounded to 8 bits."""
    small = downscale(torch.from_numpy(frames).float().movedim(-1, 1), factor).movedim(1, -1).numpy()
    return to_uint8(small)


def compress(frames: np.ndarray, rng: np.random.Generator, crf: tuple[float, float] = (18.0, 36.0),
             quality: tuple[int, int] = (30, 90), h264_share: float = 0.6) -> np.ndarray:
    """H.264 at a CRF drawn from ``crf`` (``h264_share`` of the time), else JPEG at a quality from ``quality``."""
    if rng.random() < h264_share:
        return h264(frames, float(rng.uniform(*crf)))
    return jpeg(frames, int(rng.integers(quality[0], quality[1] + 1)))
