"""Self-supervised samples for flow completion: DIS flows of whole frames with synthetic holes cut in them.

Each training clip is kept in memory only as its flows at the working resolution (float16, about
0.2 MB per 213 × 120 frame), so a folder of clips costs little; the frames are read, downscaled,
measured and dropped one clip at a time. The target of a sample is the flow of the whole frames
inside the hole; the network sees it only outside the holes.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import flow
from ..errors import VidpriorError
from ..training_clips import clip_paths, load_training_clip, synthetic_holes
from .network import FRAMES
from .scale import working_frames, working_holes


@dataclass
class FlowClip:
    """forward[t]: flow t -> t+1, backward[t]: t -> t-1, (T, h, w, 2) float16 (forward[-1] and
    backward[0] are zero); shapes: (T, h, w) bool object masks lending hole shapes, or None."""

    name: str
    forward: np.ndarray
    backward: np.ndarray
    shapes: np.ndarray | None = None


def clip_flows(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DIS forward and backward flows (T, H, W, 2) float32 of uint8 frames (T, H, W, 3), zeros where none."""
    forward = np.zeros((*frames.shape[:3], 2), np.float32)
    backward = np.zeros_like(forward)
    for t in range(len(frames) - 1):
        forward[t] = flow.dis_flow(frames[t], frames[t + 1])
        backward[t + 1] = flow.dis_flow(frames[t + 1], frames[t])
    return forward, backward


def load_flow_clips(folders: list[Path], scale: int = 4, max_frames: int | None = None, loud: bool = False
                    ) -> list[FlowClip]:
    """Flows at 1/``scale`` of every clip in ``folders`` (clips of fewer than 5 frames are skipped)."""
    clips = []
    for path in clip_paths(folders):
        clip = load_training_clip(path, max_frames)
        if len(clip.frames) < 2 + FRAMES:
            continue
        forward, backward = clip_flows(working_frames(clip.frames, scale))
        shapes = working_holes(clip.shapes, scale) if clip.shapes is not None else None
        clips.append(FlowClip(clip.name, forward.astype(np.float16), backward.astype(np.float16),
                              shapes if shapes is not None and shapes.any() else None))
        if loud:
            print(f"vidprior: flows of {clip.name} ({len(forward)} frames, {forward.shape[2]}x{forward.shape[1]})",
                  file=sys.stderr)
    if not clips:
        raise VidpriorError(f"no clip of at least {2 + FRAMES} frames in {', '.join(map(str, folders))}")
    return clips


@dataclass
class FlowSample:
    """truth (N, 3, 2, 2, h, w): the flows of frames t-1, t, t+1 (forward, backward; dx, dy);
    holes (N, 3, h, w) float 1 = hole; smooth (N, 2, 2, h, w): the smooth fill of frame t's flows."""

    truth: torch.Tensor
    holes: torch.Tensor
    smooth: torch.Tensor

    def to(self, device: torch.device) -> FlowSample:
        return FlowSample(self.truth.to(device), self.holes.to(device), self.smooth.to(device))


def _random(high: int) -> int:
    return int(torch.randint(high, ()).item()) if high > 1 else 0


def draw_sample(clips: list[FlowClip], shape_bank: list[np.ndarray], batch: int, crop: int) -> FlowSample:
    """``batch`` crops (at most ``crop`` square) of one random clip, randomly mirrored and time-reversed,
    with synthetic holes; all randomness from torch's RNG (checkpointed by `fit`)."""
    weights = torch.tensor([len(c.forward) - 4 for c in clips], dtype=torch.float)
    clip = clips[int(torch.multinomial(weights, 1).item())]
    count, height, width = clip.forward.shape[:3]
    ch, cw = min(crop, height), min(crop, width)
    rng = np.random.default_rng(_random(2**31))
    truth, holes, smooth = [], [], []
    for _ in range(batch):
        t = 2 + _random(count - 4)  # t-1 has a backward flow, t+1 a forward one
        y, x = _random(height - ch + 1), _random(width - cw + 1)
        fields = np.stack([clip.forward[t - 1: t + 2], clip.backward[t - 1: t + 2]], axis=1)  # (3, 2, h, w, 2)
        fields = fields[:, :, y: y + ch, x: x + cw].astype(np.float32)
        if _random(2):  # mirror left-right: dx changes sign
            fields = fields[:, :, :, ::-1] * np.array([-1, 1], np.float32)
        if _random(2):  # time reversal: frames in the other order, forward and backward swapped
            fields = fields[::-1, ::-1]
        hole = np.zeros((FRAMES, ch, cw), bool)
        while not hole[FRAMES // 2].any():
            hole = synthetic_holes(rng, shape_bank, (ch, cw), FRAMES)
        fields = np.ascontiguousarray(fields)
        truth.append(torch.from_numpy(fields).permute(0, 1, 4, 2, 3))
        holes.append(torch.from_numpy(hole.astype(np.float32)))
        smooth.append(torch.from_numpy(np.stack([flow.fill_smooth(f, hole[FRAMES // 2]) for f in fields[FRAMES // 2]]))
                      .permute(0, 3, 1, 2))
    return FlowSample(torch.stack(truth), torch.stack(holes), torch.stack(smooth))
