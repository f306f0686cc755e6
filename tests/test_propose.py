"""One click to start a mask (`vidprior.propose`): a moving object by its motion against the camera's, a still
one (a logo) by its colour."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import moving_square, textured_image

from vidprior.errors import VidpriorError
from vidprior.propose import propose


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_a_click_on_a_moving_object_proposes_its_mask():
    clip, truth = moving_square(frames=9)
    ys, xs = np.nonzero(truth[4])
    mask, how = propose(clip[4], [clip[3], clip[5]], (xs.mean(), ys.mean()))
    assert how == "motion" and _iou(mask, truth[4]) > 0.8


def test_a_click_on_a_still_logo_over_a_panning_picture_proposes_it_by_colour():
    texture = textured_image(96, 160, seed=5)
    frames = [texture[:, 2 * t: 2 * t + 128].copy() for t in range(3)]
    logo = np.zeros((96, 128), bool)
    logo[10:26, 90:120] = True
    for frame in frames:
        frame[logo] = (240, 240, 40)
    mask, how = propose(frames[1], [frames[0], frames[2]], (100, 18))
    assert how == "colour" and _iou(mask, logo) > 0.8


def test_a_click_outside_the_frame_is_refused():
    with pytest.raises(VidpriorError, match="outside"):
        propose(np.zeros((20, 30, 3), np.uint8), [], (40, 5))
