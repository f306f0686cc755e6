"""Training samples for the learned fill: clips with synthetic moving holes and flowfill's answer to them.

Flowfill costs about 0.15 s per 256×144 frame, far more than a training step can wait for, so its
outputs on every training clip are computed once and kept on disk (`cache_dir`), keyed by the clip's
frames, the holes' seed and the source code of flowfill itself: a change to the propagation makes new
entries, never stale ones. Large clips are first taken down to at most ``longest`` pixels on their
longer side (854×480 → 427×240), as the benchmark's and most users' holes are tens of pixels wide.
"""

from __future__ import annotations

import hashlib
import inspect
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import flow, flowfill, propagation
from ..errors import VidpriorError
from ..fit import fingerprint
from ..perceptual import cache_dir as vidprior_cache
from ..training_clips import clip_paths, load_training_clip, shrunk, synthetic_holes

DRAWS = 2  # hole sets (each a flowfill run) per clip
MIN_FRAMES = 4


def cache_dir() -> Path:
    return vidprior_cache() / "fill"


def code_key() -> str:
    """A digest of the code whose output is cached: the propagation and flowfill's core."""
    text = "".join(inspect.getsource(m) for m in (propagation, flowfill, flow))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Draw:
    """One hole set of a clip and flowfill's answer: holes, unseen (T, H, W) bool; filled (T, H, W, 3) uint8;
    travel (T, H, W) float32; trusted (T, H, W) bool: where the clip's frames are the truth (None: everywhere;
    a video being adapted to does not know what its own hole hides)."""

    holes: np.ndarray
    filled: np.ndarray
    unseen: np.ndarray
    travel: np.ndarray
    trusted: np.ndarray | None = None


@dataclass
class FillClip:
    """A training clip's clean frames (T, H, W, 3) uint8 and its hole sets with flowfill's answers."""

    name: str
    frames: np.ndarray
    draws: list[Draw]


def draw(frames: np.ndarray, holes: np.ndarray, key: str, loud: bool = False) -> Draw:
    """Flowfill's answer to ``holes`` in ``frames``, from the cache when it holds ``key``."""
    path = cache_dir() / f"{key}.npz"
    if path.is_file():
        with np.load(path) as stored:
            return Draw(holes, stored["filled"], np.unpackbits(stored["unseen"])[: holes.size].reshape(holes.shape)
                        .astype(bool), stored["travel"].astype(np.float32))
    filled = flowfill.flowfill(frames, holes, progress=loud)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, filled=filled.frames, unseen=np.packbits(filled.unseen), travel=filled.travel.astype(np.float16))
    tmp.replace(path)
    return Draw(holes, filled.frames, filled.unseen, filled.travel)


def load_fill_clips(folders: list[Path], *, longest: int = 432, draws: int = DRAWS, exclude: tuple[str, ...] = (),
                    loud: bool = False, part: int = 0, parts: int = 1) -> list[FillClip]:
    """Every clip of ``folders`` (but those named in ``exclude``) with ``draws`` hole sets each, holes shaped
    like the clips' object masks or brush strokes (`synthetic_holes`), and flowfill's answers (cached).
    ``part`` of ``parts``: only every parts-th clip from the part-th, to fill the cache from several processes."""
    clips = [shrunk(load_training_clip(p), longest) for p in clip_paths(folders) if p.name not in exclude]
    clips = [c for c in clips if len(c.frames) >= MIN_FRAMES]
    if not clips:
        raise VidpriorError(f"no clip of at least {MIN_FRAMES} frames in {', '.join(map(str, folders))}")
    bank = [c.shapes for c in clips if c.shapes is not None]
    code = code_key()
    out = []
    for index, clip in enumerate(clips):
        if index % parts != part:
            continue
        made = []
        for k in range(draws):
            rng = np.random.default_rng([zlib.crc32(clip.name.encode()), k])  # the clip's own, whatever is beside it
            holes = np.zeros(clip.frames.shape[:3], bool)
            while holes.sum() < 0.01 * holes.size:
                holes = synthetic_holes(rng, bank, clip.frames.shape[1:3], len(clip.frames))
            key = fingerprint(clip.frames, holes, extra=f"fill {code}")
            if loud:
                print(f"vidprior: flowfill on {clip.name} ({len(clip.frames)} frames, "
                      f"{clip.frames.shape[2]}x{clip.frames.shape[1]}), holes {k + 1} of {draws}", file=sys.stderr)
            made.append(draw(clip.frames, holes, key))
        out.append(FillClip(clip.name, clip.frames, made))
    return out


