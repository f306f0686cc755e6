"""Training pairs for the post-filter: clips coded by x265 at several CRFs, decoded, beside the clean frames.

Coding a clip costs 0.1-1 s per CRF, so the coded streams of every training clip are kept on disk
(`cache_dir`), keyed by the clip's frames, the CRF and the encoder's settings and version: a change
to any of them makes new entries, never stale ones. Decoding a stored stream is fast (hundreds of
frames per second), so the cache holds the streams (a few KB each) and the decoded frames live only
in memory. A clip is coded at its own size when it is small (its longer side at most
``SIZES[-1]``), else taken down (area interpolation) to each longer side in ``SIZES``: the sizes the
codec is used at on these machines.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from ..mp4 import X265_BASE, X265_BASE_OPTIONS, decode
from ..perceptual import cache_dir as vidprior_cache
from ..progress import Bar
from ..training_clips import clip_paths, load_training_clip, shrunk

CRFS = (21, 25, 29, 33, 37, 41)  # the base stream's CRFs the network learns (the benchmark's range is 23-38)
SIZES = (256,)  # longer sides a large clip is coded at (256×144 from 854×480): veryslow coding of larger sizes
# costs seconds per stream (427×240: ~6 s), and the codec's benchmark is at this size
ENCODER = f"libx265 {X265_BASE_OPTIONS}, PyAV {av.__version__}"  # what the cache is keyed by


def cache_dir() -> Path:
    return vidprior_cache() / "postfilter"


@dataclass
class CodedClip:
    """A clip's clean frames (T, H, W, 3) uint8 and its decoded frames at each CRF (crf -> same shape)."""

    name: str
    frames: np.ndarray
    decoded: dict[int, np.ndarray]


def coded(frames: np.ndarray, crf: int) -> np.ndarray:
    """``frames`` through the hybrid codec's base encoder (`mp4.X265_BASE`) at ``crf`` and back, the stream from
    the cache when it holds it."""
    key = hashlib.sha1(f"{ENCODER} crf {crf} {frames.shape}".encode() + frames.tobytes()).hexdigest()[:20]
    path = cache_dir() / f"{key}.mp4"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(X265_BASE(frames, 24.0, crf))
        tmp.replace(path)
    return decode(path.read_bytes())


def load_coded_clips(folders: list[Path], crfs: tuple[int, ...] = CRFS, min_frames: int = 3,
                     progress: bool = True) -> list[CodedClip]:
    """Every clip of ``folders`` with at least ``min_frames`` frames, at the sizes of the module notes, coded
    at each of ``crfs``."""
    sources = [load_training_clip(p) for p in clip_paths(folders)]
    variants = []
    for clip in (c for c in sources if len(c.frames) >= min_frames):
        if max(clip.frames.shape[1:3]) <= SIZES[-1]:
            variants.append(clip)
        else:
            variants += [shrunk(clip, side) for side in SIZES]
    out = []
    with Bar(len(variants) * len(crfs), "code training clips", unit="stream", show=progress) as bar:
        for clip in variants:
            decoded = {}
            for crf in crfs:
                decoded[crf] = coded(clip.frames, crf)
                bar.update(1)
            out.append(CodedClip(f"{clip.name}@{clip.frames.shape[2]}", clip.frames, decoded))
    return out
