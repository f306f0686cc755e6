"""Flow-guided propagation (`vidprior.propagation`), the homography flow fill (`vidprior.flow.fill_camera`) and
the flowfill method, on synthetic clips whose flows and hidden pixels are known exactly."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from synthetic import panning_clip, textured_image

from vidprior import flow, metrics, propagation
from vidprior.methods import METHODS, RunOptions
from vidprior.problems import Problem
from vidprior.propagation import Candidates, ClipFlows, follow, propagate, sample

T, H, W = 6, 24, 40


def _shifted_clip() -> tuple[np.ndarray, np.ndarray, ClipFlows]:
    """A textured image shifting 2 px right per frame (frame t+1 at x + 2 is frame t at x), a 6 x 8 hole moving
    2 px left per frame, and the exact flows (forward +2, backward -2 in x)."""
    big = textured_image(H, W + 2 * T, seed=1)
    frames = np.stack([big[:, 2 * (T - 1 - t): 2 * (T - 1 - t) + W] for t in range(T)])
    holes = np.zeros((T, H, W), bool)
    for t in range(T):
        holes[t, 9:15, 22 - 2 * t: 30 - 2 * t] = True
    forward, backward = np.zeros((T, H, W, 2), np.float32), np.zeros((T, H, W, 2), np.float32)
    forward[:-1, ..., 0], backward[1:, ..., 0] = 2, -2
    return frames, holes, ClipFlows(forward, backward)


def _first_seen(t: int, direction: int, holes: np.ndarray, y: int, x: int, reach: int):
    """(frame, x there, steps) of the nearest frame in ``direction`` that knows the pixel, or None."""
    for k in range(1, reach + 1):
        s, moved = t + direction * k, x + 2 * direction * k
        if not (0 <= s < len(holes) and 0 <= moved < holes.shape[2]):
            return None
        if not holes[s, y, moved]:
            return s, moved, k
    return None


def _flows(forward_x: float, backward_x: float, count: int = 2) -> ClipFlows:
    forward, backward = np.zeros((count, H, W, 2), np.float32), np.zeros((count, H, W, 2), np.float32)
    forward[:-1, ..., 0], backward[1:, ..., 0] = forward_x, backward_x
    return ClipFlows(forward, backward)


# ------------------------------------------------------------------------------ sample, flow_scale


def test_sample_is_bilinear_at_fractional_points():
    image = np.arange(12, dtype=np.float32).reshape(3, 4)
    values = sample(image, np.array([[0.5, 0.0], [1.25, 1.5], [3.0, 2.0]]))
    assert values.dtype == np.float32
    np.testing.assert_allclose(values, [0.5, 7.25, 11.0], atol=1e-5)
    colour = np.random.default_rng(0).uniform(0, 100, (20, 30, 3)).astype(np.float32)
    expected = 0.75 * (colour[3, 2] + colour[3, 3]) / 2 + 0.25 * (colour[4, 2] + colour[4, 3]) / 2
    np.testing.assert_allclose(sample(colour, np.array([[2.5, 3.25]])), [expected], atol=1e-3)


def test_sample_replicates_the_border_unless_given_a_constant():
    image = np.arange(12, dtype=np.float32).reshape(3, 4)
    outside = np.array([[-1.0, 0.0], [5.0, 1.0], [1.0, -3.0]])
    np.testing.assert_allclose(sample(image, outside), [0, 7, 1])
    np.testing.assert_allclose(sample(image, outside, border=7.0), [7, 7, 7])
    np.testing.assert_allclose(sample(image, np.array([[-0.5, 0.0]]), border=7.0), [3.5])  # half border
    np.testing.assert_allclose(sample(image, outside, border=0.0), [0, 0, 0])


def test_sample_of_no_points_is_empty():
    assert sample(np.zeros((3, 4), np.float32), np.zeros((0, 2))).shape == (0,)
    assert sample(np.zeros((3, 4, 3), np.float32), np.zeros((0, 2))).shape == (0, 3)


def test_sample_takes_more_points_than_a_remap_map_side_holds():
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 100, (200, 300)).astype(np.float32)
    points = np.stack([rng.integers(0, 300, 40000), rng.integers(0, 200, 40000)], axis=1).astype(np.float32)
    values = sample(image, points)
    assert np.array_equal(values, image[points[:, 1].astype(int), points[:, 0].astype(int)])


@pytest.mark.parametrize(("size", "scale"), [((144, 256), 1), ((480, 854), 2), ((720, 1280), 3), ((1080, 1920), 4)])
def test_flow_scale_brings_the_longer_side_near_480(size, scale):
    assert propagation.flow_scale(size) == scale


# ------------------------------------------------------------------------------ follow


@pytest.mark.parametrize("direction", [1, -1])
def test_follow_lands_on_the_nearest_frame_that_knows_each_pixel(direction):
    _, holes, flows = _shifted_clip()
    for t in range(T):
        pixels = np.argwhere(holes[t])
        found = follow(t, direction, flows, holes, pixels, reach=10)
        for i, (y, x) in enumerate(pixels):
            seen = _first_seen(t, direction, holes, y, x, 10)
            assert found.found[i] == (seen is not None)
            if seen is not None:
                s, moved, k = seen
                assert (found.source[i], found.steps[i]) == (s, k)
                assert np.array_equal(found.where[i], [moved, y])
    middle = follow(2, direction, flows, holes, np.argwhere(holes[2]), reach=10)
    assert set(middle.steps[middle.found]) == {1, 2}  # some pixels are seen next door, some two frames away


def test_follow_stops_after_reach_frames():
    _, holes, flows = _shifted_clip()
    pixels = np.argwhere(holes[0])
    near = follow(0, 1, flows, holes, pixels, reach=1)
    assert near.found.any() and not near.found.all() and set(near.steps[near.found]) == {1}


def test_follow_at_half_scale_gives_the_same_chains():
    _, holes, flows = _shifted_clip()
    half = ClipFlows(flows.forward[:, ::2, ::2] / 2, flows.backward[:, ::2, ::2] / 2, scale=2)
    pixels = np.argwhere(holes[3])
    for direction in (1, -1):
        full, small = (follow(3, direction, f, holes, pixels, reach=10) for f in (flows, half))
        assert np.array_equal(full.source, small.source) and np.array_equal(full.steps, small.steps)
        np.testing.assert_allclose(full.where, small.where, atol=1e-4)


def test_a_chain_that_leaves_the_image_finds_nothing():
    holes = np.zeros((2, H, W), bool)
    holes[0, 5, W - 3:] = True
    holes[1, 5, W - 1] = True  # x = W - 3 moves onto this hole, then out of the image
    found = follow(0, 1, _flows(2, -2), holes, np.argwhere(holes[0]), reach=10)
    assert not found.found.any()


def test_a_chain_that_left_the_image_is_not_brought_back():
    flows = _flows(4, -4, count=3)
    flows.forward[1, ..., 0], flows.backward[2, ..., 0] = -4, 4  # out of the image in frame 1, back in frame 2
    holes = np.zeros((3, H, W), bool)
    holes[0, 5, W - 3] = True
    assert not follow(0, 1, flows, holes, np.array([[5, W - 3]]), reach=5).found.any()


def test_inconsistent_forward_and_backward_flows_stop_the_chain():
    holes = np.zeros((2, H, W), bool)
    holes[0, 10, 5], holes[1, 10, 30] = True, True  # each lands on a known pixel of the other frame
    bad = _flows(5, 0)
    assert not follow(0, 1, bad, holes, np.array([[10, 5]]), reach=5).found.any()
    assert not follow(1, -1, bad, holes, np.array([[10, 30]]), reach=5).found.any()
    good = _flows(5, -5)
    assert follow(0, 1, good, holes, np.array([[10, 5]]), reach=5).found.all()


# ------------------------------------------------------------------------------ camera_motions, far_frames, gather


def test_camera_motions_of_a_constant_shift_are_that_translation():
    _, holes, flows = _shifted_clip()
    for f in (flows, ClipFlows(flows.forward[:, ::2, ::2] / 2, flows.backward[:, ::2, ::2] / 2, scale=2)):
        motions = propagation.camera_motions(f, holes)
        assert motions[1][-1] is None and motions[-1][0] is None
        for direction in (1, -1):
            for t in range(1, T - 1):
                matrix = motions[direction][t] / motions[direction][t][2, 2]
                np.testing.assert_allclose(matrix, [[1, 0, 2 * direction], [0, 1, 0], [0, 0, 1]], atol=1e-3)


def test_far_frames_land_on_registered_frames_at_the_stride():
    frames, holes, flows = _shifted_clip()
    motions = propagation.camera_motions(flows, holes)
    pixels = np.argwhere(holes[2])
    found = propagation.far_frames(2, frames, holes, motions, pixels, reach=10, stride=2)
    assert found.found.all() and set(found.steps) <= {2, 4}
    shift = 2 * (found.source - 2)
    np.testing.assert_allclose(found.where, np.stack([pixels[:, 1] + shift, pixels[:, 0]], 1), atol=1e-3)


def test_far_frames_skip_a_frame_whose_registration_does_not_match():
    frames, holes, flows = _shifted_clip()
    motions = propagation.camera_motions(flows, holes)
    frames = frames.copy()
    frames[4] = 255 - frames[4]  # registered to frame 2 exactly, but it shows something else around the hole
    found = propagation.far_frames(2, frames, holes, motions, np.argwhere(holes[2]), reach=10, stride=2)
    assert found.found.any() and 4 not in set(found.source)


def test_gather_averages_the_candidates_colours_and_differences_nearer_frames_weighing_more():
    frames = np.zeros((2, 4, 6, 3), np.uint8)
    frames[0, :, :] = np.arange(6)[None, :, None] * 10  # slope 10 in x
    frames[1, :, :] = 100 + np.arange(6)[None, :, None] * 20  # slope 20 in x
    pixels = np.array([[1, 2], [2, 2], [3, 3]])
    a, b = Candidates.none(pixels), Candidates.none(pixels)
    a.record(np.array([0, 1]), 0, np.array([[2.0, 1.0], [2.0, 2.0]], np.float32), 1)
    b.record(np.array([0]), 1, np.array([[3.0, 1.0]], np.float32), 2)  # two frames away: weight 1/4
    holes = np.zeros((2, 4, 6), bool)
    values, wishes, weight = propagation.gather(frames, holes, [a, b])
    np.testing.assert_allclose(weight, [1.25, 1, 0])
    np.testing.assert_allclose(values[:2, 0], [(20 + 160 / 4) / 1.25, 20])
    np.testing.assert_allclose(wishes[0, :, 0], [-12, 12, 0, 0])  # towards (0, 1), (0, -1), (1, 0), (-1, 0)
    np.testing.assert_allclose(wishes[1, :, 0], [-10, 10, 0, 0])
    assert not values[2].any() and np.isnan(wishes[2]).all()  # nothing sees it: no differences either
    holes[0, 2, 3] = True  # the source frame does not know the right neighbour of pixel 1's landing point
    _, wishes, _ = propagation.gather(frames, holes, [a, b])
    assert np.isnan(wishes[1, 0]).all() and not np.isnan(wishes[1, 1:]).any()
    np.testing.assert_allclose(wishes[0, 0, 0], -(10 * 1 + 20 / 4) / 1.25)  # (2, 1) -> (3, 1) is still known


# ------------------------------------------------------------------------------ propagate


def test_propagate_copies_the_true_pixels_along_exact_flows():
    frames, holes, flows = _shifted_clip()
    observed = frames.copy()
    observed[holes] = 0
    out, unseen, _ = propagate(observed, holes, flows, reach=10, anchor=1000)
    assert not unseen.any()
    assert np.array_equal(out[~holes], frames[~holes])
    assert np.abs(out.astype(int) - frames)[holes].max() <= 1


def test_propagate_with_fusion_fills_the_hole_whatever_the_hole_holds():
    frames, holes, flows = _shifted_clip()
    observed = frames.copy()
    observed[holes] = 0
    out, unseen, _ = propagate(observed, holes, flows, reach=10, anchor=0.3)
    assert not unseen.any() and np.array_equal(out[~holes], frames[~holes])
    assert metrics.psnr(out, frames, region=holes) > 40


def test_propagate_leaves_a_static_hole_in_a_static_clip_unseen():
    frame = textured_image(H, W, seed=3)
    frames = np.stack([frame] * 3)
    holes = np.zeros((3, H, W), bool)
    holes[:, 8:16, 12:24] = True
    still = ClipFlows(np.zeros((3, H, W, 2), np.float32), np.zeros((3, H, W, 2), np.float32))
    out, unseen, _ = propagate(frames, holes, still, reach=5, anchor=0.3, far=1)
    assert np.array_equal(unseen, holes)
    assert np.array_equal(out, frames)


@pytest.mark.parametrize(("anchor", "low", "high"), [(1e-3, 0.0, 1.5), (1000.0, 19.0, 21.0)])
def test_a_small_anchor_removes_the_step_to_a_brighter_source(anchor, low, high):
    image = np.minimum(textured_image(32, 48, seed=2), 200)
    frames = np.stack([image, image + 20])  # the only frame that sees the hole is 20 levels brighter
    holes = np.zeros((2, 32, 48), bool)
    holes[0, 10:22, 16:32] = True
    out, unseen, _ = propagate(frames, holes, _flows(0, 0), reach=5, anchor=anchor)
    assert not unseen.any()
    border = holes[0] & ~cv2.erode(holes[0].astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    step = np.abs(out[0].astype(int) - image)[border].mean()
    assert low <= step <= high


# ------------------------------------------------------------------------------ flow.fill_camera, camera_motion


def _homography_field(height: int = 64, width: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """(the flow field (H, W, 2) of a small rotation + zoom with a little perspective, its homography)."""
    matrix = np.vstack([cv2.getRotationMatrix2D((width / 2, height / 2), 2.0, 1.03), [0, 0, 1]])
    matrix[2, 0] = 1e-5
    grid = np.stack(np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)), -1)
    moved = cv2.perspectiveTransform(grid.reshape(-1, 1, 2).astype(np.float64), matrix).reshape(height, width, 2)
    return (moved - grid).astype(np.float32), matrix


def test_fill_camera_continues_a_homography_into_the_region():
    field, _ = _homography_field()
    region = np.zeros(field.shape[:2], bool)
    region[16:48, 24:72] = True
    broken = field.copy()
    broken[region] = 0
    filled = flow.fill_camera(broken, region)
    deep = cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, 5) > 8
    assert np.abs(filled - field)[deep].max() < 0.05
    assert np.abs(flow.fill_smooth(broken, region) - field)[deep].max() > 0.2  # what a smooth fill misses
    assert np.array_equal(filled[~region], field[~region])


def test_camera_motion_recovers_the_homography():
    field, matrix = _homography_field()
    known = np.ones(field.shape[:2], bool)
    known[16:48, 24:72] = False
    fitted = flow.camera_motion(field, known)
    points = np.argwhere(np.ones((8, 12), bool))[:, ::-1].reshape(-1, 1, 2) * 8.0
    np.testing.assert_allclose(cv2.perspectiveTransform(points, fitted), cv2.perspectiveTransform(points, matrix),
                               atol=1e-3)
    assert flow.camera_motion(field, np.zeros_like(known)) is None


def test_fill_camera_without_a_fit_is_the_smooth_fill():
    field, _ = _homography_field()
    region = np.ones(field.shape[:2], bool)
    region[:2, :5] = False  # 10 known pixels: too few to fit
    assert np.array_equal(flow.fill_camera(field, region), flow.fill_smooth(field, region))


# ------------------------------------------------------------------------------ flowfill


def _moving_holes(clip: np.ndarray) -> np.ndarray:
    holes = np.zeros(clip.shape[:3], bool)
    for t in range(len(clip)):
        holes[t, 16:28, 10 + 2 * t: 22 + 2 * t] = True
    return holes


def _flowfill(clip: np.ndarray, holes: np.ndarray, **params) -> tuple[np.ndarray, dict]:
    observed = clip.copy()
    observed[holes] = 0
    options = RunOptions(progress=False, params=params)
    out = METHODS["flowfill"].run(Problem("inpaint", observed, holes), options)
    assert out.dtype == np.uint8 and out.shape == clip.shape
    return out, options.stats


@pytest.mark.parametrize("params", [{}, {"camera": False}, {"far": 0}, {"rounds": 1}, {"flows": "learned"}], ids=str)
def test_flowfill_keeps_known_pixels_and_reports_the_unseen_share(params):
    clip = panning_clip()
    holes = _moving_holes(clip)
    out, stats = _flowfill(clip, holes, **params)
    assert np.array_equal(out[~holes], clip[~holes])
    assert 0.0 <= stats["unseen"] <= 1.0
    assert metrics.psnr(out, clip, region=holes) > 40  # every hole pixel is seen in another frame


def test_flowfill_never_reads_what_the_holes_hold():
    """The benchmark's observed frames keep the clean pixels inside the holes: none may reach the result."""
    clip = panning_clip()
    holes = _moving_holes(clip)
    garbage = clip.copy()
    garbage[holes] = np.random.default_rng(1).integers(0, 256, (holes.sum(), 3))
    results = [METHODS["flowfill"].run(Problem("inpaint", frames, holes), RunOptions(progress=False))
               for frames in (clip, garbage)]
    assert np.array_equal(*results)


