"""The Deep Image Prior "skip" encoder-decoder (Ulyanov et al.), as used by internal video inpainting.

Per scale: a down block (conv k stride 2, norm, LeakyReLU, conv k, norm, LeakyReLU), a skip branch
(1x1 conv to a few channels) and an up block (conv 3, norm, LeakyReLU, conv 1x1, norm, LeakyReLU)
after nearest x2 upsampling and concatenation with the skip. Reflection padding throughout.

Normalisation is GroupNorm rather than the original BatchNorm, so that a frame's output does not
depend on which other frames share its batch; ``norm=False`` drops it, so that a net trained on
crops renders whole frames the same way. Input (N, C_in, H, W) with H and W multiples of
2**len(channels) (see `vidprior.nn.padding.pad_to`); output (N, C_out, H, W) without an activation.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def _conv(cin: int, cout: int, kernel: int, stride: int = 1, norm: bool = True) -> nn.Sequential:
    layers = [nn.ReflectionPad2d(kernel // 2), nn.Conv2d(cin, cout, kernel, stride)]
    return nn.Sequential(*layers, *([nn.GroupNorm(min(4, cout), cout)] if norm else []), nn.LeakyReLU(0.2))


class SkipNet(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, channels: Sequence[int] = (16, 32, 64, 128, 128),
                 skip: int = 4, down_kernel: int = 5, norm: bool = True) -> None:
        super().__init__()
        self.levels = len(channels)
        self.down = nn.ModuleList()
        self.skips = nn.ModuleList()
        self.up = nn.ModuleList()
        previous = in_channels
        for c in channels:
            self.down.append(nn.Sequential(_conv(previous, c, down_kernel, 2, norm), _conv(c, c, down_kernel, 1, norm)))
            self.skips.append(_conv(previous, skip, 1, 1, norm) if skip else nn.Identity())
            previous = c
        deeper = channels[-1]
        for i in reversed(range(self.levels)):
            c = channels[i]
            self.up.insert(0, nn.Sequential(_conv(deeper + skip, c, 3, 1, norm), _conv(c, c, 1, 1, norm)))
            deeper = c
        self.head = nn.Conv2d(channels[0], out_channels, 1)
        self.skip = skip
        self.down_kernel = down_kernel

    @property
    def multiple(self) -> int:
        return 2**self.levels

    @property
    def smallest(self) -> int:
        """The smallest input side: the deepest level's padding must stay inside its feature map."""
        return self.multiple * (self.down_kernel // 2 + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for down, skip in zip(self.down, self.skips):
            skips.append(skip(x) if self.skip else None)
            x = down(x)
        for i in reversed(range(self.levels)):
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            if self.skip:
                x = torch.cat([x, skips[i]], dim=1)
            x = self.up[i](x)
        return self.head(x)

