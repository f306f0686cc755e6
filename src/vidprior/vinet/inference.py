"""Inpainting a clip with a VINet in one pass.

The recurrence runs frame by frame over the clip (the runner's window; its context frames warm the
recurrence up). Each step sees the frames t-6, t-3, t+3, t+6 (mirrored at the ends) and its own
previous output; a source frame is encoded once and reused by every step that needs it, so memory
holds 13 frames' features, not the clip's. Known pixels are pasted back.
"""

from __future__ import annotations

import numpy as np
import torch

from ..nn.padding import pad_to
from ..progress import Bar
from ..video import frames_to_tensor, mirror, tensor_to_frames
from .network import MULTIPLE, Sources, Vinet

OFFSETS = (-6, -3, 3, 6)  # the neighbour frames of the paper (temporal stride 3)
WARMUP = 5  # frames run in reverse before the first one, to start the recurrence with memory


def to_signed(frames: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) uint8 → (T, 3, H, W) float in [-1, 1], the network's range."""
    return frames_to_tensor(frames) * 2 - 1


class SourceCache:
    """The source encoder's features of frames, computed when first asked for and dropped when far behind."""

    def __init__(self, net: Vinet, images: torch.Tensor, holes: torch.Tensor) -> None:
        self.net, self.images, self.holes = net, images, holes
        self.encoded: dict[int, Sources] = {}

    def get(self, indices: list[int]) -> Sources:
        """The frames ``indices`` as `Sources` (N = 1, S = len(indices))."""
        for i in indices:
            if i not in self.encoded:
                self.encoded[i] = self.net.encode_sources(self.images[i][None, None], self.holes[i][None, None])
        keep = set(indices)
        for i in [k for k in self.encoded if k not in keep and min(abs(k - j) for j in keep) > 6]:
            del self.encoded[i]
        return Sources.stack([self.encoded[i] for i in indices])


@torch.no_grad()
def inpaint_frames(net: Vinet, frames: np.ndarray, holes: np.ndarray, device: torch.device | None = None,
                   warmup: int = WARMUP, progress: bool = False) -> np.ndarray:
    """Fill ``holes`` (T, H, W) bool of ``frames`` (T, H, W, 3) uint8; known pixels come back unchanged."""
    device = device or torch.device("cpu")
    net = net.to(device).eval()
    count = len(frames)
    images, (height, width) = pad_to(to_signed(frames).to(device), MULTIPLE, mode="replicate")
    masks, _ = pad_to(torch.from_numpy(holes[:, None].astype(np.float32)).to(device), MULTIPLE, mode="replicate")
    cache = SourceCache(net, images, masks)
    lead = min(warmup, count - 1)
    order = list(range(lead, 0, -1)) + list(range(count))
    out = torch.empty_like(images)
    previous, state = None, None
    bar = Bar(len(order), "vinet", unit="frame", show=progress)
    for step, t in enumerate(order):
        neighbours = cache.get([mirror(t + d, count) for d in OFFSETS])
        hole = masks[t][None]
        result = net(images[t][None], hole, neighbours, previous, state)
        previous = torch.where(hole > 0, result.image, images[t][None])
        state = result.state
        if step >= lead:
            out[t] = previous[0]
        bar.update()
    bar.close()
    filled = tensor_to_frames((out[..., :height, :width] + 1) / 2)
    return np.where(holes[..., None], filled, frames)
