"""Training the upscaler on clips degraded as real footage is, through the shared loop (`vidprior.fit`).

A step picks a factor s (4, 2, 4, 3, in turn: x4 is the hardest and the benchmark's) and draws
``batch`` samples (`draw_sample`): consecutive frames of a random clip (five for the window network,
``LENGTH`` for the recurrent one), a random region zoomed as the denoiser's are (854×480 detail down to
256×144 detail), flips and time reversal, cut to ``crop``·s pixels; then `degrade_footage`: a mild
optical blur for some, antialiased bicubic downscaling by s (`vidprior.problems.downscale`) and 8 bits,
then for some sensor or Gaussian noise and for some H.264 or JPEG compression (the "old video"). The
window network gets the neighbours aligned by DIS flow at the low resolution (`alignment`), the
recurrent one the `Motion` between the low-resolution frames. The loss is the Charbonnier distance of
the middle frame (window) or of every frame (recurrent); the stats give the PSNR of the network and of
bicubic enlargement.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import degradations
from ..denoiser.noise import estimate_level
from ..errors import VidpriorError
from ..fit import Objective, error_stats
from ..losses import charbonnier
from ..nn.recurrent import Motion, motion
from ..trainer import check_output, start, train_network
from ..training_clips import TrainingClip, clip_weights, crop_sequence, load_training_clips
from ..video import tensor_to_frames
from .alignment import aligned
from .network import FRAMES, RecurrentUpscaler, Upscaler, build_upscaler
from .weights import load_upscaler

MAX_ZOOM = 3.4  # 854×480 frames seen at down to 1/3.4 of their size (about 256×144)
TURNS = (4, 2, 4, 3)  # the factor of each step, in turn
LENGTH = 10  # frames of a recurrent training sequence
BLUR_SHARE, NOISE_SHARE, SENSOR_SHARE, COMPRESS_SHARE = 0.25, 0.35, 0.1, 0.35
MAX_SIGMA = 20.0
CLEAN_BELOW = 3.0  # an estimated noise std (0-255) below this is what clean frames measure (0.8-2.5 here)
VALIDATION_SEED = 4321
VALIDATION_DRAWS = 2  # per factor
DEFAULTS = {"window": {"width": 48, "crop": 48, "batch": 8}, "recurrent": {"width": 48, "crop": 32, "batch": 4}}


def told_level(estimate: float) -> float:
    """The noise level the network is told for frames of unknown noise: the estimate, or 0 when it is what
    clean frames measure."""
    return estimate if estimate >= CLEAN_BELOW else 0.0


@dataclass
class Sample:
    """low (N, L, 3, c, c) degraded frames in [0, 1]; level (N,); target (N, L, 3, c·s, c·s); factor s;
    for the window network, frames (N, 5, 3, c, c) aligned onto the middle one and valid (N, 5, 1, c, c);
    for the recurrent one, the `Motion` between the low-resolution frames."""

    low: torch.Tensor
    level: torch.Tensor
    target: torch.Tensor
    factor: int
    frames: torch.Tensor | None = None
    valid: torch.Tensor | None = None
    motion: Motion | None = None

    def to(self, device: torch.device) -> Sample:
        def move(x):
            return x.to(device) if x is not None else None

        return replace(self, low=self.low.to(device), level=self.level.to(device), target=self.target.to(device),
                       frames=move(self.frames), valid=move(self.valid), motion=move(self.motion))


def degrade(frames: np.ndarray, factor: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """(T, H, W, 3) uint8 -> (T, H/s, W/s, 3) uint8: antialiased bicubic downscaling, rounding, noise of std
    ``sigma`` (0-255; 0 for none)."""
    low = degradations.shrink(frames, factor)
    return degradations.gaussian(low, sigma, rng) if sigma > 0 else low


def degrade_footage(sharp: np.ndarray, factor: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """(T, H, W, 3) uint8 -> (T, H/s, W/s, 3) uint8 as footage degrades, and the level to tell the network:
    a blur of 0.2-0.6 low-resolution pixels (``BLUR_SHARE``), downscaling, Gaussian noise up to
    ``MAX_SIGMA`` (``NOISE_SHARE``; told, unless compression follows) or sensor noise (``SENSOR_SHARE``),
    H.264 at CRF 18-34 or JPEG at quality 30-90 (``COMPRESS_SHARE``)."""
    if rng.random() < BLUR_SHARE:
        sharp = degradations.blur(sharp, float(rng.uniform(0.2, 0.6)) * factor)
    low, sigma, r = degradations.shrink(sharp, factor), 0.0, rng.random()
    if r < NOISE_SHARE:
        sigma = float(rng.uniform(0.5, MAX_SIGMA))
        low = degradations.gaussian(low, sigma, rng)
    elif r < NOISE_SHARE + SENSOR_SHARE:
        low, sigma = degradations.sensor(low, float(np.exp(rng.uniform(np.log(30), np.log(300)))), 0.0, rng), -1
    if rng.random() < COMPRESS_SHARE:
        low, sigma = degradations.compress(low, rng, crf=(18.0, 34.0)), -1
    return low, sigma if sigma >= 0 else told_level(estimate_level(low[len(low) // 2]))


def draw_sample(clips: list[TrainingClip], batch: int, crop: int, factor: int, length: int = FRAMES,
                flows: bool = False) -> Sample:
    """A batch of degraded crops of ``length`` frames with their sharp frames (torch's RNG); the window
    network's aligned stacks, or with ``flows`` the recurrent network's `Motion`."""
    rng = np.random.default_rng(int(torch.randint(2**31, ()).item()))
    p = clip_weights(clips, length)
    low, level, target, frames, valid, motions = [], [], [], [], [], []
    for _ in range(batch):
        sharp = crop_sequence(clips[int(rng.choice(len(clips), p=p))], rng, length, crop * factor, MAX_ZOOM)
        degraded, told = degrade_footage(sharp, factor, rng)
        low.append(degraded)
        level.append(told)
        target.append(sharp)
        if flows:
            motions.append(motion(degraded))
        else:
            stack, ok = aligned(degraded, length // 2)
            frames.append(stack)
            valid.append(ok)

    def tensor(x: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.stack(x)).float().div(255).movedim(-1, -3)

    return Sample(tensor(low), torch.tensor(level, dtype=torch.float32), tensor(target), factor,
                  frames=None if flows else tensor(frames),
                  valid=None if flows else torch.from_numpy(np.stack(valid)).float()[:, :, None],
                  motion=Motion.stack(motions) if flows else None)


def predict(net: Upscaler | RecurrentUpscaler, s: Sample) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The network's answer on ``s``, its target and bicubic enlargement of the same frames: the middle frame
    (N, 3, H, W) for the window network, every frame (N, L, 3, H, W) for the recurrent one."""
    if isinstance(net, RecurrentUpscaler):
        out, target, low = net(s.low, s.level, s.motion, s.factor), s.target, s.low.flatten(0, 1)
    else:
        middle = s.low.shape[1] // 2
        out, target, low = net(s.frames, s.valid, s.level, s.factor), s.target[:, middle], s.low[:, middle]
    bicubic = F.interpolate(low, scale_factor=s.factor, mode="bicubic", align_corners=False)
    return out, target, bicubic.view(target.shape)


def usable_clips(folders: list[Path], side: int, length: int = FRAMES) -> list[TrainingClip]:
    clips = [c for c in load_training_clips(folders) if len(c.frames) >= length and min(c.frames.shape[1:3]) >= side]
    if not clips:
        raise VidpriorError(f"no clip of at least {length} frames and {side}×{side} pixels in "
                            f"{', '.join(map(str, folders))}")
    return clips


class UpscalerTraining(Objective):
    """Charbonnier loss of the enlarged middle frame over samples of ``clips``, the factor taken in turn
    (`TURNS`). render: for each crop of the first validation batch, [bicubic | network | sharp] at x4."""

    def __init__(self, net: Upscaler | RecurrentUpscaler, clips: list[TrainingClip], batch: int = 8,
                 crop: int = 48) -> None:
        super().__init__()
        if batch < 1 or crop < 16:
            raise VidpriorError(f"batch={batch}, crop={crop}: need batch >= 1 and crop >= 16")
        self.net, self.clips, self.batch, self.crop = net, clips, batch, crop
        self.turns = [s for s in TURNS if s in net.config.factors] or list(net.config.factors)
        recurrent = isinstance(net, RecurrentUpscaler)
        self.draw = {"length": LENGTH if recurrent else FRAMES, "flows": recurrent}
        with torch.random.fork_rng():
            torch.manual_seed(VALIDATION_SEED)
            self.valid = [draw_sample(clips, batch, crop, s, **self.draw) for s in sorted(set(self.turns), reverse=True)
                          for _ in range(VALIDATION_DRAWS)]
        self.history: list[dict[str, float]] = []

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        factor = self.turns[step % len(self.turns)]
        s = draw_sample(self.clips, self.batch, self.crop, factor, **self.draw).to(next(self.net.parameters()).device)
        out, target, bicubic = predict(self.net, s)
        loss = charbonnier(out.float(), target)
        stats = {**error_stats(float((out.detach().float() - target).pow(2).mean())),
                 "bicubic psnr": error_stats(float((bicubic - target).pow(2).mean()))["psnr"]}
        self.history.append(stats)
        return loss, stats

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """PSNR of the network and of bicubic enlargement on the fixed validation set, per factor."""
        device = next(self.net.parameters()).device
        figures: dict[str, list[float]] = {}
        for s in (v.to(device) for v in self.valid):
            out, target, bicubic = predict(self.net, s)
            figures.setdefault(f"x{s.factor} psnr", []).append(
                error_stats(float((out.float().clamp(0, 1) - target).pow(2).mean()))["psnr"])
            figures.setdefault(f"x{s.factor} bicubic psnr", []).append(
                error_stats(float((bicubic.clamp(0, 1) - target).pow(2).mean()))["psnr"])
        return {key: float(np.mean(v)) for key, v in figures.items()}

    @torch.no_grad()
    def render(self) -> np.ndarray:
        s = self.valid[0].to(next(self.net.parameters()).device)
        out, target, bicubic = predict(self.net, s)
        if out.dim() == 5:
            out, target, bicubic = (x[:, x.shape[1] // 2] for x in (out, target, bicubic))
        return np.concatenate([tensor_to_frames(x) for x in (bicubic, out.float(), target)], 2)

    def preview(self) -> np.ndarray:
        return self.render()[0]


def train_upscaler(data: list[Path], output: Path, *, budget: float, arch: str = "recurrent",
                   width: int | None = None, crop: int | None = None, batch: int | None = None, lr: float = 1e-3,
                   steps: int = 1_000_000, init: Path | None = None, run_dir: Path | None = None,
                   resume: bool = False, device: str = "auto", seed: int = 0, progress: bool = True
                   ) -> dict[str, float]:
    """Train an upscaler of ``arch`` ('recurrent' or 'window'; widths, crops and batches default to
    ``DEFAULTS``), or continue the one in ``init`` (whose architecture and width win), on the clips in
    ``data``, ``crop`` low-resolution pixels a side; write safetensors to ``output``. Returns figures for the
    report: steps, seconds, PSNR over the first and last 100 steps and, per factor, on the validation set
    (network and bicubic). The weights' metadata adds up the steps and seconds of every training that led to
    them."""
    check_output(output, "upscaler")
    if arch not in DEFAULTS:
        raise VidpriorError(f"--arch {arch}: one of {', '.join(DEFAULTS)}")
    torch.manual_seed(seed)
    began = time.monotonic()
    new = {"arch": arch, "width": width or DEFAULTS[arch]["width"]}
    begun = start(init, load_upscaler, lambda: build_upscaler(new))
    net = begun.net
    arch = "recurrent" if isinstance(net, RecurrentUpscaler) else "window"
    crop, batch = crop or DEFAULTS[arch]["crop"], batch or DEFAULTS[arch]["batch"]
    length = LENGTH if arch == "recurrent" else FRAMES
    clips = usable_clips(data, crop * max(net.config.factors), length)
    objective = UpscalerTraining(net, clips, batch=batch, crop=crop)
    return train_network(
        objective, begun, clips, name="upscaler", output=output, data=data,
        recipe=(f"{arch}, width {net.config.width}, {net.config.blocks} blocks, crop {crop} (low resolution), "
                f"batch {batch}" + (f" sequences of {LENGTH} frames" if arch == "recurrent" else "")
                + f"; factors {TURNS} in turn; blur on {BLUR_SHARE:.0%}, Gaussian noise up to sigma {MAX_SIGMA:g} "
                f"on {NOISE_SHARE:.0%}, sensor noise on {SENSOR_SHARE:.0%}, H.264 or JPEG on {COMPRESS_SHARE:.0%}"),
        budget=budget, steps=steps, lr=lr, seed=seed, run_dir=run_dir, resume=resume, device=device,
        progress=progress, stats=("bicubic psnr",), began=began,
        describe=lambda v: "validation PSNR: " + ", ".join(f"{k} {x:.2f} dB" for k, x in v.items()))
