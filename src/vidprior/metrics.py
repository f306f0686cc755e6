"""Video quality figures: PSNR (whole frame, inside a hole, SR Y-channel), SSIM, warping error, LPIPS.

Every function takes a ``result`` and a ``reference`` clip of the same shape, uint8 (T, H, W, 3)
RGB (a single (H, W, 3) frame is treated as a one-frame clip), and returns one float: the
per-frame figure averaged over frames. Higher is better except for ``warp_error`` and ``lpips``.

Conventions:

* PSNR uses peak 255; a frame identical to its reference scores `PSNR_CAP` (100 dB) instead of
  infinity, so averages stay finite.
* SSIM follows Wang et al. 2004 as scikit-image computes it with ``gaussian_weights=True,
  sigma=1.5, use_sample_covariance=False, data_range=255``: an 11x11 Gaussian window, statistics
  averaged over the pixels at least 5 px from the border, then over the RGB channels.
* ``warp_error`` (Lai et al., ECCV 2018) is reported ×1000 (`WARP_ERROR_SCALE`): squared RGB
  distance in [0, 1] units, summed over the channels as in the authors' code, averaged over the
  non-occluded pixels of each consecutive pair, then over pairs.
"""

from __future__ import annotations

import functools
import logging

import numpy as np
import torch
import torch.nn.functional as F

from . import perceptual
from .errors import VidpriorError
from .flow import consistent, dis_flow, warp_np
from .video import frames_to_tensor

log = logging.getLogger(__name__)

PSNR_CAP = 100.0
WARP_ERROR_SCALE = 1000.0
SSIM_SIGMA = 1.5
SSIM_RADIUS = 5  # int(3.5 sigma + 0.5), as scipy's gaussian filter with skimage's truncate=3.5
SSIM_K1, SSIM_K2 = 0.01, 0.03
LPIPS_BATCH = 8

Flows = list[tuple[np.ndarray, np.ndarray]]


