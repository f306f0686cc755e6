"""Training the interpolation network on frame sequences of clips, through the shared loop (`vidprior.fit`).

A step draws ``batch`` samples (`draw_sample`): a random clip, a gap of n = 2 to ``MAX_GAP`` frames, frames
i and i+n as input, frame i+j (0 < j < n) as the target at tau = j/n, and frames i-n and i+2n for the
quadratic paths (straight ones for a share ``STRAIGHT`` of the samples, as at the ends of a clip); a random
region zoomed out by ``MIN_ZOOM`` to ``MAX_ZOOM`` (854×480 frames seen at 500 to 250 pixels wide, the
benchmark's size, where DIS flow mostly holds and what is left to correct can be learnt), flips and time
reversal. The DIS flows between the crops are computed as the method computes them (`inbetween.frame_flow`).

The loss is the mean squared error of the target frame: with an L1-like loss (Charbonnier) the earlier
network learnt nothing in 300 steps, as each pixel's small texture errors outvote the few large ones at
occlusions, which are what it can correct; with MSE it gained 0.4 dB in 400. MSE alone blurs where the
answer is uncertain (LPIPS 0.050 against the classical blend's 0.044 on the benchmark), so ``perceptual``
adds that weight times the LPIPS distance (AlexNet, `vidprior.perceptual`). The stats give the PSNR of
the network and of the classical blend it starts from (`inbetween.splatted`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from pathlib import Path

import cv2
import numpy as np
import torch

from ..errors import VidpriorError
from ..fit import Objective, error_stats
from ..inbetween import frame_flow, splatted
from ..perceptual import lpips_model
from ..trainer import check_output, start, train_network
from ..training_clips import TrainingClip, load_training_clips
from ..video import tensor_to_frames
from .network import Interpolator, InterpolatorConfig
from .weights import load_interpolator

MIN_ZOOM, MAX_ZOOM = 1.7, 3.4  # 854×480 frames seen at 1/1.7 to 1/3.4 of their size (about 500 to 250 wide)
MAX_GAP = 4  # frames between the two inputs: 2 (x2 at the clip's rate) to 4 (x4)
STRAIGHT = 0.25  # share of samples given straight paths (no frame before or after), as at a clip's ends
VALIDATION_SEED = 4321
VALIDATION_DRAWS = 6


@dataclass
class Triplets:
    """a, b, target (N, 3, c, c) in [0, 1]; f01, f10 (N, 2, c, c) DIS flows in pixels; tau (N,); f0p, f12
    (N, 2, c, c) the flows from a to the frame before it and from b to the one after."""

    a: torch.Tensor
    b: torch.Tensor
    target: torch.Tensor
    f01: torch.Tensor
    f10: torch.Tensor
    tau: torch.Tensor
    f0p: torch.Tensor
    f12: torch.Tensor

    def to(self, device: torch.device) -> Triplets:
        return Triplets(*(getattr(self, k.name).to(device) for k in fields(self)))

    def inputs(self) -> tuple[torch.Tensor, ...]:
        return self.a, self.b, self.f01, self.f10, self.tau, self.f0p, self.f12


def triplets(frames: list[list[np.ndarray]], taus: list[float]) -> Triplets:
    """Stack samples [before, a, target, b, after] of uint8 (H, W, 3) frames (before and after None for straight
    paths) with their times; DIS flows between them."""
    def images(k: int) -> torch.Tensor:
        return torch.from_numpy(np.stack([f[k] for f in frames])).float().div(255).movedim(-1, -3)

    def dis(x: np.ndarray, y: np.ndarray) -> torch.Tensor:
        return frame_flow(x, y)[0]

    f01 = torch.stack([dis(f[1], f[3]) for f in frames])
    f10 = torch.stack([dis(f[3], f[1]) for f in frames])
    f0p = torch.stack([dis(f[1], f[0]) if f[0] is not None else -f01[i] for i, f in enumerate(frames)])
    f12 = torch.stack([dis(f[3], f[4]) if f[4] is not None else -f10[i] for i, f in enumerate(frames)])
    return Triplets(images(1), images(3), images(2), f01, f10, torch.tensor(taus, dtype=torch.float32), f0p, f12)


def _crop(clip: TrainingClip, rng: np.random.Generator, size: int) -> tuple[list[np.ndarray | None], float]:
    """Frames i-n, i, i+j, i+n, i+2n of ``clip`` (the outer two None for straight paths), a random region zoomed
    to size × size, and j/n."""
    t, h, w = clip.frames.shape[:3]
    n = int(rng.integers(2, max(2, min(MAX_GAP, (t - 1) // 3)) + 1))
    outer = 3 * n < t and rng.random() >= STRAIGHT
    j = int(rng.integers(1, n))
    top = min(MAX_ZOOM, h / size, w / size)
    zoom = float(np.exp(rng.uniform(np.log(min(MIN_ZOOM, top)), np.log(top))))
    side = max(size, int(round(size * zoom)))
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    first = int(rng.integers(n if outer else 0, t - (2 * n if outer else n)))
    frames = [clip.frames[first + k, y: y + side, x: x + side] if outer or k in (0, j, n) else None
              for k in (-n, 0, j, n, 2 * n)]
    frames = [cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) if f is not None and side != size else f
              for f in frames]
    if rng.random() < 0.5:
        frames = [f[:, ::-1] if f is not None else None for f in frames]
    if rng.random() < 0.5:
        frames, j = frames[::-1], n - j
    return [np.ascontiguousarray(f) if f is not None else None for f in frames], j / n


def draw_sample(clips: list[TrainingClip], batch: int, size: int) -> Triplets:
    """A batch of zoomed samples (random choices from torch's RNG)."""
    rng = np.random.default_rng(int(torch.randint(2**31, ()).item()))
    weights = np.array([len(c.frames) - 2 for c in clips], dtype=float)
    drawn = [_crop(clips[int(rng.choice(len(clips), p=weights / weights.sum()))], rng, size) for _ in range(batch)]
    return triplets([d[0] for d in drawn], [d[1] for d in drawn])


def usable_clips(folders: list[Path], size: int) -> list[TrainingClip]:
    clips = [c for c in load_training_clips(folders) if len(c.frames) >= 3 and min(c.frames.shape[1:3]) >= size]
    if not clips:
        raise VidpriorError(f"no clip of at least 3 frames and {size}×{size} pixels in "
                            f"{', '.join(map(str, folders))}")
    return clips


class InterpolatorTraining(Objective):
    """Squared error of the in-between frame over samples of ``clips``. render: for each triplet of the
    first validation batch, [classical blend | network | target], (N, c, 3c, 3) uint8."""

    def __init__(self, net: Interpolator, clips: list[TrainingClip], batch: int = 8, crop: int = 128,
                 perceptual: float = 0.0) -> None:
        super().__init__()
        if batch < 1 or crop < 32 or perceptual < 0:
            raise VidpriorError(f"batch={batch}, crop={crop}, perceptual={perceptual}: need batch >= 1, crop >= 32 "
                                "and perceptual >= 0")
        self.net, self.clips, self.batch, self.crop = net, clips, batch, crop
        self.perceptual = perceptual
        self.lpips = lpips_model("alex") if perceptual else None
        with torch.random.fork_rng():
            torch.manual_seed(VALIDATION_SEED)
            self.valid = [draw_sample(clips, batch, crop) for _ in range(VALIDATION_DRAWS)]
        self.history: list[dict[str, float]] = []

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        s = draw_sample(self.clips, self.batch, self.crop).to(next(self.net.parameters()).device)
        out = self.net(*s.inputs()).float()
        mse = (out - s.target).pow(2).mean()
        loss = mse if self.lpips is None else mse + self.perceptual * self.lpips(out.clamp(0, 1), s.target).mean()
        with torch.no_grad():
            base = splatted(*s.inputs()).blend
        stats = {**error_stats(float(mse.detach())),
                 "blend psnr": error_stats(float((base - s.target).pow(2).mean()))["psnr"]}
        self.history.append(stats)
        return loss, stats

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """PSNR of the network and of the classical blend on the fixed validation set (mean over batches)."""
        device = next(self.net.parameters()).device
        figures = []
        for s in (v.to(device) for v in self.valid):
            out = self.net(*s.inputs()).float().clamp(0, 1)
            figures.append({"psnr": error_stats(float((out - s.target).pow(2).mean()))["psnr"],
                            "blend psnr": error_stats(float((splatted(*s.inputs()).blend - s.target).pow(2).mean()))[
                                "psnr"]})
        return {key: float(np.mean([f[key] for f in figures])) for key in ("psnr", "blend psnr")}

    @torch.no_grad()
    def render(self) -> np.ndarray:
        s = self.valid[0].to(next(self.net.parameters()).device)
        out = self.net(*s.inputs()).float()
        return np.concatenate([tensor_to_frames(x) for x in (splatted(*s.inputs()).blend, out, s.target)], 2)

    def preview(self) -> np.ndarray:
        return self.render()[0]


def train_interpolator(data: list[Path], output: Path, *, budget: float, width: int = 32, crop: int = 128,
                       batch: int = 8, lr: float = 1e-3, perceptual: float = 0.0, steps: int = 1_000_000,
                       init: Path | None = None, run_dir: Path | None = None, resume: bool = False,
                       device: str = "auto", seed: int = 0, progress: bool = True) -> dict[str, float]:
    """Train an interpolation network (or continue the one in ``init``) on triplets of the clips in ``data``;
    write safetensors to ``output``. Returns figures for the report: steps, seconds, PSNR over the first and
    last 100 steps and on the validation set (network and classical blend). The weights' metadata adds up
    the steps and seconds of every training that led to them."""
    check_output(output, "interpolation")
    torch.manual_seed(seed)
    began = time.monotonic()
    clips = usable_clips(data, crop)
    begun = start(init, load_interpolator, lambda: Interpolator(InterpolatorConfig(width=width)))
    objective = InterpolatorTraining(begun.net, clips, batch=batch, crop=crop, perceptual=perceptual)
    return train_network(
        objective, begun, clips, name="interp", output=output, data=data,
        recipe=(f"width {begun.net.config.width}, crop {crop}, batch {batch}; gaps 2-{MAX_GAP} frames, zoom "
                f"{MIN_ZOOM}-{MAX_ZOOM}, straight paths {STRAIGHT}"
                + (f", LPIPS weight {perceptual:g}" if perceptual else "")),
        budget=budget, steps=steps, lr=lr, seed=seed, run_dir=run_dir, resume=resume, device=device,
        progress=progress, stats=("blend psnr",), began=began,
        describe=lambda v: (f"validation PSNR (crops {crop}): network {v['psnr']:.2f} dB, classical blend "
                            f"{v['blend psnr']:.2f} dB"))
