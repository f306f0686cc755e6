"""The multi-frame upscaler as a method: trained once on downscaled clips (`vidprior train upscaler`), it
enlarges each frame from it and its four neighbours aligned by flow, x2, x3, x4 (and products of those
in passes), clean or noisy input; optionally fine-tuned first on the video downscaled once more
(``--adapt 30s``). The network, its weights, inference and adaptation are the package
`vidprior.upscaler`; here are its settings.
"""

from __future__ import annotations

import numpy as np

from ..denoiser.noise import estimate_sigma
from ..fit import pick_device
from ..problems import Problem
from ..settings import Setting
from ..upscaler import load_upscaler
from ..upscaler.adaptation import adaptation
from ..upscaler.inference import passes, upscale_frames
from .base import Method, RunOptions
from .internal import run_adaptation, trained_settings

CLEAN_BELOW = 3.0  # an estimated noise std (0-255) below this is what clean frames measure (0.8-2.5 here)


def input_level(problem: Problem) -> float:
    """The noise std of the low-resolution frames: the given sigma, else the estimate (0 when it looks clean)."""
    if problem.sigma is not None:
        return float(problem.sigma)
    estimated = estimate_sigma(problem.observed)
    return estimated if estimated >= CLEAN_BELOW else 0.0


def _run(problem: Problem, options: RunOptions) -> np.ndarray:
    net, _ = load_upscaler(options.param("weights") or None)
    precision, level = options.param("precision"), input_level(problem)
    options.stats["level"] = level
    if options.param("adapt"):
        objective, schedule = adaptation(net, problem.observed, problem.factor, level, options.param("adapt"),
                                         steps=options.param("adapt_steps"), lr=options.param("adapt_lr"),
                                         batch=options.param("adapt_batch"), crop=options.param("adapt_crop"),
                                         precision=precision, views=options.param("views"))
        return run_adaptation(objective, schedule, problem, options, label="upscaler adapt")
    device = pick_device(options.device, loud=options.progress)
    return upscale_frames(net, problem.observed, problem.factor, level, device, precision=precision,
                          views=options.param("views"), progress=options.progress)


def _check(factor: int, settings: dict) -> None:
    """The factor must be one the weights were trained for, or a product of those."""
    passes(factor, load_upscaler(settings["weights"] or None)[0].config.factors)


METHODS = [
    Method("upscaler", "feed-forward", ("upscale",),
           "multi-frame upscaling network trained on clips (x2, x3, x4; five frames aligned by flow, noise level "
           "given or estimated); --adapt 30s fine-tunes it on the video downscaled once more", _run, window=30,
           context=2, settings=(
               *trained_settings(lr=1e-4, batch=4, crop=48),
               Setting("views", 4, "flipped views averaged (1 to 4), for that many times the time", low=1, high=4),
               Setting("precision", "auto", "arithmetic: auto (bf16 where supported), bf16 or fp32",
                       choices=("auto", "bf16", "fp32"))), check=_check),
]
