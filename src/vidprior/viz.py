"""Things to look at: side-by-side before/after frames."""

from __future__ import annotations

import cv2
import numpy as np

GAP = 4


def label(frame: np.ndarray, text: str) -> np.ndarray:
    """Write ``text`` in the top-left corner of a uint8 (H, W, 3) frame (scaled to the frame)."""
    frame = frame.copy()
    scale = max(0.3, frame.shape[0] / 400)
    thickness = max(1, round(scale * 2))
    org = (4, 4 + round(16 * scale))
    cv2.putText(frame, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
    cv2.putText(frame, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return frame


def side_by_side(before: np.ndarray, after: np.ndarray, hole: np.ndarray | None = None,
                 names: tuple[str, str] = ("input", "result")) -> np.ndarray:
    """One comparison frame: ``before`` (resized to ``after``'s size, hole tinted red) | ``after``.

    before: (h, w, 3) uint8; after: (H, W, 3) uint8; hole: (h, w) bool or None.
    Returns (H, 2W + gap, 3) uint8 with an even width and height, ready for H.264.
    """
    if hole is not None and hole.any():
        tinted = before.astype(np.float32)
        tinted[hole] = 0.5 * tinted[hole] + 0.5 * np.array([255.0, 0.0, 0.0])
        before = tinted.astype(np.uint8)
    h, w = after.shape[:2]
    if before.shape[:2] != (h, w):
        before = cv2.resize(before, (w, h), interpolation=cv2.INTER_NEAREST)
    gap = np.full((h, GAP + (2 * w + GAP) % 2, 3), 255, np.uint8)
    frame = np.concatenate([label(before, names[0]), gap, label(after, names[1])], axis=1)
    if frame.shape[0] % 2:
        frame = np.concatenate([frame, frame[-1:]], axis=0)
    return frame
