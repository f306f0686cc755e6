"""What the internal-learning methods share around `vidprior.fit`: the schedule from the user's
options, the run folder keyed by input and settings, the figures a run reports, and rendering a
clip in chunks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch

from ..denoiser.noise import estimate_sigma
from ..fit import Objective, Schedule, fingerprint, fit, pick_device
from ..problems import Problem
from ..settings import Setting
from .base import RunOptions


def in_chunks(render: Callable[..., torch.Tensor], *inputs: torch.Tensor, size: int) -> torch.Tensor:
    """``render`` of ``inputs`` (N, ...) ``size`` at a time along N, concatenated: a whole clip's frames
    without the activations of every frame in memory at once."""
    return torch.cat([render(*parts) for parts in zip(*(x.split(size) for x in inputs))])


def fit_settings(steps: int, lr: float, *, clip_grad: float | None = None, warmup: int = 50,
                 budget: float = 150.0) -> tuple[Setting, ...]:
    """The settings of the fit loop (`Schedule`) with one method's defaults."""
    return (
        Setting("steps", steps, "most optimisation steps per window", low=1),
        Setting("budget", budget, "seconds of fitting per window when --budget is not given", low=0.01),
        Setting("lr", lr, "peak learning rate of Adam", low=1e-7, high=0.99),
        Setting("warmup", warmup, "steps of linear learning-rate warm-up", low=0),
        Setting("ema", None, "weight averaging factor, 0 = off (default: 0.99 on noisy input, else 0)",
                low=0, high=0.9999, kind=float),
        Setting("clip_grad", clip_grad, "largest gradient norm per step, 0 = no clipping", low=0, kind=float),
        Setting("precision", "auto", "arithmetic: auto (bf16 where supported), bf16 or fp32",
                choices=("auto", "bf16", "fp32")),
    )


def trained_settings(*, lr: float, batch: int, crop: int, adapt: float = 0.0) -> tuple[Setting, ...]:
    """The settings of a method that runs a trained network and may fine-tune it on the video first."""
    return (
        Setting("weights", "", "weights file (default: the shipped one; also --weights)"),
        Setting("adapt", adapt, "seconds of fine-tuning on this video (each window) first, 0 = none (also --adapt)",
                low=0),
        Setting("adapt_steps", 1_000_000, "most fine-tuning steps", low=1),
        Setting("adapt_lr", lr, "peak learning rate of the fine-tuning", low=1e-7, high=0.1),
        Setting("adapt_batch", batch, "crops per fine-tuning step", low=1, high=16),
        Setting("adapt_crop", crop, "fine-tuning crop size in pixels", low=32, high=1024),
    )


def schedule_from(options: RunOptions, stop_below: float | None = None) -> Schedule:
    """The `Schedule` of the method's fit settings (`fit_settings`), its budget overridden by --budget.

    stop_below: the noise floor of a noisy observation (`noise_floor`); weight averaging is on by
    default when there is one.
    """
    ema = options.param("ema")
    return Schedule(steps=options.param("steps"), budget=options.budget or options.param("budget"),
                    lr=options.param("lr"), warmup=options.param("warmup"),
                    ema=(0.99 if stop_below else 0.0) if ema is None else ema,
                    clip_grad=options.param("clip_grad") or None, precision=options.param("precision"),
                    stop_below=stop_below)


def noise_floor(problem: Problem) -> float | None:
    """The MSE (in [0, 1] units) below which a fit to a noisy observation only fits noise, or None.

    It is the smaller of the given sigma and the one estimated from the frames: noise clipped to
    [0, 255] is weaker than its nominal sigma (at sigma 50 the rms is ~45), and a floor set too
    high stops the fit long before it has the signal. Denoising with an unknown level uses the
    estimate alone; a task with no sigma has no floor.
    """
    if problem.sigma is None and problem.task != "denoise":
        return None
    estimated = estimate_sigma(problem.observed)
    sigma = min(problem.sigma, estimated) if problem.sigma is not None else estimated
    return (sigma / 255.0) ** 2 if sigma > 0 else None


def run_fit(objective: Objective, schedule: Schedule, problem: Problem, options: RunOptions, label: str
            ) -> np.ndarray:
    """Fit ``objective`` in a run folder keyed by the problem and the settings changed from their defaults
    (a run folder of an earlier version, before settings were declared, keeps its key); returns the render."""
    settings = sorted(options.changed().items())
    key = fingerprint(problem.observed, problem.hole,
                      extra=f"{label} {problem.task} {problem.factor} {problem.sigma} {settings}")
    result, report = fit(objective, schedule, run_dir=options.run_dir and options.run_dir / key,
                         resume=options.resume, key=key, device=pick_device(options.device, loud=options.progress),
                         progress=options.progress, label=label)
    options.stats.update({"steps": report.steps, "it/s": report.its_per_second})
    return result


def run_adaptation(objective: Objective, schedule: Schedule, problem: Problem, options: RunOptions, label: str
                   ) -> np.ndarray:
    """`run_fit` of a trained network's fine-tuning on the video (``--adapt``); its figures go to
    ``options.stats`` as 'adapt steps' and 'adapt it/s'."""
    inner = replace(options, params={**options.params, "stage": "adapt"}, stats={})
    result = run_fit(objective, schedule, problem, inner, label=label)
    options.stats.update({f"adapt {k}": v for k, v in inner.stats.items()})
    return result
