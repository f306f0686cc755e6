"""What every method is: a function from a `Problem` to the restored clip, plus what it serves."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..problems import Problem


@dataclass
class RunOptions:
    """Settings shared by all methods; a method reads the ones it needs.

    budget: wall-clock seconds the method may spend on one window (None: its default).
    run_dir: folder for checkpoints/previews of long runs (None: no checkpoints).
    resume: carry on from the checkpoints in run_dir instead of starting again.
    params: method-specific settings from the command line (--param key=value).
    stats: filled by the method with figures about its run (steps, it/s) for reports.
    """

    seed: int = 0
    device: str = "auto"
    budget: float | None = None
    run_dir: Path | None = None
    resume: bool = False
    progress: bool = True
    params: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)

    def param(self, key: str, default):
        """The method setting ``key`` from ``params``, converted to the type of ``default``."""
        value = self.params.get(key, default)
        return type(default)(value) if default is not None and value is not None else value


@dataclass(frozen=True)
class Method:
    """A restoration method.

    run(problem, options) -> (T, H, W, 3) uint8 frames of ``problem.target_shape``.
    window: how many observed frames it wants at once (0: all of them); long clips are cut into
    windows of that size with ``context`` extra frames on each side (see `vidprior.restore`).
    """

    name: str
    family: str  # "classical", "internal" or "feed-forward"
    tasks: tuple[str, ...]
    summary: str
    run: Callable[[Problem, RunOptions], np.ndarray]
    window: int = 0
    context: int = 0


@dataclass(frozen=True)
class Codec:
    """A video compressor: frames -> bytes -> frames.

    encode(frames (T, H, W, 3) uint8, fps, quality) -> bytes; decode(bytes) -> frames.
    ``qualities`` are the settings a rate-distortion sweep visits, best quality first.
    """

    name: str
    summary: str
    encode: Callable[[np.ndarray, float, float], bytes]
    decode: Callable[[bytes], np.ndarray]
    qualities: tuple[float, ...]
    quality_name: str = "crf"
