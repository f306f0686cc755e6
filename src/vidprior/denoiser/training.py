"""Training the denoiser on clean clips with synthetic noise, through the shared loop (`vidprior.fit`).

A step draws ``batch`` crops of five consecutive frames (`draw_sample`): a random clip, a random
place, a random zoom (each crop is a region up to ``MAX_ZOOM`` times larger, area-downscaled, so the
network sees 854×480 detail and 256×144 detail alike), flips and time reversal, then noise of a
random kind and level (`noise`). The loss is the mean squared error of the middle frame; the stats
give its PSNR and the noisy input's. A fixed validation set (other crops, same clips) measures both
at the end.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from ..errors import VidpriorError
from ..fit import Objective, error_stats
from ..trainer import check_output, start, train_network
from ..training_clips import TrainingClip, load_training_clips
from ..video import tensor_to_frames
from .network import FRAMES, Denoiser, DenoiserConfig
from .noise import KIND_SHARES, KINDS, add_noise
from .weights import load_denoiser

MAX_ZOOM = 3.4  # 854×480 frames seen at down to 1/3.4 of their size (about 256×144)
VALIDATION_SEED = 4321
VALIDATION_DRAWS = 6


@dataclass
class Sample:
    """noisy (N, 5, 3, c, c) and clean (N, 3, c, c) in [0, 1]; level (N,) the noise std told the network."""

    noisy: torch.Tensor
    clean: torch.Tensor
    level: torch.Tensor

    def to(self, device: torch.device) -> Sample:
        return Sample(self.noisy.to(device), self.clean.to(device), self.level.to(device))


def _crop(clip: TrainingClip, rng: np.random.Generator, size: int) -> np.ndarray:
    """Five consecutive frames of ``clip``, a random region zoomed to (5, size, size, 3) uint8."""
    t, h, w = clip.frames.shape[:3]
    zoom = float(np.exp(rng.uniform(0.0, np.log(min(MAX_ZOOM, h / size, w / size)))))
    side = max(size, int(round(size * zoom)))
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    start = int(rng.integers(0, t - FRAMES + 1))
    frames = clip.frames[start: start + FRAMES, y: y + side, x: x + side]
    if side != size:
        frames = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in frames])
    if rng.random() < 0.5:
        frames = frames[:, :, ::-1]
    if rng.random() < 0.5:
        frames = frames[::-1]
    return np.ascontiguousarray(frames)


def draw_sample(clips: list[TrainingClip], batch: int, size: int) -> Sample:
    """A batch of noisy five-frame crops with their clean middle frames (random choices from torch's RNG)."""
    rng = np.random.default_rng(int(torch.randint(2**31, ()).item()))
    weights = np.array([len(c.frames) - FRAMES + 1 for c in clips], dtype=float)
    noisy, clean, level = [], [], []
    for _ in range(batch):
        clip = clips[int(rng.choice(len(clips), p=weights / weights.sum()))]
        frames = _crop(clip, rng, size)
        kind = KINDS[int(rng.choice(len(KINDS), p=KIND_SHARES))]
        degraded, told = add_noise(frames, kind, rng)
        noisy.append(degraded)
        clean.append(frames[FRAMES // 2])
        level.append(told)

    def tensor(x: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.stack(x)).float().div(255).movedim(-1, -3)

    return Sample(tensor(noisy), tensor(clean), torch.tensor(level, dtype=torch.float32))


def usable_clips(folders: list[Path], size: int) -> list[TrainingClip]:
    clips = [c for c in load_training_clips(folders) if len(c.frames) >= FRAMES and min(c.frames.shape[1:3]) >= size]
    if not clips:
        raise VidpriorError(f"no clip of at least {FRAMES} frames and {size}×{size} pixels in "
                            f"{', '.join(map(str, folders))}")
    return clips


class DenoiserTraining(Objective):
    """MSE of the denoised middle frame over samples of ``clips``. render: for each crop of the first
    validation batch, [noisy | denoised | clean], (N, c, 3c, 3) uint8."""

    def __init__(self, net: Denoiser, clips: list[TrainingClip], batch: int = 8, crop: int = 96) -> None:
        super().__init__()
        if batch < 1 or crop < 16:
            raise VidpriorError(f"batch={batch}, crop={crop}: need batch >= 1 and crop >= 16")
        self.net, self.clips, self.batch, self.crop = net, clips, batch, crop
        with torch.random.fork_rng():
            torch.manual_seed(VALIDATION_SEED)
            self.valid = [draw_sample(clips, batch, crop) for _ in range(VALIDATION_DRAWS)]
        self.history: list[dict[str, float]] = []  # this session's stats, one per step

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        s = draw_sample(self.clips, self.batch, self.crop).to(next(self.net.parameters()).device)
        loss = (self.net(s.noisy, s.level).float() - s.clean).pow(2).mean()
        stats = {**error_stats(float(loss.detach())),
                 "noisy psnr": error_stats(float((s.noisy[:, FRAMES // 2] - s.clean).pow(2).mean()))["psnr"]}
        self.history.append(stats)
        return loss, stats

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """PSNR of the network's output and of the noisy input on the fixed validation set (mean over batches)."""
        device = next(self.net.parameters()).device
        figures = []
        for s in (v.to(device) for v in self.valid):
            out = self.net(s.noisy, s.level).float().clamp(0, 1)
            noisy = s.noisy[:, FRAMES // 2]
            figures.append({"psnr": error_stats(float((out - s.clean).pow(2).mean()))["psnr"],
                            "noisy psnr": error_stats(float((noisy - s.clean).pow(2).mean()))["psnr"]})
        return {key: float(np.mean([f[key] for f in figures])) for key in ("psnr", "noisy psnr")}

    @torch.no_grad()
    def render(self) -> np.ndarray:
        s = self.valid[0].to(next(self.net.parameters()).device)
        out = self.net(s.noisy, s.level).float()
        return np.concatenate([tensor_to_frames(x) for x in (s.noisy[:, FRAMES // 2], out, s.clean)], 2)

    def preview(self) -> np.ndarray:
        return self.render()[0]


def train_denoiser(data: list[Path], output: Path, *, budget: float, width: int = 32, crop: int = 96, batch: int = 8,
                   lr: float = 1e-3, steps: int = 1_000_000, init: Path | None = None, run_dir: Path | None = None,
                   resume: bool = False, device: str = "auto", seed: int = 0, progress: bool = True
                   ) -> dict[str, float]:
    """Train a denoiser (or continue training the one in ``init``, whose width wins) on the clips in ``data``
    with synthetic noise; write safetensors to ``output``. Returns figures for the report: steps, seconds,
    PSNR over the first and last 100 steps of this session and on the validation set (network and noisy input).
    The weights' metadata adds up the steps and seconds of every training that led to them."""
    check_output(output, "denoiser")
    torch.manual_seed(seed)
    began = time.monotonic()
    clips = usable_clips(data, crop)
    begun = start(init, load_denoiser, lambda: Denoiser(DenoiserConfig(width=width)))
    objective = DenoiserTraining(begun.net, clips, batch=batch, crop=crop)
    return train_network(
        objective, begun, clips, name="denoiser", output=output, data=data,
        recipe=(f"width {begun.net.config.width}, crop {crop}, batch {batch}; noise: Gaussian sigma 5-55, Poisson "
                "peak 8-128, Gaussian + JPEG"),
        budget=budget, steps=steps, lr=lr, seed=seed, run_dir=run_dir, resume=resume, device=device,
        progress=progress, stats=("noisy psnr",), began=began,
        describe=lambda v: (f"validation PSNR (mixed noise, crops {crop}): network {v['psnr']:.2f} dB, noisy input "
                            f"{v['noisy psnr']:.2f} dB"))
