"""Running the denoiser over a video: the window network on each frame with its two neighbours on each side,
the recurrent one on whole windows of the clip (`vidprior.nn.recurrent.restore_clip`)."""

from __future__ import annotations

import numpy as np
import torch

from ..fit import arithmetic
from ..nn.ensemble import flip_ensemble
from ..nn.recurrent import restore_clip
from ..progress import Bar
from ..video import frames_to_tensor, mirror, tensor_to_frames
from .network import FRAMES, Denoiser, RecurrentDenoiser

PIXELS_PER_BATCH = 1_200_000  # frames denoised at once: about four 256×144 frames' worth of activations


def stack(frames: torch.Tensor, t: int) -> torch.Tensor:
    """The network's input for frame ``t`` of ``frames`` (T, 3, h, w): frames t-2 .. t+2, mirrored at the
    clip's ends (…, t+1, t, t+1, …), as (5, 3, h, w).

    >>> stack(torch.arange(3.0).view(3, 1, 1, 1).expand(3, 3, 1, 1), 0)[:, 0, 0, 0]
    tensor([2., 1., 0., 1., 2.])
    """
    count = len(frames)
    return frames[[mirror(t + d, count) for d in range(-(FRAMES // 2), FRAMES // 2 + 1)]]


@torch.no_grad()
def denoise_frames(net: Denoiser | RecurrentDenoiser, frames: np.ndarray, level: float,
                   device: torch.device | None = None, precision: str = "auto", views: int = 1,
                   progress: bool = True) -> np.ndarray:
    """Denoise (T, H, W, 3) uint8 frames whose noise std (0-255) is ``level``; same shape back.

    Memory: the window network holds the clip in float plus the activations of a few frames
    (``PIXELS_PER_BATCH``); the recurrent one a window of frames of a fixed number of pixels, whatever the
    clip's length. precision: 'auto' (bf16 where the CPU or GPU computes it natively), 'bf16' or 'fp32'.
    views: 1 to 4 flipped views averaged (`vidprior.nn.ensemble`), for that many times the time.
    """
    device = device or torch.device("cpu")
    net = net.to(device).eval()
    if isinstance(net, RecurrentDenoiser):
        told = torch.full((1,), float(level), device=device)

        def restore(chunk: np.ndarray) -> torch.Tensor:
            with arithmetic(device, precision):
                return net(frames_to_tensor(chunk)[None].to(device), told)[0].cpu()

        with Bar(len(frames), "denoise", unit="frame", show=progress) as bar:
            return restore_clip(frames, restore, views, bar.update)
    x = frames_to_tensor(frames)
    count, _, h, w = x.shape
    per_batch = max(1, PIXELS_PER_BATCH // (h * w))
    out = []
    bar = Bar(count, "denoise", unit="frame", show=progress)
    for first in range(0, count, per_batch):
        chosen = range(first, min(first + per_batch, count))
        batch = torch.stack([stack(x, t) for t in chosen]).to(device)
        with arithmetic(device, precision):
            told = torch.full((len(chosen),), float(level), device=device)
            clean = flip_ensemble(lambda b, told=told: net(b, told), views, batch)
        out.append(tensor_to_frames(clean.cpu()))
        bar.update(len(chosen))
    bar.close()
    return np.concatenate(out)
