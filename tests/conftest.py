"""Shared fixtures: small synthetic clips with known content, written to temporary files, and the
`vidprior` command in a child process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from synthetic import panning_clip

from vidprior.video import write_video


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


class Vidprior:
    """Runs the `vidprior` command in child processes, as a user would (arguments may be paths)."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []

    @staticmethod
    def command(words) -> list[str]:
        return [sys.executable, "-m", "vidprior", *map(str, words)]

    def __call__(self, *words, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
        """Run it to the end; stdout and stderr are captured as text."""
        return subprocess.run(self.command(words), capture_output=True, text=True, timeout=timeout, **kwargs)

    def start(self, *words, **kwargs) -> subprocess.Popen:
        """Start it in the background (text mode; pipes as asked for in ``kwargs``)."""
        process = subprocess.Popen(self.command(words), text=True, **kwargs)
        self.started.append(process)
        return process


@pytest.fixture
def vidprior():
    """A `Vidprior` runner; whatever it started and is still running when the test ends is killed."""
    runner = Vidprior()
    yield runner
    for process in runner.started:
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.fixture
def one_thread():
    """Convolutions this small run faster on one thread (and much faster when another process holds a core)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
