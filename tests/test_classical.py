"""The classical baselines: each one measurably does its job on clips with a known answer."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import panning_clip

from vidprior import metrics
from vidprior.methods import CODECS, METHODS, RunOptions, classical
from vidprior.methods.classical import estimate_sigma
from vidprior.problems import Problem, add_gaussian_noise, downscale_frames, drop_frames


def _run(name: str, problem: Problem, **params) -> np.ndarray:
    out = METHODS[name].run(problem, RunOptions(progress=False, params=params))
    assert out.dtype == np.uint8 and out.shape == (*problem.target_shape, 3)
    return out


def test_every_method_names_a_known_task():
    for method in classical.METHODS:
        assert method.family == "classical" and METHODS[method.name] is method
        assert set(method.tasks) <= {"inpaint", "denoise", "interpolate", "upscale"}


@pytest.mark.parametrize("name", ["telea", "ns", "flowfill"])
def test_inpainting_keeps_known_pixels_and_fills_the_hole(name, clip, hole):
    observed = clip.copy()
    observed[hole] = 0
    out = _run(name, Problem("inpaint", observed, hole))
    assert np.array_equal(out[~hole], clip[~hole])
    assert metrics.psnr(out, clip, region=hole) > metrics.psnr(observed, clip, region=hole) + 10


def test_flowfill_recovers_a_pan_far_better_than_telea(clip, hole):
    """In a panning clip every hole pixel is visible in another frame: flow copying is near exact."""
    observed = clip.copy()
    observed[hole] = 0
    problem = Problem("inpaint", observed, hole)
    telea = metrics.psnr(_run("telea", problem), clip, region=hole)
    flowfill = metrics.psnr(_run("flowfill", problem), clip, region=hole)
    assert flowfill > telea + 5


def test_flowfill_of_a_single_frame_falls_back_to_telea(clip, hole):
    problem = Problem("inpaint", clip[:1], hole[:1])
    assert np.array_equal(_run("flowfill", problem), _run("telea", problem))


@pytest.mark.parametrize("name", ["nlmeans", pytest.param("bm3d", marks=pytest.mark.slow),
                                  pytest.param("bm4d", marks=pytest.mark.slow)])
def test_denoisers_raise_psnr(name):
    clean = panning_clip(frames=3, height=64, width=64)
    noisy = add_gaussian_noise(clean, 25.0, seed=1)
    out = _run(name, Problem("denoise", noisy, sigma=25.0))
    assert metrics.psnr(out, clean) > metrics.psnr(noisy, clean) + 3


@pytest.mark.parametrize("frames", [1, 2, 4])
def test_nlmeans_works_on_short_clips_and_clip_ends(frames):
    clean = panning_clip(frames=frames, height=32, width=32)
    noisy = add_gaussian_noise(clean, 20.0, seed=2)
    out = _run("nlmeans", Problem("denoise", noisy, sigma=20.0), temporal=5)
    assert metrics.psnr(out, clean) > metrics.psnr(noisy, clean)


@pytest.mark.slow
def test_bm4d_uses_the_other_frames_of_a_still_scene():
    clean = np.repeat(panning_clip(frames=1, height=48, width=48), 6, axis=0)
    noisy = add_gaussian_noise(clean, 30.0, seed=4)
    bm3d, bm4d = (metrics.psnr(_run(name, Problem("denoise", noisy, sigma=30.0)), clean) for name in ("bm3d", "bm4d"))
    assert bm4d > bm3d + 1


def test_zero_sigma_is_the_identity(clip):
    for name in ("nlmeans", "bm3d", "bm4d"):
        assert np.array_equal(_run(name, Problem("denoise", clip, sigma=0.0)), clip)


def test_sigma_estimate_is_close_to_the_truth():
    clean = panning_clip(frames=3, height=64, width=64)
    for sigma in (10.0, 30.0):
        assert abs(estimate_sigma(add_gaussian_noise(clean, sigma, seed=3)) - sigma) < 0.25 * sigma


def test_interpolation_keeps_observed_frames_and_flow_beats_blend():
    clean = panning_clip(frames=9, step=3)
    observed = drop_frames(clean, 2)
    problem = Problem("interpolate", observed, factor=2)
    blend, warped = _run("blend", problem), _run("flowinterp", problem)
    assert np.array_equal(blend[::2], observed) and np.array_equal(warped[::2], observed)
    missing = np.arange(len(clean)) % 2 == 1
    assert metrics.psnr(warped[missing], clean[missing]) > metrics.psnr(blend[missing], clean[missing]) + 3


def test_interpolation_by_three_has_the_right_length():
    observed = panning_clip(frames=3)
    out = _run("flowinterp", Problem("interpolate", observed, factor=3))
    assert len(out) == 7


@pytest.mark.parametrize("name", ["bicubic", "lanczos"])
def test_upscalers_beat_pixel_repetition(name):
    clean = panning_clip(frames=2, height=48, width=64)
    small = downscale_frames(clean, 2)
    out = _run(name, Problem("upscale", small, factor=2))
    repeated = small.repeat(2, axis=1).repeat(2, axis=2)
    assert metrics.psnr(out, clean) > metrics.psnr(repeated, clean)


def test_denoise_then_upscale_beats_upscaling_the_noise():
    clean = panning_clip(frames=2, height=96, width=128)
    noisy = add_gaussian_noise(downscale_frames(clean, 2), 15, seed=1)
    cascade = _run("bm3d-lanczos", Problem("upscale", noisy, factor=2, sigma=15))
    plain = _run("lanczos", Problem("upscale", noisy, factor=2, sigma=15))
    assert cascade.shape == clean.shape
    assert metrics.psnr(cascade, clean) > metrics.psnr(plain, clean) + 2


@pytest.mark.parametrize("name", ["x264", "x265"])
def test_codecs_round_trip_with_rate_falling_as_crf_rises(name):
    codec = CODECS[name]
    clean = panning_clip(frames=6, height=33, width=47)  # odd sizes: padded inside, cropped back
    sizes, scores = [], []
    for crf in (18.0, 38.0):
        data = codec.encode(clean, 25.0, crf)
        decoded = codec.decode(data)
        assert decoded.shape == clean.shape
        sizes.append(len(data))
        scores.append(metrics.psnr(decoded, clean))
    assert sizes[0] > sizes[1] and scores[0] > scores[1] > 20


@pytest.mark.slow
def test_flowfill_second_round_on_completed_frames_beats_the_first_on_a_real_clip():
    """Round 1's flow is dragged by the filled patch moving with the mask; round 2 re-estimates it
    on the completed frames (demo clip: real video with a painted ball, clean frames known)."""
    import cv2

    from vidprior.demo import demo_clip, paint_ball
    from vidprior.video import read_video

    clean = read_video(demo_clip(), count=12).frames
    painted, ball = paint_ball(clean)
    hole = np.stack([cv2.dilate(m.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0 for m in ball])
    problem = Problem("inpaint", painted, hole)
    first, second = (metrics.psnr(_run("flowfill", problem, rounds=r), clean, region=hole) for r in (1, 2))
    assert second > first + 1.0


@pytest.mark.parametrize("rounds", [0, -1, 11])
def test_flowfill_refuses_absurd_round_counts(clip, hole, rounds):
    from vidprior.errors import VidpriorError

    with pytest.raises(VidpriorError, match="rounds"):
        _run("flowfill", Problem("inpaint", clip, hole), rounds=rounds)
