"""Training samples for mask propagation: the object masks of training clips, a noisy previous mask carried
along the DIS flow, and the true mask to reach.

Each clip is kept at the carrying size (`vidprior.carry.WORKING` on the longer side, as `carry` scales it) with
its flows from every frame to the one before and to the one after (`carry.flow_to`, as the carrying uses them),
cached on disk (`cache_dir`) keyed by the frames, the size and this module's flow settings. A sample takes a
frame t and its neighbour t-1 (or t+1: carrying backwards), spoils the neighbour's true mask the way carrying
spoils it (`spoil`: grown or shrunk, shifted, holes, loose islands, parts lost, soft edges), carries it along the
flow and asks for frame t's true mask.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from .. import carry, flow
from ..errors import VidpriorError
from ..perceptual import cache_dir as vidprior_cache
from ..propagation import flow_scale
from ..training_clips import clip_paths, load_training_clip

FLOWS = f"DIS patch {carry.PATCH} stride {carry.STRIDE} finest 0 no refinement, cv2 {cv2.__version__}"


def cache_dir() -> Path:
    return vidprior_cache() / "maskprop"


@dataclass
class MaskClip:
    """frames (T, h, w, 3) uint8 and masks (T, h, w) bool at the carrying size; back[t]: flow t -> t-1, fore[t]:
    t -> t+1, (T, h, w, 2) float16 (back[0] and fore[-1] are zero)."""

    name: str
    frames: np.ndarray
    masks: np.ndarray
    back: np.ndarray
    fore: np.ndarray


def working_size(size: tuple[int, int]) -> tuple[int, int]:
    """(h, w) at which `carry` works on frames of ``size`` (H, W)."""
    scale = flow_scale(size, carry.WORKING)
    return size[0] // scale, size[1] // scale


def mask_clip(name: str, frames: np.ndarray, masks: np.ndarray) -> MaskClip:
    """A clip at the carrying size with its flows, from the cache when it holds them."""
    h, w = working_size(frames.shape[1:3])
    if (h, w) != frames.shape[1:3]:
        frames = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames])
        masks = np.stack([cv2.resize(m.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) > 0.5
                          for m in masks])
    key = hashlib.sha1(FLOWS.encode() + frames.tobytes()).hexdigest()[:20]
    path = cache_dir() / f"{key}.npz"
    if path.is_file():
        stored = np.load(path)
        back, fore = stored["back"], stored["fore"]
    else:
        back = np.zeros((*frames.shape[:3], 2), np.float16)
        fore = np.zeros_like(back)
        for t in range(len(frames) - 1):
            fore[t] = carry.flow_to(frames[t], frames[t + 1])
            back[t + 1] = carry.flow_to(frames[t + 1], frames[t])
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path.with_suffix(".tmp.npz"), back=back, fore=fore)
        path.with_suffix(".tmp.npz").replace(path)
    return MaskClip(name, frames, masks, back, fore)


def load_mask_clips(folders: list[Path], progress: bool = False) -> list[MaskClip]:
    """Every clip of ``folders`` with object masks (``masks/``) and at least 2 frames."""
    clips = []
    for path in clip_paths(folders):
        clip = load_training_clip(path)
        if clip.shapes is None or len(clip.frames) < 2:
            continue
        clips.append(mask_clip(clip.name, clip.frames, clip.shapes))
        if progress:
            print(f"vidprior: {clip.name}: {len(clip.frames)} frames at {clips[-1].frames.shape[2]}x"
                  f"{clips[-1].frames.shape[1]}", file=sys.stderr)
    if not clips:
        raise VidpriorError(f"no clip with object masks (masks/) in {', '.join(map(str, folders))}")
    return clips


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _blobs(rng: np.random.Generator, shape: tuple[int, int], centres: np.ndarray, count: int, size: float
           ) -> np.ndarray:
    """(h, w) bool: ``count`` ellipses of about ``size`` pixels across, centred at random rows of ``centres`` (K, 2)."""
    out = np.zeros(shape, np.uint8)
    for _ in range(count):
        y, x = centres[int(rng.integers(len(centres)))]
        axes = (max(1, int(rng.uniform(0.2, 0.6) * size)), max(1, int(rng.uniform(0.2, 0.6) * size)))
        cv2.ellipse(out, (int(x), int(y)), axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    return out > 0


def spoil(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A true mask (h, w) bool made as wrong as carrying makes it: soft (h, w) float32 in [0, 1]."""
    out = mask.astype(np.uint8)
    area = int(out.sum())
    if area == 0:
        return out.astype(np.float32)
    size = float(np.sqrt(area))
    radius = int(rng.integers(0, 4))
    if radius and rng.random() < 0.7:
        out = (cv2.dilate if rng.random() < 0.5 else cv2.erode)(out, _disc(radius))
    if rng.random() < 0.5:
        dy, dx = rng.integers(-3, 4, 2)
        out = np.roll(out, (int(dy), int(dx)), (0, 1))
    inside = np.argwhere(out > 0)
    if rng.random() < 0.4 and len(inside):  # holes where the colours fooled the snap
        out[_blobs(rng, out.shape, inside, int(rng.integers(1, 4)), 0.3 * size)] = 0
    if rng.random() < 0.3 and len(inside):  # a part lost (a limb, a wheel)
        out[_blobs(rng, out.shape, inside, 1, 0.6 * size)] = 0
    edge = np.argwhere(cv2.dilate(out, _disc(max(2, int(0.3 * size)))) > out)
    if rng.random() < 0.4 and len(edge):  # loose islands of background taken in
        out[_blobs(rng, out.shape, edge, int(rng.integers(1, 4)), 0.25 * size)] = 1
    soft = out.astype(np.float32)
    if rng.random() < 0.6:
        sigma = float(rng.uniform(0.5, 2.5))
        soft = cv2.GaussianBlur(soft, (0, 0), sigma)
    return np.clip(soft, 0, 1)


