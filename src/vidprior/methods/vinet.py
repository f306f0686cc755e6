"""VINet as a method: a network trained once on many clips (`vidprior train vinet`) that inpaints a
new video in one pass, optionally adapted to that video first (``--adapt 60s``). The network, its
weights files, inference and training are the package `vidprior.vinet`; here are its settings.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..fit import pick_device
from ..problems import Problem
from ..settings import Setting
from ..vinet import WARMUP, Vinet, adaptation, inpaint_frames, load_vinet
from .base import Method, RunOptions
from .internal import run_fit, trained_settings


def _adapted(net: Vinet, problem: Problem, options: RunOptions) -> Vinet:
    """A copy of ``net`` fine-tuned on the video to inpaint; its figures go to ``options.stats``."""
    objective, schedule = adaptation(net, problem, options.param("adapt"), steps=options.param("adapt_steps"),
                                     lr=options.param("adapt_lr"), batch=options.param("adapt_batch"),
                                     crop=options.param("adapt_crop"))
    inner = replace(options, params={**options.params, "stage": "adapt"}, stats={})
    run_fit(objective, schedule, problem, inner, label="vinet adapt")
    options.stats.update({f"adapt {k}": v for k, v in inner.stats.items()})
    return objective.net.eval()


def _run(problem: Problem, options: RunOptions) -> np.ndarray:
    net, _ = load_vinet(options.param("weights") or None)
    device = pick_device(options.device, loud=options.progress)
    if options.param("adapt"):
        net = _adapted(net, problem, options)
    return inpaint_frames(net, problem.observed, problem.hole, device, warmup=options.param("warmup"),
                          progress=options.progress)


METHODS = [
    Method("vinet", "feed-forward", ("inpaint",),
           "VINet: a trained network warps neighbour frames' features into the hole; fast, --adapt to fine-tune",
           _run, window=60, context=6, settings=(
               *trained_settings(lr=1e-4, batch=1, crop=128),
               Setting("warmup", WARMUP, "frames run in reverse first to fill the recurrence's memory",
                       low=0, high=60))),
]
