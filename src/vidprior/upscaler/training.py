"""Training the upscaler on clips downscaled as the task's observation model does, through the shared
loop (`vidprior.fit`).

A step picks a factor s (4, 2, 4, 3, in turn: x4 is the hardest and the benchmark's) and draws
``batch`` samples (`draw_sample`): five consecutive frames of a random clip, a random region zoomed
as the denoiser's are (854×480 detail down to 256×144 detail), flips and time reversal, cut to
``crop``·s pixels; antialiased bicubic downscaling by s (`vidprior.problems.downscale`), rounding to
8 bits, and for ``NOISY_SHARE`` of them Gaussian noise of a random std up to ``MAX_SIGMA`` (told to
the network); then the neighbours aligned by DIS flow at the low resolution (`alignment`). The loss
is the Charbonnier distance of the middle frame; the stats give the PSNR of the network and of
bicubic enlargement.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..errors import VidpriorError
from ..fit import Objective, error_stats
from ..losses import charbonnier
from ..problems import downscale
from ..trainer import check_output, start, train_network
from ..training_clips import TrainingClip, load_training_clips
from ..video import tensor_to_frames
from .alignment import aligned
from .network import FRAMES, Upscaler, UpscalerConfig
from .weights import load_upscaler

MAX_ZOOM = 3.4  # 854×480 frames seen at down to 1/3.4 of their size (about 256×144)
TURNS = (4, 2, 4, 3)  # the factor of each step, in turn
NOISY_SHARE = 0.5
MAX_SIGMA = 20.0
VALIDATION_SEED = 4321
VALIDATION_DRAWS = 2  # per factor


@dataclass
class Sample:
    """frames (N, 5, 3, c, c) aligned low-resolution frames in [0, 1]; valid (N, 5, 1, c, c); level (N,);
    target (N, 3, c·s, c·s); factor s."""

    frames: torch.Tensor
    valid: torch.Tensor
    level: torch.Tensor
    target: torch.Tensor
    factor: int

    def to(self, device: torch.device) -> Sample:
        return Sample(self.frames.to(device), self.valid.to(device), self.level.to(device), self.target.to(device),
                      self.factor)

    def inputs(self) -> tuple:
        return self.frames, self.valid, self.level, self.factor

    def bicubic(self) -> torch.Tensor:
        return F.interpolate(self.frames[:, FRAMES // 2], scale_factor=self.factor, mode="bicubic",
                             align_corners=False)


def _crop(clip: TrainingClip, rng: np.random.Generator, side: int) -> np.ndarray:
    """Five consecutive frames of ``clip``, a random region zoomed to (5, side, side, 3) uint8."""
    t, h, w = clip.frames.shape[:3]
    zoom = float(np.exp(rng.uniform(0.0, np.log(max(1.0, min(MAX_ZOOM, h / side, w / side))))))
    region = min(max(side, int(round(side * zoom))), h, w)
    y, x = int(rng.integers(0, h - region + 1)), int(rng.integers(0, w - region + 1))
    start = int(rng.integers(0, t - FRAMES + 1))
    frames = clip.frames[start: start + FRAMES, y: y + region, x: x + region]
    if region != side:
        frames = np.stack([cv2.resize(f, (side, side), interpolation=cv2.INTER_AREA) for f in frames])
    if rng.random() < 0.5:
        frames = frames[:, :, ::-1]
    if rng.random() < 0.5:
        frames = frames[::-1]
    return np.ascontiguousarray(frames)


def degrade(frames: np.ndarray, factor: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """(T, H, W, 3) uint8 -> (T, H/s, W/s, 3) uint8: antialiased bicubic downscaling, rounding, noise of std
    ``sigma`` (0-255; 0 for none)."""
    low = downscale(torch.from_numpy(frames).float().movedim(-1, 1), factor).movedim(1, -1).numpy()
    if sigma > 0:
        low = low + rng.normal(0.0, sigma, low.shape)
    return np.clip(np.round(low), 0, 255).astype(np.uint8)


def draw_sample(clips: list[TrainingClip], batch: int, crop: int, factor: int) -> Sample:
    """A batch of degraded, aligned five-frame crops with their sharp middle frames (torch's RNG)."""
    rng = np.random.default_rng(int(torch.randint(2**31, ()).item()))
    weights = np.array([len(c.frames) - FRAMES + 1 for c in clips], dtype=float)
    frames, valid, level, target = [], [], [], []
    for _ in range(batch):
        sharp = _crop(clips[int(rng.choice(len(clips), p=weights / weights.sum()))], rng, crop * factor)
        sigma = float(rng.uniform(0.5, MAX_SIGMA)) if rng.random() < NOISY_SHARE else 0.0
        stack, ok = aligned(degrade(sharp, factor, sigma, rng), FRAMES // 2)
        frames.append(stack / 255.0)
        valid.append(ok)
        level.append(sigma)
        target.append(sharp[FRAMES // 2] / 255.0)

    def tensor(x: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.stack(x)).float().movedim(-1, -3)

    return Sample(tensor(frames), torch.from_numpy(np.stack(valid)).float()[:, :, None],
                  torch.tensor(level, dtype=torch.float32), tensor(target), factor)


def usable_clips(folders: list[Path], side: int) -> list[TrainingClip]:
    clips = [c for c in load_training_clips(folders) if len(c.frames) >= FRAMES and min(c.frames.shape[1:3]) >= side]
    if not clips:
        raise VidpriorError(f"no clip of at least {FRAMES} frames and {side}×{side} pixels in "
                            f"{', '.join(map(str, folders))}")
    return clips


class UpscalerTraining(Objective):
    """Charbonnier loss of the enlarged middle frame over samples of ``clips``, the factor taken in turn
    (`TURNS`). render: for each crop of the first validation batch, [bicubic | network | sharp] at x4."""

    def __init__(self, net: Upscaler, clips: list[TrainingClip], batch: int = 8, crop: int = 48) -> None:
        super().__init__()
        if batch < 1 or crop < 16:
            raise VidpriorError(f"batch={batch}, crop={crop}: need batch >= 1 and crop >= 16")
        self.net, self.clips, self.batch, self.crop = net, clips, batch, crop
        self.turns = [s for s in TURNS if s in net.config.factors] or list(net.config.factors)
        with torch.random.fork_rng():
            torch.manual_seed(VALIDATION_SEED)
            self.valid = [draw_sample(clips, batch, crop, s) for s in sorted(set(self.turns), reverse=True)
                          for _ in range(VALIDATION_DRAWS)]
        self.history: list[dict[str, float]] = []

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        factor = self.turns[step % len(self.turns)]
        s = draw_sample(self.clips, self.batch, self.crop, factor).to(next(self.net.parameters()).device)
        out = self.net(*s.inputs()).float()
        loss = charbonnier(out, s.target)
        stats = {**error_stats(float((out.detach() - s.target).pow(2).mean())),
                 "bicubic psnr": error_stats(float((s.bicubic() - s.target).pow(2).mean()))["psnr"]}
        self.history.append(stats)
        return loss, stats

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """PSNR of the network and of bicubic enlargement on the fixed validation set, per factor."""
        device = next(self.net.parameters()).device
        figures: dict[str, list[float]] = {}
        for s in (v.to(device) for v in self.valid):
            out = self.net(*s.inputs()).float().clamp(0, 1)
            figures.setdefault(f"x{s.factor} psnr", []).append(
                error_stats(float((out - s.target).pow(2).mean()))["psnr"])
            figures.setdefault(f"x{s.factor} bicubic psnr", []).append(
                error_stats(float((s.bicubic().clamp(0, 1) - s.target).pow(2).mean()))["psnr"])
        return {key: float(np.mean(v)) for key, v in figures.items()}

    @torch.no_grad()
    def render(self) -> np.ndarray:
        s = self.valid[0].to(next(self.net.parameters()).device)
        out = self.net(*s.inputs()).float()
        return np.concatenate([tensor_to_frames(x) for x in (s.bicubic(), out, s.target)], 2)

    def preview(self) -> np.ndarray:
        return self.render()[0]


def train_upscaler(data: list[Path], output: Path, *, budget: float, width: int = 48, crop: int = 48,
                   batch: int = 8, lr: float = 1e-3, steps: int = 1_000_000, init: Path | None = None,
                   run_dir: Path | None = None, resume: bool = False, device: str = "auto", seed: int = 0,
                   progress: bool = True) -> dict[str, float]:
    """Train an upscaler (or continue the one in ``init``) on the clips in ``data``, ``crop`` low-resolution
    pixels a side; write safetensors to ``output``. Returns figures for the report: steps, seconds, PSNR
    over the first and last 100 steps and, per factor, on the validation set (network and bicubic). The
    weights' metadata adds up the steps and seconds of every training that led to them."""
    check_output(output, "upscaler")
    torch.manual_seed(seed)
    began = time.monotonic()
    begun = start(init, load_upscaler, lambda: Upscaler(UpscalerConfig(width=width)))
    net = begun.net
    clips = usable_clips(data, crop * max(net.config.factors))
    objective = UpscalerTraining(net, clips, batch=batch, crop=crop)
    return train_network(
        objective, begun, clips, name="upscaler", output=output, data=data,
        recipe=(f"width {net.config.width}, {net.config.blocks} blocks, crop {crop} (low resolution), batch "
                f"{batch}; factors {TURNS} in turn; Gaussian noise up to sigma {MAX_SIGMA:g} on {NOISY_SHARE:.0%} "
                "of samples"),
        budget=budget, steps=steps, lr=lr, seed=seed, run_dir=run_dir, resume=resume, device=device,
        progress=progress, stats=("bicubic psnr",), began=began,
        describe=lambda v: "validation PSNR: " + ", ".join(f"{k} {x:.2f} dB" for k, x in v.items()))