def _clips(result: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Check two clips of equal shape; single (H, W, 3) frames become (1, H, W, 3)."""
    result, reference = np.asarray(result), np.asarray(reference)
    if result.ndim == 3:
        result = result[None]
    if reference.ndim == 3:
        reference = reference[None]
    if result.shape != reference.shape:
        raise VidpriorError(f"cannot compare clips of different shapes {result.shape} and {reference.shape}")
    if result.ndim != 4 or result.shape[-1] != 3 or result.shape[0] == 0:
        raise VidpriorError(f"clips must be (T, H, W, 3) RGB, got {result.shape}")
    return result, reference


def _psnr_from_mse(mse: np.ndarray, peak: float = 255.0) -> np.ndarray:
    """(T,) mean squared errors -> (T,) PSNR in dB, capped at PSNR_CAP."""
    with np.errstate(divide="ignore"):
        return np.minimum(10.0 * np.log10(peak**2 / mse), PSNR_CAP)


def psnr(result: np.ndarray, reference: np.ndarray, region: np.ndarray | None = None) -> float:
    """Mean per-frame PSNR in dB (peak 255; identical frames count as 100 dB).

    ``region`` (T, H, W) bool restricts each frame to those pixels (e.g. PSNR inside the hole);
    frames without region pixels are skipped, and a region with no pixels at all is an error.
    """
    result, reference = _clips(result, reference)
    diff = (result.astype(np.float64) - reference.astype(np.float64)) ** 2
    if region is None:
        return float(_psnr_from_mse(diff.mean(axis=(1, 2, 3))).mean())
    region = np.asarray(region, dtype=bool).reshape(result.shape[:3])
    counts = region.sum(axis=(1, 2))
    if not counts.any():
        raise VidpriorError("the PSNR region holds no pixels")
    sums = (diff * region[..., None]).sum(axis=(1, 2, 3))
    keep = counts > 0
    return float(_psnr_from_mse(sums[keep] / (3.0 * counts[keep])).mean())


def psnr_y(result: np.ndarray, reference: np.ndarray, crop: int) -> float:
    """Super-resolution PSNR: Y of BT.601 YCbCr (MATLAB rgb2ycbcr, unrounded), ``crop`` px border cut.

    Y = 16 + 65.481 R + 128.553 G + 24.966 B with R, G, B in [0, 1]; use crop = scale factor.
    """
    result, reference = _clips(result, reference)
    h, w = result.shape[1:3]
    if crop < 0 or 2 * crop >= min(h, w):
        raise VidpriorError(f"border crop {crop} is invalid for {w}x{h} frames")
    weights = np.array([65.481, 128.553, 24.966]) / 255.0
    window = (slice(None), slice(crop, h - crop), slice(crop, w - crop))
    y_result = result[window].astype(np.float64) @ weights + 16.0
    y_reference = reference[window].astype(np.float64) @ weights + 16.0
    return float(_psnr_from_mse(((y_result - y_reference) ** 2).mean(axis=(1, 2))).mean())


@functools.cache
def _gaussian_taps() -> tuple[torch.Tensor, torch.Tensor]:
    """Horizontal (5, 1, 1, 11) and vertical (5, 1, 11, 1) Gaussian taps (sigma 1.5) for 5 maps."""
    x = torch.arange(-SSIM_RADIUS, SSIM_RADIUS + 1, dtype=torch.float64)
    taps = torch.exp(-0.5 * (x / SSIM_SIGMA) ** 2)
    taps = (taps / taps.sum()).float()
    return taps.view(1, 1, 1, -1).repeat(5, 1, 1, 1), taps.view(1, 1, -1, 1).repeat(5, 1, 1, 1)


def _ssim_maps(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """SSIM maps of (N, 1, H, W) images in [0, 1]: (N, H-10, W-10), 'valid' window positions only."""
    horizontal, vertical = _gaussian_taps()
    stats = torch.cat([a, b, a * a, b * b, a * b], dim=1)  # (N, 5, H, W), blurred in one grouped pass
    stats = F.conv2d(F.conv2d(stats, horizontal, groups=5), vertical, groups=5)
    mu_a, mu_b, aa, bb, ab = stats.unbind(dim=1)
    var_a, var_b, cov = aa - mu_a**2, bb - mu_b**2, ab - mu_a * mu_b
    c1, c2 = SSIM_K1**2, SSIM_K2**2
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))


def ssim(result: np.ndarray, reference: np.ndarray) -> float:
    """Mean per-frame SSIM over RGB (matches skimage's Gaussian-window SSIM, see module notes)."""
    result, reference = _clips(result, reference)
    h, w = result.shape[1:3]
    if min(h, w) < 2 * SSIM_RADIUS + 1:
        raise VidpriorError(f"SSIM needs frames of at least 11x11, got {w}x{h}")
    scores = []
    for start in range(0, len(result), 16):  # chunks bound memory on long clips
        a = frames_to_tensor(result[start:start + 16]).reshape(-1, 1, h, w)  # channels as images
        b = frames_to_tensor(reference[start:start + 16]).reshape(-1, 1, h, w)
        scores.append(_ssim_maps(a, b).reshape(-1, 3 * (h - 2 * SSIM_RADIUS) * (w - 2 * SSIM_RADIUS)).mean(1))
    return float(torch.cat(scores).double().mean())


def reference_flows(reference: np.ndarray) -> Flows:
    """Per consecutive pair (t, t+1) of the reference: (forward flow (H, W, 2), valid mask (H, W) bool).

    Flow is DIS from frame t to t+1; a pixel is valid when it passes the forward-backward check
    and its flow stays inside the frame. Compute once and pass to `warping_error`/`evaluate` to
    score several results against the same reference.
    """
    reference = np.asarray(reference)
    h, w = reference.shape[1:3]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    flows = []
    for t in range(len(reference) - 1):
        forward = dis_flow(reference[t], reference[t + 1])
        backward = dis_flow(reference[t + 1], reference[t])
        x, y = xs + forward[..., 0], ys + forward[..., 1]
        inside = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
        flows.append((forward, consistent(forward, backward) & inside))
    return flows


def warping_error(result: np.ndarray, reference: np.ndarray, flows: Flows | None = None) -> float:
    """Temporal warping error ×1000 (lower is better); flow and occlusions come from ``reference``.

    For each pair, result[t+1] is warped back onto frame t with the reference flow, and the squared
    RGB distance to result[t] ([0, 1] units, summed over channels) is averaged over valid pixels.
    ``flows`` is `reference_flows(reference)`, computed here when not given.
    """
    result, reference = _clips(result, reference)
    if len(result) < 2:
        raise VidpriorError("the warping error needs at least 2 frames")
    if flows is None:
        flows = reference_flows(reference)
    if len(flows) != len(result) - 1 or flows[0][0].shape[:2] != result.shape[1:3]:
        raise VidpriorError("the precomputed flows do not belong to a clip of this size")
    frames = result.astype(np.float32) / 255.0
    errors = []
    for t, (forward, valid) in enumerate(flows):
        warped = warp_np(frames[t + 1], forward)
        distance = ((warped - frames[t]) ** 2).sum(axis=-1)
        errors.append(distance[valid].mean() if valid.any() else distance.mean())
    return float(np.mean(errors)) * WARP_ERROR_SCALE


@functools.cache
def _lpips_net() -> torch.nn.Module | None:
    """The AlexNet LPIPS model, or None (warned about once) when its weights are not installed."""
    if not perceptual.weights_available("alex"):
        log.warning("LPIPS skipped: weights not installed; fix: %s", perceptual.INSTALL_HINT)
        return None
    return perceptual.lpips_model("alex")


def _lpips_score(result: np.ndarray, reference: np.ndarray) -> float | None:
    result, reference = _clips(result, reference)
    model = _lpips_net()
    if model is None:
        return None
    scores = []
    with torch.inference_mode():
        for start in range(0, len(result), LPIPS_BATCH):
            a = frames_to_tensor(result[start:start + LPIPS_BATCH])
            b = frames_to_tensor(reference[start:start + LPIPS_BATCH])
            scores.append(model(a, b))
    return float(torch.cat(scores).mean())


def lpips(result: np.ndarray, reference: np.ndarray) -> float | None:
    """Mean per-frame LPIPS (AlexNet; lower is better), or None when the weights are not installed."""
    return _lpips_score(result, reference)


def bits_per_pixel(n_bytes: int, frames: int, height: int, width: int) -> float:
    """Compressed size as bits per pixel of the whole clip: 8 n_bytes / (frames·height·width)."""
    pixels = frames * height * width
    if pixels <= 0:
        raise VidpriorError(f"bits per pixel of an empty clip ({frames}x{height}x{width})")
    return 8.0 * n_bytes / pixels


def evaluate(result: np.ndarray, reference: np.ndarray, hole: np.ndarray | None = None,
             sr_scale: int | None = None, lpips: bool = False,
             flows: Flows | None = None) -> dict[str, float]:
    """All figures that apply, under stable keys.

    "psnr", "ssim" always; "psnr_hole" when ``hole`` (T, H, W) bool has pixels; "psnr_y" when
    ``sr_scale`` is given (border crop = scale); "warp_error" (×1000) for 2+ frames; "lpips" when
    asked for and the weights are installed. ``flows`` = `reference_flows(reference)` saves time.
    """
    result, reference = _clips(result, reference)
    scores = {"psnr": psnr(result, reference), "ssim": ssim(result, reference)}
    if hole is not None and np.any(hole):
        scores["psnr_hole"] = psnr(result, reference, region=hole)
    if sr_scale is not None:
        scores["psnr_y"] = psnr_y(result, reference, crop=sr_scale)
    if len(result) > 1:
        scores["warp_error"] = warping_error(result, reference, flows)
    if lpips:
        value = _lpips_score(result, reference)
        if value is not None:
            scores["lpips"] = value
    return scores



def bd_rate(rate_ref: list[float], psnr_ref: list[float], rate_test: list[float], psnr_test: list[float]) -> float:
    """Bjøntegaard delta rate in percent: the average bitrate change of the test codec against the
    reference at equal PSNR (negative: the test needs fewer bits). Log-rate is fitted as a cubic
    (fewer points: a lower degree) in PSNR, and the fits are compared over their common PSNR range;
    NaN when the ranges do not overlap."""
    if min(len(rate_ref), len(rate_test)) < 2:
        return float("nan")
    lo = max(min(psnr_ref), min(psnr_test))
    hi = min(max(psnr_ref), max(psnr_test))
    if hi <= lo:
        return float("nan")
    areas = []
    for rates, psnrs in ((rate_ref, psnr_ref), (rate_test, psnr_test)):
        fit = np.polyfit(psnrs, np.log(rates), min(3, len(rates) - 1))
        integral = np.polyint(fit)
        areas.append(np.polyval(integral, hi) - np.polyval(integral, lo))
    return float((np.exp((areas[1] - areas[0]) / (hi - lo)) - 1) * 100)
