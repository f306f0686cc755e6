"""Adapting the trained fill to one video on its own known pixels: ILVI's internal learning as a fine-tune.

Internal video inpainting (Zhang et al. 2019, ILVI; Ouyang et al. 2021) fits a network to the one video,
learning from its known pixels what its hole should hold. Here that fit starts from the shipped fill
instead of from noise: holes shaped like the user's mask (its own frames' shapes, `moving_masks`) are
moved over the video along new paths, flowfill answers them beside the real hole, and a copy of the
network is fine-tuned with the training losses (L1, perceptual, temporal consistency along the flow)
on the pixels the video knows. The real hole is never scored, nor read: the frames learnt from hold
flowfill's fill there.
"""

from __future__ import annotations

import copy
import time

import numpy as np

from ..errors import VidpriorError
from ..fit import Schedule
from ..flowfill import flowfill
from ..problems import moving_masks
from .data import Draw, FillClip
from .inference import refine_frames
from .network import FillNet
from .training import FillTraining

DRAWS = 2  # synthetic hole sets, each answered by one flowfill run
SHORTEST = 10.0  # seconds of fine-tuning at least, whatever the hole sets cost


class VideoFill(FillTraining):
    """`FillTraining` on one video's synthetic holes; renders the video's real hole filled by the fine-tuned
    network from flowfill's answer ``filled`` (a `vidprior.flowfill.Filled`)."""

    def __init__(self, net: FillNet, clip: FillClip, filled, holes: np.ndarray, **settings) -> None:
        super().__init__(net, [clip], **settings)
        self.filled, self.holes = filled, holes

    def render(self) -> np.ndarray:
        return refine_frames(self.net.eval(), self.filled, self.holes, device=next(self.net.parameters()).device)

    def preview(self) -> np.ndarray:
        t = int(np.argmax(self.holes.sum(axis=(1, 2))))
        one = type(self.filled)(self.filled.frames[t: t + 1], self.filled.unseen[t: t + 1],
                                self.filled.travel[t: t + 1])
        return refine_frames(self.net.eval(), one, self.holes[t: t + 1])[0]


def synthetic_draws(frames: np.ndarray, holes: np.ndarray, count: int, settings: dict, seed: int = 0) -> list[Draw]:
    """``count`` hole sets shaped like ``holes`` (T, H, W) and moved along new paths over ``frames``, each with
    flowfill's answer to them together with the real hole; trusted = outside the real hole."""
    coverage = float(np.clip(holes.mean(), 0.02, 0.2))
    draws = []
    for k in range(count):
        extra = moving_masks(holes, frames.shape[1:3], len(frames), seed=seed + k, coverage=coverage)
        both = holes | extra
        done = flowfill(frames, both, **settings)
        draws.append(Draw(both, done.frames, done.unseen, done.travel, trusted=~holes))
    return draws


def adaptation(net: FillNet, frames: np.ndarray, holes: np.ndarray, filled, seconds: float, *, settings: dict,
               steps: int, lr: float, batch: int, crop: int) -> tuple[VideoFill, Schedule]:
    """What fine-tuning a copy of ``net`` on the video ``frames`` (T, H, W, 3) with ``holes`` (T, H, W) fits in
    ``seconds``, the hole sets' flowfill runs included; ``filled``: flowfill's answer to the real hole;
    ``settings``: flowfill's."""
    if seconds <= 0:
        raise VidpriorError(f"--adapt {seconds}: give a positive duration, e.g. 60s")
    if len(frames) < 3 or not holes.any():
        raise VidpriorError("--adapt needs at least 3 frames and a mask that is not empty")
    began = time.monotonic()
    known = filled.frames  # the video with its real hole as flowfill filled it: what it hides is never read
    clip = FillClip("input", known, synthetic_draws(known, holes, DRAWS, settings))
    crop = min(crop, *frames.shape[1:3])
    objective = VideoFill(copy.deepcopy(net).train(), clip, filled, holes, batch=batch, crop=crop,
                          length=min(3, len(frames)))
    left = max(SHORTEST, seconds - (time.monotonic() - began))
    return objective, Schedule(steps=steps, budget=left, lr=lr, warmup=10, final_lr=0.1, clip_grad=1.0)

