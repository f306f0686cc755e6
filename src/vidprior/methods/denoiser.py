"""The multi-frame denoiser as a method: a network trained once on clips with synthetic noise
(`vidprior train denoiser`) that denoises a video in one pass, optionally fine-tuned first on the
video itself, which it never sees clean (``--adapt 60s``, frame-to-frame training). Two networks are
shipped (``arch``): the recurrent one, which carries features through the whole clip both ways, and the
window one, which sees five frames. The networks, their weights, inference and adaptation are the
package `vidprior.denoiser`; here are its settings.
"""

from __future__ import annotations

import numpy as np

from ..denoiser import Denoiser, load_denoiser
from ..denoiser.adaptation import adaptation
from ..denoiser.inference import denoise_frames
from ..denoiser.noise import estimate_sigma
from ..denoiser.weights import DEFAULT_ARCH
from ..fit import pick_device
from ..nn.recurrent import OVERLAP
from ..problems import Problem
from ..settings import Setting
from .base import Method, RunOptions
from .internal import run_adaptation, trained_settings


def _adapted(net: Denoiser, problem: Problem, level: float, options: RunOptions) -> np.ndarray:
    """The video denoised by a copy of ``net`` fine-tuned on it first; the fit's figures go to ``options.stats``."""
    objective, schedule = adaptation(net, problem.observed, level, options.param("adapt"),
                                     steps=options.param("adapt_steps"), lr=options.param("adapt_lr"),
                                     batch=options.param("adapt_batch"), crop=options.param("adapt_crop"),
                                     views=options.param("views"), precision=options.param("precision"),
                                     device=pick_device(options.device, loud=False), progress=options.progress)
    return run_adaptation(objective, schedule, problem, options, label="denoiser adapt")


def _run(problem: Problem, options: RunOptions) -> np.ndarray:
    net, _ = load_denoiser(options.param("weights") or None, options.param("arch"))
    device = pick_device(options.device, loud=options.progress)
    level = float(problem.sigma) if problem.sigma is not None else estimate_sigma(problem.observed)
    options.stats["level"] = level
    if options.param("adapt"):
        return _adapted(net, problem, level, options)
    return denoise_frames(net, problem.observed, level, device, precision=options.param("precision"),
                          views=options.param("views"), progress=options.progress)


METHODS = [
    Method("denoiser", "feed-forward", ("denoise",),
           "multi-frame denoising network trained on clips (recurrent over the whole clip, or 5 frames in; noise "
           "level given or estimated); --adapt 30s fine-tunes it on the noisy video first", _run, window=40,
           context=OVERLAP, settings=(
               Setting("arch", DEFAULT_ARCH, "shipped network: recurrent (features carried along the flow through the "
                       "whole clip, both ways) or window (five frames in); weights=FILE brings its own",
                       choices=("recurrent", "window")),
               *trained_settings(lr=3e-4, batch=4, crop=96),
               Setting("views", 1, "flipped views averaged (1 to 4), for that many times the time",
                       low=1, high=4),
               Setting("precision", "auto", "arithmetic: auto (bf16 where supported), bf16 or fp32",
                       choices=("auto", "bf16", "fp32")))),
]
