"""The interpolation network as a method: trained once on frame sequences (`vidprior train interp`), it
refines the splatted DIS-flow blend of ``flowinterp`` between each pair of frames, optionally fine-tuned first on
triplets of the video's own frames (``--adapt 30s``). The network, its weights, inference and adaptation
are the package `vidprior.interp`; here are its settings.
"""

from __future__ import annotations

import numpy as np

from ..fit import pick_device
from ..interp import load_interpolator
from ..interp.adaptation import adaptation
from ..interp.inference import interpolate_frames
from ..problems import Problem
from ..settings import Setting
from .base import Method, RunOptions
from .classical import PATHS
from .internal import run_adaptation, trained_settings


def _run(problem: Problem, options: RunOptions) -> np.ndarray:
    net, _ = load_interpolator(options.param("weights") or None)
    precision = options.param("precision")
    if options.param("adapt"):
        objective, schedule = adaptation(net, problem.observed, problem.factor, options.param("adapt"),
                                         steps=options.param("adapt_steps"), lr=options.param("adapt_lr"),
                                         batch=options.param("adapt_batch"), crop=options.param("adapt_crop"),
                                         precision=precision, quadratic=options.param("paths") == "quadratic")
        return run_adaptation(objective, schedule, problem, options, label="interp adapt")
    device = pick_device(options.device, loud=options.progress)
    return interpolate_frames(net, problem.observed, problem.factor, device, precision=precision,
                              quadratic=options.param("paths") == "quadratic", progress=options.progress)


METHODS = [
    Method("interp", "feed-forward", ("interpolate",),
           "interpolation network trained on clips: synthesises the in-between frame from both neighbours and their "
           "features splatted along DIS flow (blend weight and residual); --adapt 30s fine-tunes it on the video's "
           "own frames first", _run, window=30, context=2, settings=(
               *trained_settings(lr=1e-4, batch=4, crop=128), PATHS,
               Setting("precision", "auto", "arithmetic: auto (bf16 where supported), bf16 or fp32",
                       choices=("auto", "bf16", "fp32")))),
]
