"""Aligning each frame's neighbours onto it by DIS flow, for the upscaler (`network`)."""

from __future__ import annotations

import numpy as np

from .. import flow
from ..video import mirror
from .network import FRAMES


def aligned(frames: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Frames t-2 .. t+2 of ``frames`` (T, h, w, 3) uint8 (mirrored at the clip's ends) warped onto frame t.

    Returns (5, h, w, 3) float32 (0-255) and valid (5, h, w) bool: where the flow to that neighbour
    passed the forward-backward check (all True for frame t itself).

    >>> clip = np.random.default_rng(0).integers(0, 255, (3, 16, 16, 3), dtype=np.uint8)
    >>> [a.shape for a in aligned(clip, 0)]
    [(5, 16, 16, 3), (5, 16, 16)]
    """
    count, h, w = frames.shape[:3]
    stack = np.empty((FRAMES, h, w, 3), np.float32)
    valid = np.ones((FRAMES, h, w), bool)
    for k, d in enumerate(range(-(FRAMES // 2), FRAMES // 2 + 1)):
        other = mirror(t + d, count)
        if other == t:
            stack[k] = frames[t]
            continue
        forward, backward = flow.dis_flow(frames[t], frames[other]), flow.dis_flow(frames[other], frames[t])
        stack[k] = flow.warp_np(frames[other].astype(np.float32), forward)
        valid[k] = flow.consistent(forward, backward)
    return stack, valid
