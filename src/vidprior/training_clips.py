"""Clips to train networks on, and the synthetic holes cut in them (VINet and flow completion share them)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
