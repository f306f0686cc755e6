"""Training the feed-forward VINet on many clips, and adapting it to one video.

Both are an `Objective` for the shared loop (`vidprior.fit`): budget, warm-up and cosine decay,
progress, checkpoints, resume and the NaN guard come from there. A step samples short clips from
a `ClipBank`, cuts random crops, punches synthetic holes (object-shaped moving masks or free-form
strokes) and scores the network's fill against the frames behind the holes:

- reconstruction: L1 over the frame + 5 × L1 inside the hole (normalised by its area) + (1 − SSIM);
- flow: L1 of the predicted flows (source → reference at 1/8, 1/4, 1/2; feedback at full
  resolution) against OpenCV DIS flow of the clean frames (the paper used FlowNet2), weighted by a
  photometric confidence exp(-50 · |I_t − warp(I_s)|²);
- temporal (recurrent stage): L1 between consecutive outputs aligned by the DIS flow, same weight.

The curriculum of the paper in two stages: ``single`` (one output, no feedback) then
``recurrent`` (three consecutive outputs, previous output and ConvLSTM state fed forward).

Adaptation (``--adapt 60s``, `adaptation`) is the same objective over the one input video:
synthetic holes are placed on its known pixels and the loss counts known pixels only.
"""

from __future__ import annotations

import copy
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import flow
from ..errors import VidpriorError
from ..fit import Objective, Schedule, error_stats, fingerprint, fit, pick_device
from ..metrics import _ssim_maps
from ..problems import Problem, stroke_masks
from ..training_clips import TrainingClip, load_training_clips, synthetic_holes
from .inference import OFFSETS, inpaint_frames, mirror, to_signed
from .network import Vinet, VinetConfig
from .weights import load_vinet, save_vinet

HOLE_WEIGHT = 5.0
STAGES = {"single": 1, "recurrent": 3}  # outputs per sample


@dataclass
class Sample:
    """A batch of short crops. frames/holes/trusted: (N, F, C, h, w); outputs: indices (into F) of the
    reference frames, in order; neighbours[k]: indices of output k's four sources; flows: DIS flows per
    output, (N, 5, 2, h, w) to the four sources and to the previous frame (zeros for the first output)."""

    frames: torch.Tensor
    holes: torch.Tensor
    trusted: torch.Tensor
    outputs: list[int]
    neighbours: list[list[int]]
    flows: list[torch.Tensor]


def _random(high: int) -> int:
    return int(torch.randint(high, ()).item()) if high > 1 else 0


