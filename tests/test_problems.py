import numpy as np
import pytest
import torch

from vidprior.errors import VidpriorError
from vidprior.problems import (
    Problem,
    add_gaussian_noise,
    add_poisson_noise,
    downscale,
    downscale_frames,
    drop_frames,
    moving_masks,
)


def test_target_shapes_follow_the_table(clip, hole):
    t, h, w = clip.shape[:3]
    assert Problem("inpaint", clip, hole).target_shape == (t, h, w)
    assert Problem("denoise", clip).target_shape == (t, h, w)
    assert Problem("interpolate", clip, factor=3).target_shape == ((t - 1) * 3 + 1, h, w)
    assert Problem("upscale", clip, factor=2).target_shape == (t, 2 * h, 2 * w)


def test_forward_operators_map_the_target_onto_the_observation(clip):
    x = torch.rand(7, 3, 16, 20)
    picked = Problem("interpolate", clip[:3], factor=3).forward(x)
    assert torch.equal(picked, x[[0, 3, 6]])
    low = Problem("upscale", clip, factor=4).forward(torch.rand(2, 3, 32, 48))
    assert low.shape == (2, 3, 8, 12)
    assert torch.equal(Problem("denoise", clip).forward(x), x)


def test_weights_trust_only_known_pixels(clip, hole):
    weights = Problem("inpaint", clip, hole).weights()
    assert weights.shape == (len(clip), 1, *clip.shape[1:3])
    assert torch.equal(weights[:, 0] == 0, torch.from_numpy(hole))
    assert Problem("denoise", clip).weights().min() == 1


def test_finalize_pastes_known_pixels_exactly(clip, hole):
    guess = np.zeros_like(clip)
    out = Problem("inpaint", clip, hole).finalize(guess)
    assert np.array_equal(out[~hole], clip[~hole]) and (out[hole] == 0).all()
    interp = Problem("interpolate", clip[:3], factor=2).finalize(np.zeros((5, *clip.shape[1:]), np.uint8))
    assert np.array_equal(interp[[0, 2, 4]], clip[:3]) and (interp[[1, 3]] == 0).all()


@pytest.mark.parametrize("factor", [0, 1, -2, 17, 2.5])
def test_absurd_factors_are_refused(clip, factor):
    with pytest.raises(VidpriorError, match="from 2 to 16"):
        Problem("upscale", clip, factor=factor)


def test_unknown_task_is_refused(clip):
    with pytest.raises(VidpriorError, match="unknown task"):
        Problem("colorize", clip)


def test_gaussian_noise_has_the_asked_level_and_is_seeded():
    flat = np.full((4, 64, 64, 3), 128, np.uint8)
    noisy = add_gaussian_noise(flat, 25, seed=1)
    assert noisy.astype(float).std() == pytest.approx(25, rel=0.03)
    assert np.array_equal(noisy, add_gaussian_noise(flat, 25, seed=1))
    assert not np.array_equal(noisy, add_gaussian_noise(flat, 25, seed=2))


def test_poisson_noise_keeps_the_mean_and_scales_with_the_signal():
    dark, bright = np.full((2, 64, 64, 3), 30, np.uint8), np.full((2, 64, 64, 3), 150, np.uint8)
    nd, nb = add_poisson_noise(dark, 30, seed=0), add_poisson_noise(bright, 30, seed=0)
    assert nd.mean() == pytest.approx(30, abs=1.5) and nb.mean() == pytest.approx(150, abs=2)
    # Poisson: variance of counts equals their mean, so std grows as sqrt(signal)
    assert nb.astype(float).std() / nd.astype(float).std() == pytest.approx(np.sqrt(150 / 30), rel=0.1)


def test_drop_frames_keeps_every_kth_and_the_last(clip):
    kept = drop_frames(clip, 3)  # 8 frames -> 0, 3, 6 (frame 7 cannot end a full gap)
    assert np.array_equal(kept, clip[[0, 3, 6]])


def test_downscale_is_antialiased_and_preserves_smooth_content():
    ys, xs = np.mgrid[0:64, 0:64]
    smooth = np.stack([xs * 3, ys * 3, (xs + ys) * 1.5], axis=2).astype(np.uint8)[None]
    low = downscale_frames(smooth, 4)
    assert low.shape == (1, 16, 16, 3)
    assert abs(float(low[0, 8, 8, 0]) - float(smooth[0, 32:36, 32:36, 0].mean())) < 3
    stripes = torch.zeros(1, 1, 8, 64)
    stripes[..., ::2] = 1.0  # Nyquist pattern: antialiasing turns it grey instead of aliasing
    assert downscale(stripes, 4).std() < 0.02


def test_moving_masks_cover_and_move():
    shape = np.zeros((5, 40, 40), bool)
    shape[:, 10:30, 15:25] = True
    masks = moving_masks(shape, (72, 128), 12, seed=3, coverage=0.1)
    assert masks.shape == (12, 72, 128)
    assert 0.05 < masks.mean() < 0.15
    centres = [np.argwhere(m).mean(axis=0) for m in masks]
    assert np.linalg.norm(centres[0] - centres[-1]) > 2
