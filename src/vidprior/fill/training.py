"""Training the learned fill on clips with synthetic holes, through the shared loop (`vidprior.trainer`).

A step draws crops of ``length`` consecutive frames with flowfill's cached answers (`data`), runs the
network over them in order, each frame fed the previous output, and scores inside the holes:

- L1 to the clean frame, once more on the pixels no frame saw (what flowfill can only guess);
- the perceptual distance the package already has (LPIPS, AlexNet) of the frame with its hole filled;
- temporal: L1 between consecutive outputs aligned by the clean frames' flow, where that flow holds.

The stats report the hole PSNR of the network (``psnr``) and of flowfill (``flowfill psnr``); a fixed
validation set (other crops of the same clips) measures both, and the pixels no frame saw, at the end.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ..errors import VidpriorError
from ..fit import Objective, error_stats
from ..perceptual import lpips_model
from ..trainer import Start, check_output, start, train_network
from ..video import tensor_to_frames
from .data import FillClip, Sample, draw_sample, load_fill_clips
from .network import FillConfig, FillNet, feedback
from .weights import load_fill

VALIDATION_SEED = 2468
VALIDATION_DRAWS = 6


def run_sequence(net: FillNet, s: Sample) -> list[torch.Tensor]:
    """The network's outputs (N, 3, c, c) for each of the sample's frames, in order, each fed the one before."""
    outputs: list[torch.Tensor] = []
    for t in range(s.filled.shape[1]):
        filled = s.filled[:, t]
        if outputs:
            previous, agree = feedback(outputs[-1], filled, s.filled[:, t - 1], s.back[:, t])
        else:
            previous, agree = filled, torch.zeros_like(s.hole[:, t])
        outputs.append(net(filled, s.hole[:, t], s.unseen[:, t], s.travel[:, t], previous, agree))
    return outputs


def _masked_l1(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return ((a - b).abs() * mask).sum() / (3 * mask.sum()).clamp_min(1.0)


def _hole_mse(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> float:
    return float(((a.clamp(0, 1) - b).pow(2) * mask).sum() / (3 * mask.sum()).clamp_min(1.0))


class FillTraining(Objective):
    """The fill's losses on samples of ``clips`` (see the module note). render: for each crop of the first
    validation batch, its last frame as [hole shown black | flowfill | network | clean], (N, c, 4c, 3) uint8."""

    def __init__(self, net: FillNet, clips: list[FillClip], batch: int = 4, crop: int = 128, length: int = 3,
                 perceptual: float = 1.0, temporal: float = 0.5) -> None:
        super().__init__()
        if batch < 1 or crop < 16 or length < 1:
            raise VidpriorError(f"batch={batch}, crop={crop}, length={length}: need batch >= 1, crop >= 16, "
                                "length >= 1")
        self.net, self.clips, self.batch, self.crop, self.length = net, clips, batch, crop, length
        self.perceptual_weight, self.temporal_weight = perceptual, temporal
        self.lpips = lpips_model("alex") if perceptual else None
        with torch.random.fork_rng():
            torch.manual_seed(VALIDATION_SEED)
            self.valid = [draw_sample(clips, batch, crop, length) for _ in range(VALIDATION_DRAWS)]
        self.history: list[dict[str, float]] = []  # this session's stats, one per step

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        s = draw_sample(self.clips, self.batch, self.crop, self.length).to(next(self.net.parameters()).device)
        outputs = run_sequence(self.net, s)
        total = s.filled.new_zeros(())
        mse, base = 0.0, 0.0
        for t, out in enumerate(outputs):
            out = out.float()
            clean, hole, unseen = s.clean[:, t], s.hole[:, t] * s.trusted[:, t], s.unseen[:, t] * s.trusted[:, t]
            total = total + _masked_l1(out, clean, hole) + _masked_l1(out, clean, unseen)
            if self.lpips is not None:
                shown = torch.where(s.trusted[:, t] > 0, out.clamp(0, 1), clean)  # nothing to compare where unknown
                total = total + self.perceptual_weight * self.lpips(shown, clean).mean()
            if t and self.temporal_weight:
                aligned, trust = feedback(outputs[t - 1].float(), clean, s.clean[:, t - 1], s.truth_back[:, t])
                total = total + self.temporal_weight * _masked_l1(out, aligned, hole * trust)
            mse += _hole_mse(out.detach(), clean, hole) / len(outputs)
            base += _hole_mse(s.filled[:, t], clean, hole) / len(outputs)
        stats = {**error_stats(mse), "flowfill psnr": error_stats(base)["psnr"]}
        self.history.append(stats)
        return total / len(outputs), stats

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Hole PSNR of the network and of flowfill on the validation set, and the same on the pixels no frame
        saw (errors summed over the set, so a crop with a small hole weighs little)."""
        device = next(self.net.parameters()).device
        sums = dict.fromkeys(("net", "flowfill", "net unseen", "flowfill unseen", "hole", "unseen"), 0.0)
        for s in (v.to(device) for v in self.valid):
            for t, out in enumerate(run_sequence(self.net, s)):
                for name, image in (("net", out.float().clamp(0, 1)), ("flowfill", s.filled[:, t])):
                    error = (image - s.clean[:, t]).pow(2).sum(1, keepdim=True) / 3
                    sums[name] += float((error * s.hole[:, t]).sum())
                    sums[f"{name} unseen"] += float((error * s.unseen[:, t]).sum())
                sums["hole"] += float(s.hole[:, t].sum())
                sums["unseen"] += float(s.unseen[:, t].sum())

        def psnr(error: float, count: float) -> float:
            return error_stats(error / count)["psnr"] if count else float("nan")

        return {"psnr": psnr(sums["net"], sums["hole"]), "flowfill psnr": psnr(sums["flowfill"], sums["hole"]),
                "unseen psnr": psnr(sums["net unseen"], sums["unseen"]),
                "flowfill unseen psnr": psnr(sums["flowfill unseen"], sums["unseen"])}

    @torch.no_grad()
    def render(self) -> np.ndarray:
        s = self.valid[0].to(next(self.net.parameters()).device)
        out = run_sequence(self.net, s)[-1].float().clamp(0, 1)
        shown = s.clean[:, -1] * (1 - s.hole[:, -1])
        return np.concatenate([tensor_to_frames(x) for x in (shown, s.filled[:, -1], out, s.clean[:, -1])], 2)

    def preview(self) -> np.ndarray:
        return self.render()[0]


