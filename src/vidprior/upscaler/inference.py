"""Running the upscaler over a video, one factor or a product of the factors it was trained for."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import VidpriorError
from ..fit import arithmetic
from ..nn.ensemble import flip_ensemble
from ..nn.recurrent import motion, restore_clip
from ..progress import Bar
from ..video import frames_to_tensor, tensor_to_frames
from .alignment import aligned
from .network import RecurrentUpscaler, Upscaler

PIXELS_PER_BATCH = 600_000  # output pixels enlarged at once


def passes(factor: int, trained: tuple[int, ...]) -> list[int]:
    """The trained factors whose product is ``factor``, largest first (one pass each).

    >>> passes(4, (2, 3, 4)), passes(6, (2, 3, 4)), passes(16, (2, 3, 4))
    ([4], [3, 2], [4, 4])
    """
    def split(rest: int) -> list[int] | None:
        if rest == 1:
            return []
        for s in sorted(trained, reverse=True):
            if rest % s == 0 and (tail := split(rest // s)) is not None:
                return [s, *tail]
        return None

    chain = split(factor)
    if chain is None:
        products = sorted({a * b for a in trained for b in trained} | set(trained))
        raise VidpriorError(f"x{factor}: the upscaler works at x{', x'.join(map(str, products))} and further "
                            "products of those; use --method lanczos for other factors")
    return chain


@torch.no_grad()
def upscale_pass(net: Upscaler | RecurrentUpscaler, frames: np.ndarray, factor: int, level: float,
                 device: torch.device, precision: str = "auto", views: int = 1, progress: bool = True) -> np.ndarray:
    """(T, h, w, 3) uint8 -> (T, h·s, w·s, 3) uint8 by one trained factor s; ``level``: the input's noise std;
    ``views``: flipped views averaged (`vidprior.nn.ensemble`). The recurrent network runs on whole windows
    of the clip (`vidprior.nn.recurrent.restore_clip`)."""
    if isinstance(net, RecurrentUpscaler):
        told = torch.full((1,), float(level), device=device)

        def restore(chunk: np.ndarray) -> torch.Tensor:
            with arithmetic(device, precision):
                return net(frames_to_tensor(chunk)[None].to(device), told, motion(chunk).to(device), factor)[0].cpu()

        with Bar(len(frames), f"upscale x{factor}", unit="frame", show=progress) as bar:
            return restore_clip(frames, restore, views, bar.update)
    count, h, w = frames.shape[:3]
    per_batch = max(1, PIXELS_PER_BATCH // (h * w * factor * factor))
    out = np.empty((count, h * factor, w * factor, 3), np.uint8)
    with Bar(count, f"upscale x{factor}", unit="frame", show=progress) as bar:
        for first in range(0, count, per_batch):
            chosen = range(first, min(first + per_batch, count))
            stacks = [aligned(frames, t) for t in chosen]
            x = torch.from_numpy(np.stack([s for s, _ in stacks])).div_(255).movedim(-1, -3).to(device)
            valid = torch.from_numpy(np.stack([v for _, v in stacks])).float()[:, :, None].to(device)
            with arithmetic(device, precision):
                told = torch.full((len(chosen),), float(level), device=device)
                big = flip_ensemble(lambda x, valid, told=told: net(x, valid, told, factor), views, x, valid)
            out[first: first + len(chosen)] = tensor_to_frames(big)
            bar.update(len(chosen))
    return out


def upscale_frames(net: Upscaler | RecurrentUpscaler, frames: np.ndarray, factor: int, level: float = 0.0,
                   device: torch.device | None = None, precision: str = "auto", views: int = 1,
                   progress: bool = True) -> np.ndarray:
    """(T, h, w, 3) uint8 -> (T, h·factor, w·factor, 3) uint8, in the passes of `passes` (the first told the
    input's noise std ``level``, later ones that their input is clean).

    Memory: the clip at each pass's size plus a few frames of activations (``PIXELS_PER_BATCH``).
    precision: 'auto' (bf16 where the device computes it natively), 'bf16' or 'fp32'. views: 1 to 4 flipped
    views averaged, for that many times the time.
    """
    device = device or torch.device("cpu")
    net = net.to(device).eval()
    for k, s in enumerate(passes(factor, net.config.factors)):
        frames = upscale_pass(net, frames, s, level if k == 0 else 0.0, device, precision, views, progress)
    return frames
