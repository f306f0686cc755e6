"""The classical in-between frame: splatting reproduces a shift exactly and marks what is occluded, a still scene
comes out exact, quadratic paths follow accelerating motion, the clip loop keeps the given frames at any factor,
and the flowinterp method's variants."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch
from synthetic import panning_clip, textured_image

from vidprior import inbetween, metrics
from vidprior.inbetween import between_frames, reversal_blend, splat, splatted
from vidprior.methods import METHODS, RunOptions
from vidprior.problems import Problem, drop_frames
from vidprior.video import frames_to_tensor, tensor_to_frames


def test_doctests():
    assert doctest.testmod(inbetween).failed == 0


def constant(dx: float, dy: float, h: int, w: int) -> torch.Tensor:
    return torch.tensor([float(dx), float(dy)]).view(1, 2, 1, 1).expand(1, 2, h, w).clone()


def image(array: np.ndarray) -> torch.Tensor:
    return frames_to_tensor(array[None])


def test_splatting_reproduces_a_pure_shift_exactly_and_marks_the_strip_that_enters():
    big = textured_image(40, 80, seed=2)
    a, b = image(big[:, 8:72]), image(big[:, 12:76])  # the content moves 4 px to the left
    h, w = a.shape[-2:]
    s = splatted(a, b, constant(-4, 0, h, w), constant(4, 0, h, w), torch.tensor([0.5]))
    truth = image(big[:, 10:74])
    assert torch.allclose(s.a[..., :-2], truth[..., :-2], atol=1e-5)  # frame a pushed 2 px left
    assert torch.allclose(s.b[..., 2:], truth[..., 2:], atol=1e-5)  # frame b pushed 2 px right
    assert torch.allclose(s.blend, truth, atol=1e-5)  # each strip comes from the frame that has it
    assert (s.mass_a[..., -2:] == 0).all() and (s.mass_a[..., :-2] > 0.99).all()
    assert (s.mass_b[..., :2] == 0).all() and (s.mass_b[..., 2:] > 0.99).all()


def test_the_background_a_moving_square_uncovers_is_a_hole_of_the_frame_it_was_hidden_in():
    back = textured_image(48, 64, seed=1)
    square = textured_image(12, 12, seed=5)
    a, b = back.copy(), back.copy()
    a[18:30, 10:22], b[18:30, 18:30] = square, square  # 8 px to the right, over a still background
    f01, f10 = torch.zeros(1, 2, 48, 64), torch.zeros(1, 2, 48, 64)
    f01[:, 0, 18:30, 10:22], f10[:, 0, 18:30, 18:30] = 8, -8
    s = splatted(image(a), image(b), f01, f10, torch.tensor([0.5]))
    truth = back.copy()
    truth[18:30, 14:26] = square
    uncovered = (slice(18, 30), slice(10, 14))  # behind the square at tau 1/2: only frame b shows it
    assert (s.mass_a[0, 0][uncovered] == 0).all() and (s.mass_b[0, 0][uncovered] > 0.99).all()
    out = tensor_to_frames(s.blend)[0]
    assert np.array_equal(out[uncovered], back[uncovered])
    reversal = tensor_to_frames(reversal_blend(image(a), image(b), f01, f10, torch.tensor([0.5])))[0]
    assert metrics.psnr(out, truth) > metrics.psnr(reversal, truth) + 3


def test_a_still_scene_comes_out_exactly():
    still = textured_image(24, 40, seed=3)
    zero = torch.zeros(1, 2, 24, 40)
    for tau in (0.25, 0.5):
        out = splatted(image(still), image(still), zero, zero, torch.tensor([tau])).blend
        assert np.array_equal(tensor_to_frames(out)[0], still)


def test_quadratic_paths_follow_motion_that_speeds_up():
    """Content at x = 4·t² (frames -1, 0, 1, 2 at 4, 0, 4, 16 px): at t = 1/2 it is at 1 px, not at 2."""
    big = textured_image(32, 96, seed=4)
    h, w = 32, 64

    def at(x: int) -> torch.Tensor:
        return image(big[:, 20 - x: 20 - x + w])  # content moved x px to the right

    a, b, tau = at(0), at(4), torch.tensor([0.5])
    f01, f10 = constant(4, 0, h, w), constant(-4, 0, h, w)
    inner = (..., slice(16, -16))
    curved = splatted(a, b, f01, f10, tau, constant(4, 0, h, w), constant(12, 0, h, w)).blend
    straight = splatted(a, b, f01, f10, tau).blend
    assert torch.allclose(curved[inner], at(1)[inner], atol=1e-5)
    assert (straight[inner] - at(1)[inner]).abs().mean() > 0.01  # measured: 0.024
    with pytest.raises(ValueError, match="both outer flows"):
        splatted(a, b, f01, f10, tau, f01)


def test_splat_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="motion"):
        splat(torch.rand(1, 3, 8, 8), torch.zeros(1, 2, 8, 9), torch.ones(1, 1, 8, 8))


@pytest.mark.parametrize("factor,size", [(2, (27, 41)), (3, (9, 30)), (5, (16, 17))])
def test_the_clip_loop_keeps_the_given_frames_at_any_factor_and_size(factor, size):
    frames = panning_clip(frames=4, height=size[0], width=size[1], step=1)
    for quadratic in (True, False):
        out = between_frames(frames, factor, quadratic=quadratic, progress=False)
        assert out.shape == (3 * factor + 1, *size, 3) and np.array_equal(out[::factor], frames)


def test_flowinterp_splatting_on_quadratic_paths_beats_reversal_on_a_pan():
    clean = panning_clip(frames=9, height=48, width=64, step=3)
    problem = Problem("interpolate", drop_frames(clean, 2), factor=2)
    scores = {}
    for params in ({"warp": "reversal"}, {"paths": "straight"}, {}):
        out = METHODS["flowinterp"].run(problem, RunOptions(progress=False, params=params))
        assert np.array_equal(out[::2], problem.observed)
        scores[str(params)] = metrics.psnr(out[1::2], clean[1::2])
    assert scores["{}"] > 35 and scores["{}"] >= scores["{'warp': 'reversal'}"] - 0.1, scores
