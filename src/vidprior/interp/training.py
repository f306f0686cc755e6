"""Training the interpolation network on frame triplets of clips, through the shared loop (`vidprior.fit`).

A step draws ``batch`` triplets (`draw_sample`): a random clip, a gap of n = 2 to ``MAX_GAP`` frames,
frames i and i+n as input and frame i+j (0 < j < n) as the target at tau = j/n, a random region
zoomed out by ``MIN_ZOOM`` to ``MAX_ZOOM`` (854×480 frames seen at 500 to 250 pixels wide, where DIS
flow mostly holds and what is left to correct can be learnt: at full size, gaps of 4 frames move
further than the flow can follow and the net learnt nothing in 800 steps), flips and time reversal.
The DIS flows between the two input crops are computed as the method computes them.

The loss is the mean squared error of the target frame: with an L1-like loss (Charbonnier) the net
learnt nothing in 300 steps, as each pixel's small texture errors outvote the few large ones at
occlusions, which are what it can correct; with MSE it gained 0.4 dB in 400. The stats give the PSNR
of the network and of the classical blend it starts from (`flow_blend`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from .. import flow
from ..errors import VidpriorError
from ..fit import Objective, error_stats
from ..trainer import check_output, start, train_network
from ..training_clips import TrainingClip, load_training_clips
from ..video import tensor_to_frames
from .network import Interpolator, InterpolatorConfig, flow_blend
from .weights import load_interpolator

MIN_ZOOM, MAX_ZOOM = 1.7, 3.4  # 854×480 frames seen at 1/1.7 to 1/3.4 of their size (about 500 to 250 wide)
MAX_GAP = 3  # frames between the two inputs: 2 (x2 at the clip's rate) or 3
VALIDATION_SEED = 4321
VALIDATION_DRAWS = 6


@dataclass
class Triplets:
    """a, b, target (N, 3, c, c) in [0, 1]; f01, f10 (N, 2, c, c) DIS flows in pixels; tau (N,)."""

    a: torch.Tensor
    b: torch.Tensor
    target: torch.Tensor
    f01: torch.Tensor
    f10: torch.Tensor
    tau: torch.Tensor

    def to(self, device: torch.device) -> Triplets:
        return Triplets(*(getattr(self, k).to(device) for k in ("a", "b", "target", "f01", "f10", "tau")))

    def inputs(self) -> tuple[torch.Tensor, ...]:
        return self.a, self.b, self.f01, self.f10, self.tau


def triplets(frames: list[np.ndarray], taus: list[float], flows: list[tuple[np.ndarray, np.ndarray]] | None = None
             ) -> Triplets:
    """Stack (a, target, b) uint8 (H, W, 3) triples with their times; flows computed by DIS unless given."""
    if flows is None:
        flows = [(flow.dis_flow(a, b), flow.dis_flow(b, a)) for a, _, b in frames]

    def images(k: int) -> torch.Tensor:
        return torch.from_numpy(np.stack([f[k] for f in frames])).float().div(255).movedim(-1, -3)

    def fields(k: int) -> torch.Tensor:
        return flow.flow_to_tensor(np.stack([f[k] for f in flows]))

    return Triplets(images(0), images(2), images(1), fields(0), fields(1), torch.tensor(taus, dtype=torch.float32))


def _crop(clip: TrainingClip, rng: np.random.Generator, size: int) -> tuple[list[np.ndarray], float]:
    """Frames i, i+j, i+n of ``clip`` as (a, target, b), a random region zoomed to size × size, and j/n."""
    t, h, w = clip.frames.shape[:3]
    n = int(rng.integers(2, min(MAX_GAP, t - 1) + 1))
    j = int(rng.integers(1, n))
    top = min(MAX_ZOOM, h / size, w / size)
    zoom = float(np.exp(rng.uniform(np.log(min(MIN_ZOOM, top)), np.log(top))))
    side = max(size, int(round(size * zoom)))
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    start = int(rng.integers(0, t - n))
    frames = [clip.frames[start + k, y: y + side, x: x + side] for k in (0, j, n)]
    if side != size:
        frames = [cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in frames]
    if rng.random() < 0.5:
        frames = [f[:, ::-1] for f in frames]
    if rng.random() < 0.5:
        frames, j = frames[::-1], n - j
    return [np.ascontiguousarray(f) for f in frames], j / n


def draw_sample(clips: list[TrainingClip], batch: int, size: int) -> Triplets:
    """A batch of zoomed triplets (random choices from torch's RNG)."""
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

    def __init__(self, net: Interpolator, clips: list[TrainingClip], batch: int = 8, crop: int = 128) -> None:
        super().__init__()
        if batch < 1 or crop < 32:
            raise VidpriorError(f"batch={batch}, crop={crop}: need batch >= 1 and crop >= 32")
        self.net, self.clips, self.batch, self.crop = net, clips, batch, crop
        with torch.random.fork_rng():
            torch.manual_seed(VALIDATION_SEED)
            self.valid = [draw_sample(clips, batch, crop) for _ in range(VALIDATION_DRAWS)]
        self.history: list[dict[str, float]] = []

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        s = draw_sample(self.clips, self.batch, self.crop).to(next(self.net.parameters()).device)
        out = self.net(*s.inputs()).float()
        loss = (out - s.target).pow(2).mean()
        with torch.no_grad():
            base = flow_blend(*s.inputs())
        stats = {**error_stats(float(loss.detach())),
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
                            "blend psnr": error_stats(float((flow_blend(*s.inputs()) - s.target).pow(2).mean()))[
                                "psnr"]})
        return {key: float(np.mean([f[key] for f in figures])) for key in ("psnr", "blend psnr")}

    @torch.no_grad()
    def render(self) -> np.ndarray:
        s = self.valid[0].to(next(self.net.parameters()).device)
        out = self.net(*s.inputs()).float()
        return np.concatenate([tensor_to_frames(x) for x in (flow_blend(*s.inputs()), out, s.target)], 2)

    def preview(self) -> np.ndarray:
        return self.render()[0]


def train_interpolator(data: list[Path], output: Path, *, budget: float, width: int = 32, crop: int = 128,
                       batch: int = 8, lr: float = 1e-3, steps: int = 1_000_000, init: Path | None = None,
                       run_dir: Path | None = None, resume: bool = False, device: str = "auto", seed: int = 0,
                       progress: bool = True) -> dict[str, float]:
    """Train an interpolation network (or continue the one in ``init``) on triplets of the clips in ``data``;
    write safetensors to ``output``. Returns figures for the report: steps, seconds, PSNR over the first and
    last 100 steps and on the validation set (network and classical blend). The weights' metadata adds up
    the steps and seconds of every training that led to them."""
    check_output(output, "interpolation")
    torch.manual_seed(seed)
    began = time.monotonic()
    clips = usable_clips(data, crop)
    begun = start(init, load_interpolator, lambda: Interpolator(InterpolatorConfig(width=width)))
    objective = InterpolatorTraining(begun.net, clips, batch=batch, crop=crop)
    return train_network(
        objective, begun, clips, name="interp", output=output, data=data,
        recipe=(f"width {begun.net.config.width}, crop {crop}, batch {batch}; gaps 2-{MAX_GAP} frames, zoom "
                f"{MIN_ZOOM}-{MAX_ZOOM}"),
        budget=budget, steps=steps, lr=lr, seed=seed, run_dir=run_dir, resume=resume, device=device,
        progress=progress, stats=("blend psnr",), began=began,
        describe=lambda v: (f"validation PSNR (crops {crop}): network {v['psnr']:.2f} dB, classical blend "
                            f"{v['blend psnr']:.2f} dB"))
