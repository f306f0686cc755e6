"""Training the denoiser on clean clips with synthetic noise, through the shared loop (`vidprior.fit`).

A step draws ``batch`` crops of consecutive frames (`draw_sample`; five for the window network,
``LENGTH`` for the recurrent one): a random clip, a random place, a random zoom
(`vidprior.training_clips.crop_sequence`: 854×480 detail and 256×144 detail alike), flips and time
reversal, then noise of a random kind and level (`noise`: Gaussian, Poisson, sensor, JPEG, H.264). A new
recurrent network starts from the shipped five-frame one as its frozen first pass (`network`), and the
training teaches it what the whole clip adds. The loss is the mean squared error of the middle frame
(window) or of every frame (recurrent); the stats give its PSNR and the noisy input's. A fixed validation
set (other crops, same clips) measures both at the end.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import VidpriorError
from ..fit import Objective, error_stats
from ..trainer import check_output, start, train_network
from ..training_clips import TrainingClip, clip_weights, crop_sequence, load_training_clips
from ..video import tensor_to_frames
from .network import FRAMES, Denoiser, RecurrentDenoiser, build_denoiser
from .noise import KIND_SHARES, KINDS, add_noise, soften
from .weights import load_denoiser

MAX_ZOOM = 3.4  # 854×480 frames seen at down to 1/3.4 of their size (about 256×144)
LENGTH = 10  # frames of a recurrent training sequence
VALIDATION_SEED = 4321
VALIDATION_DRAWS = 6
DEFAULTS = {"window": {"width": 32, "crop": 96, "batch": 8}, "recurrent": {"width": 32, "crop": 64, "batch": 4}}


@dataclass
class Sample:
    """noisy and clean (N, L, 3, c, c) in [0, 1]; level (N,) the noise std told the network."""

    noisy: torch.Tensor
    clean: torch.Tensor
    level: torch.Tensor

    def to(self, device: torch.device) -> Sample:
        return Sample(self.noisy.to(device), self.clean.to(device), self.level.to(device))


def draw_sample(clips: list[TrainingClip], batch: int, size: int, length: int = FRAMES) -> Sample:
    """A batch of noisy crops of ``length`` frames with their clean frames (random choices from torch's RNG)."""
    rng = np.random.default_rng(int(torch.randint(2**31, ()).item()))
    p = clip_weights(clips, length)
    noisy, clean, level = [], [], []
    for _ in range(batch):
        frames = soften(crop_sequence(clips[int(rng.choice(len(clips), p=p))], rng, length, size, MAX_ZOOM), rng)
        kind = KINDS[int(rng.choice(len(KINDS), p=KIND_SHARES))]
        degraded, told = add_noise(frames, kind, rng)
        noisy.append(degraded)
        clean.append(frames)
        level.append(told)

    def tensor(x: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.stack(x)).float().div(255).movedim(-1, -3)

    return Sample(tensor(noisy), tensor(clean), torch.tensor(level, dtype=torch.float32))


def predict(net: Denoiser | RecurrentDenoiser, s: Sample) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The network's answer on ``s``, its target and the noisy frames it corresponds to: the middle frame
    (N, 3, c, c) for the window network, every frame (N, L, 3, c, c) for the recurrent one."""
    if isinstance(net, RecurrentDenoiser):
        return net(s.noisy, s.level), s.clean, s.noisy
    return net(s.noisy, s.level), s.clean[:, FRAMES // 2], s.noisy[:, FRAMES // 2]


def usable_clips(folders: list[Path], size: int, length: int = FRAMES) -> list[TrainingClip]:
    clips = [c for c in load_training_clips(folders) if len(c.frames) >= length and min(c.frames.shape[1:3]) >= size]
    if not clips:
        raise VidpriorError(f"no clip of at least {length} frames and {size}×{size} pixels in "
                            f"{', '.join(map(str, folders))}")
    return clips


class DenoiserTraining(Objective):
    """MSE of the denoised frames over samples of ``clips`` (see the module notes). render: for each crop of
    the first validation batch, [noisy | denoised | clean] of its middle frame, (N, c, 3c, 3) uint8."""

    def __init__(self, net: Denoiser | RecurrentDenoiser, clips: list[TrainingClip], batch: int = 8,
                 crop: int = 96) -> None:
        super().__init__()
        if batch < 1 or crop < 16:
            raise VidpriorError(f"batch={batch}, crop={crop}: need batch >= 1 and crop >= 16")
        self.net, self.clips, self.batch, self.crop = net, clips, batch, crop
        recurrent = isinstance(net, RecurrentDenoiser)
        self.draw = {"length": LENGTH if recurrent else FRAMES}
        with torch.random.fork_rng():
            torch.manual_seed(VALIDATION_SEED)
            self.valid = [draw_sample(clips, batch, crop, **self.draw) for _ in range(VALIDATION_DRAWS)]
        self.history: list[dict[str, float]] = []  # this session's stats, one per step

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        s = draw_sample(self.clips, self.batch, self.crop, **self.draw).to(next(self.net.parameters()).device)
        out, clean, noisy = predict(self.net, s)
        loss = (out.float() - clean).pow(2).mean()
        stats = {**error_stats(float(loss.detach())),
                 "noisy psnr": error_stats(float((noisy - clean).pow(2).mean()))["psnr"]}
        self.history.append(stats)
        return loss, stats

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """PSNR of the network's output and of the noisy input on the fixed validation set (mean over batches)."""
        device = next(self.net.parameters()).device
        figures = []
        for s in (v.to(device) for v in self.valid):
            out, clean, noisy = predict(self.net, s)
            figures.append({"psnr": error_stats(float((out.float().clamp(0, 1) - clean).pow(2).mean()))["psnr"],
                            "noisy psnr": error_stats(float((noisy - clean).pow(2).mean()))["psnr"]})
        return {key: float(np.mean([f[key] for f in figures])) for key in ("psnr", "noisy psnr")}

    @torch.no_grad()
    def render(self) -> np.ndarray:
        s = self.valid[0].to(next(self.net.parameters()).device)
        out, clean, noisy = predict(self.net, s)
        if out.dim() == 5:
            out, clean, noisy = (x[:, x.shape[1] // 2] for x in (out, clean, noisy))
        return np.concatenate([tensor_to_frames(x) for x in (noisy, out.float(), clean)], 2)

    def preview(self) -> np.ndarray:
        return self.render()[0]


def with_first_pass(net: Denoiser | RecurrentDenoiser) -> Denoiser | RecurrentDenoiser:
    """A new recurrent network with the shipped five-frame one as its first pass (when their sizes match)."""
    if isinstance(net, RecurrentDenoiser):
        window = load_denoiser(arch="window")[0]
        if window.config == net.window.config:
            net.window.load_state_dict(window.state_dict())
    return net


def train_denoiser(data: list[Path], output: Path, *, budget: float, arch: str = "recurrent",
                   width: int | None = None, crop: int | None = None, batch: int | None = None, lr: float = 1e-3,
                   steps: int = 1_000_000, init: Path | None = None, run_dir: Path | None = None,
                   resume: bool = False, device: str = "auto", seed: int = 0, progress: bool = True
                   ) -> dict[str, float]:
    """Train a denoiser of ``arch`` ('recurrent' or 'window'; widths, crops and batches default to
    ``DEFAULTS``), or continue training the one in ``init`` (whose architecture and width win), on the clips
    in ``data`` with synthetic noise; write safetensors to ``output``. Returns figures for the report: steps,
    seconds, PSNR over the first and last 100 steps of this session and on the validation set (network and
    noisy input). The weights' metadata adds up the steps and seconds of every training that led to them."""
    check_output(output, "denoiser")
    if arch not in DEFAULTS:
        raise VidpriorError(f"--arch {arch}: one of {', '.join(DEFAULTS)}")
    torch.manual_seed(seed)
    began = time.monotonic()
    new = {"arch": arch, "width": width or DEFAULTS[arch]["width"]}
    begun = start(init, load_denoiser, lambda: with_first_pass(build_denoiser(new)))
    arch = "recurrent" if isinstance(begun.net, RecurrentDenoiser) else "window"
    crop, batch = crop or DEFAULTS[arch]["crop"], batch or DEFAULTS[arch]["batch"]
    clips = usable_clips(data, crop, LENGTH if arch == "recurrent" else FRAMES)
    objective = DenoiserTraining(begun.net, clips, batch=batch, crop=crop)
    return train_network(
        objective, begun, clips, name="denoiser", output=output, data=data,
        recipe=(f"{arch}, width {begun.net.config.width}, crop {crop}, batch {batch}"
                + (f" sequences of {LENGTH} frames, first pass: the shipped five-frame network, frozen"
                   if arch == "recurrent" else "")
                + "; noise: Gaussian sigma 5-55, Poisson peak 8-128, sensor, Gaussian + JPEG, sensor + H.264; "
                "20% of clean crops softened"),
        budget=budget, steps=steps, lr=lr, seed=seed, run_dir=run_dir, resume=resume, device=device,
        progress=progress, stats=("noisy psnr",), began=began,
        describe=lambda v: (f"validation PSNR (mixed noise, crops {crop}): network {v['psnr']:.2f} dB, noisy input "
                            f"{v['noisy psnr']:.2f} dB"))
