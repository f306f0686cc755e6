"""Tasks as observation models, and the synthetic degradations used to evaluate them.

Every task is a `Problem`: the observed frames ``y``, which of their pixels are trusted, and an
operator ``A`` so that ``y ≈ A(x)`` for the clean video ``x`` we look for:

=============  ==============================  ===========================  =====================
task           target x                        A(x)                         trusted pixels
=============  ==============================  ===========================  =====================
inpaint        same size                       identity                     outside the mask
denoise        same size                       identity                     all
interpolate    (T-1)·k+1 frames                frames 0, k, 2k, ...         the picked frames
upscale        H·s × W·s                       antialiased bicubic ÷ s      all
fit            same size                       identity                     all
=============  ==============================  ===========================  =====================

Methods see only a `Problem`, never the task name's special cases, so methods and tasks combine
freely. `Problem.finalize` pastes the observed pixels back where they are known exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .errors import VidpriorError
from .video import frames_to_tensor, tensor_to_frames

TASKS = ("inpaint", "denoise", "interpolate", "upscale", "fit")
MAX_FACTOR = 16


@dataclass
class Problem:
    """An observed clip and how it relates to the clean clip we look for.

    observed: (t, h, w, 3) uint8, the user's frames.
    hole: (t, h, w) bool, True where a pixel is unknown (inpaint only), else None.
    factor: k for interpolate, s for upscale, 1 otherwise.
    sigma: noise standard deviation on the 0-255 scale when known (denoise), else None.
    """

    task: str
    observed: np.ndarray
    hole: np.ndarray | None = None
    factor: int = 1
    sigma: float | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise VidpriorError(f"unknown task '{self.task}'; choose one of {', '.join(TASKS)}")
        if self.task in ("interpolate", "upscale"):
            check_factor(self.factor, "--factor" if self.task == "interpolate" else "--scale")
        elif self.factor != 1:
            raise ValueError(f"task {self.task} takes no factor")
        if self.hole is not None and self.hole.shape != self.observed.shape[:3]:
            raise ValueError(f"hole {self.hole.shape} does not match frames {self.observed.shape[:3]}")
        if self.task == "inpaint" and self.hole is None:
            raise ValueError("inpaint needs a hole mask")

    @property
    def target_shape(self) -> tuple[int, int, int]:
        """(T, H, W) of the clean clip."""
        t, h, w = self.observed.shape[:3]
        if self.task == "interpolate":
            return (t - 1) * self.factor + 1, h, w
        if self.task == "upscale":
            return t, h * self.factor, w * self.factor
        return t, h, w

    @property
    def observed_index(self) -> np.ndarray:
        """Index into the target clip of each observed frame, (t,)."""
        step = self.factor if self.task == "interpolate" else 1
        return np.arange(self.observed.shape[0]) * step

    def y(self) -> torch.Tensor:
        """Observed frames as float (t, 3, h, w) in [0, 1]."""
        return frames_to_tensor(self.observed)

    def weights(self) -> torch.Tensor:
        """Trust of each observed pixel, float (t, 1, h, w): 1 known, 0 unknown."""
        t, h, w = self.observed.shape[:3]
        if self.hole is None:
            return torch.ones(t, 1, h, w)
        return torch.from_numpy(~self.hole).float()[:, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The observation operator A: clean (T, 3, H, W) -> observed space (t, 3, h, w)."""
        if self.task == "interpolate":
            x = x[torch.as_tensor(self.observed_index, device=x.device)]
        return self.observe_frames(x)

    def observe_frames(self, x: torch.Tensor) -> torch.Tensor:
        """A's per-frame part, for clean frames (N, 3, H, W) taken at observed times -> (N, 3, h, w)."""
        return downscale(x, self.factor) if self.task == "upscale" else x

    def finalize(self, x: np.ndarray) -> np.ndarray:
        """Paste the exactly known pixels of the observation into a result (T, H, W, 3) uint8."""
        if x.shape[:3] != self.target_shape:
            raise ValueError(f"result {x.shape[:3]} does not match the target {self.target_shape}")
        x = x.copy()
        if self.task == "inpaint":
            keep = ~self.hole
            x[keep] = self.observed[keep]
        elif self.task == "interpolate":
            x[self.observed_index] = self.observed
        return x


def check_factor(factor: int, flag: str) -> int:
    if not isinstance(factor, int | np.integer) or not 2 <= factor <= MAX_FACTOR:
        raise VidpriorError(f"{flag} {factor} is not supported; give a whole number from 2 to {MAX_FACTOR}")
    return int(factor)


# ------------------------------------------------------------------------------ synthetic degradations


