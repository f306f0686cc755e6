"""The multi-frame denoising network: a small U-Net from five noisy frames and a noise level to the
middle frame, clean.

Inputs (N = batch, any h × w):

- frames (N, 5, 3, h, w): frames t-2 .. t+2 in [0, 1] (the clip's ends repeat the nearest frame);
- level (N,): the noise standard deviation on the 0-255 scale (the given sigma, or an estimate).

Output (N, 3, h, w): frame t, denoised: the noisy middle frame minus the predicted noise. The
network is not told how the frames are aligned: its three levels (full, 1/2, 1/4 size, receptive
field about 40 pixels) see motion of a few pixels per frame, as FastDVDnet's do (Tassano et al.
2020); a noise-level map as an extra input channel follows FFDNet, so one network covers every
level. The last layer starts at zero: an untrained network returns the noisy frame.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..errors import VidpriorError
from ..nn.padding import pad_to

FRAMES = 5
MULTIPLE = 4  # two stride-2 levels
LEVEL_UNIT = 50.0  # noise std (0-255) that the level channel shows as 1


@dataclass(frozen=True)
class DenoiserConfig:
    width: int = 32  # channels of the first level (x2, x4 below)
    depth: int = 2  # 3x3 convolutions at the coarsest level beyond the first

    def to_dict(self) -> dict:
        return asdict(self)


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, padding=1), nn.ReLU(inplace=True))


class _Up(nn.Module):
    """Twice the size by a sub-pixel convolution, the skip added, one more convolution."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.expand = nn.Sequential(nn.Conv2d(cin, 4 * cout, 3, padding=1), nn.PixelShuffle(2))
        self.merge = _conv(cout, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.merge(self.expand(x) + skip)


class Denoiser(nn.Module):
    """U-Net over (five frames, a level map) -> the middle frame without its noise.

    >>> net = Denoiser()
    >>> net(torch.rand(2, 5, 3, 37, 50), torch.tensor([25.0, 50.0])).shape
    torch.Size([2, 3, 37, 50])
    """

    def __init__(self, config: DenoiserConfig | None = None) -> None:
        super().__init__()
        self.config = config or DenoiserConfig()
        w = self.config.width
        self.level0 = nn.Sequential(_conv(3 * FRAMES + 1, w), _conv(w, w))
        self.level1 = nn.Sequential(_conv(w, 2 * w, stride=2), _conv(2 * w, 2 * w))
        self.level2 = nn.Sequential(_conv(2 * w, 4 * w, stride=2),
                                    *[_conv(4 * w, 4 * w) for _ in range(self.config.depth)])
        self.up1 = _Up(4 * w, 2 * w)
        self.up0 = _Up(2 * w, w)
        self.out = nn.Conv2d(w, 3, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, frames: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        if frames.dim() != 5 or frames.shape[1:3] != (FRAMES, 3):
            raise VidpriorError(f"the denoiser takes frames (N, {FRAMES}, 3, h, w), not {tuple(frames.shape)}")
        n, _, _, h, w = frames.shape
        level_map = (level.to(frames.dtype) / LEVEL_UNIT).view(n, 1, 1, 1).expand(n, 1, h, w)
        x, _ = pad_to(torch.cat([frames.reshape(n, 3 * FRAMES, h, w), level_map], 1), MULTIPLE, mode="replicate")
        a = self.level0(x)
        b = self.level1(a)
        c = self.level2(b)
        noise = self.out(self.up0(self.up1(c, b), a))[..., :h, :w]
        return frames[:, FRAMES // 2] - noise
