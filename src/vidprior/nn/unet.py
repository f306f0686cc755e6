"""A small three-level U-Net (full, 1/2, 1/4 size; receptive field about 40 pixels) with a zero-initialised
last layer, so a network that adds its output to an answer starts at that answer. The denoiser and the
interpolation network are built on it."""

from __future__ import annotations

import torch
from torch import nn

from .padding import pad_to

MULTIPLE = 4  # two stride-2 levels


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


class UNet(nn.Module):
    """(N, inputs, h, w) -> (N, outputs, h, w) for any h × w (padded inside); widths w, 2w, 4w and ``depth``
    more convolutions at 1/4 size. Starts at zero output.

    >>> UNet(5, 2, width=8)(torch.rand(1, 5, 13, 22)).abs().max().item()
    0.0
    """

    def __init__(self, inputs: int, outputs: int, width: int = 32, depth: int = 2) -> None:
        super().__init__()
        w = width
        self.level0 = nn.Sequential(_conv(inputs, w), _conv(w, w))
        self.level1 = nn.Sequential(_conv(w, 2 * w, stride=2), _conv(2 * w, 2 * w))
        self.level2 = nn.Sequential(_conv(2 * w, 4 * w, stride=2), *[_conv(4 * w, 4 * w) for _ in range(depth)])
        self.up1 = _Up(4 * w, 2 * w)
        self.up0 = _Up(2 * w, w)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):  # He initialisation: activations keep their scale through the levels
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)
        self.out = nn.Conv2d(w, outputs, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        x, _ = pad_to(x, MULTIPLE, mode="replicate")
        a = self.level0(x)
        b = self.level1(a)
        c = self.level2(b)
        return self.out(self.up0(self.up1(c, b), a))[..., :h, :w]
