"""The mask-propagation network as the carrying's refine step (`vidprior.carry.Refine`), as trained or fitted to
the video's painted keyframes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from .. import flow
from ..video import iter_frames
from .adaptation import adapt
from .data import working_size
from .network import MaskProp
from .weights import load_maskprop


def _image(x: np.ndarray) -> torch.Tensor:
    """(h, w, 3) uint8 -> (1, 3, h, w) float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(x)).float().div(255).permute(2, 0, 1)[None]


def _mask(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None, None]


class Refiner:
    """Decides a carried mask with ``net`` on ``device``: called as `vidprior.carry.Refine`."""

    def __init__(self, net: MaskProp, device: torch.device | str = "cpu") -> None:
        self.net, self.device = net.eval().to(device), torch.device(device)

    @torch.no_grad()
    def __call__(self, frame: np.ndarray, previous_frame: np.ndarray, field: np.ndarray, carried: np.ndarray,
                 previous: np.ndarray) -> np.ndarray:
        warped = flow.warp_np(previous_frame, field)
        inputs = [_image(frame), _image(previous_frame), _image(warped), _mask(carried), _mask(previous)]
        logits = self.net(*(x.to(self.device) for x in inputs))
        return torch.sigmoid(logits)[0, 0].float().cpu().numpy()


def keyframe_pairs(video: Path, keyframes: dict[int, np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(frame (h, w, 3) uint8, mask (h, w) bool)] of the painted ``keyframes`` {t: (H, W) bool} of ``video``, at
    the carrying size."""
    out = []
    for t in sorted(keyframes):
        frame = next(iter_frames(video, t, 1))
        h, w = working_size(frame.shape[:2])
        mask = keyframes[t]
        if (h, w) != frame.shape[:2]:
            frame = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
            mask = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) > 0.5
        out.append((frame, mask))
    return out


def refiner(video: Path, keyframes: dict[int, np.ndarray], weights: Path | None = None, adapt_steps: int = 0,
            device: str = "cpu") -> Refiner:
    """The refine step for carrying ``keyframes`` through ``video``: the network of ``weights`` (default: the
    shipped one), fine-tuned on the keyframes for ``adapt_steps`` steps when positive (`adaptation.adapt`; seeded,
    so the same keyframes give the same masks)."""
    net, _ = load_maskprop(weights)
    if adapt_steps > 0:
        net = adapt(net.to(device), keyframe_pairs(video, keyframes), steps=adapt_steps)
    return Refiner(net, device)
