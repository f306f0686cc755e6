"""Optical flow, warping, the occlusion check and the smooth fill, on shifts with a known answer."""

from __future__ import annotations

import numpy as np
import torch
from synthetic import panning_clip

from vidprior import flow


def test_dis_flow_finds_a_known_shift_and_warp_undoes_it():
    a, b = panning_clip(frames=2, height=96, width=128, step=3)
    f = flow.dis_flow(a, b)  # content moves 3 px left from a to b
    assert np.abs(f[8:-8, 8:-8, 0] + 3).mean() < 0.05 and np.abs(f[8:-8, 8:-8, 1]).mean() < 0.05
    pulled = flow.warp_np(b.astype(np.float32), f)
    assert np.abs(pulled[:, :-8] - a[:, :-8]).mean() < 1.0


def test_torch_warp_matches_numpy_warp_and_integer_shifts_are_exact():
    image = np.random.default_rng(0).uniform(0, 1, (20, 30, 3)).astype(np.float32)
    shift = np.zeros((20, 30, 2), np.float32)
    shift[..., 0], shift[..., 1] = 2.0, -1.0
    warped = flow.warp(torch.from_numpy(image).permute(2, 0, 1)[None], flow.flow_to_tensor(shift))[0].permute(1, 2, 0)
    assert torch.allclose(warped[1:, :-2], torch.from_numpy(image[:-1, 2:]), atol=1e-5)
    assert np.allclose(warped.numpy(), flow.warp_np(image, shift), atol=1e-5)


def test_consistency_check_flags_disagreeing_flows():
    forward = np.full((10, 12, 2), 1.5, np.float32)
    assert flow.consistent(forward, -forward).all()
    assert not flow.consistent(forward, forward).any()


def test_fill_smooth_keeps_outside_and_reproduces_a_constant_field():
    field = np.full((30, 40, 2), 2.5, np.float32)
    field[..., 1] = -0.75
    region = np.zeros((30, 40), bool)
    region[8:20, 10:25] = True
    corrupted = field.copy()
    corrupted[region] = 99.0
    filled = flow.fill_smooth(corrupted, region)
    assert np.allclose(filled, field, atol=1e-4)
    ramp = np.tile(np.linspace(0, 10, 40, dtype=np.float32), (30, 1))[..., None]
    filled = flow.fill_smooth(np.where(region[..., None], 0, ramp), region)
    assert np.array_equal(filled[~region], ramp[~region])
    assert filled[region].min() > 2.0 and filled[region].max() < 7.0  # between the hole's borders
    assert np.array_equal(flow.fill_smooth(ramp, np.ones((30, 40), bool)), np.zeros_like(ramp))
