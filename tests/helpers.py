"""Helpers shared by the tests: waiting for something to happen; what a degraded clip gives by itself."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
import pytest
from synthetic import panning_clip

from vidprior import metrics
from vidprior.fit import Interrupted, Objective, Schedule, fit
from vidprior.problems import Problem

T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout: float, what: str, every: float = 0.1) -> T:
    """Poll ``condition`` until it returns something true, and return that; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"still waiting for {what} after {timeout} s"
        time.sleep(every)
    return value


def psnr_vs_input_alone(problem: Problem, result: np.ndarray, clean: np.ndarray) -> tuple[float, float]:
    """PSNR against ``clean`` of ``result`` and of the answer ``problem``'s degraded input gives by itself,
    over the pixels the task makes: inpaint the hole (filled with the mean colour of the known pixels),
    denoise the noisy frames, interpolate the new frames (each a copy of the one before), upscale a
    nearest-neighbour enlargement."""
    region, observed, k = None, problem.observed, problem.factor
    if problem.task == "inpaint":
        region, alone = problem.hole, observed.copy()
        alone[region] = observed[~region].mean(axis=0)
    elif problem.task == "interpolate":
        region = np.ones(clean.shape[:3], bool)
        region[problem.observed_index] = False
        alone = observed.repeat(k, axis=0)[: len(clean)]
    elif problem.task == "upscale":
        alone = observed.repeat(k, axis=1).repeat(k, axis=2)
    else:
        alone = observed
    return metrics.psnr(result, clean, region), metrics.psnr(alone, clean, region)


def write_training_folder(folder: Path, frames: int, height: int, width: int, step: int = 2) -> Path:
    """Two panning clips ``a`` and ``b`` as ``folder/NAME/frames/`` with a moving box in ``masks/``."""
    for name, seed in (("a", 0), ("b", 1)):
        (folder / name / "frames").mkdir(parents=True)
        (folder / name / "masks").mkdir()
        for i, frame in enumerate(panning_clip(frames=frames, height=height, width=width, step=step, seed=seed)):
            cv2.imwrite(str(folder / name / "frames" / f"{i:05d}.png"), frame[..., ::-1])
            mask = np.zeros((height, width), np.uint8)
            mask[height // 4: height // 2, width // 8 + step * i: width // 8 + step * i + width // 4] = 255
            cv2.imwrite(str(folder / name / "masks" / f"{i:05d}.png"), mask)
    return folder


def stopped_and_resumed(make: Callable[[], Objective], steps: int, stop_at: int, folder: Path,
                        monkeypatch) -> tuple[Objective, Objective]:
    """Two trainings of ``make()`` for ``steps`` steps: one straight through, one stopped by Ctrl-C at step
    ``stop_at`` (checkpoint in ``folder``) and resumed. Returns (straight, resumed)."""
    def train(objective: Objective, **kwargs) -> None:
        fit(objective, Schedule(steps=steps, lr=3e-3, warmup=10, clip_grad=1.0), progress=False, **kwargs)

    straight = make()
    train(straight)
    kind = type(straight)
    loss = kind.loss

    def stop(self, step):
        if step == stop_at:
            os.kill(os.getpid(), signal.SIGINT)
        return loss(self, step)

    monkeypatch.setattr(kind, "loss", stop)
    with pytest.raises(Interrupted):
        train(make(), run_dir=folder, key="k")
    monkeypatch.setattr(kind, "loss", loss)
    resumed = make()
    train(resumed, run_dir=folder, key="k", resume=True)
    return straight, resumed
