"""`vidprior demo`: remove a bouncing ball from the built-in clip and score the result.

The clip (30 frames of `bedroom`, 256x144, from facebookresearch/sam2, Apache-2.0) ships in the
package. The demo paints a moving ball into it, so the clean frames behind the ball are known and
the result can be scored against them, then removes the ball like any user's object:
``input.mkv`` + ``mask.mkv`` -> ``result.mp4`` and a side-by-side ``compare.mp4``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from .errors import VidpriorError
from .methods import RunOptions
from .restore import Report, restore
from .video import read_video, write_video

BALL_RADIUS = 15
MASK_MARGIN = 3


def ball_track(frames: int, size: tuple[int, int]) -> list[tuple[int, int]]:
    """Centre (x, y) of a ball bouncing once across a frame of ``size`` (H, W)."""
    h, w = size
    xs = np.linspace(0.15 * w, 0.85 * w, frames)
    phase = np.linspace(0.0, 1.0, frames)
    ys = 0.25 * h + 0.5 * h * (1 - (2 * phase - 1) ** 2)  # one parabolic hop
    return [(round(x), round(y)) for x, y in zip(xs, ys, strict=True)]


def paint_ball(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Paint a shaded ball into each frame (T, H, W, 3); returns (frames with ball, mask (T, H, W) bool)."""
    painted, masks = frames.copy(), np.zeros(frames.shape[:3], bool)
    for t, (x, y) in enumerate(ball_track(len(frames), frames.shape[1:3])):
        cv2.circle(painted[t], (x, y), BALL_RADIUS, (230, 90, 30), -1, cv2.LINE_AA)
        cv2.circle(painted[t], (x - 5, y - 5), BALL_RADIUS // 3, (255, 200, 150), -1, cv2.LINE_AA)
        mask = np.zeros(frames.shape[1:3], np.uint8)
        cv2.circle(mask, (x, y), BALL_RADIUS + MASK_MARGIN, 1, -1)
        masks[t] = mask > 0
    return painted, masks


def demo_clip() -> Path:
    """Path of the clean demo clip inside the installed package."""
    path = Path(str(resources.files("vidprior") / "data" / "demo.mp4"))
    if not path.is_file():
        raise VidpriorError(f"the demo clip is missing from the installation ({path}); reinstall vidprior")
    return path


def run_demo(folder: Path, method: str | None = None, progress: bool = True) -> Report:
    """Write input/mask/result/compare videos into ``folder`` and print the metrics line."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    clean = read_video(demo_clip())
    painted, masks = paint_ball(clean.frames)
    write_video(folder / "input.mkv", painted, fps=clean.fps)
    write_video(folder / "mask.mkv", np.repeat(masks[..., None] * np.uint8(255), 3, axis=3), fps=clean.fps)
    report = restore("inpaint", folder / "input.mkv", folder / "result.mp4", method=method,
                     mask=folder / "mask.mkv", options=RunOptions(progress=progress),
                     compare=folder / "compare.mp4", reference=demo_clip())
    print(report.line())
    print(f"open {folder / 'compare.mp4'} to see before | after")
    return report
