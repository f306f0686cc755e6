"""Hole masks: a folder of images, a mask video, or one image for every frame.

Convention: white (> threshold) = region to fill. Masks come out as bool arrays (T, H, W),
True in the hole, checked against the video they belong to.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

from .errors import VidpriorError
from .video import IMAGE_SUFFIXES, iter_frames, probe

THRESHOLD = 127


def binarize(frame: np.ndarray, threshold: int = THRESHOLD) -> np.ndarray:
    """uint8 (H, W, 3) or (H, W) -> bool (H, W): True where the brightest channel exceeds threshold."""
    return (frame.max(axis=2) if frame.ndim == 3 else frame) > threshold


MAX_DILATE = 100  # pixels


def check_dilation(pixels: int) -> int:
    """``pixels`` to grow a mask by (--mask-dilate), refused outside 0 to MAX_DILATE."""
    if not 0 <= pixels <= MAX_DILATE:
        raise VidpriorError(f"--mask-dilate {pixels} is out of range; give 0 to {MAX_DILATE} pixels")
    return pixels


def dilate(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Grow a bool mask (H, W) by ``pixels`` with a disc, so the hole also covers halos and shadows."""
    if pixels <= 0:
        return mask
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pixels + 1, 2 * pixels + 1))
    return cv2.dilate(mask.astype(np.uint8), disc) > 0


class MaskSource:
    """The masks for a video of ``total`` frames of ``size`` (H, W), validated on open.

    A single image applies to every frame; otherwise the source must have one mask per frame of
    the video. A mask of another size with the same aspect ratio is resized (nearest) with a note.
    """

    def __init__(self, path: Path, total: int, size: tuple[int, int], dilation: int = 0) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise VidpriorError(f"{self.path}: mask not found; give a folder of mask images, a mask video or one image")
        check_dilation(dilation)
        info = probe(self.path)
        self.single = info.frames == 1 and (self.path.is_file() and self.path.suffix.lower() in IMAGE_SUFFIXES
                                            or self.path.is_dir())
        if not self.single and info.frames != total:
            raise VidpriorError(
                f"{self.path}: {info.frames} masks for a video of {total} frames; give one mask per frame "
                "(same count and order) or a single image for all frames"
            )
        self.size, self.total, self.dilation = size, total, dilation
        self.resize = (info.height, info.width) != size
        self.source_size = (info.width, info.height)  # (W, H) of the masks as given
        if self.resize:
            ratio_mask, ratio_video = info.width / info.height, size[1] / size[0]
            if abs(ratio_mask / ratio_video - 1) > 0.02:
                raise VidpriorError(
                    f"{self.path}: masks are {info.width}x{info.height} but the video is {size[1]}x{size[0]} "
                    "(another aspect ratio); make masks at the video's size"
                )
            print(f"note: resizing masks from {info.width}x{info.height} to {size[1]}x{size[0]} (nearest)",
                  file=sys.stderr)

    def _prepare(self, frame: np.ndarray) -> np.ndarray:
        mask = binarize(frame)
        if self.resize:
            h, w = self.size
            mask = cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
        return dilate(mask, self.dilation)

    def iter(self, start: int = 0, count: int | None = None) -> Iterator[np.ndarray]:
        """Masks (H, W) bool of frames ``start .. start+count-1`` of the video."""
        count = self.total - start if count is None else count
        if self.single:
            mask = self._prepare(next(iter_frames(self.path)))
            for _ in range(count):
                yield mask
        else:
            for frame in iter_frames(self.path, start, count):
                yield self._prepare(frame)

    def read(self, start: int = 0, count: int | None = None) -> np.ndarray:
        """(count, H, W) bool."""
        return np.stack(list(self.iter(start, count)))

    def validate(self, start: int = 0, count: int | None = None) -> float:
        """Refuse masks that leave nothing to do or nothing to go on; returns the mean coverage."""
        coverage = []
        for index, mask in enumerate(self.iter(start, count), start):
            if mask.all():
                raise VidpriorError(
                    f"{self.path}: the mask of frame {index} covers the whole frame; nothing is left to fill "
                    "it from (white = region to fill: is the mask inverted?)"
                )
            coverage.append(mask.mean())
            if self.single:
                break
        if max(coverage) == 0:
            raise VidpriorError(f"{self.path}: the mask is empty (all black); white marks the region to fill")
        return float(np.mean(coverage))


def signed_distance(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool -> (H, W) float32: distance to the mask's edge, negative inside."""
    inside = mask.astype(np.uint8)
    outside = cv2.distanceTransform(1 - inside, cv2.DIST_L2, 5)
    return np.where(mask, -cv2.distanceTransform(inside, cv2.DIST_L2, 5), outside).astype(np.float32)


def checked_keyframes(keyframes: dict[int, np.ndarray], total: int) -> list[int]:
    """The indices of masks painted on some frames (index -> (H, W) bool) of a video of ``total`` frames, in
    order; refuses none, one outside the video, and masks that are all empty."""
    if not keyframes:
        raise VidpriorError("no mask: paint the region to fill on at least one frame")
    order = sorted(keyframes)
    if order[0] < 0 or order[-1] >= total:
        raise VidpriorError(f"keyframe {order[-1] if order[-1] >= total else order[0]} is outside the video's "
                            f"{total} frames")
    if not any(keyframes[k].any() for k in order):
        raise VidpriorError("the painted mask is empty; paint the region to fill")
    return order


def keyframe_masks(keyframes: dict[int, np.ndarray], total: int, frames: Iterable[int] | None = None
                   ) -> Iterator[np.ndarray]:
    """Masks (H, W) bool for the ``total`` frames of a video (or only ``frames``, e.g. one to show)
    from masks drawn on some of them (index -> (H, W) bool).

    Before the first keyframe and after the last the nearest keyframe holds. Between two keyframes
    the mask glides from one to the other: both are moved to the linearly interpolated centroid and
    their signed distance maps blended, so a mask painted where an object starts and where it ends
    follows it as it moves, grows or shrinks. One keyframe gives the same mask on every frame.
    """
    order = checked_keyframes(keyframes, total)
    distances = {k: signed_distance(keyframes[k]) for k in order}
    centres = {k: np.argwhere(keyframes[k]).mean(axis=0)[::-1] if keyframes[k].any() else None for k in order}
    for t in range(total) if frames is None else frames:
        after = next((k for k in order if k >= t), order[-1])
        before = next((k for k in reversed(order) if k <= t), order[0])
        if before == after or centres[before] is None or centres[after] is None:
            yield keyframes[before if t - before <= after - t else after].copy()
            continue
        w = (t - before) / (after - before)
        shift = centres[after] - centres[before]  # (x, y)
        yield (1 - w) * _moved(distances[before], w * shift) + w * _moved(distances[after], (w - 1) * shift) < 0


def _moved(image: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """(H, W) float32 translated by ``shift`` = (x, y) pixels, edges repeated."""
    matrix = np.float32([[1, 0, shift[0]], [0, 1, shift[1]]])
    return cv2.warpAffine(image, matrix, image.shape[::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
