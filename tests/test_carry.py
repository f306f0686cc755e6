from pathlib import Path

import cv2
import numpy as np
import pytest
from synthetic import textured_image

from vidprior.carry import carry_masks
from vidprior.errors import VidpriorError
from vidprior.masks import dilate, keyframe_masks

FRAMES, HEIGHT, WIDTH = 17, 96, 128


def _object(seed: int = 1) -> np.ndarray:
    """An orange textured patch (HEIGHT, WIDTH, 3) uint8, unlike the background's colours."""
    texture = textured_image(HEIGHT, WIDTH, seed).astype(np.float32) / 255
    return np.clip(np.stack([170 + 80 * texture[..., 0], 80 + 60 * texture[..., 1], 20 + 30 * texture[..., 2]], 2),
                   0, 255).astype(np.uint8)


def _curved_clip() -> tuple[np.ndarray, np.ndarray]:
    """(frames (T, H, W, 3) uint8, true masks (T, H, W) bool): a textured ellipse moving over a half circle (left,
    up over the top, right) across a textured background that pans one pixel a frame."""
    background = textured_image(HEIGHT, WIDTH + FRAMES, 0)
    texture = _object()
    frames, masks = [], []
    for t in range(FRAMES):
        angle = np.pi * (1 - t / (FRAMES - 1))
        x, y = 64 + 38 * np.cos(angle), 58 - 34 * np.sin(angle)
        mask = np.zeros((HEIGHT, WIDTH), np.uint8)
        cv2.ellipse(mask, (round(x), round(y)), (14, 10), 20.0 * t / FRAMES, 0, 360, 1, -1)
        shift = np.float32([[1, 0, round(x) - 64], [0, 1, round(y) - 48]])
        moved = cv2.warpAffine(texture, shift, (WIDTH, HEIGHT), borderMode=cv2.BORDER_REFLECT)
        frame = background[:, t: t + WIDTH].copy()
        frame[mask > 0] = moved[mask > 0]
        frames.append(frame)
        masks.append(mask > 0)
    return np.stack(frames), np.stack(masks)


def _write(folder: Path, frames: np.ndarray) -> Path:
    folder.mkdir()
    for t, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{t:05d}.png"), frame[..., ::-1])
    return folder


@pytest.fixture(scope="module")
def curved(tmp_path_factory) -> tuple[Path, np.ndarray]:
    frames, masks = _curved_clip()
    return _write(tmp_path_factory.mktemp("carry") / "frames", frames), masks


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def _mean_iou(masks, truth: np.ndarray, skip: tuple[int, ...]) -> float:
    return float(np.mean([_iou(m, truth[t]) for t, m in enumerate(masks) if t not in skip]))


def test_carried_masks_follow_a_curved_path_that_the_glide_cuts_across(curved):
    video, truth = curved
    keys = {0: truth[0], FRAMES - 1: truth[-1]}
    carried = list(carry_masks(video, keys, FRAMES))
    assert len(carried) == FRAMES and all(m.shape == (HEIGHT, WIDTH) and m.dtype == bool for m in carried)
    ends = (0, FRAMES - 1)
    glide = _mean_iou(keyframe_masks(keys, FRAMES), truth, ends)
    assert _mean_iou(carried, truth, ends) > 0.8 and glide < 0.2
    assert min(_iou(carried[t], truth[t]) for t in range(1, FRAMES - 1)) > 0.6  # including the top of the arc


def test_without_snapping_the_mask_follows_but_trails_behind(curved):
    video, truth = curved
    keys = {0: truth[0], FRAMES - 1: truth[-1]}
    carried = list(carry_masks(video, keys, FRAMES, snap=False))
    covered = np.mean([(m & t).sum() / t.sum() for m, t in zip(carried[1:-1], truth[1:-1])])
    assert covered > 0.75  # it stays on the object ...
    assert np.mean([m.sum() for m in carried[1:-1]]) > 1.5 * truth[1:-1].sum(axis=(1, 2)).mean()  # ... and grows
    assert _mean_iou(carried, truth, (0, FRAMES - 1)) > _mean_iou(keyframe_masks(keys, FRAMES), truth, (0, FRAMES - 1))


def test_a_keyframe_gets_its_painted_mask_unchanged(curved):
    video, truth = curved
    painted = dilate(truth[8], 2)
    painted[40:44, :10] = True  # a stray stroke, kept as painted
    masks = list(carry_masks(video, {0: truth[0], 8: painted, FRAMES - 1: truth[-1]}, FRAMES))
    assert np.array_equal(masks[8], painted) and masks[8] is not painted
    assert np.array_equal(masks[0], truth[0]) and np.array_equal(masks[-1], truth[-1])


def test_one_frame_alone_is_the_full_runs_mask_at_that_index(curved):
    video, truth = curved
    keys = {0: truth[0], FRAMES - 1: truth[-1]}
    full = list(carry_masks(video, keys, FRAMES))
    for picks in ([7], [12, 3], [FRAMES - 1, 5]):
        alone = list(carry_masks(video, keys, FRAMES, picks))
        assert len(alone) == len(picks)
        assert all(np.array_equal(m, full[t]) for t, m in zip(picks, alone))


def test_one_keyframe_is_carried_both_ways(curved):
    video, truth = curved
    middle = FRAMES // 2
    masks = list(carry_masks(video, {middle: truth[middle]}, FRAMES))
    assert _iou(masks[0], truth[0]) > 0.7 and _iou(masks[-1], truth[-1]) > 0.7
    assert _iou(truth[middle], truth[0]) < 0.1  # a static mask would miss


def test_a_generously_painted_mask_keeps_its_margin(curved):
    video, truth = curved
    wide = np.stack([dilate(m, 4) for m in truth])
    masks = list(carry_masks(video, {0: wide[0], FRAMES - 1: wide[-1]}, FRAMES))
    assert _mean_iou(masks, wide, (0, FRAMES - 1)) > 0.8
    assert np.mean([m.sum() for m in masks[1:-1]]) > 0.85 * wide[1:-1].sum(axis=(1, 2)).mean()


def test_bad_keyframes_and_frames_are_refused(curved):
    video, truth = curved
    with pytest.raises(VidpriorError, match="paint the region to fill on at least one frame"):
        list(carry_masks(video, {}, FRAMES))
    with pytest.raises(VidpriorError, match=f"keyframe {FRAMES} is outside the video's {FRAMES} frames"):
        list(carry_masks(video, {FRAMES: truth[0]}, FRAMES))
    with pytest.raises(VidpriorError, match="keyframe -1 is outside"):
        list(carry_masks(video, {-1: truth[0]}, FRAMES))
    with pytest.raises(VidpriorError, match="the painted mask is empty"):
        list(carry_masks(video, {3: np.zeros_like(truth[0])}, FRAMES))
    with pytest.raises(VidpriorError, match=f"frame {FRAMES + 2} is outside"):
        list(carry_masks(video, {0: truth[0]}, FRAMES, [FRAMES + 2]))
    with pytest.raises(VidpriorError, match="fewer than"):
        list(carry_masks(video, {0: truth[0]}, FRAMES + 5))
    with pytest.raises(VidpriorError, match="differ in size"):
        list(carry_masks(video, {0: truth[0], 9: truth[9][:, :50]}, FRAMES))
