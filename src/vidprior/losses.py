"""Loss terms shared by the internal-learning methods. Images are (N, 3, H, W) in [0, 1].

Weights (N, 1, H, W) are 1 on trusted pixels and 0 elsewhere; every masked loss is the mean
over *all* pixels of the masked error, as in the internal video inpainting code, so that a
loss does not jump when the mask changes size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .flow import warp


def masked_mse(x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """mean(weight * (x - y)^2) over all elements (weight broadcasts over channels)."""
    error = (x - y) ** 2
    return (error * weight).mean() if weight is not None else error.mean()


def charbonnier(x: torch.Tensor, y: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Mean of sqrt((x - y)² + eps²): L1 that is smooth at zero (the usual loss of super-resolution)."""
    return ((x - y).pow(2) + eps * eps).sqrt().mean()


def flow_reconstruction(predicted: torch.Tensor, reference: torch.Tensor, valid: torch.Tensor,
                        scale: float) -> torch.Tensor:
    """Generated flow (N, 2, H, W) against a classical reference flow on ``valid`` (N, 1, H, W) pixels.

    Both flows are divided by ``scale`` (the largest reference displacement) so the term does not
    depend on how fast the video moves.
    """
    return masked_mse(predicted / scale, reference / scale, valid)


def flow_consistency(frame: torch.Tensor, neighbour: torch.Tensor, flow: torch.Tensor,
                     region: torch.Tensor) -> torch.Tensor:
    """Generated frame vs. its generated neighbour pulled back along the generated flow.

    frame, neighbour: (N, 3, H, W); flow (N, 2, H, W) maps frame pixels to the neighbour; region
    (N, 1, H, W): where the term applies (in the internal video inpainting method: pixels in or
    flowing into a hole). The frame is detached: the term moves the neighbour and the flow toward
    it, not the frame toward a bad warp. Pixels whose flow leaves the image are left out.
    """
    pulled = warp(neighbour, flow)
    h, w = flow.shape[-2:]
    xs = torch.arange(w, device=flow.device, dtype=flow.dtype).view(1, 1, w)
    ys = torch.arange(h, device=flow.device, dtype=flow.dtype).view(1, h, 1)
    x, y = xs + flow[:, 0], ys + flow[:, 1]
    inside = ((x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)).unsqueeze(1).to(region.dtype)
    return masked_mse(pulled, frame.detach(), region * inside)


class Perceptual(nn.Module):
    """Masked VGG-16 feature loss (relu1_2, relu2_2, relu3_3), as in internal video inpainting.

    A feature position counts only when its whole receptive field lies in trusted pixels: the
    weight map is pushed through the same stack of convolutions and pools with all-ones kernels
    (here: min-pooling with the matching windows), so a feature touched by a hole is left out.
    """

    LAYERS = ("relu1_2", "relu2_2", "relu3_3")
    # receptive growth before each chosen layer: (convs of 3x3 since the last pool, pools before it)
    _STAGES = ((2, 0), (2, 1), (3, 1))

    def __init__(self, features: nn.Module | None = None) -> None:
        super().__init__()
        if features is None:
            from .perceptual import vgg16_features

            features = vgg16_features(self.LAYERS)
        self.features = features

    @staticmethod
    def _erode(weight: torch.Tensor, convs: int) -> torch.Tensor:
        return -F.max_pool2d(-weight, 2 * convs + 1, stride=1, padding=convs) if convs else weight

    def feature_weights(self, weight: torch.Tensor) -> list[torch.Tensor]:
        """(N, 1, H, W) trusted map -> one map per layer at that layer's resolution."""
        maps = []
        w = weight
        for convs, pools in self._STAGES:
            for _ in range(pools):
                w = -F.max_pool2d(-w, 2, stride=2)
            w = self._erode(w, convs)
            maps.append(w)
        return maps

    def forward(self, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        total = x.new_zeros(())
        with torch.no_grad():
            targets = self.features(y)
        for fx, fy, w in zip(self.features(x), targets, self.feature_weights(weight), strict=True):
            total = total + masked_mse(fx, fy, w.to(fx.dtype))
        return total


def pyramid(x: torch.Tensor, weight: torch.Tensor | None, levels: int
            ) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """Area pyramid of (N, C, H, W) images: ``levels`` pairs (image, weight), finest first.

    With a weight map (N, 1, H, W), each coarser pixel is the weighted mean of the 2x2 pixels
    under it and its weight the mean of their weights, so unknown pixels never leak into the
    coarse levels; a pixel with no known pixel under it gets weight 0.
    """
    out = [(x, weight)]
    for _ in range(levels - 1):
        if min(x.shape[-2:]) < 2:
            break
        if weight is None:
            x = F.avg_pool2d(x, 2)
        else:
            total = F.avg_pool2d(weight, 2)
            x = F.avg_pool2d(x * weight, 2) / total.clamp_min(1e-6)
            weight = total
        out.append((x, weight))
    return out


def pyramid_mse(x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None, levels: int = 3,
                level_weights: tuple[float, ...] | None = None) -> torch.Tensor:
    """The spatial pyramid loss of the Video Dynamics Prior: Σ_k w_k · masked MSE at pyramid level k.

    x, y (N, C, H, W); weight (N, 1, H, W) of trusted pixels or None. ``level_weights`` default
    to 1 at every level; ``levels=1`` is the plain (masked) MSE. Coarse levels average the noise
    of 4^k pixels away, so they pull toward the signal while the fine level fits detail.
    """
    level_weights = level_weights or (1.0,) * levels
    if len(level_weights) != levels:
        raise ValueError(f"{len(level_weights)} level weights for {levels} levels")
    total = x.new_zeros(())
    for (xs, ws), (ys, _), lw in zip(pyramid(x, weight, levels), pyramid(y, weight, levels), level_weights):
        total = total + lw * masked_mse(xs, ys, ws)
    return total
