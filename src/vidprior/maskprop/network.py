"""The mask-propagation network: a small U-Net that corrects a mask carried along the optical flow.

Inputs for frame t (N = batch, h × w = the carrying size, `vidprior.carry.WORKING`):

- frame (N, 3, h, w): frame t in [0, 1];
- previous_frame (N, 3, h, w): frame t-1 (the frame the mask comes from; t+1 when carrying backwards);
- warped (N, 3, h, w): frame t-1 warped onto frame t along the flow (where it differs from frame t, the flow
  and so the carried mask are wrong);
- carried (N, 1, h, w): the previous mask warped onto frame t along the flow, soft in [0, 1];
- previous (N, 1, h, w): the previous mask on frame t-1, soft in [0, 1].

Output (N, 1, h, w): the logits of frame t's mask, ``logit(carried) + correction``. The last layer starts at
zero, so an untrained network returns the carried mask.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..nn.unet import UNet

INPUTS = 3 + 3 + 3 + 1 + 1
CLAMP = 0.02  # the carried mask is clipped to [CLAMP, 1 - CLAMP] before its logit, so the network can overrule it


@dataclass(frozen=True)
class MaskPropConfig:
    width: int = 16  # channels of the first level (x2, x4 below)
    depth: int = 3  # convolutions at 1/4 size

    def to_dict(self) -> dict:
        return asdict(self)


def logit(mask: torch.Tensor) -> torch.Tensor:
    """Log-odds of a soft mask, clipped to [`CLAMP`, 1 - `CLAMP`] first."""
    mask = mask.clamp(CLAMP, 1 - CLAMP)
    return torch.log(mask / (1 - mask))


class MaskProp(nn.Module):
    """U-Net over (frame t, frame t-1, frame t-1 warped onto t, carried mask, previous mask) -> mask logits.

    >>> net = MaskProp(MaskPropConfig(width=4, depth=1))
    >>> frames = torch.rand(3, 1, 3, 10, 14)
    >>> carried = torch.rand(1, 1, 10, 14)
    >>> torch.allclose(torch.sigmoid(net(*frames, carried, carried)), carried.clamp(0.02, 0.98), atol=1e-6)
    True
    """

    def __init__(self, config: MaskPropConfig | None = None) -> None:
        super().__init__()
        self.config = config or MaskPropConfig()
        self.body = UNet(INPUTS, 1, width=self.config.width, depth=self.config.depth)

    def forward(self, frame: torch.Tensor, previous_frame: torch.Tensor, warped: torch.Tensor, carried: torch.Tensor,
                previous: torch.Tensor) -> torch.Tensor:
        x = torch.cat([frame - 0.5, previous_frame - 0.5, warped - frame, carried - 0.5, previous - 0.5], 1)
        return logit(carried) + self.body.features(x)


def build_maskprop(config: dict) -> MaskProp:
    """The network of a weights file's configuration."""
    return MaskProp(MaskPropConfig(**config))
