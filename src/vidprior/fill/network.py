"""The learned fill: a network that corrects flowfill's answer inside the hole, one frame at a time,
fed back its own previous output (VINet's recurrence) and seeing the whole frame at once (LaMa's
fast Fourier convolutions), so what no frame shows is synthesised and stays put in time.

Inputs for frame t (N = batch, any h × w, images in [0, 1]):

- filled (N, 3, h, w): flowfill's frame t (propagated pixels fused; Telea where no frame sees);
- hole (N, 1, h, w): 1 inside the hole; unseen (N, 1, h, w): 1 where no frame saw the pixel;
- travel (N, 1, h, w): frames between each propagated pixel and its source (`vidprior.flowfill.Filled`);
- previous (N, 3, h, w): the network's output for frame t-1 warped onto frame t, and agree (N, 1, h, w):
  where that warp is trusted (0 for the first frame, whose ``previous`` is ``filled``).

Output (N, 3, h, w): ``filled`` outside the hole, bit for bit, and ``filled`` + a correction inside it. The
last layer starts at zero, so an untrained network returns flowfill exactly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import VidpriorError
from ..flow import warp
from ..nn.padding import pad_to

MULTIPLE = 4  # two stride-2 levels
TRAVEL_UNIT = 10.0  # frames of travel that the travel channel shows as 1
INPUTS = 10


@dataclass(frozen=True)
class FillConfig:
    width: int = 24  # channels at full size (x2, x4 below)
    blocks: int = 3  # residual blocks at 1/4 size, each a dilated convolution and a Fourier unit

    def to_dict(self) -> dict:
        return asdict(self)


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation),
                         nn.LeakyReLU(0.2, inplace=True))


class FourierUnit(nn.Module):
    """A 1×1 convolution in the frequency domain: every output pixel sees the whole map (LaMa's spectral
    transform). (N, C, h, w) -> (N, C, h, w).

    >>> FourierUnit(8)(torch.rand(2, 8, 9, 14)).shape
    torch.Size([2, 8, 9, 14])
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.spectral = nn.Sequential(nn.Conv2d(2 * channels, 2 * channels, 1), nn.LeakyReLU(0.2, inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        spectrum = torch.fft.rfft2(x.float(), norm="ortho")
        mixed = self.spectral(torch.cat([spectrum.real, spectrum.imag], 1).to(x.dtype)).float()
        real, imag = mixed.chunk(2, dim=1)
        return torch.fft.irfft2(torch.complex(real, imag), s=(h, w), norm="ortho").to(x.dtype)


class Block(nn.Module):
    """Residual: a dilated (local) and a Fourier (global) branch, merged by a 1×1 convolution."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        half = channels // 2
        self.local = _conv(channels, half, dilation=dilation)
        self.squeeze = nn.Conv2d(channels, half, 1)
        self.fourier = FourierUnit(half)
        self.merge = nn.Conv2d(2 * half, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        both = torch.cat([self.local(x), self.fourier(self.squeeze(x))], 1)
        return x + self.merge(F.leaky_relu(both, 0.2))


class FillNet(nn.Module):
    """(flowfill's frame, hole, unseen, travel, previous output warped, agree) -> the frame refined in the hole.

    >>> net = FillNet(FillConfig(width=8, blocks=1))
    >>> x, m = torch.rand(1, 3, 13, 22), torch.zeros(1, 1, 13, 22)
    >>> bool((net(x, m, m, m, x, m) == x).all())
    True
    """

    def __init__(self, config: FillConfig | None = None) -> None:
        super().__init__()
        self.config = config or FillConfig()
        w = self.config.width
        self.level0 = nn.Sequential(_conv(INPUTS, w), _conv(w, w))
        self.level1 = nn.Sequential(_conv(w, 2 * w, stride=2), _conv(2 * w, 2 * w))
        self.level2 = nn.Sequential(_conv(2 * w, 4 * w, stride=2), _conv(4 * w, 4 * w))
        self.blocks = nn.Sequential(*[Block(4 * w, 2 ** (1 + i % 3)) for i in range(self.config.blocks)])
        self.up1 = nn.Sequential(_conv(4 * w + 2 * w, 2 * w), _conv(2 * w, 2 * w))
        self.up0 = nn.Sequential(_conv(2 * w + w, w), _conv(w, w))
        self.out = nn.Conv2d(w, 3, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, filled: torch.Tensor, hole: torch.Tensor, unseen: torch.Tensor, travel: torch.Tensor,
                previous: torch.Tensor, agree: torch.Tensor) -> torch.Tensor:
        if filled.dim() != 4 or filled.shape[1] != 3 or hole.shape[1] != 1:
            raise VidpriorError(f"the fill network takes frames (N, 3, h, w) and masks (N, 1, h, w), not "
                                f"{tuple(filled.shape)} and {tuple(hole.shape)}")
        h, w = filled.shape[-2:]
        x = torch.cat([filled - 0.5, hole, unseen, travel / TRAVEL_UNIT, (previous - 0.5) * agree, agree], 1)
        x, _ = pad_to(x, MULTIPLE, mode="replicate")
        a = self.level0(x)
        b = self.level1(a)
        c = self.blocks(self.level2(b))
        b = self.up1(torch.cat([b, F.interpolate(c, size=b.shape[-2:], mode="bilinear", align_corners=False)], 1))
        a = self.up0(torch.cat([a, F.interpolate(b, size=a.shape[-2:], mode="bilinear", align_corners=False)], 1))
        correction = self.out(a)[..., :h, :w]
        return torch.where(hole > 0, filled + correction, filled)


def feedback(previous: torch.Tensor, filled: torch.Tensor, filled_before: torch.Tensor, back: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """The previous output (N, 3, h, w) warped onto this frame along ``back`` (N, 2, h, w), the flow from
    flowfill's frame ``filled`` to the one before (``filled_before``), and where to trust it (N, 1, h, w):
    exp(-50 · Σ_c (filled - warped filled_before)²), low where the flow is wrong or the content occluded."""
    disagree = (filled - warp(filled_before, back)).pow(2).sum(1, keepdim=True)
    return warp(previous, back), torch.exp(-50 * disagree)