def test_flowfill_at_half_flow_size_keeps_known_pixels_on_odd_frame_sizes(monkeypatch):
    sizes = []
    of_small = ClipFlows.of_small
    spy = staticmethod(lambda small, scale, done=None: sizes.append((small.shape[1:3], scale))
                       or of_small(small, scale, done))
    monkeypatch.setattr(ClipFlows, "of_small", spy)
    clip = panning_clip(frames=6, height=49, width=67, step=3)
    holes = np.zeros(clip.shape[:3], bool)
    for t in range(len(clip)):
        holes[t, 20:30, 20 + 2 * t: 30 + 2 * t] = True
    out, stats = _flowfill(clip, holes, flow_scale=2)
    assert sizes == [((24, 33), 2)] * 2  # one estimate a round, at half size
    assert np.array_equal(out[~holes], clip[~holes])
    assert stats["unseen"] == 0.0


def test_flowfill_of_a_static_hole_in_a_static_clip_is_all_unseen_and_telea():
    clip = np.stack([textured_image(32, 48, seed=4)] * 4)
    holes = np.zeros(clip.shape[:3], bool)
    holes[:, 10:20, 15:30] = True
    out, stats = _flowfill(clip, holes)
    assert stats["unseen"] == 1.0
    observed = clip.copy()
    observed[holes] = 0
    telea = METHODS["telea"].run(Problem("inpaint", observed, holes), RunOptions(progress=False))
    assert np.array_equal(out, telea)

