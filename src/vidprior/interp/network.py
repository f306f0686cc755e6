"""The frame interpolation network: two frames and their DIS flows in (and the flows to the frames before
and after them, for quadratic paths), the frame at time tau between them out (0 < tau < 1), any factor k by
tau = j/k.

It refines the classical answer (`vidprior.inbetween`, the ``flowinterp`` method) rather than replacing it,
as softmax splatting's synthesis network does (Niklaus and Liu 2020):

1. both frames are splatted to tau along their own flows (`inbetween.splatted`), with the classical blend;
2. a feature pyramid of each frame (1/2, 1/4 and 1/8 of its size, `Pyramid`) is splatted to tau along the
   same flows, with the same importance;
3. a U-Net at 1/2, 1/4 and 1/8 size (`Synthesis`) sees the splatted frames, how much each is trusted and
   how much of each landed (holes, collisions), how they differ, the classical blend and tau (at 1/2 size as
   2×2 blocks), and the splatted features at each level, and predicts a shift of the blend's weight and a
   colour residual at full size.

Every correction is scaled by how much the two splatted frames disagree at that pixel (1 - exp(-d/``AGREE``),
d their mean absolute difference), or fully applied where one frame is missing: where they agree, the
classical answer stands, so a still scene or a shift the flow follows comes out exactly. Its last layer starts
at zero: an untrained network returns exactly the classical blend.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import VidpriorError
from ..inbetween import splat, splatted
from ..nn.padding import pad_to

AGREE = 2 / 255  # splatted frames that differ by this much (mean over colours) get 63% of the correction
IMAGE_INPUTS = 3 + 3 + 3 + 2 + 2 + 1 + 1  # splatted a, b, the blend, trust and mass of each, their difference, tau
MASS_UNIT = 2.0  # splatted mass shown to the network as 1 (clipped there)
OUTPUTS = 1 + 3  # a shift of the blend's weight, a colour residual
MULTIPLE = 8  # three halvings


@dataclass(frozen=True)
class InterpolatorConfig:
    width: int = 32  # channels of the U-Net's first level, at 1/2 size (x2, x4 below)
    depth: int = 2  # 3x3 convolutions at the coarsest level beyond the first
    features: int = 16  # channels of each frame's pyramid at 1/2 size (x2, x3 below)

    def to_dict(self) -> dict:
        return asdict(self)


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, padding=1), nn.ReLU(inplace=True))


class Pyramid(nn.Module):
    """(N, 3, H, W) -> features at 1/2, 1/4 and 1/8 size, with c, 2c and 3c channels (H, W multiples of 8)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.levels = nn.ModuleList([nn.Sequential(nn.PixelUnshuffle(2), _conv(12, c), _conv(c, c)),
                                     nn.Sequential(_conv(c, 2 * c, 2), _conv(2 * c, 2 * c)),
                                     nn.Sequential(_conv(2 * c, 3 * c, 2), _conv(3 * c, 3 * c))])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for level in self.levels:
            x = level(x)
            out.append(x)
        return out


class Synthesis(nn.Module):
    """The U-Net at 1/2, 1/4 and 1/8 size: full-size inputs (N, ``IMAGE_INPUTS``, H, W) and splatted features of
    both frames per level -> (N, ``OUTPUTS``, H, W), zero at the start."""

    def __init__(self, config: InterpolatorConfig) -> None:
        super().__init__()
        w, c = config.width, config.features
        self.down0 = nn.Sequential(nn.PixelUnshuffle(2), _conv(4 * IMAGE_INPUTS, w))
        self.level0 = _conv(w + 2 * c, w)
        self.down1 = _conv(w, 2 * w, 2)
        self.level1 = _conv(2 * w + 4 * c, 2 * w)
        self.down2 = _conv(2 * w, 4 * w, 2)
        self.level2 = nn.Sequential(_conv(4 * w + 6 * c, 4 * w), *[_conv(4 * w, 4 * w) for _ in range(config.depth)])
        self.up1 = nn.Sequential(nn.Conv2d(4 * w, 8 * w, 3, padding=1), nn.PixelShuffle(2))
        self.merge1 = _conv(2 * w, 2 * w)
        self.up0 = nn.Sequential(nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.PixelShuffle(2))
        self.merge0 = _conv(w, w)
        self.out = nn.Sequential(nn.Conv2d(w, 4 * OUTPUTS, 3, padding=1), nn.PixelShuffle(2))

    def forward(self, x: torch.Tensor, features: list[torch.Tensor]) -> torch.Tensor:
        a = self.level0(torch.cat([self.down0(x), features[0]], 1))
        b = self.level1(torch.cat([self.down1(a), features[1]], 1))
        c = self.level2(torch.cat([self.down2(b), features[2]], 1))
        b = self.merge1(self.up1(c) + b)
        return self.out(self.merge0(self.up0(b) + a))


