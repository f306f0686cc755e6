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
from .internal import run_fit


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
               Setting("weights", "", "weights file (default: the shipped one; also --weights)"),
               Setting("adapt", 0.0, "seconds of fine-tuning on this video first, 0 = none (also --adapt)", low=0),
               Setting("warmup", WARMUP, "frames run in reverse first to fill the recurrence's memory", low=0, high=60),
               Setting("adapt_steps", 1_000_000, "most fine-tuning steps", low=1),
               Setting("adapt_lr", 1e-4, "peak learning rate of the fine-tuning", low=1e-7, high=0.1),
               Setting("adapt_batch", 1, "clips per fine-tuning step", low=1, high=16),
               Setting("adapt_crop", 128, "fine-tuning crop size in pixels", low=32, high=1024))),
]
