"""Shared fixtures: small synthetic clips with known content, written to temporary files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vidprior.video import write_video

SHARED_CLIPS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "clips"


def textured_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth-but-detailed RGB image (H, W, 3) uint8: blurred noise plus gradients."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (height, width, 3)).astype(np.float32)
    blurred = cv2.GaussianBlur(noise, (0, 0), 2.0)
    blurred = (blurred - blurred.min()) / (np.ptp(blurred) + 1e-6) * 160
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    gradient = np.stack([xs / width * 60, ys / height * 60, (xs + ys) / (width + height) * 60], axis=2)
    return np.clip(blurred + gradient + 20, 0, 255).astype(np.uint8)


def panning_clip(frames: int = 8, height: int = 48, width: int = 64, step: int = 2, seed: int = 0) -> np.ndarray:
    """(T, H, W, 3) uint8: a window sliding ``step`` pixels per frame over a larger textured image."""
    big = textured_image(height, width + step * frames, seed)
    return np.stack([big[:, t * step: t * step + width] for t in range(frames)])


@pytest.fixture
def clip() -> np.ndarray:
    return panning_clip()


@pytest.fixture
def clip_file(tmp_path: Path, clip: np.ndarray) -> Path:
    """The panning clip as a lossless .mkv at 25 fps."""
    return write_video(tmp_path / "clip.mkv", clip, fps=25.0)


@pytest.fixture
def hole(clip: np.ndarray) -> np.ndarray:
    """A moving square hole (T, H, W) bool covering about 6% of each frame."""
    t, h, w = clip.shape[:3]
    masks = np.zeros((t, h, w), bool)
    for i in range(t):
        masks[i, 16:28, 10 + 2 * i: 22 + 2 * i] = True
    return masks


@pytest.fixture
def mask_folder(tmp_path: Path, hole: np.ndarray) -> Path:
    folder = tmp_path / "masks"
    folder.mkdir()
    for i, m in enumerate(hole):
        cv2.imwrite(str(folder / f"{i:05d}.png"), m.astype(np.uint8) * 255)
    return folder
