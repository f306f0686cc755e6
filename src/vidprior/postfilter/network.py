"""The HEVC post-filter: a small network from a decoded frame, its two neighbours and the stream's CRF to the
frame with the coding errors (blocking, ringing, flattened texture) taken out.

Inputs (N = batch, any h × w): frames (N, 3, 3, h, w), the decoded frames t-1, t, t+1 in [0, 1] (the clip's
ends mirror); crf (N,), the base stream's CRF. Output (N, 3, h, w): frame t plus the predicted correction.

The network works on 2×2 pixel blocks (a quarter of the positions, as the recurrent denoiser does): the
blocks of the three frames and a CRF map give ``width`` features, ``blocks`` residual blocks refine them,
and a head turns them back into a correction at full size. Between the blocks and the head sits `Affine`,
a per-channel scale and shift that training leaves at the identity: it and the head's bias are what the
codec fine-tunes for each clip and stores in the file (`vidprior.postfilter.adaptation`). The head starts
at zero: an untrained network returns the decoded frame.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import VidpriorError
from ..nn.padding import pad_to
from ..nn.recurrent import SLOPE, ResidualBlocks, he_init

FRAMES = 3
SCALE = 2
CRF_UNIT = 51.0  # the CRF map shows the CRF over x265's largest


@dataclass(frozen=True)
class PostFilterConfig:
    width: int = 48  # feature channels at half size
    blocks: int = 8  # residual blocks

    def to_dict(self) -> dict:
        return asdict(self)


class Affine(nn.Module):
    """x * (1 + scale) + shift per channel of (N, C, h, w); starts as the identity."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.zeros(channels))
        self.shift = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * (1 + self.scale.view(1, -1, 1, 1)) + self.shift.view(1, -1, 1, 1)


class PostFilter(nn.Module):
    """(decoded frames (N, 3, 3, h, w), crf (N,)) -> frame t corrected (N, 3, h, w).

    >>> net = PostFilter(PostFilterConfig(width=8, blocks=1))
    >>> frames = torch.rand(2, 3, 3, 17, 22)
    >>> torch.equal(net(frames, torch.tensor([28.0, 38.0])), frames[:, 1])
    True
    """

    def __init__(self, config: PostFilterConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or PostFilterConfig()
        w = config.width
        self.extract = nn.Sequential(nn.Conv2d(3 * FRAMES * SCALE * SCALE + 1, w, 3, padding=1),
                                     nn.LeakyReLU(SLOPE, True), ResidualBlocks(w, config.blocks))
        self.tune = Affine(w).requires_grad_(False)
        self.head = nn.Sequential(nn.Conv2d(w, 3 * SCALE * SCALE, 3, padding=1), nn.PixelShuffle(SCALE))
        he_init(self.extract)
        nn.init.zeros_(self.head[0].weight)
        nn.init.zeros_(self.head[0].bias)

    def features(self, frames: torch.Tensor, crf: torch.Tensor) -> torch.Tensor:
        """The features the head reads, before `Affine`: (N, width, ceil(h/2), ceil(w/2))."""
        if frames.dim() != 5 or frames.shape[1:3] != (FRAMES, 3):
            raise VidpriorError(f"the post-filter takes frames (N, {FRAMES}, 3, h, w), not {tuple(frames.shape)}")
        n = len(frames)
        x, _ = pad_to(frames.flatten(1, 2), SCALE, mode="replicate")
        x = F.pixel_unshuffle(x, SCALE)
        crf_map = (crf.to(x.dtype) / CRF_UNIT).view(n, 1, 1, 1).expand(n, 1, *x.shape[-2:])
        return self.extract(torch.cat([x, crf_map], 1))

    def finish(self, features: torch.Tensor, middle: torch.Tensor) -> torch.Tensor:
        """Frame t (N, 3, h, w) plus the correction the head makes of ``features``."""
        h, w = middle.shape[-2:]
        return middle + self.head(self.tune(features))[..., :h, :w]

    def forward(self, frames: torch.Tensor, crf: torch.Tensor) -> torch.Tensor:
        return self.finish(self.features(frames, crf), frames[:, FRAMES // 2])


def build_postfilter(config: dict) -> PostFilter:
    return PostFilter(PostFilterConfig(**config))
