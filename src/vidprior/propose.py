"""One click to start a mask: the object under a point of a frame, proposed for the user to correct.

A moving object is found by its motion against the camera's: the DIS flow from the frame to its neighbours, less
the camera's motion (a homography fitted on the whole flow, `flow.camera_motion`), is large on whatever moves on
its own; the region moving about as much as the clicked pixel (or the nearest such region) seeds GrabCut, which
decides the object's edge by colour in a ring around it. A still object (a logo, a parked car) moves with the
camera: the region of similar colour around the click (a flood fill on a smoothed frame) seeds GrabCut instead. Works at
`carry.WORKING` pixels at most on the longer side; the mask comes back at the frame's size.

Shapes: frames (H, W, 3) uint8 RGB; masks (H, W) bool.
"""

from __future__ import annotations

import cv2
import numpy as np

from . import flow
from .carry import WORKING, _filled
from .errors import VidpriorError
from .propagation import flow_scale

NEAR = 0.04  # a moving region this share of the frame's diagonal from the click still counts as clicked
MOVING = 1.0  # pixels (at the working size) a region must move against the camera at least
LIKE = 0.5  # a pixel moves with the clicked one when it moves against the camera at least this share as far
RING = 0.15  # GrabCut decides out to this share of the seed's size around it; further out is background
ROUNDS = 4  # GrabCut iterations
TOLERANCE = 14  # colour steps the flood fill of a still object accepts between neighbours


def _working(image: np.ndarray, scale: int) -> np.ndarray:
    if scale == 1:
        return image
    h, w = image.shape[:2]
    return cv2.resize(image, (w // scale, h // scale), interpolation=cv2.INTER_AREA)


def moving_like(frame: np.ndarray, neighbours: list[np.ndarray], point: tuple[int, int]) -> np.ndarray:
    """(h, w) bool: the pixels of ``frame`` that move against the camera about as far as the pixel at ``point``
    (x, y) does (at least `LIKE` of its motion, which must be at least `MOVING` pixels; in any direction, so the
    limbs of a walker count), towards each neighbour of the nearest pair of ``neighbours`` (ordered by distance in
    time, two by two: before and after) where it moves; what is uncovered or covered towards one neighbour only
    is left out."""
    h, w = frame.shape[:2]
    grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)), -1)
    x, y = point
    for pair in (neighbours[i: i + 2] for i in range(0, len(neighbours), 2)):
        found = []
        for other in pair:
            field = flow.dis_flow(frame, other)
            matrix = flow.camera_motion(field, np.ones((h, w), bool), 4000)
            camera = np.zeros_like(field) if matrix is None else (
                cv2.perspectiveTransform(grid.reshape(-1, 1, 2).astype(np.float64), matrix).reshape(h, w, 2) - grid)
            own = (field - camera).astype(np.float32)
            clicked = np.median(own[max(0, y - 2): y + 3, max(0, x - 2): x + 3].reshape(-1, 2), axis=0)
            speed = float(np.hypot(*clicked))
            if speed >= MOVING:
                found.append(np.linalg.norm(own, axis=2) >= max(MOVING, LIKE * speed))
        if found:
            return np.logical_and.reduce(found)
    return np.zeros((h, w), bool)


def _component_at(mask: np.ndarray, point: tuple[int, int], reach: float) -> np.ndarray | None:
    """The piece of ``mask`` under ``point`` (x, y), or the nearest within ``reach`` pixels; None when none."""
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return None
    x, y = point
    label = labels[y, x]
    if label == 0:
        distance, nearest = cv2.distanceTransformWithLabels((labels == 0).astype(np.uint8), cv2.DIST_L2, 5,
                                                            labelType=cv2.DIST_LABEL_PIXEL)
        if distance[y, x] > reach:
            return None
        ys, xs = np.nonzero(labels)
        index = np.flatnonzero(nearest[ys, xs] == nearest[y, x])
        if not len(index):
            return None
        label = labels[ys[index[0]], xs[index[0]]]
    return labels == label


def _grabcut(frame: np.ndarray, seed: np.ndarray, point: tuple[int, int]) -> np.ndarray:
    """GrabCut of ``frame`` started from ``seed`` (h, w) bool: its core sure, its surroundings probable, far away
    background; the piece under ``point`` with its holes filled."""
    h, w = seed.shape
    size = max(3, int(2 * RING * np.sqrt(seed.sum())))
    labels = np.full((h, w), cv2.GC_BGD, np.uint8)
    near = cv2.dilate(seed.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size | 1, size | 1))) > 0
    labels[near] = cv2.GC_PR_BGD
    labels[seed] = cv2.GC_PR_FGD
    core = cv2.erode(seed.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    labels[core] = cv2.GC_FGD
    labels[point[1], point[0]] = cv2.GC_FGD
    if (labels == cv2.GC_BGD).sum() < 16:  # the seed covers nearly everything: nothing to learn background from
        return seed
    models = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), labels, None, *models, ROUNDS, cv2.GC_INIT_WITH_MASK)
    decided = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    piece = _component_at(decided, point, 0) if decided[point[1], point[0]] else None
    return _filled(piece if piece is not None else decided)


def still_region(frame: np.ndarray, point: tuple[int, int]) -> np.ndarray:
    """(h, w) bool: the region of similar colour around ``point`` (x, y): a flood fill of the smoothed frame."""
    smooth = cv2.bilateralFilter(frame, 7, 40, 7)
    h, w = frame.shape[:2]
    filled = np.zeros((h + 2, w + 2), np.uint8)
    tolerance = (TOLERANCE,) * 3
    cv2.floodFill(smooth.copy(), filled, point, (0, 0, 0), tolerance, tolerance,
                  4 | cv2.FLOODFILL_MASK_ONLY | (255 << 8))
    return filled[1:-1, 1:-1] > 0


def propose(frame: np.ndarray, neighbours: list[np.ndarray], point: tuple[float, float]
            ) -> tuple[np.ndarray, str]:
    """The object of ``frame`` (H, W, 3) under ``point`` (x, y in the frame's pixels), and how it was found
    ('motion' or 'colour'), from ``neighbours`` (frames around it, same size, nearest first and two by two, before
    and after: t-1, t+1, t-2, t+2, ...; a farther pair is used where the object hardly moves; may be empty).

    >>> frame = np.full((60, 80, 3), 30, np.uint8); frame[20:40, 30:50] = (250, 200, 0)
    >>> mask, how = propose(frame, [], (40, 30))
    >>> how, int(mask.sum()), bool(mask[30, 40]), bool(mask[5, 5])
    ('colour', 400, True, False)
    """
    height, width = frame.shape[:2]
    x, y = int(round(point[0])), int(round(point[1]))
    if not (0 <= x < width and 0 <= y < height):
        raise VidpriorError(f"the point ({x}, {y}) is outside the {width}x{height} frame")
    scale = flow_scale((height, width), WORKING)
    small = _working(frame, scale)
    h, w = small.shape[:2]
    at = (min(x // scale, w - 1), min(y // scale, h - 1))
    seed, how = None, "colour"
    if neighbours:
        moving = moving_like(small, [_working(n, scale) for n in neighbours], at)
        moving = cv2.morphologyEx(moving.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0
        seed = _component_at(moving, at, NEAR * np.hypot(h, w))
        how = "motion" if seed is not None else how
    if seed is None:
        seed = still_region(small, at)
    mask = _grabcut(small, seed, at)
    if scale > 1:
        mask = cv2.resize(mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) > 0
    return mask, how
