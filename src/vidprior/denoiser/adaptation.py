"""Adapting the trained denoiser to one noisy video, which is never seen clean (frame-to-frame training).

The seeds' internal learning, made cheap: instead of fitting a network from noise, fine-tune the
trained one on the video itself (Ehret et al. 2019, "Model-blind video denoising via frame-to-frame
training"; Dewil et al. 2021, MF2F). The noise of two frames is independent, so a neighbour warped
onto frame t is a noisy target whose expectation is the clean frame t where the warp holds:

- a first pass of the trained network gives clean-looking frames; DIS flow between them aligns each
  frame's neighbours t-1 and t+1 onto it; pixels that fail the forward-backward check or whose
  warped colour differs (occlusions, flow errors) are left out of the loss;
- the network is asked for frame t from frames that skip the target's own frame (t-2, t-1, t, t+2,
  t+3 for the target t+1; seven such for the recurrent network, with the flow between them), so it
  cannot pass the target's noise through;
- loss: squared error to the warped noisy neighbour over the valid pixels; the stats' ``mse`` is the
  output's squared difference to the noisy frame t, whose floor is the noise variance: the shared
  loop stops if it falls below ``FLOOR_SHARE`` of it (the network would be keeping noise); the
  variance is the smaller of the given level's and the estimated one's, as clipped noise is weaker.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from .. import flow
from ..errors import VidpriorError
from ..fit import Objective, Schedule
from ..video import frames_to_tensor, mirror, tensor_to_frames
from .inference import denoise_frames
from .network import FRAMES, Denoiser, RecurrentDenoiser
from .noise import estimate_sigma

COLOUR_LIMIT = 12.0  # largest mean colour difference (0-255) of a warped first-pass neighbour still trusted
FLOOR_SHARE = 0.8
RECURRENT_LENGTH = 7  # frames the recurrent network sees per example


def skipping(t: int, d: int, count: int, length: int = FRAMES) -> list[int]:
    """``length`` frames around ``t`` (odd) that leave out frame t+d (d = ±1), mirrored at the ends without it.

    >>> skipping(5, 1, 10), skipping(5, -1, 10), skipping(0, 1, 10)
    ([3, 4, 5, 7, 8], [2, 3, 5, 6, 7], [3, 2, 0, 2, 3])
    """
    others = [i for i in range(count) if i != t + d]
    p = others.index(t)
    return [others[mirror(p + o, len(others))] for o in range(-(length // 2), length // 2 + 1)]


def warped_neighbours(noisy: np.ndarray, first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each frame's noisy neighbours t-1 and t+1 warped onto it along the flow of the first pass ``first``.

    Returns targets (T, 2, H, W, 3) float32 (0-255) and valid (T, 2, H, W) bool, direction 0 = t-1.
    """
    count, h, w = noisy.shape[:3]
    targets = np.zeros((count, 2, h, w, 3), np.float32)
    valid = np.zeros((count, 2, h, w), bool)
    for t in range(count):
        for k, d in enumerate((-1, 1)):
            if not 0 <= t + d < count:
                continue
            forward, backward = flow.dis_flow(first[t], first[t + d]), flow.dis_flow(first[t + d], first[t])
            aligned = flow.warp_np(first[t + d], forward).astype(np.float32)
            close = np.abs(aligned - first[t].astype(np.float32)).mean(-1) < COLOUR_LIMIT
            valid[t, k] = flow.consistent(forward, backward) & close
            targets[t, k] = flow.warp_np(noisy[t + d].astype(np.float32), forward)
    return targets, valid


