"""Training the mask-propagation network on the object masks of training clips (`data`), through the shared
loop (`vidprior.fit`, `vidprior.trainer`).

A step draws ``batch`` crops (a frame, its neighbour, the neighbour's true mask spoilt and carried along the
flow; see `data`) and scores the network's mask against the true one by binary cross-entropy plus one minus
the soft IoU. The stats give the IoU of the network's mask (thresholded at 0.5) and of the carried mask; a fixed
validation set (other crops, same clips) measures both at the end.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import VidpriorError
from ..fit import Objective, mean_stat
from ..trainer import check_output, start, train_network
from .data import MaskClip, MaskSample, draw_sample, load_mask_clips
from .network import MaskProp, MaskPropConfig
from .weights import load_maskprop

VALIDATION_SEED = 2468
VALIDATION_DRAWS = 6


def mask_loss(logits: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy plus (1 - soft IoU) of mask ``logits`` (N, 1, h, w) against ``truth`` in [0, 1]."""
    soft = torch.sigmoid(logits)
    intersection = (soft * truth).sum((1, 2, 3))
    union = (soft + truth - soft * truth).sum((1, 2, 3))
    soft_iou = (intersection + 1) / (union + 1)
    return F.binary_cross_entropy_with_logits(logits, truth) + (1 - soft_iou).mean()


def hard_iou(mask: torch.Tensor, truth: torch.Tensor) -> float:
    """Mean IoU over the batch of masks (N, 1, h, w) > 0.5 against ``truth`` > 0.5 (1 where both are empty)."""
    a, b = mask > 0.5, truth > 0.5
    union = (a | b).sum((1, 2, 3)).float()
    inter = (a & b).sum((1, 2, 3)).float()
    return float(torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union)).mean())


class MaskPropTraining(Objective):
    """Mask loss over samples of ``clips``. render: for each crop of the first validation batch, the frame with
    [carried | network | true] masks tinted, (N, c, 3c, 3) uint8."""

    def __init__(self, net: MaskProp, clips: list[MaskClip], batch: int = 8, crop: int = 128) -> None:
        super().__init__()
        if batch < 1 or crop < 16:
            raise VidpriorError(f"batch={batch}, crop={crop}: need batch >= 1 and crop >= 16")
        self.net, self.clips, self.batch, self.crop = net, clips, batch, crop
        with torch.random.fork_rng():
            torch.manual_seed(VALIDATION_SEED)
            self.valid = [draw_sample(clips, batch, crop) for _ in range(VALIDATION_DRAWS)]
        self.history: list[dict[str, float]] = []  # this session's stats, one per step

    def _scored(self, s: MaskSample) -> tuple[torch.Tensor, dict[str, float]]:
        logits = self.net(*s.inputs()).float()
        loss = mask_loss(logits, s.truth)
        return loss, {"iou": hard_iou(torch.sigmoid(logits.detach()), s.truth),
                      "carried iou": hard_iou(s.carried, s.truth)}

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        device = next(self.net.parameters()).device
        loss, stats = self._scored(draw_sample(self.clips, self.batch, self.crop).to(device))
        stats = {"loss": float(loss.detach()), **stats}
        self.history.append(stats)
        return loss, stats

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """IoU of the network's masks and of the carried ones on the fixed validation set (mean over batches)."""
        device = next(self.net.parameters()).device
        figures = [self._scored(v.to(device))[1] for v in self.valid]
        return {key: mean_stat(figures, key) for key in ("iou", "carried iou")}

    @torch.no_grad()
    def render(self) -> np.ndarray:
        s = self.valid[0].to(next(self.net.parameters()).device)
        masks = [s.carried, torch.sigmoid(self.net(*s.inputs()).float()), s.truth]
        frame = s.frame.cpu().movedim(1, -1).numpy()
        tiles = [frame * 0.5 + 0.5 * m.cpu().movedim(1, -1).numpy() * np.array([1.0, 0.2, 0.2]) for m in masks]
        return (np.concatenate(tiles, 2).clip(0, 1) * 255).astype(np.uint8)

    def preview(self) -> np.ndarray:
        return self.render()[0]


def train_maskprop(data: list[Path], output: Path, *, budget: float, width: int | None = None,
                   crop: int | None = None, batch: int | None = None, lr: float = 1e-3, steps: int = 1_000_000,
                   init: Path | None = None, run_dir: Path | None = None, resume: bool = False,
                   device: str = "auto", seed: int = 0, progress: bool = True) -> dict[str, float]:
    """Train a mask-propagation network (or continue the one in ``init``, whose width wins) on the clips with
    object masks in ``data``; write safetensors to ``output``. Returns figures for the report: steps, seconds,
    IoU over the first and last 100 steps of this session and on the validation set (network and carried masks).
    The weights' metadata adds up the steps and seconds of every training that led to them."""
    check_output(output, "mask-propagation")
    torch.manual_seed(seed)
    began = time.monotonic()
    config = MaskPropConfig(**({"width": width} if width else {}))
    begun = start(init, load_maskprop, lambda: MaskProp(config))
    crop, batch = crop or 128, batch or 8
    clips = load_mask_clips(data, progress=progress)
    objective = MaskPropTraining(begun.net, clips, batch=batch, crop=crop)
    net = begun.net
    return train_network(
        objective, begun, clips, name="maskprop", output=output, data=data,
        recipe=f"width {net.config.width}, depth {net.config.depth}, crop {crop}, batch {batch}",
        budget=budget, steps=steps, lr=lr, seed=seed, run_dir=run_dir, resume=resume, device=device,
        progress=progress, stats=("carried iou",), began=began, headline="iou",
        describe=lambda v: (f"validation IoU (crops {crop}, spoilt masks carried one frame): network {v['iou']:.4f}, "
                            f"carried {v['carried iou']:.4f}"))