def draw_sample(clips: list[TrainingClip], shape_bank: list[np.ndarray], batch: int, crop: int, outputs: int) -> Sample:
    """Random crops of random clips with holes; all randomness from torch's RNG (checkpointed by `fit`)."""
    span = list(range(-6, outputs + 6))  # frames relative to the first output
    rng = np.random.default_rng(_random(2**31))
    weights = torch.tensor([len(c.frames) for c in clips], dtype=torch.float)
    crop_h, crop_w = (min(crop, min(c.frames.shape[1] for c in clips)) // 8 * 8,
                      min(crop, min(c.frames.shape[2] for c in clips)) // 8 * 8)
    frames, holes, trusted, flows = [], [], [], []
    for _ in range(batch):
        clip = clips[int(torch.multinomial(weights, 1).item())]
        count, height, width = clip.frames.shape[:3]
        start = _random(max(1, count - outputs + 1))
        index = [mirror(start + d, count) for d in span]
        if _random(2):  # time reversal
            index = index[::-1]
        y, x = _random(height - crop_h + 1), _random(width - crop_w + 1)
        cut = clip.frames[index, y: y + crop_h, x: x + crop_w]
        known = (np.ones(cut.shape[:3], bool) if clip.trusted is None
                 else clip.trusted[index, y: y + crop_h, x: x + crop_w])
        if _random(2):
            cut, known = cut[:, :, ::-1], known[:, :, ::-1]
        cut, known = np.ascontiguousarray(cut), np.ascontiguousarray(known)
        hole = synthetic_holes(rng, shape_bank, (crop_h, crop_w), len(index)) | ~known
        per_output = []
        for k in range(outputs):
            ref = 6 + k
            pairs = [ref + d for d in OFFSETS] + [ref - 1]
            fields = [flow.dis_flow(cut[ref], cut[s], preset="fast") for s in pairs]
            if k == 0:
                fields[-1] = np.zeros_like(fields[-1])
            per_output.append(torch.from_numpy(np.stack(fields)).permute(0, 3, 1, 2))
        frames.append(to_signed(cut))
        holes.append(torch.from_numpy(hole[:, None].astype(np.float32)))
        trusted.append(torch.from_numpy(known[:, None].astype(np.float32)))
        flows.append(per_output)
    return Sample(torch.stack(frames), torch.stack(holes), torch.stack(trusted),
                  [6 + k for k in range(outputs)], [[6 + k + d for d in OFFSETS] for k in range(outputs)],
                  [torch.stack([f[k] for f in flows]) for k in range(outputs)])


def _confidence(reference: torch.Tensor, source: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
    """exp(-50 · Σ_c (ref − warp(src))²) in [0, 1] units: (N, 1, h, w); low where the flow is wrong or occluded."""
    diff = ((reference - flow.warp(source, field)) / 2).pow(2).sum(1, keepdim=True)
    return torch.exp(-50 * diff)


def _weighted_l1(a: torch.Tensor, b: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return (weight * (a - b).abs()).sum() / (weight.sum() * a.shape[1] / weight.shape[1]).clamp_min(1.0)


class VinetTraining(Objective):
    """The VINet losses on samples from ``clips``; ``stage`` 'single' or 'recurrent'.

    preview/render: the network's fill of a fixed validation crop (frames of the first clip with
    fixed stroke holes), so the run folder shows it improve.
    """

    def __init__(self, net: Vinet, clips: list[TrainingClip], stage: str = "single", batch: int = 2, crop: int = 128,
                 flow_weight: float = 0.05, temporal_weight: float = 1.0) -> None:
        super().__init__()
        if stage not in STAGES:
            raise VidpriorError(f"stage '{stage}': choose {' or '.join(STAGES)}")
        if batch < 1 or crop < 32:
            raise VidpriorError(f"batch={batch}, crop={crop}: need batch >= 1 and crop >= 32")
        self.net, self.clips, self.stage = net, clips, stage
        self.batch, self.crop = batch, crop
        self.flow_weight, self.temporal_weight = flow_weight, temporal_weight
        self.shape_bank = [c.shapes for c in clips if c.shapes is not None]
        first = clips[0]
        count = min(len(first.frames), 12)
        self.valid_frames = first.frames[:count]
        self.valid_holes = stroke_masks(first.frames.shape[1:3], count, seed=0, coverage=0.1, speed=1.0)
        if first.trusted is not None:
            self.valid_holes |= ~first.trusted[:count]

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        device = next(self.net.parameters()).device
        s = draw_sample(self.clips, self.shape_bank, self.batch, self.crop, STAGES[self.stage])
        frames, holes, trusted = s.frames.to(device), s.holes.to(device), s.trusted.to(device)
        needed = sorted({i for sources in s.neighbours for i in sources})
        encoded = self.net.encode_sources(frames[:, needed], holes[:, needed])  # each source frame once
        slot = {i: k for k, i in enumerate(needed)}
        previous, state, last = None, None, None
        total = frames.new_zeros(())
        hole_error, hole_pixels = 0.0, 0.0
        for k, (ref, sources) in enumerate(zip(s.outputs, s.neighbours)):
            target, hole, known = frames[:, ref], holes[:, ref], trusted[:, ref]
            neighbours = encoded.select([slot[i] for i in sources])
            out = self.net(frames[:, ref], hole, neighbours, previous, state)
            dis = s.flows[k].to(device)  # (N, 5, 2, h, w)
            image = out.image
            # reconstruction
            hole_known = hole * known
            l1 = _weighted_l1(image, target, known)
            l1_hole = _weighted_l1(image, target, hole_known)
            loss = l1 + HOLE_WEIGHT * l1_hole
            if known.amin() > 0:
                ssim = _ssim_maps(((image + 1) / 2).flatten(0, 1)[:, None], ((target + 1) / 2).flatten(0, 1)[:, None])
                loss = loss + (1 - ssim.mean())
            # flows against DIS, at each scale
            flow_loss = frames.new_zeros(())
            for i, source in enumerate([*sources, ref - 1]):
                if i == 4 and previous is None:  # the feedback stream is the reference itself
                    reference_flow, weight = torch.zeros_like(dis[:, 4]), known
                else:
                    reference_flow = dis[:, i]
                    weight = _confidence(target, frames[:, source], reference_flow) * known
                if i < 4:
                    for scale, predicted in out.flows.items():
                        size = predicted.shape[-2:]
                        down = F.interpolate(reference_flow, size=size, mode="area") / scale
                        flow_loss = flow_loss + _weighted_l1(predicted[:, i], down, F.interpolate(weight, size=size,
                                                                                                    mode="area"))
                else:
                    flow_loss = flow_loss + _weighted_l1(out.feedback_flow, reference_flow, weight)
            loss = loss + self.flow_weight * flow_loss
            # temporal consistency with the previous output
            if last is not None:
                weight = _confidence(target, frames[:, ref - 1], dis[:, 4]) * known
                loss = loss + self.temporal_weight * _weighted_l1(image, flow.warp(last, dis[:, 4]), weight)
            total = total + loss
            pasted = torch.where(hole > 0, image, frames[:, ref])
            if self.stage == "recurrent":
                previous, state, last = pasted, out.state, image
            with torch.no_grad():
                hole_error += float(((pasted - target) / 2).pow(2).mul(hole_known).sum())
                hole_pixels += float(hole_known.sum()) * 3
        return total / len(s.outputs), error_stats(hole_error / max(hole_pixels, 1.0))

    def render(self) -> np.ndarray:
        device = next(self.net.parameters()).device
        return inpaint_frames(self.net, self.valid_frames, self.valid_holes, device)

    def preview(self) -> np.ndarray:
        t = len(self.valid_frames) // 2
        device = next(self.net.parameters()).device
        filled = inpaint_frames(self.net, self.valid_frames[t - 1: t + 2], self.valid_holes[t - 1: t + 2], device,
                                warmup=0)[1]
        shown = np.where(self.valid_holes[t][..., None], 0, self.valid_frames[t])
        return np.concatenate([shown, filled], axis=1)


# ------------------------------------------------------------------------------------ commands


def train_vinet(data: list[Path], output: Path, *, budget: float, width: int = 8, crop: int = 128, batch: int = 2,
                split: float = 0.4, lr: float = 5e-4, steps: int = 1_000_000, init: Path | None = None,
                run_dir: Path | None = None, resume: bool = False, device: str = "auto", seed: int = 0,
                progress: bool = True) -> dict[str, float]:
    """Train (or continue training ``init``) on the clips in ``data``; write safetensors to ``output``.

    The budget is split between the stages: ``split`` for 'single', the rest for 'recurrent'.
    Returns figures for the report (steps per stage, seconds, validation PSNR of the holes).
    """
    if not 0 <= split <= 1:
        raise VidpriorError(f"split={split} must be in [0, 1] (the share of the budget for the first stage)")
    if output.suffix != ".safetensors":
        raise VidpriorError(f"-o {output}: VINet weights are written as NAME.safetensors")
    torch.manual_seed(seed)
    clips = load_training_clips(data)
    net = load_vinet(init)[0].train() if init else Vinet(VinetConfig(width=width)).train()
    chosen = pick_device(device, loud=progress)
    names = " ".join(f"{c.name}:{len(c.frames)}" for c in clips)
    figures: dict[str, float] = {}
    began = time.monotonic()
    for stage, share in (("single", split), ("recurrent", 1 - split)):
        if share <= 0:
            continue
        objective = VinetTraining(net, clips, stage=stage, batch=batch, crop=crop)
        schedule = Schedule(steps=steps, budget=budget * share, lr=lr, warmup=100, final_lr=0.05, clip_grad=1.0,
                            checkpoint_every=60.0, preview_every=20.0)
        key = fingerprint(extra=f"vinet {stage} {names} {net.config} {batch} {crop} {lr} {split} {budget} {init}")
        folder = run_dir / stage if run_dir else None
        print(f"vidprior: training stage '{stage}' for {budget * share:.0f}s", file=sys.stderr)
        _, report = fit(objective, schedule, run_dir=folder, resume=resume, key=key, device=chosen,
                        progress=progress, label=f"train vinet ({stage})")
        figures[f"{stage} steps"] = report.steps
    net = net.cpu().eval()
    figures["seconds"] = time.monotonic() - began
    save_vinet(net, output, trained=(f"vidprior train vinet: {len(clips)} clips ({names}); width {net.config.width}, "
                                       f"crop {crop}, batch {batch}, budget {budget:.0f}s, "
                                       f"steps {figures.get('single steps', 0)}+{figures.get('recurrent steps', 0)}"))
    return figures


def adaptation(net: Vinet, problem: Problem, seconds: float, *, steps: int, lr: float, batch: int, crop: int
               ) -> tuple[VinetTraining, Schedule]:
    """What fine-tuning a copy of ``net`` (the objective's ``net``) on the video to inpaint fits for
    ``seconds``: holes placed on its known pixels, the hole's own shapes borrowed for them."""
    if seconds <= 0:
        raise VidpriorError(f"--adapt {seconds}: give a positive duration, e.g. 60s")
    clip = TrainingClip("input", problem.observed, ~problem.hole, shapes=problem.hole if problem.hole.any() else None)
    objective = VinetTraining(copy.deepcopy(net).train(), [clip], stage="recurrent", batch=batch, crop=crop)
    return objective, Schedule(steps=steps, budget=seconds, lr=lr, warmup=10, final_lr=0.1, clip_grad=1.0)