class FrameToFrame(Objective):
    """Fine-tuning ``net`` on noisy frames (T, H, W, 3) uint8 of one video, see the module notes; its render
    denoises them with the fine-tuned network (``views`` and ``precision`` as in `denoise_frames`)."""

    def __init__(self, net: Denoiser | RecurrentDenoiser, noisy: np.ndarray, level: float, first: np.ndarray,
                 batch: int = 4, crop: int = 96, views: int = 1, precision: str = "auto") -> None:
        super().__init__()
        if len(noisy) < 2:
            raise VidpriorError("--adapt needs at least 2 frames: it learns from each frame's neighbours")
        self.net, self.level, self.batch = net, float(level), batch
        self.views, self.precision, self.noisy_u8 = views, precision, noisy
        self.length = RECURRENT_LENGTH if isinstance(net, RecurrentDenoiser) else FRAMES
        self.crop = min(crop, *noisy.shape[1:3])
        targets, valid = warped_neighbours(noisy, first)
        self.register_buffer("noisy", frames_to_tensor(noisy))
        self.register_buffer("targets", torch.from_numpy(targets).div_(255).permute(0, 1, 4, 2, 3))
        self.register_buffer("valid", torch.from_numpy(valid).float()[:, :, None])
        self.pairs = [(t, k) for t in range(len(noisy)) for k in range(2) if valid[t, k].mean() > 0.05]
        if not self.pairs:
            raise VidpriorError("--adapt: no frame's neighbours could be aligned to it (the motion is too large "
                                "or the frames are unrelated); run without --adapt")

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        count, _, h, w = self.noisy.shape
        inputs, targets, valid, centres = [], [], [], []
        for _ in range(self.batch):
            t, k = self.pairs[int(torch.randint(len(self.pairs), ()))]
            y, x = int(torch.randint(h - self.crop + 1, ())), int(torch.randint(w - self.crop + 1, ()))
            area = (..., slice(y, y + self.crop), slice(x, x + self.crop))
            index = skipping(t, 2 * k - 1, count, self.length)
            inputs.append(self.noisy[index][area])
            targets.append(self.targets[t, k][area])
            valid.append(self.valid[t, k][area])
            centres.append(self.noisy[t][area])
        target, weight, centre = torch.stack(targets), torch.stack(valid), torch.stack(centres)
        level = torch.full((self.batch,), self.level, device=target.device)
        out = self.net(torch.stack(inputs), level).float()
        if out.dim() == 5:
            out = out[:, self.length // 2]
        loss = ((out - target).pow(2) * weight).sum() / (3 * weight.sum()).clamp_min(1.0)
        mse = float((out.detach() - centre).pow(2).mean())
        return loss, {"loss": float(loss.detach()), "mse": mse}

    @torch.no_grad()
    def render(self) -> np.ndarray:
        return denoise_frames(self.net.eval(), tensor_to_frames(self.noisy), self.level, device=self.noisy.device,
                              precision=self.precision, views=self.views, progress=False)

    @torch.no_grad()
    def preview(self) -> np.ndarray:
        middle = len(self.noisy_u8) // 2
        around = self.noisy_u8[max(0, middle - FRAMES // 2): middle + FRAMES // 2 + 1]
        out = denoise_frames(self.net.eval(), around, self.level, device=self.noisy.device, precision=self.precision,
                             progress=False)
        self.net.train()
        return out[min(middle, FRAMES // 2)]


def adaptation(net: Denoiser | RecurrentDenoiser, noisy: np.ndarray, level: float, seconds: float, *, steps: int,
               lr: float, batch: int, crop: int, views: int = 1, precision: str = "auto",
               device: torch.device | None = None, progress: bool = False) -> tuple[FrameToFrame, Schedule]:
    """What fine-tuning a copy of ``net`` (the objective's ``net``) on ``noisy`` fits for ``seconds``."""
    if seconds <= 0:
        raise VidpriorError(f"--adapt {seconds}: give a positive duration, e.g. 60s")
    first = denoise_frames(net, noisy, level, device=device, precision=precision, progress=progress)
    objective = FrameToFrame(copy.deepcopy(net).train(), noisy, level, first, batch=batch, crop=crop, views=views,
                             precision=precision)
    floor_level = min(level, estimate_sigma(noisy))  # clipped noise is weaker than its nominal sigma
    floor = FLOOR_SHARE * (floor_level / 255.0) ** 2 if floor_level > 0 else None
    return objective, Schedule(steps=steps, budget=seconds, lr=lr, warmup=10, final_lr=0.1, clip_grad=1.0,
                               stop_below=floor, precision=precision)
