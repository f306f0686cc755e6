"""Optical flow with no downloaded weights (OpenCV DIS), backward warping and occlusion checks.

Flow convention: ``flow[y, x] = (dx, dy)`` maps a pixel of the *reference* frame to where it is
in the *target* frame, so ``warp(target, flow)`` pulls the target back onto the reference grid.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}

SMALLEST = 16  # sides below this are padded for DIS (under 12 it refuses them or crashes)


def _gray(frame: np.ndarray) -> np.ndarray:
    if frame.dtype != np.uint8:
        frame = np.clip(np.asarray(frame, np.float32) * (255.0 if frame.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if frame.ndim == 3 else frame


def dis_flow(reference: np.ndarray, target: np.ndarray, preset: str = "medium", refine: bool = True,
             finest: int | None = None) -> np.ndarray:
    """Dense flow (H, W, 2) float32 from ``reference`` to ``target`` (uint8 RGB or gray frames).

    ``refine`` adds OpenCV's variational refinement (about twice the time, ~2x lower error). ``finest``: the
    finest pyramid level DIS matches patches at (0: full size; default the preset's, 1 for medium: half size).
    Sides under ``SMALLEST`` pixels are edge-padded for it.
    """
    dis = cv2.DISOpticalFlow_create(_PRESETS[preset])
    dis.setUseSpatialPropagation(True)
    if finest is not None:
        dis.setFinestScale(finest)
    if not refine:
        dis.setVariationalRefinementIterations(0)
    a, b = _gray(reference), _gray(target)
    h, w = a.shape
    if min(h, w) < SMALLEST:
        pad = ((0, max(0, SMALLEST - h)), (0, max(0, SMALLEST - w)))
        return dis.calc(np.pad(a, pad, mode="edge"), np.pad(b, pad, mode="edge"), None)[:h, :w]
    return dis.calc(a, b, None)


def warp(image: torch.Tensor, flow: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """Backward-warp ``image`` (N, C, H, W) with ``flow`` (N, 2, H, W) in pixels; border replicated."""
    n, _, h, w = image.shape
    ys, xs = torch.meshgrid(
        torch.arange(h, device=image.device, dtype=flow.dtype),
        torch.arange(w, device=image.device, dtype=flow.dtype),
        indexing="ij",
    )
    x = (xs + flow[:, 0]) * (2.0 / max(w - 1, 1)) - 1.0
    y = (ys + flow[:, 1]) * (2.0 / max(h - 1, 1)) - 1.0
    grid = torch.stack((x, y), dim=-1)
    return F.grid_sample(image, grid.to(image.dtype), mode=mode, padding_mode="border", align_corners=True)


def warp_np(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward-warp one (H, W, C) or (H, W) array with a (H, W, 2) flow; same dtype back."""
    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def flow_to_tensor(flow: np.ndarray) -> torch.Tensor:
    """(H, W, 2) or (N, H, W, 2) numpy -> (N, 2, H, W) float32 tensor."""
    t = torch.from_numpy(np.ascontiguousarray(flow)).float()
    return (t[None] if t.ndim == 3 else t).permute(0, 3, 1, 2)


def consistent(forward: np.ndarray, backward: np.ndarray, alpha: float = 0.01, beta: float = 0.5) -> np.ndarray:
    """Forward-backward check: True (H, W) where following ``forward`` then ``backward`` returns home.

    A pixel is kept when |f + b(x + f)|^2 < alpha (|f|^2 + |b(x + f)|^2) + beta (Sundaram et al. 2010).
    """
    back = warp_np(backward, forward)
    error = np.sum((forward + back) ** 2, axis=-1)
    bound = alpha * (np.sum(forward**2, axis=-1) + np.sum(back**2, axis=-1)) + beta
    return error < bound


def consistency(forward: torch.Tensor, backward: torch.Tensor, alpha: float = 0.01, beta: float = 0.5
                ) -> torch.Tensor:
    """`consistent` for flows (N, 2, H, W) in torch: 1.0 (N, 1, H, W) where the check passes, else 0.0."""
    back = warp(backward, forward)
    error = (forward + back).pow(2).sum(1, keepdim=True)
    bound = alpha * (forward.pow(2).sum(1, keepdim=True) + back.pow(2).sum(1, keepdim=True)) + beta
    return (error < bound).to(forward.dtype)


def fill_smooth(field: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Replace ``field`` (H, W, C) float inside ``region`` (H, W) bool by a smooth fill from outside.

    Normalised convolution at growing Gaussian widths: each missing pixel takes the weighted mean of
    the known values around it at the smallest width that reaches any. (OpenCV's ``inpaint`` is not
    used for this: it mangles float fields with positive fractional values.)
    """
    if not region.any():
        return field
    if region.all():
        return np.zeros_like(field)
    known = (~region).astype(np.float32)
    values = np.where(region[..., None], 0.0, field).astype(np.float32)
    out = values.copy()
    todo = region.copy()
    sigma = 1.0
    while todo.any():
        weight = cv2.GaussianBlur(known, (0, 0), sigma)
        mean = cv2.GaussianBlur(values, (0, 0), sigma).reshape(field.shape) / np.maximum(weight, 1e-12)[..., None]
        reached = todo & (weight > 1e-3)
        out[reached] = mean[reached]
        todo &= ~reached
        sigma *= 2
    return out.astype(field.dtype)


def camera_motion(field: np.ndarray, known: np.ndarray, samples: int = 2000) -> np.ndarray | None:
    """Homography (3, 3) from one frame's (x, y) to another's, fitted by RANSAC on the flow ``field`` (H, W, 2)
    between them where ``known`` (H, W) is True; None when it cannot be fitted."""
    ys, xs = np.nonzero(known)
    if len(ys) < 16:
        return None
    pick = np.linspace(0, len(ys) - 1, min(samples, len(ys))).astype(int)
    a = np.stack([xs[pick], ys[pick]], 1).astype(np.float32)
    matrix, _ = cv2.findHomography(a, a + field[ys[pick], xs[pick]], cv2.RANSAC, 1.0)
    return matrix


def fill_camera(field: np.ndarray, region: np.ndarray, decay: float = 16.0) -> np.ndarray:
    """Replace ``field`` (H, W, 2) inside ``region`` (H, W) by the camera's motion (`camera_motion`, fitted
    outside it) plus the smooth fill of what the field differs from it by, faded out with the distance d
    from the region's border as exp(-d / ``decay``): near the border the local flow, deep inside the camera's.
    Without a fit, the plain smooth fill (`fill_smooth`)."""
    matrix = camera_motion(field, ~region, 4000) if region.any() else None
    if matrix is None:
        return fill_smooth(field, region)
    h, w = region.shape
    grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)), -1)
    camera = cv2.perspectiveTransform(grid.reshape(-1, 1, 2).astype(np.float64), matrix).reshape(h, w, 2) - grid
    rest = fill_smooth((field - camera).astype(np.float32), region)
    depth = cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, 5)
    out = field.copy()
    out[region] = (camera + np.exp(-depth / decay)[..., None] * rest)[region]
    return out
