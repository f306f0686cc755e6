"""Synthetic clips with known content, shared by the tests."""

from __future__ import annotations

import cv2
import numpy as np


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


def blocks_clip(frames: int = 8, height: int = 48, width: int = 64, step: int = 1, seed: int = 0,
                sizes: tuple[int, int] = (3, 16)) -> np.ndarray:
    """(T, H, W, 3) uint8: a window sliding ``step`` pixels per frame over flat-coloured rectangles (sharp edges)
    whose sides are drawn from ``sizes`` (low, high) pixels."""
    rng = np.random.default_rng(seed)
    big = np.full((height, width + step * frames, 3), 128, np.uint8)
    for _ in range(height * big.shape[1] * 6 // (sizes[0] + sizes[1]) ** 2):
        y, x = int(rng.integers(0, height - 3)), int(rng.integers(0, big.shape[1] - 3))
        big[y: y + int(rng.integers(*sizes)), x: x + int(rng.integers(*sizes))] = rng.integers(0, 256, 3)
    return np.stack([big[:, t * step: t * step + width] for t in range(frames)])


def task_problem(task: str, clip: np.ndarray, hole: np.ndarray):
    """A small `Problem` of ``task`` whose clean answer is ``clip`` (its first frames for interpolation)."""
    from vidprior.problems import Problem, add_gaussian_noise, downscale_frames, drop_frames

    if task == "inpaint":
        return Problem("inpaint", clip, hole)
    if task == "denoise":
        return Problem("denoise", add_gaussian_noise(clip, 20, 0), sigma=20.0)
    if task == "interpolate":
        return Problem("interpolate", drop_frames(clip, 2), factor=2)
    return Problem("upscale", downscale_frames(clip, 2), factor=2)


def moving_square(frames: int = 8, height: int = 96, width: int = 128, side: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """A textured square moving 8 pixels a frame to the right, down and back up, over another texture:
    the clip (T, H, W, 3) uint8 and the square's true masks (T, H, W) bool."""
    background, texture = textured_image(height, width, seed=1), textured_image(side, side, seed=7)[..., ::-1]
    clip, truth = np.repeat(background[None], frames, axis=0), np.zeros((frames, height, width), bool)
    for t in range(frames):
        y, x = height // 3 + 4 * min(t, frames - 1 - t), 10 + 8 * t
        clip[t, y: y + side, x: x + side] = texture
        truth[t, y: y + side, x: x + side] = True
    return clip, truth
