"""Fitting the post-filter to one clip at encoding time, where the clean frames are known: the update.

The update is `Affine`'s scale and shift (``width`` each) and a change of the head's bias (12): a few
hundred bytes at most in the compressed file. The head is linear, so the corrected frame is linear in
the update: correction(u) = correction(0) + sum_k u_k * basis_k, where basis_k is what one unit of
parameter k adds to the frame (`basis`). The update with the least squared error on the clip is
then the solution of a small linear system (normal equations summed frame by frame, a light ridge
for channels the clip hardly uses): exact, in one pass over the clip, with no learning rate or time
budget to choose.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import VidpriorError
from ..video import frames_to_tensor
from .network import FRAMES, SCALE, PostFilter

RIDGE = 1e-3  # of the normal matrix's mean diagonal
FIT_PIXELS = 3_000_000  # pixels the fit reads at most: an even choice of frames of a longer clip
CHUNK_PIXELS = 150_000  # pixels per pass (the bases take ~4 KB per pixel)


@dataclass
class Update:
    """scale, shift: (width,) of `Affine`; bias: (3 * SCALE**2,) added to the head's bias; float32."""

    scale: np.ndarray
    shift: np.ndarray
    bias: np.ndarray

    def vector(self) -> np.ndarray:
        return np.concatenate([self.scale, self.shift, self.bias])

    @classmethod
    def from_vector(cls, u: np.ndarray, width: int) -> Update:
        u = np.asarray(u, np.float32)
        return cls(u[:width], u[width: 2 * width], u[2 * width:])


def updated(net: PostFilter, update: Update) -> PostFilter:
    """A copy of ``net`` with ``update`` applied."""
    net = copy.deepcopy(net)
    with torch.no_grad():
        net.tune.scale.copy_(torch.from_numpy(update.scale))
        net.tune.shift.copy_(torch.from_numpy(update.shift))
        net.head[0].bias.add_(torch.from_numpy(update.bias))
    return net


def basis(net: PostFilter, features: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """What one unit of each update parameter adds to the corrected frames: (N, K, 3, h, w) for features
    (N, width, h', w') of frames of ``size`` (h, w); K = 2 width + 12, in `Update.vector`'s order."""
    n, width = features.shape[:2]
    weight = net.head[0].weight  # (12, width, 3, 3)
    per_channel = weight.transpose(0, 1).reshape(width * weight.shape[0], 1, 3, 3)

    def through_head(x: torch.Tensor) -> torch.Tensor:  # each channel alone through the head: (M, width, 3, ...)
        y = F.conv2d(x, per_channel, padding=1, groups=width)
        y = F.pixel_shuffle(y.reshape(-1, weight.shape[0], *y.shape[-2:]), SCALE)
        return y.reshape(len(x), width, 3, *y.shape[-2:])

    scale = through_head(features)
    shift = through_head(torch.ones_like(features[:1])).expand(n, -1, -1, -1, -1)
    unit = torch.eye(weight.shape[0], dtype=features.dtype, device=features.device)[:, :, None, None]
    bias = F.pixel_shuffle(unit.expand(-1, -1, *features.shape[-2:]), SCALE)[None].expand(n, -1, -1, -1, -1)
    h, w = size
    return torch.cat([scale, shift, bias], 1)[..., :h, :w]


class ClipSample:
    """The frames of a clip that an encoder fits and judges the post-filter on: an even choice of at most
    ``FIT_PIXELS`` pixels, from the decoded and clean frames (T, H, W, 3) uint8."""

    def __init__(self, decoded: np.ndarray, clean: np.ndarray) -> None:
        if decoded.shape != clean.shape:
            raise VidpriorError(f"decoded frames {decoded.shape} and clean frames {clean.shape} differ in shape")
        self.decoded, self.clean = decoded, clean
        count, h, w = decoded.shape[:3]
        self.index = np.unique(np.linspace(0, count - 1, max(1, min(count, FIT_PIXELS // (h * w)))).round()
                               .astype(int))

    def chunks(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(decoded frames t-1, t, t+1 (n, 3, 3, H, W), clean frames t (n, 3, H, W)) in [0, 1], a few at a time."""
        count, h, w = self.decoded.shape[:3]
        parts = min(len(self.index), -(-len(self.index) * h * w // CHUNK_PIXELS))  # a frame at least per part
        for part in np.array_split(self.index, max(1, parts)):
            around = [[min(max(t + d, 0), count - 1) for d in range(-(FRAMES // 2), FRAMES // 2 + 1)] for t in part]
            yield (torch.stack([frames_to_tensor(self.decoded[i]) for i in around]),
                   frames_to_tensor(self.clean[part]))

    @torch.no_grad()
    def error(self, net: PostFilter, crf: float) -> float:
        """Mean squared error (0-255 scale) of ``net``'s frames, told ``crf``, rounded as a decoder writes them."""
        total, pixels = 0.0, 0
        for stacks, clean in self.chunks():
            out = net(stacks, torch.full((len(stacks),), float(crf))).clamp(0, 1).mul(255).round()
            total += float((out - clean.mul(255)).pow(2).sum())
            pixels += clean.numel()
        return total / pixels


@torch.no_grad()
def fit_update(net: PostFilter, sample: ClipSample, crf: float) -> Update:
    """The least-squares update of ``net``, told ``crf``, for the clip ``sample`` was drawn from."""
    if net.tune.scale.abs().max() > 0 or net.tune.shift.abs().max() > 0:
        raise VidpriorError("the post-filter already carries an update; fit one to the shipped network")
    net = net.float().eval()
    k = 2 * net.config.width + 3 * SCALE**2
    normal, right = torch.zeros(k, k, dtype=torch.float64), torch.zeros(k, dtype=torch.float64)
    for stacks, clean in sample.chunks():
        features = net.features(stacks, torch.full((len(stacks),), float(crf)))
        residual = clean - net.finish(features, stacks[:, FRAMES // 2])
        b = basis(net, features, clean.shape[-2:]).transpose(0, 1).reshape(k, -1).double()
        normal += b @ b.T
        right += b @ residual.reshape(-1).double()
    ridge = RIDGE * normal.diagonal().mean().clamp_min(1e-12)
    u = torch.linalg.solve(normal + ridge * torch.eye(k, dtype=torch.float64), right)
    return Update.from_vector(u.float().numpy(), net.config.width)
