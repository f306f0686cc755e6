"""What every method is: a function from a `Problem` to the restored clip, plus what it serves."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..problems import Problem
from ..settings import Setting, parse_settings


@dataclass
class RunOptions:
    """Settings shared by all methods; a method reads the ones it needs.

    budget: wall-clock seconds the method may spend on one window (None: its default).
    run_dir: folder for checkpoints/previews of long runs (None: no checkpoints).
    resume: carry on from the checkpoints in run_dir instead of starting again.
    params: method settings (--param key=value); `Method.run` checks them against the method's
    declared ``settings`` and fills in the defaults, so a method reads every one with `param`.
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
    settings: tuple[Setting, ...] = ()

    def param(self, key: str):
        """The method setting ``key`` (declared by the method, checked and defaulted by `Method.run`)."""
        if key not in self.params:
            raise KeyError(f"setting '{key}' is not in these options: run the method with Method.run, which "
                           "fills in its declared settings")
        return self.params[key]

    def changed(self) -> dict:
        """The settings that differ from their declared defaults (what makes this run differ)."""
        defaults = {s.name: s.default for s in self.settings}
        return {k: v for k, v in self.params.items() if k not in defaults or v != defaults[k]}


@dataclass(frozen=True)
class Method:
    """A restoration method.

    solve(problem, options) -> (T, H, W, 3) uint8 frames of ``problem.target_shape``; callers use
    `run`, which checks ``options.params`` against ``settings`` first.
    window: how many observed frames it wants at once (0: all of them); long clips are cut into
    windows of that size with ``context`` extra frames on each side (see `vidprior.restore`).
    settings: what ``--param key=value`` may set (`vidprior methods NAME` lists them).
    check(factor, settings): refuses, before any work, a request the method cannot serve (None: any).
    """

    name: str
    family: str  # "classical", "internal" or "feed-forward"
    tasks: tuple[str, ...]
    summary: str
    solve: Callable[[Problem, RunOptions], np.ndarray]
    window: int = 0
    context: int = 0
    settings: tuple[Setting, ...] = ()
    check: Callable[[int, dict], None] | None = None

    def settings_from(self, params: dict) -> dict:
        """Every setting of this method: ``params`` checked (one-line error on a bad one), defaults filled in."""
        return parse_settings(self.settings, params, self.name)

    def prepared(self, options: RunOptions) -> RunOptions:
        """``options`` with this method's settings checked and completed (its ``stats`` shared)."""
        return replace(options, params=self.settings_from(options.params), settings=self.settings)

    def run(self, problem: Problem, options: RunOptions) -> np.ndarray:
        """Restore ``problem`` with ``options``, its settings checked and completed first."""
        return self.solve(problem, self.prepared(options))


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
    settings: tuple[Setting, ...] = ()  # what `vidprior compress --method NAME --param` sets
