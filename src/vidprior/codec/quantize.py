"""Magnitude pruning and uniform quantisation of tensors, per tensor or per channel.

A quantised tensor is integer symbols ``q`` in [0, 2**bits) with ``value = offset + q * scale``
(scale and offset per tensor, or per slice along axis 0). Symmetric quantisation puts zero
exactly on the grid (pruned weights stay exactly zero and cost almost nothing after entropy
coding); affine quantisation spans [min, max] (better for embeddings that are not centred).
Either way the error of every value is at most half a step (`Quantized.max_error`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import VidpriorError

MAX_BITS = 16


@dataclass
class Quantized:
    """symbols: int array of the tensor's shape; scale/offset: float32 (1,) or (shape[0],)."""

    symbols: np.ndarray
    bits: int
    scale: np.ndarray
    offset: np.ndarray

    @property
    def per_channel(self) -> bool:
        return self.scale.size > 1

    def _broadcast(self, x: np.ndarray) -> np.ndarray:
        return x.reshape(-1, *([1] * (self.symbols.ndim - 1))) if self.per_channel else x.reshape(())

    def values(self) -> np.ndarray:
        """The dequantised tensor, float32."""
        scale, offset = self._broadcast(self.scale), self._broadcast(self.offset)
        return (offset + self.symbols.astype(np.float32) * scale).astype(np.float32)

    @property
    def max_error(self) -> float:
        """The largest possible |value - original| for values inside the quantiser's range."""
        return float(self.scale.max()) / 2


def quantize(x: np.ndarray, bits: int, per_channel: bool = False, symmetric: bool = False) -> Quantized:
    """Quantise ``x`` (any shape, float) to ``bits`` bits; see the module notes."""
    if not 1 <= bits <= MAX_BITS:
        raise VidpriorError(f"{bits}-bit quantisation is not supported; give 1 to {MAX_BITS} bits")
    x = np.asarray(x, dtype=np.float32)
    rows = x.reshape(x.shape[0], -1) if per_channel and x.ndim > 1 else x.reshape(1, -1)
    levels = 2**bits - 1
    if rows.size == 0:
        return Quantized(np.zeros(x.shape, np.int32), bits, np.ones(1, np.float32), np.zeros(1, np.float32))
    if symmetric:
        zero = max(levels // 2, 1)  # the symbol of 0.0
        scale = np.abs(rows).max(axis=1) / zero
        scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
        offset = (-(zero * scale)).astype(np.float32)
    else:
        low, high = rows.min(axis=1), rows.max(axis=1)
        scale = np.where(high > low, (high - low) / levels, 1.0).astype(np.float32)
        offset = low.astype(np.float32)
    q = np.clip(np.round((rows - offset[:, None]) / scale[:, None]), 0, levels).astype(np.int32)
    return Quantized(q.reshape(x.shape), bits, scale, offset)


def quantize_best(x: np.ndarray, bits: int, symmetric: bool = False) -> Quantized:
    """Per tensor or per channel (axis 0), whichever reconstructs ``x`` with the lower squared error."""
    x = np.asarray(x, dtype=np.float32)
    whole = quantize(x, bits, per_channel=False, symmetric=symmetric)
    if x.ndim < 2 or x.shape[0] < 2:
        return whole
    channels = quantize(x, bits, per_channel=True, symmetric=symmetric)
    error = lambda q: float(((q.values() - x) ** 2).sum())  # noqa: E731
    return channels if error(channels) < error(whole) else whole


def magnitude_masks(tensors: dict[str, torch.Tensor], ratio: float) -> dict[str, torch.Tensor]:
    """Global magnitude pruning: bool masks keeping all but the ``ratio`` smallest |values| of all tensors."""
    if not 0 <= ratio < 1:
        raise VidpriorError(f"pruning ratio {ratio} must be in [0, 1), e.g. 0.2")
    if ratio == 0 or not tensors:
        return {k: torch.ones_like(v, dtype=torch.bool) for k, v in tensors.items()}
    magnitudes = torch.cat([v.detach().abs().flatten() for v in tensors.values()])
    count = int(ratio * magnitudes.numel())
    threshold = magnitudes.kthvalue(count).values if count else magnitudes.min() - 1
    return {k: v.detach().abs() > threshold for k, v in tensors.items()}
