"""The frame interpolation network: two frames and their DIS flows in, the frame at time tau between
them out (0 < tau < 1), any factor k by tau = j/k.

It refines the classical answer (the ``flowinterp`` method) rather than replacing it:

1. `flow_blend`: the flows from time tau back to each frame by the flow-reversal approximation of
   Super SloMo, F_t0 = -(1-tau)·tau·F01 + tau²·F10 and F_t1 = (1-tau)²·F01 - tau·(1-tau)·F10; both
   frames warped to tau and blended with weights (1-tau)·seen0 and tau·seen1, where seen is the
   forward-backward check of each frame's flow (a pixel occluded in one frame comes from the other);
2. a U-Net (`vidprior.nn.unet`) sees both warped frames and how they differ, both frames, the flows,
   the checks and tau, and predicts corrections of both flows, of the blend's weight and a colour
   residual, as RIFE's IFNet predicts flows, a fusion mask and a residual (Huang et al. 2022); the
   weight's correction is added, not put through a sigmoid with the classical weight: where one frame
   fails the check the classical weight is 0.999 and a sigmoid there would all but stop learning;
3. the frames are warped again with the corrected flows and blended with the corrected mask.

Every correction is scaled by how much the two warped frames disagree at that pixel (1 - exp(-d/``AGREE``),
d their mean absolute difference): where they agree, the classical answer stands, so a still scene or
a shift the flow follows comes out exactly. Its last layer starts at zero: an untrained network returns
exactly the classical blend.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from .. import flow
from ..errors import VidpriorError
from ..nn.unet import UNet

FLOW_UNIT = 8.0  # pixels of flow that the network's flow inputs and corrections show as 1
INPUTS = 3 + 3 + 1 + 3 + 3 + 2 + 2 + 2 + 1  # warped a, b, their difference, a, b, flows to tau, checks, tau
OUTPUTS = 2 + 2 + 1 + 3  # both flows' corrections, a shift of the blend's weight, a colour residual
EPS = 1e-3
AGREE = 2 / 255  # warped frames that differ by this much (mean over colours) get 63% of the correction


@dataclass(frozen=True)
class InterpolatorConfig:
    width: int = 32  # channels of the U-Net's first level (x2, x4 below)
    depth: int = 2  # 3x3 convolutions at the coarsest level beyond the first

    def to_dict(self) -> dict:
        return asdict(self)


def reversed_flows(f01: torch.Tensor, f10: torch.Tensor, tau: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Flows (N, 2, H, W) from time ``tau`` (N,) back to frame 0 and to frame 1, from the flows between them."""
    t = tau.view(-1, 1, 1, 1).to(f01.dtype)
    return -(1 - t) * t * f01 + t * t * f10, (1 - t) ** 2 * f01 - t * (1 - t) * f10


def _blend(a: torch.Tensor, b: torch.Tensor, seen0: torch.Tensor, seen1: torch.Tensor, ft0: torch.Tensor,
           ft1: torch.Tensor, tau: torch.Tensor, shift: torch.Tensor | float = 0.0
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Both frames warped to tau, (N, 3, H, W) each, and their blend; ``shift`` (N, 1, H, W) moves frame a's
    weight (clipped to [0, 1]) away from the classical one."""
    t = tau.view(-1, 1, 1, 1).to(a.dtype)
    a0, b1 = flow.warp(a, ft0), flow.warp(b, ft1)
    w0 = (1 - t) * (flow.warp(seen0, ft0) + EPS)
    w1 = t * (flow.warp(seen1, ft1) + EPS)
    m = (w0 / (w0 + w1) + shift).clamp(0, 1)
    return a0, b1, m * a0 + (1 - m) * b1


def flow_blend(a: torch.Tensor, b: torch.Tensor, f01: torch.Tensor, f10: torch.Tensor, tau: torch.Tensor
               ) -> torch.Tensor:
    """The classical in-between frame (N, 3, H, W) of ``a`` and ``b`` at ``tau`` (N,), from their flows."""
    ft0, ft1 = reversed_flows(f01, f10, tau)
    return _blend(a, b, flow.consistency(f01, f10), flow.consistency(f10, f01), ft0, ft1, tau)[2]


class Interpolator(UNet):
    """The in-between frame of two frames, see the module notes.

    a, b (N, 3, h, w) in [0, 1]; f01, f10 (N, 2, h, w) DIS flows in pixels (a -> b, b -> a);
    tau (N,) in (0, 1). Returns (N, 3, h, w).

    >>> net = Interpolator()
    >>> a, b, f = torch.rand(2, 3, 21, 30), torch.rand(2, 3, 21, 30), torch.zeros(2, 2, 21, 30)
    >>> net(a, b, f, f, torch.tensor([0.5, 0.25])).shape
    torch.Size([2, 3, 21, 30])
    """

    def __init__(self, config: InterpolatorConfig | None = None) -> None:
        config = config or InterpolatorConfig()
        super().__init__(INPUTS, OUTPUTS, config.width, config.depth)
        self.config = config

    def forward(self, a: torch.Tensor, b: torch.Tensor, f01: torch.Tensor, f10: torch.Tensor, tau: torch.Tensor
                ) -> torch.Tensor:
        if a.dim() != 4 or a.shape[1] != 3 or b.shape != a.shape:
            raise VidpriorError(f"the interpolator takes two frames (N, 3, h, w), not {tuple(a.shape)}, "
                                f"{tuple(b.shape)}")
        if f01.shape != (a.shape[0], 2, *a.shape[2:]) or f10.shape != f01.shape:
            raise VidpriorError(f"flows {tuple(f01.shape)}, {tuple(f10.shape)} do not match frames {tuple(a.shape)}")
        n, _, h, w = a.shape
        seen0, seen1 = flow.consistency(f01, f10), flow.consistency(f10, f01)
        ft0, ft1 = reversed_flows(f01, f10, tau)
        a0, b1, _ = _blend(a, b, seen0, seen1, ft0, ft1, tau)
        t = tau.view(n, 1, 1, 1).to(a.dtype).expand(n, 1, h, w)
        differ = (a0 - b1).abs().mean(1, keepdim=True)
        x = torch.cat([a0, b1, differ, a, b, ft0 / FLOW_UNIT, ft1 / FLOW_UNIT, flow.warp(seen0, ft0),
                       flow.warp(seen1, ft1), t], 1)
        out = self.features(x) * (1 - torch.exp(-differ / AGREE))
        d0, d1, shift, residual = out[:, :2], out[:, 2:4], out[:, 4:5], out[:, 5:]
        _, _, blend = _blend(a, b, seen0, seen1, ft0 + FLOW_UNIT * d0, ft1 + FLOW_UNIT * d1, tau, shift)
        return blend + residual