@dataclass
class Sample:
    """A batch of ``L`` consecutive frames of crops: clean, filled (N, L, 3, c, c) in [0, 1]; hole, unseen,
    travel, trusted (N, L, 1, c, c); back (N, L, 2, c, c): DIS flow from each filled frame to the one before (zero for
    the first), to warp the previous output; truth_back: the same on the clean frames, for the temporal loss."""

    clean: torch.Tensor
    filled: torch.Tensor
    hole: torch.Tensor
    unseen: torch.Tensor
    travel: torch.Tensor
    trusted: torch.Tensor
    back: torch.Tensor
    truth_back: torch.Tensor

    def to(self, device: torch.device) -> Sample:
        return Sample(*(getattr(self, f).to(device) for f in self.__dataclass_fields__))


def _random(high: int) -> int:
    return int(torch.randint(high, ()).item()) if high > 1 else 0


def _images(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x)).float().div(255).movedim(-1, -3)


def _masks(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[:, None]


def _backward_flows(frames: np.ndarray) -> torch.Tensor:
    """(L, h, w, 3) uint8 -> (L, 2, h, w): DIS flow from each frame to the one before, zero for the first."""
    fields = [np.zeros((*frames.shape[1:3], 2), np.float32)]
    fields += [flow.dis_flow(frames[t], frames[t - 1], preset="fast") for t in range(1, len(frames))]
    return torch.from_numpy(np.stack(fields)).permute(0, 3, 1, 2)


def draw_sample(clips: list[FillClip], batch: int, crop: int, length: int) -> Sample:
    """``batch`` crops of ``length`` consecutive frames, each centred near the hole, randomly mirrored and
    time-reversed; all randomness from torch's RNG (checkpointed by `fit`)."""
    weights = torch.tensor([len(c.frames) * len(c.draws) for c in clips], dtype=torch.float)
    parts: list[list[torch.Tensor]] = [[] for _ in range(8)]
    for _ in range(batch):
        clip = clips[int(torch.multinomial(weights, 1).item())]
        d = clip.draws[_random(len(clip.draws))]
        count, height, width = clip.frames.shape[:3]
        start = _random(count - length + 1)
        index = list(range(start, start + length))
        if _random(2):
            index = index[::-1]
        ch, cw = min(crop, height), min(crop, width)
        ys, xs = np.nonzero(d.holes[index[-1]])
        if len(ys) and _random(4):  # mostly around the hole, so that the loss has pixels
            k = _random(len(ys))
            y = int(np.clip(ys[k] - ch // 2 + _random(ch // 2) - ch // 4, 0, height - ch))
            x = int(np.clip(xs[k] - cw // 2 + _random(cw // 2) - cw // 4, 0, width - cw))
        else:
            y, x = _random(height - ch + 1), _random(width - cw + 1)
        area = (index, slice(y, y + ch), slice(x, x + cw))
        trusted = np.ones_like(d.holes[area]) if d.trusted is None else d.trusted[area]
        cut = [clip.frames[area], d.filled[area], d.holes[area], d.unseen[area], d.travel[area], trusted]
        if _random(2):
            cut = [c[:, :, ::-1] for c in cut]
        cut = [np.ascontiguousarray(c) for c in cut]
        made = [_images(cut[0]), _images(cut[1]), *map(_masks, cut[2:]), _backward_flows(cut[1]),
                _backward_flows(cut[0])]
        for store, value in zip(parts, made):
            store.append(value)
    return Sample(*(torch.stack(p) for p in parts))