def _splat_features(features: list[torch.Tensor], motion: torch.Tensor, weight: torch.Tensor) -> list[torch.Tensor]:
    """Each level of ``features`` pushed along ``motion`` (full size, pixels) with ``weight``, both pooled to it."""
    out = []
    for level in features:
        k = motion.shape[-1] // level.shape[-1]
        out.append(splat(level, F.avg_pool2d(motion, k) / k, F.avg_pool2d(weight, k))[0])
    return out


class Interpolator(nn.Module):
    """The in-between frame of two frames, see the module notes.

    a, b (N, 3, h, w) in [0, 1]; f01, f10 (N, 2, h, w) DIS flows in pixels (a -> b, b -> a); tau (N,) in (0, 1);
    f0p, f12 (N, 2, h, w): the flows from a to the frame before it and from b to the one after (quadratic
    paths), or None (straight ones). Returns (N, 3, h, w).

    >>> net = Interpolator(InterpolatorConfig(width=8, features=4))
    >>> a, b, f = torch.rand(2, 3, 21, 30), torch.rand(2, 3, 21, 30), torch.zeros(2, 2, 21, 30)
    >>> net(a, b, f, f, torch.tensor([0.5, 0.25])).shape
    torch.Size([2, 3, 21, 30])
    """

    def __init__(self, config: InterpolatorConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or InterpolatorConfig()
        self.pyramid = Pyramid(config.features)
        self.synthesis = Synthesis(config)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):  # He initialisation: activations keep their scale through the levels
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)
        nn.init.zeros_(self.synthesis.out[0].weight)
        nn.init.zeros_(self.synthesis.out[0].bias)

    def forward(self, a: torch.Tensor, b: torch.Tensor, f01: torch.Tensor, f10: torch.Tensor, tau: torch.Tensor,
                f0p: torch.Tensor | None = None, f12: torch.Tensor | None = None) -> torch.Tensor:
        if a.dim() != 4 or a.shape[1] != 3 or b.shape != a.shape:
            raise VidpriorError(f"the interpolator takes two frames (N, 3, h, w), not {tuple(a.shape)}, "
                                f"{tuple(b.shape)}")
        shape = (a.shape[0], 2, *a.shape[2:])
        if any(f is not None and f.shape != shape for f in (f01, f10, f0p, f12)):
            raise VidpriorError(f"flows {[tuple(f.shape) for f in (f01, f10, f0p, f12) if f is not None]} do not "
                                f"match frames {tuple(a.shape)}")
        n, _, h, w = a.shape
        s = splatted(a, b, f01, f10, tau, f0p, f12)
        at, bt = torch.where(s.mass_a > 0, s.a, s.blend), torch.where(s.mass_b > 0, s.b, s.blend)
        differ = (at - bt).abs().mean(1, keepdim=True)
        t = tau.view(n, 1, 1, 1).to(a.dtype).expand(n, 1, h, w)
        masses = torch.cat([s.mass_a, s.mass_b], 1).clamp(max=MASS_UNIT) / MASS_UNIT
        x = torch.cat([at, bt, s.blend, s.seen_a, s.seen_b, masses, differ, t], 1)
        padded = [pad_to(v, MULTIPLE, mode="replicate")[0] for v in (x, a, b, s.motion_a, s.motion_b, s.weight_a,
                                                                     s.weight_b)]
        x, a_, b_, m0, m1, w0, w1 = padded
        features = [torch.cat(pair, 1) for pair in zip(_splat_features(self.pyramid(a_), m0, w0),
                                                       _splat_features(self.pyramid(b_), m1, w1))]
        out = self.synthesis(x, features)[..., :h, :w]
        gate = torch.maximum(1 - torch.exp(-differ / AGREE), 1 - ((s.mass_a > 0) & (s.mass_b > 0)).to(a.dtype))
        return s.blend + gate * (out[:, :1] * (at - bt) + out[:, 1:])
