"""Adapting the trained interpolation network to one video on triplets of its own frames.

The internal learning of VDP and DNeRV, made cheap: the video's frames are their own examples.
Frame i is the in-between frame of frames i-g and i+g (tau 1/2), and of i-1 and i+2 (tau 1/3) or
i-2 and i+1 (tau 2/3) (`SHAPES`): gaps as wide as the motion the network will bridge, or wider. The
DIS flows of every pair (and of the pairs that lead to the frames before and after it, for quadratic
paths) are computed once on whole frames; a step fine-tunes a copy of the network on random crops of
random triplets (squared error, as in training). Only the given frames are used.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from ..errors import VidpriorError
from ..fit import Objective, Schedule
from ..inbetween import pair_flows
from ..video import frames_to_tensor
from .inference import interpolate_frames
from .network import Interpolator

SHAPES = ((1, 1), (2, 2), (1, 2), (2, 1))  # (frames before, frames after) the target: tau = before/(before+after)


def own_triplets(count: int) -> list[tuple[int, int, int]]:
    """(first, target, last) frame indices of a ``count``-frame clip's own triplets (`SHAPES`).

    >>> own_triplets(4)
    [(0, 1, 2), (1, 2, 3), (0, 1, 3), (0, 2, 3)]
    """
    return [(i - before, i, i + after) for before, after in SHAPES
            for i in range(before, count - after)]


class OwnTriplets(Objective):
    """Fine-tuning ``net`` on triplets of the frames (t, H, W, 3) uint8 of one video; its render
    interpolates them ``factor`` times with the fine-tuned network."""

    def __init__(self, net: Interpolator, frames: np.ndarray, factor: int, batch: int = 4, crop: int = 128,
                 precision: str = "auto", quadratic: bool = True) -> None:
        super().__init__()
        self.triplets = own_triplets(len(frames))
        if not self.triplets:
            raise VidpriorError("--adapt needs at least 3 frames: it learns to make each frame from its neighbours")
        self.net, self.factor, self.batch, self.precision = net, factor, batch, precision
        self.quadratic = quadratic
        self.crop = min(crop, *frames.shape[1:3])
        self.frames_u8 = frames
        self.register_buffer("frames", frames_to_tensor(frames))
        pairs = sorted({(a, b) for a, _, b in self.triplets})
        if quadratic:  # the pairs that lead to the frames before and after each pair, where the clip has them
            pairs = sorted({*pairs, *((2 * a - b, a) for a, b in pairs if 2 * a - b >= 0),
                            *((b, 2 * b - a) for a, b in pairs if 2 * b - a < len(frames))})
        self.pair_index = {pair: k for k, pair in enumerate(pairs)}
        flows = [pair_flows(frames[a], frames[b]) for a, b in pairs]
        self.register_buffer("f01", torch.cat([f[0] for f in flows]))
        self.register_buffer("f10", torch.cat([f[1] for f in flows]))

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        _, _, h, w = self.frames.shape
        picked = [self.triplets[int(torch.randint(len(self.triplets), ()))] for _ in range(self.batch)]
        corners = [(int(torch.randint(h - self.crop + 1, ())), int(torch.randint(w - self.crop + 1, ())))
                   for _ in picked]

        def crops(source: torch.Tensor, index: list[int]) -> torch.Tensor:
            return torch.stack([source[i, :, y: y + self.crop, x: x + self.crop] for i, (y, x) in zip(index, corners)])

        pairs = [self.pair_index[(a, b)] for a, _, b in picked]
        tau = torch.tensor([(t - a) / (b - a) for a, t, b in picked], device=self.frames.device)
        target = crops(self.frames, [t for _, t, _ in picked])
        f01, f10 = crops(self.f01, pairs), crops(self.f10, pairs)
        outer = [None, None]
        if self.quadratic:  # straight where the clip has no frame before or after the pair
            before = [self.pair_index.get((2 * a - b, a), -1) for a, _, b in picked]
            after = [self.pair_index.get((b, 2 * b - a), -1) for a, _, b in picked]

            def outer_flow(source: torch.Tensor, index: list[int], straight: torch.Tensor) -> torch.Tensor:
                missing = torch.tensor([k < 0 for k in index], device=source.device).view(-1, 1, 1, 1)
                return torch.where(missing, straight, crops(source, [max(k, 0) for k in index]))

            outer = [outer_flow(self.f10, before, -f01), outer_flow(self.f01, after, -f10)]
        out = self.net(crops(self.frames, [a for a, _, _ in picked]), crops(self.frames, [b for _, _, b in picked]),
                       f01, f10, tau, *outer).float()
        loss = (out - target).pow(2).mean()
        return loss, {"loss": float(loss.detach()), "mse": float(loss.detach())}

    @torch.no_grad()
    def render(self) -> np.ndarray:
        return interpolate_frames(self.net.eval(), self.frames_u8, self.factor, device=self.frames.device,
                                  precision=self.precision, quadratic=self.quadratic, progress=False)

    @torch.no_grad()
    def preview(self) -> np.ndarray:
        return interpolate_frames(self.net.eval(), self.frames_u8[:2], 2, device=self.frames.device,
                                  precision=self.precision, progress=False)[1]


def adaptation(net: Interpolator, frames: np.ndarray, factor: int, seconds: float, *, steps: int, lr: float,
               batch: int, crop: int, precision: str = "auto", quadratic: bool = True
               ) -> tuple[OwnTriplets, Schedule]:
    """What fine-tuning a copy of ``net`` (the objective's ``net``) on ``frames`` fits for ``seconds``."""
    if seconds <= 0:
        raise VidpriorError(f"--adapt {seconds}: give a positive duration, e.g. 30s")
    objective = OwnTriplets(copy.deepcopy(net).train(), frames, factor, batch=batch, crop=crop, precision=precision,
                            quadratic=quadratic)
    return objective, Schedule(steps=steps, budget=seconds, lr=lr, warmup=10, final_lr=0.1, clip_grad=1.0,
                               precision=precision)
