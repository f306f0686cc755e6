"""Training the flow-completion network on the flows of many clips, through the shared loop (`vidprior.fit`).

A step draws crops of one clip's flows at the working resolution with synthetic holes
(`data.draw_sample`) and scores the completed flows of the middle frame by their end-point error
(the mean length of the error vector, in working pixels) inside its hole. The stats report the
network's EPE (``epe``) and the smooth fill's (``smooth epe``) on the same batch; a fixed
validation set (``VALIDATION_DRAWS`` batches: other holes, same clips) measures both at the end.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import torch

from ..errors import VidpriorError
from ..fit import Objective, Schedule, fingerprint, mean_stat, train
from .data import FlowClip, FlowSample, draw_sample, load_flow_clips
from .network import FRAMES, FlowCompletion, FlowCompletionConfig
from .weights import save_flowcomp

VALIDATION_SEED = 1234
VALIDATION_DRAWS = 8  # batches (each of one clip) in the fixed validation set


def hole_epe(predicted: torch.Tensor, truth: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """Mean end-point error of flows (N, D, 2, h, w) against ``truth`` inside ``hole`` (N, h, w), over D directions."""
    length = ((predicted - truth).pow(2).sum(2) + 1e-8).sqrt()  # (N, D, h, w)
    weight = hole[:, None].expand_as(length)
    return (length * weight).sum() / weight.sum().clamp_min(1.0)


def flow_colour(field: np.ndarray, unit: float) -> np.ndarray:
    """(h, w, 2) flow -> (h, w, 3) uint8: hue = direction, brightness = length (full at ``unit`` pixels)."""
    length, angle = cv2.cartToPolar(np.ascontiguousarray(field[..., 0]), np.ascontiguousarray(field[..., 1]),
                                    angleInDegrees=True)
    hsv = np.stack([angle / 2, np.full_like(angle, 255), np.clip(length / unit, 0, 1) * 255], -1).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


class FlowCompletionTraining(Objective):
    """EPE inside the holes of samples from ``clips``. render: for each crop of the first validation batch, its forward
    flow as [truth | smooth fill | network] with the hole darkened, (N, h, 3w, 3) uint8."""

    def __init__(self, net: FlowCompletion, clips: list[FlowClip], batch: int = 4, crop: int = 96) -> None:
        super().__init__()
        if batch < 1 or crop < 16:
            raise VidpriorError(f"batch={batch}, crop={crop}: need batch >= 1 and crop >= 16")
        self.net, self.clips, self.batch, self.crop = net, clips, batch, crop
        self.shape_bank = [c.shapes for c in clips if c.shapes is not None]
        with torch.random.fork_rng():
            torch.manual_seed(VALIDATION_SEED)
            self.valid = [draw_sample(clips, self.shape_bank, batch, crop) for _ in range(VALIDATION_DRAWS)]
        self.history: list[dict[str, float]] = []  # this session's stats, one per step

    def _complete(self, s: FlowSample) -> torch.Tensor:
        return self.net(s.truth, s.holes, s.smooth)

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        s = draw_sample(self.clips, self.shape_bank, self.batch, self.crop).to(next(self.net.parameters()).device)
        hole, truth = s.holes[:, FRAMES // 2], s.truth[:, FRAMES // 2]
        loss = hole_epe(self._complete(s).float(), truth, hole)
        stats = {"epe": float(loss.detach()), "smooth epe": float(hole_epe(s.smooth, truth, hole))}
        self.history.append(stats)
        return loss, stats

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """EPE of the network and of the smooth fill in the holes of the fixed validation set (mean over batches)."""
        device = next(self.net.parameters()).device
        figures = []
        for s in (v.to(device) for v in self.valid):
            hole, truth = s.holes[:, FRAMES // 2], s.truth[:, FRAMES // 2]
            figures.append({"epe": float(hole_epe(self._complete(s).float(), truth, hole)),
                            "smooth epe": float(hole_epe(s.smooth, truth, hole))})
        return {key: mean_stat(figures, key) for key in ("epe", "smooth epe")}

    @torch.no_grad()
    def render(self) -> np.ndarray:
        s = self.valid[0].to(next(self.net.parameters()).device)
        fields = [s.truth[:, FRAMES // 2, 0], s.smooth[:, 0], self._complete(s).float()[:, 0]]
        unit = float(fields[0].abs().max()) or 1.0
        shade = 1 - 0.4 * s.holes[:, FRAMES // 2, ..., None].cpu().numpy()
        rows = [np.concatenate([flow_colour(f[i].permute(1, 2, 0).cpu().numpy(), unit) for f in fields], 1)
                for i in range(len(fields[0]))]
        return (np.stack(rows) * np.concatenate([shade] * 3, 2)).astype(np.uint8)

    def preview(self) -> np.ndarray:
        return self.render()[0]



def train_flowcomp(data: list[Path], output: Path, *, budget: float, width: int = 16, crop: int = 96, batch: int = 4,
                   scale: int = 4, lr: float = 1e-3, steps: int = 1_000_000, run_dir: Path | None = None,
                   resume: bool = False, device: str = "auto", seed: int = 0, progress: bool = True
                   ) -> dict[str, float]:
    """Train a flow-completion network on the flows (at 1/``scale``) of the clips in ``data``; write
    safetensors to ``output``. Returns figures for the report: steps, seconds, the EPE of the network
    and of the smooth fill over the first and last 100 steps of this session and on the validation batch."""
    if output.suffix != ".safetensors":
        raise VidpriorError(f"-o {output}: flow-completion weights are written as NAME.safetensors")
    if scale < 1:
        raise VidpriorError(f"scale={scale}: give a positive integer (4: flows at 1/4 of the frame size)")
    torch.manual_seed(seed)
    began = time.monotonic()
    clips = load_flow_clips(data, scale=scale, loud=progress)
    net = FlowCompletion(FlowCompletionConfig(width=width)).train()
    objective = FlowCompletionTraining(net, clips, batch=batch, crop=crop)
    schedule = Schedule(steps=steps, budget=budget, lr=lr, warmup=100, final_lr=0.05, clip_grad=1.0,
                        checkpoint_every=60.0, preview_every=20.0)
    names = " ".join(f"{c.name}:{len(c.forward)}" for c in clips)
    key = fingerprint(extra=f"flowcomp {names} {net.config} {batch} {crop} {scale} {lr} {budget} {seed}")
    report = train(objective, schedule, name="flowcomp", about=f" on {len(clips)} clips", key=key, run_dir=run_dir,
                   resume=resume, device=device, progress=progress)
    net = net.cpu().eval()
    history = objective.history
    valid = objective.validate()
    figures = {"steps": report.steps, "seconds": time.monotonic() - began,
               "first epe": mean_stat(history[:100], "epe"), "first smooth epe": mean_stat(history[:100], "smooth epe"),
               "last epe": mean_stat(history[-100:], "epe"), "last smooth epe": mean_stat(history[-100:], "smooth epe"),
               "valid epe": valid["epe"], "valid smooth epe": valid["smooth epe"]}
    folders = ", ".join(str(Path(d)) for d in data)
    save_flowcomp(net, output, scale=scale,
                  trained=(f"vidprior train flowcomp: {len(clips)} clips from {folders} ({names}); flows at "
                           f"1/{scale}, width {width}, crop {crop}, batch {batch}, lr {lr}, budget {budget:.0f}s"),
                  data=folders, steps=str(report.steps), seconds=f"{report.seconds:.0f}",
                  epe=(f"validation EPE inside holes (working pixels): network {valid['epe']:.4f}, "
                       f"smooth fill {valid['smooth epe']:.4f}"))
    return figures
