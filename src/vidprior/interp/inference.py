"""Running the interpolation network over a video: the frames between each pair of consecutive frames."""

from __future__ import annotations

import numpy as np
import torch

from .. import flow
from ..fit import arithmetic
from ..progress import Bar
from ..video import frames_to_tensor, tensor_to_frames
from .network import Interpolator


def pair_flows(a: np.ndarray, b: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """DIS flows a -> b and b -> a of two (H, W, 3) uint8 frames, each (1, 2, H, W)."""
    return flow.flow_to_tensor(flow.dis_flow(a, b)), flow.flow_to_tensor(flow.dis_flow(b, a))


@torch.no_grad()
def interpolate_frames(net: Interpolator, frames: np.ndarray, factor: int, device: torch.device | None = None,
                       precision: str = "auto", progress: bool = True) -> np.ndarray:
    """(t, H, W, 3) uint8 -> ((t-1)·factor+1, H, W, 3) uint8: the given frames at 0, k, 2k, ... and the
    network's frames at tau = 1/k .. (k-1)/k between each pair.

    Memory: the output clip plus one pair's k-1 frames of activations. precision: 'auto' (bf16 convolutions
    where the device computes them natively; the warps stay in float32), 'bf16' or 'fp32'.
    """
    device = device or torch.device("cpu")
    net = net.to(device).eval()
    count, h, w = frames.shape[:3]
    out = np.empty(((count - 1) * factor + 1, h, w, 3), np.uint8)
    out[::factor] = frames
    taus = torch.arange(1, factor, dtype=torch.float32, device=device) / factor
    with Bar(count - 1, "interpolate", unit="pair", show=progress) as bar:
        for i in range(count - 1):
            f01, f10 = (f.to(device).expand(factor - 1, -1, -1, -1) for f in pair_flows(frames[i], frames[i + 1]))
            a, b = (frames_to_tensor(frames[j: j + 1]).to(device).expand(factor - 1, -1, -1, -1) for j in (i, i + 1))
            with arithmetic(device, precision):
                between = net(a, b, f01, f10, taus).float()
            out[i * factor + 1: (i + 1) * factor] = tensor_to_frames(between)
            bar.update()
    return out
