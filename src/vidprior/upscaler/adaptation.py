"""Adapting the trained upscaler to one video by downscaling it once more (zero-shot super-resolution).

As ZSSR (Shocher et al. 2018) learns from the one image, the video's own frames give examples: each
frame downscaled by s (antialiased bicubic, as the observation model; with noise of the input's level
added when it is noisy) is the input and the frame itself the target. A step fine-tunes a copy of the
network on random crops of them (Charbonnier loss): for the window network each frame's neighbours
aligned once by DIS flow at the smaller size, for the recurrent one runs of ``RECURRENT_LENGTH`` frames
with the flow between them. Only the given frames are used.

s is the factor asked for when the frames stay at least ``SMALLEST`` pixels a side once downscaled by
it, else the largest trained factor that leaves them so: all factors share the network's body, so
examples at x2 adapt x4 too (a 64×36 input to x4 gives examples at x2: 36/4 = 9 pixels is too few).
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from ..errors import VidpriorError
from ..fit import Objective, Schedule
from ..losses import charbonnier
from ..nn.recurrent import Motion, motion
from ..video import frames_to_tensor
from .alignment import aligned
from .inference import passes, upscale_frames
from .network import RecurrentUpscaler, Upscaler
from .training import degrade

SMALLEST = 16
RECURRENT_LENGTH = 6  # frames of each run the recurrent network learns from


class DownscaledSelf(Objective):
    """Fine-tuning ``net`` on the frames (T, h, w, 3) uint8 of one video downscaled (see the module notes); its
    render upscales the frames ``factor`` times with the fine-tuned network."""

    def __init__(self, net: Upscaler | RecurrentUpscaler, frames: np.ndarray, factor: int, level: float, batch: int = 4,
                 crop: int = 48, precision: str = "auto", views: int = 1, seed: int = 0) -> None:
        super().__init__()
        self.net, self.factor, self.level, self.batch = net, factor, float(level), batch
        self.precision, self.views = precision, views
        side = min(frames.shape[1:3])
        fitting = [f for f in sorted(net.config.factors, reverse=True) if side // f >= SMALLEST]
        if not fitting:
            raise VidpriorError(f"--adapt: frames of {frames.shape[2]}×{frames.shape[1]} are too small to learn from "
                                f"(downscaled they must keep {SMALLEST} pixels a side); run without --adapt")
        wanted = passes(factor, net.config.factors)[0]
        self.example_factor = s = wanted if wanted in fitting else fitting[0]
        h, w = frames.shape[1] // s, frames.shape[2] // s
        lower = degrade(frames[:, : h * s, : w * s], s, self.level, np.random.default_rng(seed))
        self.frames_u8, self.lower = frames, lower
        self.crop = min(crop, h, w)
        self.recurrent = isinstance(net, RecurrentUpscaler)
        if self.recurrent:
            self.register_buffer("inputs", frames_to_tensor(lower))
        else:
            stacks = [aligned(lower, t) for t in range(len(lower))]
            self.register_buffer("inputs", torch.from_numpy(np.stack([x for x, _ in stacks])).div_(255).movedim(-1, -3))
            self.register_buffer("valid", torch.from_numpy(np.stack([v for _, v in stacks])).float()[:, :, None])
        self.register_buffer("targets", frames_to_tensor(frames[:, : h * s, : w * s]))

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        if self.recurrent:
            return self._recurrent_loss()
        count, _, _, h, w = self.inputs.shape
        c, s = self.crop, self.example_factor
        picks = [(int(torch.randint(count, ())), int(torch.randint(h - c + 1, ())), int(torch.randint(w - c + 1, ())))
                 for _ in range(self.batch)]
        x = torch.stack([self.inputs[t, ..., y: y + c, z: z + c] for t, y, z in picks])
        valid = torch.stack([self.valid[t, ..., y: y + c, z: z + c] for t, y, z in picks])
        target = torch.stack([self.targets[t, :, y * s: (y + c) * s, z * s: (z + c) * s] for t, y, z in picks])
        out = self.net(x, valid, torch.full((self.batch,), self.level, device=x.device), s).float()
        loss = charbonnier(out, target)
        return loss, {"loss": float(loss.detach()), "mse": float((out.detach() - target).pow(2).mean())}

    def _recurrent_loss(self) -> tuple[torch.Tensor, dict[str, float]]:
        count, _, h, w = self.inputs.shape
        c, s, length = self.crop, self.example_factor, min(RECURRENT_LENGTH, count)
        x, target, motions = [], [], []
        for _ in range(self.batch):
            t, y, z = (int(torch.randint(n, ())) for n in (count - length + 1, h - c + 1, w - c + 1))
            x.append(self.inputs[t: t + length, :, y: y + c, z: z + c])
            target.append(self.targets[t: t + length, :, y * s: (y + c) * s, z * s: (z + c) * s])
            motions.append(motion(self.lower[t: t + length, y: y + c, z: z + c]))
        target = torch.stack(target)
        level = torch.full((self.batch,), self.level, device=target.device)
        out = self.net(torch.stack(x), level, Motion.stack(motions).to(target.device), s).float()
        loss = charbonnier(out, target)
        return loss, {"loss": float(loss.detach()), "mse": float((out.detach() - target).pow(2).mean())}

    @torch.no_grad()
    def render(self) -> np.ndarray:
        return upscale_frames(self.net.eval(), self.frames_u8, self.factor, self.level, device=self.inputs.device,
                              precision=self.precision, views=self.views, progress=False)

    @torch.no_grad()
    def preview(self) -> np.ndarray:
        middle = len(self.frames_u8) // 2
        return upscale_frames(self.net.eval(), self.frames_u8[middle: middle + 1], self.factor, self.level,
                              device=self.inputs.device, precision=self.precision, progress=False)[0]


def adaptation(net: Upscaler | RecurrentUpscaler, frames: np.ndarray, factor: int, level: float, seconds: float, *,
               steps: int, lr: float, batch: int, crop: int, precision: str = "auto", views: int = 1
               ) -> tuple[DownscaledSelf, Schedule]:
    """What fine-tuning a copy of ``net`` (the objective's ``net``) on ``frames`` fits for ``seconds``."""
    if seconds <= 0:
        raise VidpriorError(f"--adapt {seconds}: give a positive duration, e.g. 30s")
    objective = DownscaledSelf(copy.deepcopy(net).train(), frames, factor, level, batch=batch, crop=crop,
                               precision=precision, views=views)
    return objective, Schedule(steps=steps, budget=seconds, lr=lr, warmup=10, final_lr=0.1, clip_grad=1.0,
                               precision=precision)
