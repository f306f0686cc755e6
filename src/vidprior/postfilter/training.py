"""Training the post-filter on clips coded by x265 (`data`), through the shared loop (`vidprior.fit`).

A step draws ``batch`` crops of three consecutive decoded frames (a random clip and size, a random CRF
of `data.CRFS`, a random place on the 8-pixel grid, so the codec's block edges fall where they do in a
whole frame; mirrored and played backwards half the time) and their clean middle frame. The loss is the
squared error of the corrected middle frame; the stats give its PSNR and the decoded frame's. A fixed
validation set (other crops, same clips) measures both at the end.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import VidpriorError
from ..fit import Objective, error_stats, mean_stat
from ..trainer import check_output, start, train_network
from ..video import tensor_to_frames
from .data import CRFS, CodedClip, load_coded_clips
from .network import FRAMES, PostFilter, PostFilterConfig
from .weights import load_postfilter

GRID = 8  # crops start on this grid: x265's smallest transform blocks
VALIDATION_SEED = 4321
VALIDATION_DRAWS = 6


@dataclass
class Sample:
    """decoded (N, 3, 3, c, c) and clean (N, 3, c, c) in [0, 1]; crf (N,)."""

    decoded: torch.Tensor
    clean: torch.Tensor
    crf: torch.Tensor

    def to(self, device: torch.device) -> Sample:
        return Sample(self.decoded.to(device), self.clean.to(device), self.crf.to(device))


def draw_sample(clips: list[CodedClip], batch: int, crop: int) -> Sample:
    """A batch of crops (random choices from torch's RNG); see the module notes."""
    rng = np.random.default_rng(int(torch.randint(2**31, ()).item()))
    weights = np.array([c.frames[..., 0].size for c in clips], float)
    decoded, clean, crfs = [], [], []
    for _ in range(batch):
        clip = clips[int(rng.choice(len(clips), p=weights / weights.sum()))]
        crf = int(rng.choice(list(clip.decoded)))
        count, h, w = clip.frames.shape[:3]
        side = min(crop, h - h % GRID, w - w % GRID)
        t = int(rng.integers(count))
        y, x = GRID * int(rng.integers((h - side) // GRID + 1)), GRID * int(rng.integers((w - side) // GRID + 1))
        order = [min(max(t + d, 0), count - 1) for d in range(-(FRAMES // 2), FRAMES // 2 + 1)]
        if rng.random() < 0.5:
            order = order[::-1]
        area = (slice(y, y + side), slice(x, x + side))
        pair = [clip.decoded[crf][order][:, area[0], area[1]], clip.frames[t][area]]
        if rng.random() < 0.5:
            pair = [pair[0][:, :, ::-1], pair[1][:, ::-1]]
        decoded.append(np.ascontiguousarray(pair[0]))
        clean.append(np.ascontiguousarray(pair[1]))
        crfs.append(crf)

    def tensor(x: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.stack(x)).float().div(255).movedim(-1, -3)

    return Sample(tensor(decoded), tensor(clean), torch.tensor(crfs, dtype=torch.float32))


class PostFilterTraining(Objective):
    """MSE of the corrected frames over samples of ``clips`` (see the module notes). render: for each crop of
    the first validation batch, [decoded | corrected | clean], (N, c, 3c, 3) uint8."""

    def __init__(self, net: PostFilter, clips: list[CodedClip], batch: int = 16, crop: int = 96) -> None:
        super().__init__()
        if batch < 1 or crop < 2 * GRID or crop % GRID:
            raise VidpriorError(f"batch={batch}, crop={crop}: need batch >= 1 and crop a multiple of {GRID}, "
                                f"at least {2 * GRID}")
        self.net, self.clips, self.batch, self.crop = net, clips, batch, crop
        with torch.random.fork_rng():
            torch.manual_seed(VALIDATION_SEED)
            self.valid = [draw_sample(clips, batch, crop) for _ in range(VALIDATION_DRAWS)]
        self.history: list[dict[str, float]] = []  # this session's stats, one per step

    def _scored(self, s: Sample) -> tuple[torch.Tensor, dict[str, float]]:
        """The squared error of the network's frames on ``s`` and the stats: its PSNR (clipped to [0, 1]) and the
        decoded frames'."""
        out = self.net(s.decoded, s.crf).float()
        mse = (out - s.clean).pow(2).mean()
        return mse, {"psnr": error_stats(float((out.detach().clamp(0, 1) - s.clean).pow(2).mean()))["psnr"],
                     "decoded psnr": error_stats(float((s.decoded[:, FRAMES // 2] - s.clean).pow(2).mean()))["psnr"]}

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        device = next(self.net.parameters()).device
        loss, stats = self._scored(draw_sample(self.clips, self.batch, self.crop).to(device))
        stats = {**error_stats(float(loss.detach())), **stats}
        self.history.append(stats)
        return loss, stats

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """PSNR of the network's output and of the decoded frame on the fixed validation set (mean over batches)."""
        device = next(self.net.parameters()).device
        figures = [self._scored(v.to(device))[1] for v in self.valid]
        return {key: mean_stat(figures, key) for key in ("psnr", "decoded psnr")}

    @torch.no_grad()
    def render(self) -> np.ndarray:
        s = self.valid[0].to(next(self.net.parameters()).device)
        out = self.net(s.decoded, s.crf).float()
        return np.concatenate([tensor_to_frames(x) for x in (s.decoded[:, FRAMES // 2], out, s.clean)], 2)

    def preview(self) -> np.ndarray:
        return self.render()[0]


def train_postfilter(data: list[Path], output: Path, *, budget: float, width: int | None = None,
                     crop: int | None = None, batch: int | None = None, lr: float = 1e-3, steps: int = 1_000_000,
                     init: Path | None = None, run_dir: Path | None = None, resume: bool = False,
                     device: str = "auto", seed: int = 0, progress: bool = True) -> dict[str, float]:
    """Train a post-filter (or continue the one in ``init``, whose width wins) on the clips in ``data`` coded
    by x265 at `data.CRFS` (cached); write safetensors to ``output``. Returns figures for the report: steps,
    seconds, PSNR over the first and last 100 steps of this session and on the validation set (network and
    decoded frames). The weights' metadata adds up the steps and seconds of every training that led to them."""
    check_output(output, "post-filter")
    torch.manual_seed(seed)
    began = time.monotonic()
    config = PostFilterConfig(**({"width": width} if width else {}))
    begun = start(init, load_postfilter, lambda: PostFilter(config))
    crop, batch = crop or 96, batch or 16
    clips = load_coded_clips(data, progress=progress)
    objective = PostFilterTraining(begun.net, clips, batch=batch, crop=crop)
    net = begun.net
    return train_network(
        objective, begun, clips, name="postfilter", output=output, data=data,
        recipe=(f"width {net.config.width}, {net.config.blocks} blocks, crop {crop}, batch {batch}; x265 preset "
                f"slow at CRF {', '.join(map(str, CRFS))}"),
        budget=budget, steps=steps, lr=lr, seed=seed, run_dir=run_dir, resume=resume, device=device,
        progress=progress, stats=("decoded psnr",), began=began,
        describe=lambda v: (f"validation PSNR (CRF {CRFS[0]}-{CRFS[-1]}, crops {crop}): network {v['psnr']:.2f} dB, "
                            f"decoded {v['decoded psnr']:.2f} dB"))
