"""What the internal-learning methods share around `vidprior.fit`: the schedule from the user's
options, the run folder keyed by input and settings, and the figures a run reports."""

from __future__ import annotations

import numpy as np
import torch

from ..fit import Objective, Schedule, fingerprint, fit, pick_device
from ..problems import Problem
from .base import RunOptions


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) float in [0, 1] -> (N, H, W, 3) uint8."""
    return (x.float().clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def schedule_from(options: RunOptions, steps: int, budget: float, lr: float, **extra) -> Schedule:
    """A `Schedule` with the method's defaults, overridden by --budget and --param steps/budget/lr/ema/precision."""
    return Schedule(steps=options.param("steps", steps), budget=options.budget or options.param("budget", budget),
                    lr=options.param("lr", lr), ema=options.param("ema", extra.pop("ema", 0.0)),
                    precision=options.param("precision", "auto"), **extra)


def noise_floor(problem: Problem) -> float | None:
    """The MSE (in [0, 1] units) below which a fit to a noisy observation only fits noise, or None.

    It is the smaller of the given sigma and the one estimated from the frames: noise clipped to
    [0, 255] is weaker than its nominal sigma (at sigma 50 the rms is ~45), and a floor set too
    high stops the fit long before it has the signal. Denoising with an unknown level uses the
    estimate alone; a task with no sigma has no floor.
    """
    if problem.sigma is None and problem.task != "denoise":
        return None
    from .classical import estimate_sigma

    estimated = estimate_sigma(problem.observed)
    sigma = min(problem.sigma, estimated) if problem.sigma is not None else estimated
    return (sigma / 255.0) ** 2 if sigma > 0 else None


def run_fit(objective: Objective, schedule: Schedule, problem: Problem, options: RunOptions, label: str
            ) -> np.ndarray:
    """Fit ``objective`` in a run folder keyed by the problem and the method's settings; returns the render."""
    key = fingerprint(problem.observed, problem.hole,
                      extra=f"{label} {problem.task} {problem.factor} {problem.sigma} {sorted(options.params.items())}")
    result, report = fit(objective, schedule, run_dir=options.run_dir and options.run_dir / key,
                         resume=options.resume, key=key, device=pick_device(options.device, loud=options.progress),
                         progress=options.progress, label=label)
    options.stats.update({"steps": report.steps, "it/s": report.its_per_second})
    return result
