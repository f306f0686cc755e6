"""The learned fill as a method: flowfill (`vidprior.flowfill`), then a network trained once on clips
with synthetic holes (`vidprior train fill`) that corrects its answer inside the hole, above all where
no frame saw the background; optionally fine-tuned on the video's own known pixels first (``--adapt
60s``, ILVI's internal learning). The network, its weights, inference and adaptation are the package
`vidprior.fill`; here are its settings.
"""

from __future__ import annotations

import numpy as np

from ..fill import FillNet, load_fill
from ..fill.adaptation import adaptation
from ..fill.inference import keyframe_frames, refine_frames
from ..fit import pick_device
from ..flowfill import Filled, flowfill
from ..problems import Problem
from ..settings import Setting
from .base import Method, RunOptions
from .classical import FLOWFILL_SETTINGS, flowfill_settings
from .internal import run_adaptation, trained_settings


def _adapted(net: FillNet, problem: Problem, filled: Filled, options: RunOptions) -> np.ndarray:
    """The video filled by a copy of ``net`` fine-tuned on it first; the fit's figures go to ``options.stats``."""
    objective, schedule = adaptation(net, problem.observed, problem.hole, filled, options.param("adapt"),
                                     settings=flowfill_settings(options), steps=options.param("adapt_steps"),
                                     lr=options.param("adapt_lr"), batch=options.param("adapt_batch"),
                                     crop=options.param("adapt_crop"))
    return run_adaptation(objective, schedule, problem, options, label="fill adapt")


def _run(problem: Problem, options: RunOptions) -> np.ndarray:
    settings = flowfill_settings(options)
    filled = flowfill(problem.observed, problem.hole, progress=options.progress, **settings)
    options.stats["unseen"] = float(filled.unseen.sum() / max(problem.hole.sum(), 1))
    net, _ = load_fill(options.param("weights") or None)
    device = pick_device(options.device, loud=options.progress)
    if options.param("route") == "keyframe":
        filled = keyframe_frames(net, problem.observed, problem.hole, filled, settings, device, options.progress)
    if options.param("adapt"):
        return _adapted(net, problem, filled, options)
    return refine_frames(net, filled, problem.hole, device, progress=options.progress)


METHODS = [
    Method("fill", "feed-forward", ("inpaint",),
           "flowfill, then a trained network corrects its fill inside the hole (what no frame shows above all), "
           "fed its own previous frame; --adapt 60s fine-tunes it on the video's known pixels first",
           _run, window=30, context=10, settings=(
               *FLOWFILL_SETTINGS,
               *trained_settings(lr=1e-4, batch=2, crop=128),
               Setting("route", "frames", "frames: the network refines every frame; keyframe: it fills the frame "
                       "that propagation sees least, which flowfill then carries to the others (FGVC's route)",
                       choices=("frames", "keyframe")))),
]
