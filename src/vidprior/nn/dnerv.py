"""DNeRV's networks (`vidprior.methods.dnerv` fits and compresses them): the configuration that
rebuilds them, the content and difference encoders, and the decoder that turns a frame's two
embeddings into the frame. The blocks are the NeRV family's (`vidprior.nn.nerv`)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from .nerv import CollaborativeContentUnit, UpBlock, encoder


@dataclass(frozen=True)
class DnervConfig:
    """Everything needed to rebuild the decoder (stored in the compressed file's header).

    strides: decoder upscale factors, coarse to fine (their product is the padding multiple);
    fuse_after: decoder stages before the difference stream joins; diff_scale: upscale of the
    difference stream to that point; content/difference: embedding channels; width: decoder
    channels after the stem (reduced by ``reduce`` per stage); encoder_width: encoder channels.
    """

    height: int
    width_px: int
    strides: tuple[int, ...] = (4, 2, 2, 2)
    fuse_after: int = 2
    diff_scale: int = 4
    content: int = 8
    difference: int = 2
    width: int = 48
    reduce: float = 1.2
    encoder_width: int = 32

    @property
    def multiple(self) -> int:
        return math.prod(self.strides)

    @property
    def padded(self) -> tuple[int, int]:
        m = self.multiple
        return -(-self.height // m) * m, -(-self.width_px // m) * m

    def channels(self) -> list[int]:
        """Decoder channels after the stem and after each stage."""
        return [max(4, round(self.width / self.reduce**i)) for i in range(len(self.strides) + 1)]

    @property
    def difference_stride(self) -> int:
        """How much smaller the difference embedding is than the padded frame."""
        return math.prod(self.strides[self.fuse_after:]) * self.diff_scale

    def embedding_shapes(self) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        """(C, h, w) of the content and the difference embedding of one frame."""
        h, w = self.padded
        fine = self.difference_stride
        return (self.content, h // self.multiple, w // self.multiple), (self.difference, h // fine, w // fine)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> DnervConfig:
        return cls(**{**data, "strides": tuple(data["strides"])})


class DnervDecoder(nn.Module):
    """(content (N, C, h, w), difference (N, D, h', w')) -> frames (N, 3, H_pad, W_pad) in [0, 1]."""

    def __init__(self, config: DnervConfig) -> None:
        super().__init__()
        channels = config.channels()
        self.stem = nn.Conv2d(config.content, channels[0], 1)
        self.stages = nn.ModuleList(UpBlock(channels[i], channels[i + 1], s, kernel=1 if i == 0 else 3)
                                    for i, s in enumerate(config.strides))
        fused = channels[config.fuse_after]
        self.difference = nn.Sequential(nn.Conv2d(config.difference, fused, 1),
                                        UpBlock(fused, fused, config.diff_scale))
        self.fuse = CollaborativeContentUnit(fused)
        self.head = nn.Conv2d(channels[-1], 3, 3, padding=1)
        self.fuse_after = config.fuse_after

    def forward(self, content: torch.Tensor, difference: torch.Tensor) -> torch.Tensor:
        x = self.stem(content)
        for i, stage in enumerate(self.stages):
            if i == self.fuse_after:
                x = self.fuse(x, self.difference(difference))
            x = stage(x)
        return torch.sigmoid(self.head(x))


def frame_differences(frames: torch.Tensor) -> torch.Tensor:
    """(T, 3, H, W) -> (T, 6, H, W): [x_t - x_{t-1}, x_{t+1} - x_t], zero where a neighbour is missing."""
    before = torch.cat([frames[:1], frames[:-1]])
    after = torch.cat([frames[1:], frames[-1:]])
    return torch.cat([frames - before, after - frames], dim=1)


def content_encoder(config: DnervConfig) -> nn.Sequential:
    """Frames (N, 3, H_pad, W_pad) -> content embeddings (N, C, h, w)."""
    return encoder(3, config.encoder_width, config.content, _split(config.multiple))


def difference_encoder(config: DnervConfig) -> nn.Sequential:
    """`frame_differences` (N, 6, H_pad, W_pad) -> difference embeddings (N, D, h', w')."""
    return encoder(6, config.encoder_width, config.difference, _split(config.difference_stride))


def _split(stride: int) -> tuple[int, ...]:
    """An encoder's strides for a total ``stride``: its factors (4s first, then 3, 2, 5, 7), largest first."""
    factors = []
    while stride > 1:
        for f in (4, 3, 2, 5, 7):
            if stride % f == 0:
                factors.append(f)
                stride //= f
                break
        else:
            factors.append(stride)
            break
    return tuple(sorted(factors, reverse=True)) or (1,)