def train_fill(data: list[Path], output: Path, *, budget: float, width: int = 24, blocks: int = 3, crop: int = 128,
               batch: int = 4, length: int = 3, longest: int = 432, exclude: tuple[str, ...] = (),
               lr: float = 5e-4, steps: int = 1_000_000, init: Path | None = None, run_dir: Path | None = None,
               resume: bool = False, device: str = "auto", seed: int = 0, progress: bool = True) -> dict[str, float]:
    """Train the fill (or continue training the one in ``init``, whose configuration wins) on the clips in
    ``data`` (but ``exclude``) with synthetic holes; write safetensors to ``output``. Flowfill's answers are
    computed once per clip and cached (`data`). Returns figures for the report: steps, seconds, hole PSNR of
    the first and last 100 steps and on the validation set (network and flowfill)."""
    check_output(output, "fill")
    torch.manual_seed(seed)
    began = time.monotonic()
    clips = load_fill_clips(data, longest=longest, exclude=exclude, loud=progress)
    begun: Start = start(init, load_fill, lambda: FillNet(FillConfig(width=width, blocks=blocks)))
    objective = FillTraining(begun.net, clips, batch=batch, crop=crop, length=length)
    config = begun.net.config
    return train_network(
        objective, begun, clips, name="fill", output=output, data=data,
        recipe=(f"width {config.width}, blocks {config.blocks}, crop {crop}, batch {batch}, {length} frames; clips "
                f"at most {longest} px, held out: {', '.join(exclude) or 'none'}; losses: L1 in the hole and the "
                "unseen part, LPIPS, temporal"),
        budget=budget, steps=steps, lr=lr, seed=seed, run_dir=run_dir, resume=resume, device=device,
        progress=progress, stats=("flowfill psnr",), began=began,
        describe=lambda v: (f"validation hole PSNR: network {v['psnr']:.2f} dB, flowfill {v['flowfill psnr']:.2f} dB; "
                            f"pixels no frame saw: network {v['unseen psnr']:.2f} dB, flowfill (Telea) "
                            f"{v['flowfill unseen psnr']:.2f} dB"))
