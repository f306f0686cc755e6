"""Each loss term on a case with a known answer."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vidprior.losses import Perceptual, flow_consistency, flow_reconstruction, masked_mse


def test_masked_mse_ignores_untrusted_pixels():
    x, y = torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4)
    y[..., :2, :] = 1.0
    weight = torch.zeros(1, 1, 4, 4)
    weight[..., 2:, :] = 1.0
    assert masked_mse(x, y, weight) == 0
    assert masked_mse(x, y) == pytest.approx(0.5)
    assert masked_mse(x, y, 1 - weight) == pytest.approx(0.5)  # mean over all pixels, not the trusted ones


def test_flow_reconstruction_is_scale_free():
    reference = torch.full((1, 2, 5, 5), 4.0)
    valid = torch.ones(1, 1, 5, 5)
    assert flow_reconstruction(reference, reference, valid, 4.0) == 0
    assert flow_reconstruction(reference * 0, reference, valid, 4.0) == pytest.approx(1.0)
    assert flow_reconstruction(reference * 0, reference * 10, valid, 40.0) == pytest.approx(1.0)


def _pattern(shift: int = 0) -> torch.Tensor:
    xs = torch.arange(16.0).view(1, 1, 1, 16).expand(1, 3, 12, 16)
    return torch.sin((xs + shift) * 0.7) * 0.5 + 0.5


def test_flow_consistency_is_zero_for_the_true_flow_and_not_for_a_wrong_one():
    frame, neighbour = _pattern(0), _pattern(2)  # neighbour(x) = frame(x + 2): flow is -2 px
    region = torch.ones(1, 1, 12, 16)
    true_flow = torch.zeros(1, 2, 12, 16)
    true_flow[:, 0] = -2.0
    assert flow_consistency(frame, neighbour, true_flow, region) < 1e-10
    assert flow_consistency(frame, neighbour, torch.zeros_like(true_flow), region) > 1e-2
    assert flow_consistency(frame, neighbour, torch.zeros_like(true_flow), region * 0) == 0


def test_flow_consistency_moves_the_neighbour_and_flow_but_not_the_frame():
    frame = _pattern(0).requires_grad_()
    neighbour = _pattern(1).requires_grad_()
    flow = torch.zeros(1, 2, 12, 16, requires_grad=True)
    flow_consistency(frame, neighbour, flow, torch.ones(1, 1, 12, 16)).backward()
    assert frame.grad is None or frame.grad.abs().sum() == 0
    assert neighbour.grad.abs().sum() > 0 and flow.grad.abs().sum() > 0


class _Identity(nn.Module):
    """A stand-in for VGG with the same receptive fields: 3 outputs at full, 1/2 and 1/4 size."""

    def forward(self, x):
        return [x, nn.functional.avg_pool2d(x, 2), nn.functional.avg_pool2d(x, 4)]


def test_perceptual_leaves_out_features_touched_by_the_hole():
    loss = Perceptual(_Identity())
    x, y = torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 32, 32)
    y[..., 10:14, 10:14] = 1.0  # the only difference lies inside the hole
    weight = torch.ones(1, 1, 32, 32)
    weight[..., 10:14, 10:14] = 0
    assert loss(x, y, weight) == 0
    assert loss(x, y, torch.ones_like(weight)) > 0
    maps = loss.feature_weights(weight)
    assert [m.shape[-1] for m in maps] == [32, 16, 8]
    assert maps[0][0, 0, 8, 12] == 0 and maps[0][0, 0, 20, 20] == 1  # eroded by the 2 convs' reach
