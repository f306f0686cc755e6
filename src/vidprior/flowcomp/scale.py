"""The working resolution of flow completion: frames, holes and flows downscaled by ``scale`` and flows upsampled back.

A flow is measured in pixels of the frames it was estimated on: resizing a flow field by a factor
multiplies its values by the same factor (downscaling by 4 divides them by 4, upsampling by 4
multiplies them by 4), per axis when the two axes are resized by different factors.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..problems import downscale_frames


def working_frames(frames: np.ndarray, scale: int) -> np.ndarray:
    """uint8 (T, H, W, 3) -> (T, H // scale, W // scale, 3), antialiased (sizes cropped to a multiple)."""
    return frames if scale == 1 else downscale_frames(frames, scale)


def working_holes(holes: np.ndarray, scale: int) -> np.ndarray:
    """bool (T, H, W) -> (T, H // scale, W // scale): a working pixel is a hole where any of its pixels is."""
    t, h, w = holes.shape[0], holes.shape[1] // scale, holes.shape[2] // scale
    return holes[:, : h * scale, : w * scale].reshape(t, h, scale, w, scale).any(axis=(2, 4))


def resize_flow(field: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 2) flow -> (h, w, 2) = ``size``, values rescaled to pixels of the new size (see the module note)."""
    height, width = field.shape[:2]
    h, w = size
    interpolation = cv2.INTER_AREA if h < height else cv2.INTER_LINEAR
    out = cv2.resize(np.asarray(field, np.float32), (w, h), interpolation=interpolation)
    return out * np.array([w / width, h / height], np.float32)
