"""Padding frames up to the size a network takes (its downsampling needs multiples of 2**levels)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pad_to(x: torch.Tensor, multiple: int, smallest: int = 0, mode: str = "reflect"
           ) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad (N, C, H, W) at the bottom/right up to multiples of ``multiple``, at least ``smallest``.

    mode: 'reflect' (replicate where the padding is not smaller than the side) or 'replicate'.
    Returns (padded, (H, W)) with the original size.
    """
    height, width = x.shape[-2:]
    ph, pw = max(-height % multiple, smallest - height), max(-width % multiple, smallest - width)
    if ph or pw:
        reflect = mode == "reflect" and ph < height and pw < width
        x = F.pad(x, (0, pw, 0, ph), mode="reflect" if reflect else "replicate")
    return x, (height, width)
