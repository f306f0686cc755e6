"""Clips to train networks on, and the synthetic holes cut in them (VINet and flow completion share them)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .errors import VidpriorError
from .problems import moving_masks, stroke_masks
from .video import VIDEO_SUFFIXES, read_video


@dataclass
class TrainingClip:
    """frames (T, H, W, 3) uint8; trusted (T, H, W) bool or None (all known); shapes: object masks to
    borrow hole shapes from, (T, H, W) bool or None."""

    name: str
    frames: np.ndarray
    trusted: np.ndarray | None = None
    shapes: np.ndarray | None = None


def clip_paths(folders: list[Path]) -> list[Path]:
    """The clips in ``folders``: each a clip (``frames/`` [+ ``masks/``], or a video file) or a folder of them."""
    paths: list[Path] = []
    for folder in map(Path, folders):
        if not folder.exists():
            raise VidpriorError(f"--data {folder}: no such file or folder")
        if folder.is_file() or (folder / "frames").is_dir():
            paths.append(folder)
        else:
            paths += sorted(p for p in folder.iterdir()
                            if (p / "frames").is_dir() or p.suffix.lower() in VIDEO_SUFFIXES)
    if not paths:
        raise VidpriorError(f"no clips in {', '.join(map(str, folders))}: give video files or folders with frames/")
    return paths


def load_training_clip(path: Path, max_frames: int | None = None) -> TrainingClip:
    """One clip: its frames and, from ``masks/`` when present, the object shapes it lends to holes."""
    source = path / "frames" if (path / "frames").is_dir() else path
    frames = read_video(source, count=max_frames).frames
    if min(frames.shape[1:3]) < 32:
        raise VidpriorError(f"{path}: clips smaller than 32 pixels cannot be trained on")
    shapes = None
    if (path / "masks").is_dir():
        shapes = read_video(path / "masks", count=len(frames)).frames.max(axis=3) > 127
        if shapes.shape != frames.shape[:3] or not shapes.any():
            shapes = None
    return TrainingClip(path.stem if path.is_file() else path.name, frames, None, shapes)


def load_training_clips(folders: list[Path], max_frames: int | None = None) -> list[TrainingClip]:
    """Every clip of ``folders`` (see `clip_paths`), in memory."""
    return [load_training_clip(path, max_frames) for path in clip_paths(folders)]


def synthetic_holes(rng: np.random.Generator, shape_bank: list[np.ndarray], size: tuple[int, int], frames: int
                    ) -> np.ndarray:
    """(frames, H, W) bool: half the time an object's masks moving along a path, else brush strokes."""
    seed = int(rng.integers(2**31))
    coverage = float(rng.uniform(0.03, 0.2))
    if shape_bank and rng.random() < 0.5:
        return moving_masks(shape_bank[int(rng.integers(len(shape_bank)))], size, frames, seed=seed,
                            coverage=coverage)
    return stroke_masks(size, frames, seed=seed, coverage=coverage, speed=float(rng.choice([0.0, 1.0, 3.0])))


def crop_sequence(clip: TrainingClip, rng: np.random.Generator, length: int, side: int, max_zoom: float,
                  reverse: bool = True) -> np.ndarray:
    """``length`` consecutive frames of ``clip``: a random square region up to ``max_zoom`` times ``side``
    (log-uniform; area-downscaled to ``side``, so the network sees 854×480 detail and 256×144 detail alike),
    mirrored half the time and played backwards half the time when ``reverse``; (length, side, side, 3) uint8.
    """
    t, h, w = clip.frames.shape[:3]
    zoom = float(np.exp(rng.uniform(0.0, np.log(max(1.0, min(max_zoom, h / side, w / side))))))
    region = min(max(side, int(round(side * zoom))), h, w)
    y, x = int(rng.integers(0, h - region + 1)), int(rng.integers(0, w - region + 1))
    start = int(rng.integers(0, t - length + 1))
    frames = clip.frames[start: start + length, y: y + region, x: x + region]
    if region != side:
        frames = np.stack([cv2.resize(f, (side, side), interpolation=cv2.INTER_AREA) for f in frames])
    if rng.random() < 0.5:
        frames = frames[:, :, ::-1]
    if reverse and rng.random() < 0.5:
        frames = frames[::-1]
    return np.ascontiguousarray(frames)


def clip_weights(clips: list[TrainingClip], length: int) -> np.ndarray:
    """How often to draw each clip: by how many sequences of ``length`` frames it holds (sums to 1)."""
    weights = np.array([len(c.frames) - length + 1 for c in clips], dtype=float)
    return weights / weights.sum()


def shrunk(clip: TrainingClip, longest: int) -> TrainingClip:
    """``clip`` taken down (area interpolation) so that its longer side is at most ``longest`` pixels."""
    height, width = clip.frames.shape[1:3]
    factor = longest / max(height, width)
    if factor >= 1:
        return clip
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    frames = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in clip.frames])
    shapes = None
    if clip.shapes is not None:
        shapes = np.stack([cv2.resize(s.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) for s in clip.shapes])
        shapes = shapes.astype(bool)
    return TrainingClip(clip.name, frames, None, shapes)
