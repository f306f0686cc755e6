"""Blocks of the NeRV family (HNeRV, DNeRV): ConvNeXt encoder stages, PixelShuffle upsampling
blocks and DNeRV's gated Collaborative Content Unit. All map (N, C, H, W) to (N, C', H', W')."""

from __future__ import annotations

import torch
from torch import nn


class ChannelNorm(nn.Module):
    """LayerNorm over the channels of (N, C, H, W)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    """Depthwise 7x7 conv, 1x1 expansion x4, GELU, 1x1 back, residual."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 7, padding=3, groups=channels),
                                  nn.Conv2d(channels, 4 * channels, 1), nn.GELU(), nn.Conv2d(4 * channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class DownStage(nn.Module):
    """Encoder stage: patchify conv (kernel = stride = s), channel LayerNorm, ConvNeXt block: H -> H / s."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(cin, cout, stride, stride), ChannelNorm(cout), ConvNeXtBlock(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def encoder(cin: int, width: int, cout: int, strides: tuple[int, ...]) -> nn.Sequential:
    """Stages of ``strides`` at ``width`` channels, then a 1x1 conv to the embedding's ``cout`` channels."""
    stages = [DownStage(cin if i == 0 else width, width, s) for i, s in enumerate(strides)]
    return nn.Sequential(*stages, nn.Conv2d(width, cout, 1))


class UpBlock(nn.Module):
    """NeRV upsampling block: conv (k x k) to cout·s² channels, PixelShuffle(s), GELU: H -> H · s."""

    def __init__(self, cin: int, cout: int, scale: int, kernel: int = 3) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(cin, cout * scale * scale, kernel, padding=kernel // 2),
                                  nn.PixelShuffle(scale), nn.GELU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class CollaborativeContentUnit(nn.Module):
    """DNeRV's gated fusion of content c and difference d features (both (N, C, H, W)), GRU-like:
    p = tanh(conv(c) + conv(d)), s = sigmoid(conv(c) + conv(d)), out = s·p + (1 - s)·c."""

    def __init__(self, channels: int, kernel: int = 3) -> None:
        super().__init__()
        conv = lambda: nn.Conv2d(channels, channels, kernel, padding=kernel // 2)  # noqa: E731
        self.pc, self.pd, self.sc, self.sd = conv(), conv(), conv(), conv()

    def forward(self, c: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        p = torch.tanh(self.pc(c) + self.pd(d))
        s = torch.sigmoid(self.sc(c) + self.sd(d))
        return s * p + (1 - s) * c
