import cv2
import numpy as np
import pytest

from vidprior.errors import VidpriorError
from vidprior.masks import MaskSource, binarize, dilate, keyframe_masks, signed_distance
from vidprior.video import write_video


def test_folder_masks_match_the_drawn_holes(mask_folder, hole):
    source = MaskSource(mask_folder, total=len(hole), size=hole.shape[1:])
    assert np.array_equal(source.read(), hole)
    assert np.array_equal(source.read(2, 3), hole[2:5])
    assert source.validate() == pytest.approx(hole.mean(), rel=1e-6)


def test_mask_video_is_read_per_frame(tmp_path, hole):
    path = write_video(tmp_path / "m.mkv", np.repeat(hole[..., None] * np.uint8(255), 3, axis=3))
    assert np.array_equal(MaskSource(path, len(hole), hole.shape[1:]).read(), hole)


def test_one_image_serves_every_frame(tmp_path, hole):
    cv2.imwrite(str(tmp_path / "m.png"), hole[0].astype(np.uint8) * 255)
    masks = MaskSource(tmp_path / "m.png", total=5, size=hole.shape[1:]).read()
    assert masks.shape == (5, *hole.shape[1:]) and all(np.array_equal(m, hole[0]) for m in masks)


def test_threshold_white_is_hole():
    frame = np.array([[0, 100, 128, 255]], np.uint8)
    assert binarize(frame).tolist() == [[False, False, True, True]]


def test_dilation_grows_by_the_radius():
    mask = np.zeros((21, 21), bool)
    mask[10, 10] = True
    grown = dilate(mask, 3)
    assert grown[10, 7] and grown[10, 13] and not grown[10, 6] and grown.sum() > 20


def test_count_mismatch_is_refused(mask_folder, hole):
    with pytest.raises(VidpriorError, match=f"{len(hole)} masks for a video of {len(hole) + 1} frames"):
        MaskSource(mask_folder, total=len(hole) + 1, size=hole.shape[1:])


def test_same_aspect_other_size_is_resized(tmp_path, hole, capsys):
    folder = tmp_path / "big"
    folder.mkdir()
    for i, m in enumerate(hole):
        cv2.imwrite(str(folder / f"{i}.png"), cv2.resize(m.astype(np.uint8) * 255, None, fx=2, fy=2,
                                                        interpolation=cv2.INTER_NEAREST))
    masks = MaskSource(folder, len(hole), hole.shape[1:]).read()
    assert "resizing masks" in capsys.readouterr().err
    assert np.array_equal(masks, hole)


def test_other_aspect_is_refused(mask_folder, hole):
    with pytest.raises(VidpriorError, match="aspect ratio"):
        MaskSource(mask_folder, len(hole), (hole.shape[1], hole.shape[2] * 2))


def test_empty_mask_is_refused(tmp_path):
    cv2.imwrite(str(tmp_path / "black.png"), np.zeros((16, 16), np.uint8))
    with pytest.raises(VidpriorError, match="empty"):
        MaskSource(tmp_path / "black.png", 4, (16, 16)).validate()


def test_full_frame_mask_is_refused(tmp_path, hole):
    folder = tmp_path / "full"
    folder.mkdir()
    for i, m in enumerate(hole):
        cv2.imwrite(str(folder / f"{i}.png"), np.full_like(m, 255, np.uint8) if i == 3 else m.astype(np.uint8) * 255)
    with pytest.raises(VidpriorError, match="frame 3 covers the whole frame"):
        MaskSource(folder, len(hole), hole.shape[1:]).validate()


def test_missing_mask_and_bad_dilation(tmp_path, mask_folder, hole):
    with pytest.raises(VidpriorError, match="mask not found"):
        MaskSource(tmp_path / "nothing", 3, (8, 8))
    with pytest.raises(VidpriorError, match="mask-dilate"):
        MaskSource(mask_folder, len(hole), hole.shape[1:], dilation=-1)


def _square(top: int, left: int, size: int, shape=(40, 60)) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[top: top + size, left: left + size] = True
    return mask


def test_signed_distance_is_negative_inside_and_grows_outward():
    d = signed_distance(_square(10, 10, 10))
    assert d[15, 15] < 0 < d[5, 15] and d[0, 15] > d[5, 15]
    assert ((d < 0) == _square(10, 10, 10)).all()


def test_keyframe_masks_hold_before_and_after_and_glide_between():
    first, last = _square(5, 4, 8), _square(20, 40, 14)
    masks = list(keyframe_masks({2: first, 6: last}, 9))
    assert len(masks) == 9
    assert all((m == first).all() for m in masks[:3]) and all((m == last).all() for m in masks[6:])
    centres = np.array([np.argwhere(m).mean(axis=0) for m in masks[2:7]])
    assert np.all(np.diff(centres, axis=0) > 0)  # moves down and right, frame by frame
    areas = [m.sum() for m in masks[2:7]]
    assert areas == sorted(areas) and areas[0] == 64 and areas[-1] == 196  # and grows


def test_one_keyframe_is_a_static_mask_and_bad_keyframes_are_refused():
    only = _square(5, 5, 6)
    assert all((m == only).all() for m in keyframe_masks({3: only}, 5))
    with pytest.raises(VidpriorError, match="outside the video"):
        list(keyframe_masks({7: only}, 5))
    with pytest.raises(VidpriorError, match="empty"):
        list(keyframe_masks({0: np.zeros((4, 4), bool)}, 5))
    with pytest.raises(VidpriorError, match="paint"):
        list(keyframe_masks({}, 5))
