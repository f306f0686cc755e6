"""The Video Dynamics Prior's networks (`vidprior.methods.vdp` fits them): LFPNet, a ConvLSTM that
rolls a latent forward in time, and FDNet, a convolutional decoder of one latent to one frame."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from .convlstm import ConvLSTMCell


class LatentDynamics(nn.Module):
    """LFPNet: rolls a latent (1, C, h, w) forward; ``forward(z0, steps)`` -> (steps, C, h, w), z_0 first."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.cell = ConvLSTMCell(channels, hidden)
        self.step = nn.Conv2d(hidden, channels, 1)

    def forward(self, z0: torch.Tensor, steps: int) -> torch.Tensor:
        latents, z, state = [z0], z0, None
        for _ in range(steps - 1):
            state = self.cell(z, state)
            z = z + self.step(state[0])
            latents.append(z)
        return torch.cat(latents)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, padding_mode="reflect"),
                         nn.GroupNorm(min(8, cout), cout), nn.LeakyReLU(0.2))


class FrameDecoder(nn.Module):
    """FDNet: latents (N, C, h, w) -> frames (N, 3, h·2**len(channels), w·2**len(channels)) in [0, 1]."""

    def __init__(self, latent: int, channels: tuple[int, ...]) -> None:
        super().__init__()
        layers: list[nn.Module] = [_block(latent, channels[0])]
        previous = channels[0]
        for c in channels:
            layers += [nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                       _block(previous, c), _block(c, c)]
            previous = c
        layers += [nn.Conv2d(previous, 3, 1), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)
        self.multiple = 2 ** len(channels)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


@dataclass(frozen=True)
class VdpConfig:
    latent: int = 32
    hidden: int = 32
    decoder: tuple[int, ...] = (64, 32, 16)

    def __post_init__(self) -> None:
        object.__setattr__(self, "decoder", tuple(self.decoder))  # a list when read back from a weights file

    def to_dict(self) -> dict:
        return asdict(self)


class VdpNetworks(nn.Module):
    """Both networks of one VDP fit, with the configuration a weights file stores (a learned start)."""

    def __init__(self, config: VdpConfig | None = None) -> None:
        super().__init__()
        self.config = config or VdpConfig()
        self.dynamics = LatentDynamics(self.config.latent, self.config.hidden)
        self.decoder = FrameDecoder(self.config.latent, tuple(self.config.decoder))
