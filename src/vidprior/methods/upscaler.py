"""The multi-frame upscaler as a method: trained once on clips degraded as footage is (`vidprior train
upscaler`), it enlarges each frame x2, x3, x4 (and products of those in passes), clean, noisy or
compressed input; optionally fine-tuned first on the video downscaled once more (``--adapt 30s``). Two
networks are shipped (``arch``): the recurrent one, which carries features through the whole clip both
ways, and the window one, which sees each frame's four neighbours aligned by flow. The networks, their
weights, inference and adaptation are the package `vidprior.upscaler`; here are its settings.
"""

from __future__ import annotations

import numpy as np

from ..denoiser.noise import estimate_sigma
from ..fit import pick_device
from ..nn.recurrent import OVERLAP
from ..problems import Problem
from ..settings import Setting
from ..upscaler import load_upscaler
from ..upscaler.adaptation import adaptation
from ..upscaler.inference import passes, upscale_frames
from ..upscaler.training import told_level
from ..upscaler.weights import DEFAULT_ARCH
from .base import Method, RunOptions
from .internal import run_adaptation, trained_settings


def input_level(problem: Problem) -> float:
    """The noise std of the low-resolution frames: the given sigma, else the estimate (0 when it looks clean)."""
    return float(problem.sigma) if problem.sigma is not None else told_level(estimate_sigma(problem.observed))


def _run(problem: Problem, options: RunOptions) -> np.ndarray:
    net, _ = load_upscaler(options.param("weights") or None, options.param("arch"))
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
    passes(factor, load_upscaler(settings["weights"] or None, settings["arch"])[0].config.factors)


METHODS = [
    Method("upscaler", "feed-forward", ("upscale",),
           "multi-frame upscaling network trained on clips (x2, x3, x4; recurrent over the whole clip, or five "
           "frames aligned by flow; noise level given or estimated); --adapt 30s fine-tunes it on the video "
           "downscaled once more", _run, window=40, context=OVERLAP, settings=(
               Setting("arch", DEFAULT_ARCH, "shipped network: recurrent (features carried along the flow through the "
                       "whole clip, both ways) or window (five frames aligned by flow); weights=FILE brings its own",
                       choices=("recurrent", "window")),
               *trained_settings(lr=1e-4, batch=4, crop=48),
               Setting("views", 4, "flipped views averaged (1 to 4), for that many times the time", low=1, high=4),
               Setting("precision", "auto", "arithmetic: auto (bf16 where supported), bf16 or fp32",
                       choices=("auto", "bf16", "fp32"))), check=_check),
]
