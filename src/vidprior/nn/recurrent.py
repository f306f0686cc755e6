"""Bidirectional recurrent propagation, the backbone the denoiser and the upscaler share (their
``arch="recurrent"``): every frame's features carried along the flow through the whole clip, backward
then forward, so each output frame draws on all the others for the cost of a small cell per frame
(BasicVSR, Chan et al. 2021; the seed VDP rolls a latent forward through time the same way).

- `Motion`: the flow from each frame to its next and previous ones (DIS, computed once per clip by
  `motion`) and where each passes the forward-backward check; the check is one more input channel, so
  a cell learns to drop what the flow could not carry (occlusions, noise-made flow).
- `Propagation`: (N, T, C, h, w) features -> (N, T, C, h, w). Backward pass: frame t's cell sees its
  features and the backward state of frame t+1 warped onto it; forward pass: its features, its backward
  state and the forward state of frame t-1 warped onto it.
- `in_windows`: a long clip cut into windows that overlap, so memory stays flat in clip length; each
  window's outer frames only give context.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import nn

from .. import flow
from ..video import tensor_to_frames
from .ensemble import FLIPS


@dataclass
class Motion:
    """to_next, to_prev (N, T, 2, h, w): flow from frame t to t+1 and to t-1 (zero where there is none);
    next_ok, prev_ok (N, T, 1, h, w): 1 where that flow passed the forward-backward check, else 0."""

    to_next: torch.Tensor
    to_prev: torch.Tensor
    next_ok: torch.Tensor
    prev_ok: torch.Tensor

    def to(self, device: torch.device) -> Motion:
        return Motion(*(x.to(device) for x in (self.to_next, self.to_prev, self.next_ok, self.prev_ok)))

    @staticmethod
    def stack(motions: list[Motion]) -> Motion:
        """One batch of motions (each N = 1) -> N = len(motions)."""
        return Motion(*(torch.cat([getattr(m, k) for m in motions]) for k in ("to_next", "to_prev", "next_ok",
                                                                              "prev_ok")))


def motion(frames: np.ndarray, scale: int = 1, preset: str = "medium") -> Motion:
    """DIS flow between neighbours of (T, H, W, 3) uint8 frames, at 1/``scale`` of their size (area
    downscaling, which also lowers noise; sizes edge-padded up to a multiple of ``scale`` first), as a
    `Motion` with N = 1 at (⌈H/scale⌉, ⌈W/scale⌉).

    >>> clip = np.zeros((3, 16, 20, 3), np.uint8)
    >>> m = motion(clip, scale=2)
    >>> m.to_next.shape, m.next_ok[0, :, 0, 0, 0].tolist()
    (torch.Size([1, 3, 2, 8, 10]), [1.0, 1.0, 0.0])
    """
    count, h, w = frames.shape[:3]
    if scale > 1:
        frames = np.pad(frames, ((0, 0), (0, -h % scale), (0, -w % scale), (0, 0)), mode="edge")
        size = (frames.shape[2] // scale, frames.shape[1] // scale)
        frames = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])
    h, w = frames.shape[1:3]
    to_next, to_prev = np.zeros((2, count, h, w, 2), np.float32)
    next_ok, prev_ok = np.zeros((2, count, h, w), np.float32)
    for t in range(count - 1):
        forward, backward = flow.dis_flow(frames[t], frames[t + 1], preset), flow.dis_flow(frames[t + 1], frames[t],
                                                                                           preset)
        to_next[t], to_prev[t + 1] = forward, backward
        next_ok[t], prev_ok[t + 1] = flow.consistent(forward, backward), flow.consistent(backward, forward)

    def tensor(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(x).movedim(-1, 1)[None] if x.ndim == 4 else torch.from_numpy(x)[None, :, None]

    return Motion(tensor(to_next), tensor(to_prev), tensor(next_ok), tensor(prev_ok))


SLOPE = 0.1  # of the leaky ReLUs
RESIDUAL_SCALE = 0.1  # a residual block's last convolution starts this much smaller than He's: blocks start near x


def he_init(module: nn.Module) -> None:
    """He initialisation of every convolution in ``module`` (activations keep their scale through the layers,
    so a head added at the end learns at the pace of the rest; PyTorch's default shrinks them layer by layer),
    each residual block's last one scaled by ``RESIDUAL_SCALE``, biases at zero."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, a=SLOPE, nonlinearity="leaky_relu")
            nn.init.zeros_(m.bias)
    for m in module.modules():
        if isinstance(m, _Residual):
            m.body[2].weight.data.mul_(RESIDUAL_SCALE)


class ResidualBlocks(nn.Sequential):
    """``count`` blocks x + conv(lrelu(conv(x))), 3×3, ``width`` channels."""

    def __init__(self, width: int, count: int) -> None:
        super().__init__(*[_Residual(width) for _ in range(count)])


class _Residual(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.LeakyReLU(SLOPE, inplace=True),
                                  nn.Conv2d(width, width, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Cell(nn.Module):
    """One recurrent step: (N, inputs, h, w) -> (N, width, h, w), a convolution then residual blocks."""

    def __init__(self, inputs: int, width: int, blocks: int) -> None:
        super().__init__()
        self.merge = nn.Sequential(nn.Conv2d(inputs, width, 3, padding=1), nn.LeakyReLU(SLOPE, inplace=True))
        self.blocks = ResidualBlocks(width, blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.merge(x))


class Propagation(nn.Module):
    """Features (N, T, C, h, w) and their `Motion` -> features (N, T, C, h, w) that carry the whole clip, or
    ``head`` of each (any (N, ...) per frame, stacked at dim 1), computed as soon as the frame is done so that
    only one pass's states are ever held.

    >>> prop = Propagation(8, blocks=1)
    >>> m = motion(np.zeros((4, 12, 10, 3), np.uint8))
    >>> prop(torch.rand(1, 4, 8, 12, 10), m).shape, prop(torch.rand(1, 4, 8, 12, 10), m, head=lambda x: x[:, :3]).shape
    (torch.Size([1, 4, 8, 12, 10]), torch.Size([1, 4, 3, 12, 10]))
    """

    def __init__(self, width: int, blocks: int) -> None:
        super().__init__()
        self.width = width
        self.backward_cell = Cell(2 * width + 1, width, blocks)
        self.forward_cell = Cell(3 * width + 1, width, blocks)

    def forward(self, features: torch.Tensor, motion: Motion,
                head: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
        n, count, c, h, w = features.shape
        backward: list[torch.Tensor] = [features.new_zeros(0)] * count
        state, trust = features.new_zeros(n, c, h, w), features.new_zeros(n, 1, h, w)
        for t in reversed(range(count)):
            if t < count - 1:
                state = flow.warp(state, motion.to_next[:, t].to(state.dtype))
                trust = motion.next_ok[:, t].to(state.dtype)
            state = backward[t] = self.backward_cell(torch.cat([features[:, t], state, trust], 1))
        out = []
        state, trust = features.new_zeros(n, c, h, w), features.new_zeros(n, 1, h, w)
        for t in range(count):
            if t > 0:
                state = flow.warp(state, motion.to_prev[:, t].to(state.dtype))
                trust = motion.prev_ok[:, t].to(state.dtype)
            state = self.forward_cell(torch.cat([features[:, t], backward[t], state, trust], 1))
            backward[t] = features.new_zeros(0)  # no longer needed
            out.append(head(state) if head else state)
        return torch.stack(out, 1)


def in_windows(count: int, window: int, overlap: int, run: Callable[[int, int], np.ndarray],
               done: Callable[[int], None] | None = None) -> np.ndarray:
    """Results for frames 0 .. count-1 computed window by window: ``run(first, stop)`` returns frames
    first .. stop-1 (T', ...) of which only the window's core is kept; consecutive windows share
    ``overlap`` frames of context on each side of the seam. ``done(k)`` after each window's k core frames.

    >>> in_windows(7, 3, 1, lambda a, b: np.arange(a, b)).tolist()
    [0, 1, 2, 3, 4, 5, 6]
    """
    parts = []
    for core in range(0, count, window):
        first, stop = max(0, core - overlap), min(count, core + window + overlap)
        parts.append(run(first, stop)[core - first: min(core + window, count) - first])
        if done:
            done(len(parts[-1]))
    return np.concatenate(parts)


PIXELS_PER_WINDOW = 8_000_000  # frames × pixels a window holds (about 20 frames of 854×480)
MOST_FRAMES = 10  # core frames of a window at most: the networks were trained on runs of 10 frames, and on runs
# of 30 their states drift after about 18 (sigma 50, running_car: 22 dB at frame 27 against 33 in windows of 14)
OVERLAP = 3  # frames of context on each side of a window's core
NP_AXES = {-1: 2, -2: 1}  # flip axes of (N, C, H, W) tensors -> those of (T, H, W, 3) frames


def window_frames(height: int, width: int) -> int:
    """Core frames per window for frames of this size: at most ``MOST_FRAMES``, fewer where they are large, so
    memory stays about the same at every size.

    >>> window_frames(144, 256), window_frames(480, 854), window_frames(1080, 1920)
    (10, 10, 6)
    """
    return int(np.clip(PIXELS_PER_WINDOW // (height * width), 6, MOST_FRAMES))


def restore_clip(frames: np.ndarray, restore: Callable[[np.ndarray], torch.Tensor], views: int = 1,
                 done: Callable[[int], None] | None = None) -> np.ndarray:
    """(T, h, w, 3) uint8 frames through ``restore`` (a window of them -> (T', 3, H, W) in [0, 1]) window by
    window (`in_windows`, `window_frames`, ``OVERLAP``), averaged over ``views`` flipped views of each
    window (`vidprior.nn.ensemble.FLIPS`; the flow is computed on each view); (T, H, W, 3) uint8 back."""
    def run(first: int, stop: int) -> np.ndarray:
        chunk, total = frames[first:stop], None
        for flip in FLIPS[:views]:
            view = np.ascontiguousarray(np.flip(chunk, [NP_AXES[a] for a in flip])) if flip else chunk
            out = restore(view).float()
            out = out.flip(flip) if flip else out
            total = out if total is None else total + out
        return tensor_to_frames(total / views)

    return in_windows(len(frames), window_frames(*frames.shape[1:3]), OVERLAP, run, done)
