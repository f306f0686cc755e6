"""The noise the denoiser is trained on, and how it is told the level.

Five kinds, each drawn for a whole sample (a sequence of frames; `vidprior.degradations`):

=============  ==============================================  ==========================
kind           noisy = ...                                     level given to the network
=============  ==============================================  ==========================
gaussian       round(clean + N(0, sigma²)), sigma in [5, 55]   sigma, or an estimate (30%)
poisson        Poisson(clean/255 · peak) · 255/peak, peak in   an estimate
               [8, 128] (log-uniform)
sensor         poisson of peak [16, 256] + read noise of std   an estimate
               [1, 8] (a camera's sensor)
compressed     gaussian of sigma in [0, 30], then JPEG of      an estimate
               quality 25-90 per frame
h264           sensor noise, then x264 at CRF 20-34 (a phone   an estimate
               or an upload)
=============  ==============================================  ==========================

For ``BLUR_SHARE`` of samples the clean frames themselves are first softened (Gaussian, std up to
``MAX_BLUR`` pixels): footage is often soft, and the target is the soft frame, so the network learns to
remove noise without sharpening what the lens blurred. The estimate is `estimate_level` of the noisy
middle frame, the one the method uses when no sigma is given, so blind mode sees in training what it
sees on a user's video. Random choices come from a numpy generator the caller seeds (from torch's RNG,
which checkpoints restore).
"""

from __future__ import annotations

import numpy as np

from .. import degradations

KINDS = ("gaussian", "poisson", "sensor", "compressed", "h264")
KIND_SHARES = (0.45, 0.1, 0.15, 0.1, 0.2)
SIGMA_RANGE = (5.0, 55.0)
PEAK_RANGE = (8.0, 128.0)
KNOWN_SHARE = 0.7  # of Gaussian samples, the share told their true sigma
BLUR_SHARE = 0.2
MAX_BLUR = 1.0


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


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def soften(clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``clean`` frames, softened by a mild blur for ``BLUR_SHARE`` of calls (the target then is the soft frame)."""
    return degradations.blur(clean, float(rng.uniform(0.3, MAX_BLUR))) if rng.random() < BLUR_SHARE else clean


def add_noise(clean: np.ndarray, kind: str, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Noisy uint8 frames (F, h, w, 3) of ``kind`` at a random level, and the level to tell the network."""
    if kind == "gaussian":
        sigma = float(rng.uniform(*SIGMA_RANGE))
        noisy = degradations.gaussian(clean, sigma, rng)
        known = rng.random() < KNOWN_SHARE
        return noisy, sigma if known else estimate_level(noisy[len(noisy) // 2])
    if kind == "poisson":
        noisy = degradations.sensor(clean, _log_uniform(rng, *PEAK_RANGE), 0.0, rng)
    elif kind == "sensor":
        noisy = degradations.sensor(clean, _log_uniform(rng, 16.0, 256.0), float(rng.uniform(1.0, 8.0)), rng)
    elif kind == "compressed":
        noisy = degradations.jpeg(degradations.gaussian(clean, float(rng.uniform(0.0, 30.0)), rng),
                                  int(rng.integers(25, 91)))
    elif kind == "h264":
        shot = degradations.sensor(clean, _log_uniform(rng, 30.0, 300.0), float(rng.uniform(0.0, 4.0)), rng)
        noisy = degradations.h264(shot, float(rng.uniform(20.0, 34.0)))
    else:
        raise ValueError(f"unknown noise kind '{kind}'; one of {', '.join(KINDS)}")
    return noisy, estimate_level(noisy[len(noisy) // 2])
