"""The noise the denoiser is trained on, and how it is told the level.

Three kinds, each drawn for a whole sample (five frames):

=============  ==============================================  ==========================
kind           noisy = ...                                     level given to the network
=============  ==============================================  ==========================
gaussian       round(clean + N(0, sigma²)), sigma in [5, 55]   sigma, or an estimate (30%)
poisson        Poisson(clean/255 · peak) · 255/peak, peak in   an estimate
               [8, 128] (log-uniform)
compressed     gaussian of sigma in [0, 30], then JPEG of      an estimate
               quality 25-90 per frame
=============  ==============================================  ==========================

The estimate is `estimate_level` of the noisy middle frame, the one the method uses when no sigma is
given, so blind mode sees in training what it sees on a user's video. Random choices come from a
numpy generator the caller seeds (from torch's RNG, which checkpoints restore).
"""

from __future__ import annotations

import cv2
import numpy as np

KINDS = ("gaussian", "poisson", "compressed")
KIND_SHARES = (0.6, 0.2, 0.2)
SIGMA_RANGE = (5.0, 55.0)
PEAK_RANGE = (8.0, 128.0)
KNOWN_SHARE = 0.7  # of Gaussian samples, the share told their true sigma


def estimate_level(frame: np.ndarray) -> float:
    """Noise std (0-255) of one uint8 frame (h, w, 3): the wavelet estimate (Donoho's MAD of the finest
    diagonal band), averaged over channels."""
    from skimage.restoration import estimate_sigma

    return float(estimate_sigma(frame.astype(np.float32), channel_axis=-1, average_sigmas=True))


def estimate_sigma(frames: np.ndarray, samples: int = 3) -> float:
    """Noise std (0-255 scale) of uint8 frames (T, H, W, 3): the median of `estimate_level` over a few evenly
    spaced frames."""
    index = np.unique(np.linspace(0, len(frames) - 1, min(samples, len(frames))).round().astype(int))
    return float(np.median([estimate_level(frames[i]) for i in index]))


def _round(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def add_noise(clean: np.ndarray, kind: str, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Noisy uint8 frames (F, h, w, 3) of ``kind`` at a random level, and the level to tell the network."""
    frames = clean.astype(np.float32)
    if kind == "gaussian":
        sigma = float(rng.uniform(*SIGMA_RANGE))
        noisy = _round(frames + rng.normal(0.0, sigma, frames.shape).astype(np.float32))
        known = rng.random() < KNOWN_SHARE
        return noisy, sigma if known else estimate_level(noisy[len(noisy) // 2])
    if kind == "poisson":
        peak = float(np.exp(rng.uniform(*np.log(PEAK_RANGE))))
        noisy = _round(rng.poisson(frames / 255.0 * peak) * (255.0 / peak))
    elif kind == "compressed":
        noisy = _round(frames + rng.normal(0.0, rng.uniform(0.0, 30.0), frames.shape).astype(np.float32))
        quality = int(rng.integers(25, 91))
        noisy = np.stack([cv2.imdecode(cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, quality])[1],
                                       cv2.IMREAD_UNCHANGED) for f in noisy])
    else:
        raise ValueError(f"unknown noise kind '{kind}'; one of {', '.join(KINDS)}")
    return noisy, estimate_level(noisy[len(noisy) // 2])