def downscale(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Antialiased bicubic downscaling of (N, C, H, W) by an integer factor (the SR convention)."""
    h, w = x.shape[-2] // factor, x.shape[-1] // factor
    return F.interpolate(x, size=(h, w), mode="bicubic", antialias=True, align_corners=False)


def downscale_frames(frames: np.ndarray, factor: int) -> np.ndarray:
    """uint8 (T, H, W, 3) -> uint8 (T, H//s, W//s, 3), antialiased bicubic (sizes cropped to a multiple)."""
    h, w = (frames.shape[1] // factor) * factor, (frames.shape[2] // factor) * factor
    return tensor_to_frames(downscale(frames_to_tensor(frames[:, :h, :w]), factor))


def add_gaussian_noise(frames: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """Add white Gaussian noise of std ``sigma`` (0-255 scale); result rounded and clipped to uint8."""
    rng = np.random.default_rng(seed)
    noisy = frames.astype(np.float32) + rng.normal(0.0, sigma, frames.shape).astype(np.float32)
    return np.clip(np.round(noisy), 0, 255).astype(np.uint8)


def add_poisson_noise(frames: np.ndarray, peak: float, seed: int = 0) -> np.ndarray:
    """Shot noise: a pixel of value v becomes Poisson(v/255 · peak) · 255/peak (lower peak = noisier)."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(frames.astype(np.float64) / 255.0 * peak)
    return np.clip(np.round(counts * (255.0 / peak)), 0, 255).astype(np.uint8)


def drop_frames(frames: np.ndarray, factor: int) -> np.ndarray:
    """Keep frames 0, k, 2k, ...; the clip is first cut so that its last frame is kept."""
    usable = (frames.shape[0] - 1) // factor * factor + 1
    return frames[:usable:factor]


def moving_masks(shapes: np.ndarray, size: tuple[int, int], frames: int, seed: int = 0,
                 coverage: float = 0.08) -> np.ndarray:
    """Object-shaped holes that move: masks of another clip, rescaled, placed and drifted.

    shapes: (t, h, w) bool object masks from some clip (looped if shorter than ``frames``).
    Returns (frames, H, W) bool with about ``coverage`` of each frame covered.
    """
    rng = np.random.default_rng(seed)
    height, width = size
    shapes = shapes[np.arange(frames) % shapes.shape[0]]
    ys, xs = np.nonzero(shapes.any(axis=0))
    if ys.size == 0:
        raise ValueError("the shape masks are empty")
    crop = shapes[:, ys.min(): ys.max() + 1, xs.min(): xs.max() + 1].astype(np.float32)
    area = crop.mean(axis=0).sum() or 1.0
    scale = min(np.sqrt(coverage * height * width / area), 0.6 * height / crop.shape[1], 0.6 * width / crop.shape[2])
    ch, cw = max(2, round(crop.shape[1] * scale)), max(2, round(crop.shape[2] * scale))
    crop_t = F.interpolate(torch.from_numpy(crop)[:, None], size=(ch, cw), mode="bilinear", align_corners=False)
    crop = crop_t[:, 0].numpy() > 0.5
    start = np.array([rng.uniform(0, height - ch), rng.uniform(0, width - cw)])
    end = np.array([rng.uniform(0, height - ch), rng.uniform(0, width - cw)])
    out = np.zeros((frames, height, width), dtype=bool)
    for t in range(frames):
        y, x = np.round(start + (end - start) * t / max(frames - 1, 1)).astype(int)
        out[t, y: y + ch, x: x + cw] = crop[t]
    return out


def stroke_masks(size: tuple[int, int], frames: int, seed: int = 0, strokes: int = 4, coverage: float = 0.08,
                 speed: float = 2.0) -> np.ndarray:
    """Free-form brush-stroke holes (random polylines of random width) drifting at up to ``speed`` px/frame.

    Returns (frames, H, W) bool; the strokes are drawn until about ``coverage`` of a frame is covered
    (at least ``strokes`` of them), then the whole drawing moves with one velocity (0 = static holes).
    """
    import cv2

    rng = np.random.default_rng(seed)
    height, width = size
    pad = int(np.ceil(speed * frames)) + 1
    canvas = np.zeros((height + 2 * pad, width + 2 * pad), np.uint8)
    drawn = 0
    while drawn < strokes or canvas[pad:-pad, pad:-pad].mean() < coverage * 255:
        points = [np.array([rng.uniform(0, width), rng.uniform(0, height)])]
        for _ in range(rng.integers(2, 6)):
            angle, length = rng.uniform(0, 2 * np.pi), rng.uniform(0.05, 0.25) * max(height, width)
            points.append(np.clip(points[-1] + length * np.array([np.cos(angle), np.sin(angle)]), 0,
                                  [width - 1, height - 1]))
        thickness = int(rng.integers(max(2, height // 40), max(3, height // 12)))
        cv2.polylines(canvas, [np.round(np.array(points) + pad).astype(np.int32)], False, 255, thickness)
        drawn += 1
        if drawn > 200:
            break
    velocity = rng.uniform(-speed, speed, size=2)
    out = np.zeros((frames, height, width), dtype=bool)
    for t in range(frames):
        dx, dy = np.round(velocity * t).astype(int)
        out[t] = canvas[pad - dy: pad - dy + height, pad - dx: pad - dx + width] > 0
    return out
