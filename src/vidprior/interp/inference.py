"""Running the interpolation network over a video: the frames between each pair of consecutive frames."""

from __future__ import annotations

import numpy as np
import torch

from ..fit import arithmetic
from ..inbetween import between_frames
from .network import Interpolator


@torch.no_grad()
def interpolate_frames(net: Interpolator, frames: np.ndarray, factor: int, device: torch.device | None = None,
                       precision: str = "auto", quadratic: bool = True, progress: bool = True) -> np.ndarray:
    """(t, H, W, 3) uint8 -> ((t-1)·factor+1, H, W, 3) uint8: the given frames at 0, k, 2k, ... and the
    network's frames at tau = 1/k .. (k-1)/k between each pair (`inbetween.between_frames`), on quadratic paths
    through the neighbouring frames or on straight ones.

    Memory: the output clip plus one pair's k-1 frames of activations. precision: 'auto' (bf16 convolutions
    where the device computes them natively; the splatting stays in float32), 'bf16' or 'fp32'. (Averaging
    the pair played backwards and mirrored, as test-time views, gained 0.01 dB on training clips for four
    times the time, so there is no such option.)
    """
    device = device or torch.device("cpu")
    net = net.to(device).eval()

    def synthesis(*inputs: torch.Tensor | None) -> torch.Tensor:
        with arithmetic(device, precision):
            return net(*inputs).float()

    return between_frames(frames, factor, synthesis, quadratic=quadratic, device=device, progress=progress)
