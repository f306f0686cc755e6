"""The multi-frame upscaling network: five low-resolution frames aligned to the middle one, a noise
level and a factor in, the middle frame at s times the size out (s = 2, 3 or 4).

- input (N = batch, any h × w): frames (N, 5, 3, h, w) in [0, 1], t-2 .. t+2 warped onto frame t
  by DIS flow (`alignment`); valid (N, 5, 1, h, w), 1 where a neighbour's flow passed the
  forward-backward check (frame t's own is all ones); level (N,), the noise std (0-255) of the
  low-resolution frames, 0 when clean;
- body: residual blocks at the low resolution, one trunk for every factor, as EDSR's multi-scale
  model MDSR shares its body (Lim et al. 2017);
- tail: per factor, a convolution to 3·s² channels and a pixel shuffle (Shi et al. 2016), added to
  the bicubic enlargement of frame t; it starts at zero, so an untrained network returns bicubic.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import VidpriorError
from ..nn.recurrent import SLOPE, Motion, Propagation, ResidualBlocks, he_init

FRAMES = 5
LEVEL_UNIT = 50.0  # noise std (0-255) that the level channel shows as 1


@dataclass(frozen=True)
class UpscalerConfig:
    width: int = 48  # channels of the body
    blocks: int = 8  # residual blocks
    factors: tuple[int, ...] = field(default=(2, 3, 4))

    def to_dict(self) -> dict:
        return {**asdict(self), "factors": list(self.factors)}

    def __post_init__(self) -> None:
        object.__setattr__(self, "factors", tuple(int(f) for f in self.factors))


class _Block(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True),
                                  nn.Conv2d(width, width, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Upscaler(nn.Module):
    """Five aligned low-resolution frames -> the middle one ``factor`` times larger, see the module notes.

    >>> net = Upscaler()
    >>> net(torch.rand(2, 5, 3, 13, 20), torch.ones(2, 5, 1, 13, 20), torch.tensor([0.0, 10.0]), 3).shape
    torch.Size([2, 3, 39, 60])
    """

    def __init__(self, config: UpscalerConfig | None = None) -> None:
        super().__init__()
        self.config = config or UpscalerConfig()
        w = self.config.width
        self.head = nn.Conv2d(4 * FRAMES + 1, w, 3, padding=1)
        self.body = nn.Sequential(*[_Block(w) for _ in range(self.config.blocks)], nn.Conv2d(w, w, 3, padding=1))
        self.tails = nn.ModuleDict({str(s): nn.Sequential(nn.Conv2d(w, 3 * s * s, 3, padding=1), nn.PixelShuffle(s))
                                    for s in self.config.factors})
        for tail in self.tails.values():
            nn.init.zeros_(tail[0].weight)
            nn.init.zeros_(tail[0].bias)

    def forward(self, frames: torch.Tensor, valid: torch.Tensor, level: torch.Tensor, factor: int) -> torch.Tensor:
        if frames.dim() != 5 or frames.shape[1:3] != (FRAMES, 3):
            raise VidpriorError(f"the upscaler takes frames (N, {FRAMES}, 3, h, w), not {tuple(frames.shape)}")
        if str(factor) not in self.tails:
            raise VidpriorError(f"this upscaler was trained for x{', x'.join(self.tails)}, not x{factor}")
        n, _, _, h, w = frames.shape
        level_map = (level.to(frames.dtype) / LEVEL_UNIT).view(n, 1, 1, 1).expand(n, 1, h, w)
        x = torch.cat([frames.reshape(n, 3 * FRAMES, h, w), valid.reshape(n, FRAMES, h, w).to(frames.dtype),
                       level_map], 1)
        features = self.head(x)
        features = features + self.body(features)
        middle = frames[:, FRAMES // 2]
        base = F.interpolate(middle, scale_factor=factor, mode="bicubic", align_corners=False)
        return base + self.tails[str(factor)](features)


@dataclass(frozen=True)
class RecurrentUpscalerConfig:
    width: int = 48  # channels of the features carried through the clip
    blocks: int = 3  # residual blocks in each recurrent cell (and in the feature extractor)
    factors: tuple[int, ...] = field(default=(2, 3, 4))

    def to_dict(self) -> dict:
        return {**asdict(self), "factors": list(self.factors), "arch": "recurrent"}

    def __post_init__(self) -> None:
        object.__setattr__(self, "factors", tuple(int(f) for f in self.factors))


class RecurrentUpscaler(nn.Module):
    """A whole clip at once: low-resolution frames (N, T, 3, h, w) in [0, 1], their noise level (N,), the
    `Motion` between them and a factor s -> the frames (N, T, 3, h·s, w·s).

    Features of each frame (with the level map), carried backward then forward through the clip by the
    shared `Propagation`; per factor a tail (a convolution to 3·s² channels and a pixel shuffle, as the
    window network's) added to the bicubic enlargement. The tails start at zero: an untrained network
    returns bicubic. (A tail with a hidden convolution barely learned here: +0.003 dB against +0.3 dB in
    60 steps on one batch.)

    >>> from vidprior.nn.recurrent import motion
    >>> import numpy as np
    >>> clip = np.random.default_rng(0).integers(0, 255, (2, 13, 20, 3), dtype=np.uint8)
    >>> net = RecurrentUpscaler(RecurrentUpscalerConfig(width=8, blocks=1))
    >>> net(torch.rand(1, 2, 3, 13, 20), torch.tensor([0.0]), motion(clip), 3).shape
    torch.Size([1, 2, 3, 39, 60])
    """

    def __init__(self, config: RecurrentUpscalerConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or RecurrentUpscalerConfig()
        w = config.width
        self.extract = nn.Sequential(nn.Conv2d(4, w, 3, padding=1), nn.LeakyReLU(SLOPE, True),
                                     ResidualBlocks(w, config.blocks))
        self.propagation = Propagation(w, config.blocks)
        self.tails = nn.ModuleDict({str(s): nn.Sequential(nn.Conv2d(w, 3 * s * s, 3, padding=1), nn.PixelShuffle(s))
                                    for s in config.factors})
        he_init(self)
        for tail in self.tails.values():
            nn.init.zeros_(tail[0].weight)
            nn.init.zeros_(tail[0].bias)

    def forward(self, frames: torch.Tensor, level: torch.Tensor, motion: Motion, factor: int) -> torch.Tensor:
        if frames.dim() != 5 or frames.shape[2] != 3:
            raise VidpriorError(f"the recurrent upscaler takes frames (N, T, 3, h, w), not {tuple(frames.shape)}")
        if str(factor) not in self.tails:
            raise VidpriorError(f"this upscaler was trained for x{', x'.join(self.tails)}, not x{factor}")
        n, count, _, h, w = frames.shape
        flat = frames.flatten(0, 1)
        level_map = (level.to(flat.dtype) / LEVEL_UNIT).repeat_interleave(count).view(-1, 1, 1, 1)
        features = self.extract(torch.cat([flat, level_map.expand(-1, 1, h, w)], 1))
        detail = self.propagation(features.view(n, count, -1, h, w), motion, head=self.tails[str(factor)])
        base = F.interpolate(flat, scale_factor=factor, mode="bicubic", align_corners=False)
        return base.view(n, count, 3, h * factor, w * factor) + detail


def build_upscaler(config: dict) -> Upscaler | RecurrentUpscaler:
    """The upscaler a weights file's configuration describes (``arch`` 'recurrent', else the five-frame one)."""
    config = dict(config)
    if config.pop("arch", "window") == "recurrent":
        return RecurrentUpscaler(RecurrentUpscalerConfig(**config))
    return Upscaler(UpscalerConfig(**config))