@dataclass
class MaskSample:
    """frame, previous_frame, warped (N, 3, c, c) in [0, 1]; carried, previous, truth (N, 1, c, c) in [0, 1]."""

    frame: torch.Tensor
    previous_frame: torch.Tensor
    warped: torch.Tensor
    carried: torch.Tensor
    previous: torch.Tensor
    truth: torch.Tensor

    def to(self, device: torch.device) -> MaskSample:
        return MaskSample(*(getattr(self, k).to(device) for k in self.__dataclass_fields__))

    def inputs(self) -> tuple[torch.Tensor, ...]:
        return self.frame, self.previous_frame, self.warped, self.carried, self.previous


def crop_around(mask: np.ndarray, side: int, rng: np.random.Generator) -> tuple[slice, slice]:
    """A ``side`` square (clipped to the frame) around a random object pixel of ``mask`` most of the time."""
    h, w = mask.shape
    ch, cw = min(side, h), min(side, w)
    points = np.argwhere(mask)
    if len(points) and rng.random() < 0.9:
        cy, cx = points[int(rng.integers(len(points)))] + rng.integers(-side // 4, side // 4 + 1, 2)
    else:
        cy, cx = rng.integers(h), rng.integers(w)
    y = int(np.clip(cy - ch // 2, 0, h - ch))
    x = int(np.clip(cx - cw // 2, 0, w - cw))
    return slice(y, y + ch), slice(x, x + cw)


def one_sample(frame: np.ndarray, previous_frame: np.ndarray, field: np.ndarray, previous_mask: np.ndarray,
               mask: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """The network's inputs and target as (h, w, C) float32 arrays, from a frame, its neighbour, the flow (h, w, 2)
    from the frame to the neighbour and both true masks; the neighbour's mask is spoilt (`spoil`) and carried."""
    previous = spoil(previous_mask, rng)
    carried = flow.warp_np(previous, field)
    warped = flow.warp_np(previous_frame, field)
    as_float = [x.astype(np.float32) / 255 for x in (frame, previous_frame, warped)]
    return (*as_float, carried[..., None], previous[..., None], mask.astype(np.float32)[..., None])


def stack_samples(parts: list[tuple[np.ndarray, ...]]) -> MaskSample:
    return MaskSample(*(torch.from_numpy(np.ascontiguousarray(np.stack(x))).movedim(-1, 1) for x in zip(*parts)))


def draw_sample(clips: list[MaskClip], batch: int, crop: int) -> MaskSample:
    """``batch`` crops from random clips and frames, carried forwards or backwards, mirrored half the time; all
    randomness from torch's RNG (checkpointed by `fit`)."""
    rng = np.random.default_rng(int(torch.randint(2**31, ()).item()))
    weights = np.array([len(c.frames) - 1 for c in clips], float)
    parts = []
    for _ in range(batch):
        clip = clips[int(rng.choice(len(clips), p=weights / weights.sum()))]
        backwards = rng.random() < 0.5
        t = int(rng.integers(0, len(clip.frames) - 1)) + (0 if backwards else 1)
        s = t + (1 if backwards else -1)
        field = (clip.fore if backwards else clip.back)[t]
        area = crop_around(clip.masks[t], crop, rng)
        # the flow is taken inside the crop: near its border it points out of it, where the border is replicated
        part = one_sample(clip.frames[t][area], clip.frames[s][area], field[area].astype(np.float32),
                          clip.masks[s][area], clip.masks[t][area], rng)
        if rng.random() < 0.5:
            part = tuple(x[:, ::-1] for x in part)
        if part[0].shape[:2] != (crop, crop):  # a clip smaller than the crop: padded by replication
            pad = ((0, crop - part[0].shape[0]), (0, crop - part[0].shape[1]), (0, 0))
            part = tuple(np.pad(x, pad, mode="edge") for x in part)
        parts.append(part)
    return stack_samples(parts)
