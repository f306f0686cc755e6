"""VINet as a method: a network trained once on many clips (`vidprior train vinet`) that inpaints a
new video in one pass, optionally adapted to that video first (``--adapt 60s``).

Inference runs the recurrence frame by frame over the window `vidprior.restore` hands over (its
context frames warm the recurrence up). Each step sees the frames t-6, t-3, t+3, t+6 (mirrored at
the ends) and its own previous output; a source frame is encoded once and reused by every step
that needs it, so memory holds 13 frames' features, not the clip's. Known pixels are pasted back.

Weights are safetensors files whose metadata holds the network's configuration; the package ships
one (``data/vinet.safetensors``, see its ``trained`` metadata for how it was made).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from ..errors import VidpriorError
from ..fit import pick_device
from ..nn.vinet import Sources, Vinet, VinetConfig, pad_to
from ..problems import Problem
from ..progress import Bar
from ..video import frames_to_tensor
from .base import Method, RunOptions
from .internal import to_uint8

OFFSETS = (-6, -3, 3, 6)  # the neighbour frames of the paper (temporal stride 3)
WARMUP = 5  # frames run in reverse before the first one, to start the recurrence with memory


def shipped_weights() -> Path:
    return Path(str(resources.files("vidprior") / "data" / "vinet.safetensors"))


def save_weights(net: Vinet, path: Path, **metadata: str) -> Path:
    """Write ``net`` as safetensors with its configuration (and any notes) in the metadata; atomic."""
    from safetensors.torch import save_file

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    state = {k: v.detach().float().cpu().contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(tmp), metadata={"config": json.dumps(net.config.to_dict()), **metadata})
    tmp.replace(path)
    return path


def load_weights(path: Path | str | None = None) -> tuple[Vinet, dict[str, str]]:
    """The network stored at ``path`` (default: the shipped one) and the file's metadata."""
    from safetensors import SafetensorError, safe_open

    path = Path(path) if path else shipped_weights()
    if not path.is_file():
        raise VidpriorError(f"VINet weights {path}: no such file; give --weights FILE or train one with "
                            "`vidprior train vinet --data DIR -o FILE`")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not iterable)
        config = VinetConfig(**json.loads(metadata["config"]))
    except (SafetensorError, KeyError, TypeError, ValueError, OSError) as exc:
        raise VidpriorError(f"{path} is not a VINet weights file (safetensors with a 'config' entry): {exc}") from None
    net = Vinet(config)
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise VidpriorError(f"{path}: weights do not fit a VINet of width {config.width}: "
                            f"{str(exc).splitlines()[0]}") from None
    return net.eval(), metadata


def mirror(index: int, count: int) -> int:
    """Reflect a frame index into 0..count-1 (…, 2, 1, 0, 1, 2, …, count-1, count-2, …)."""
    if count == 1:
        return 0
    period = 2 * (count - 1)
    index %= period
    return index if index < count else period - index


def to_signed(frames: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) uint8 → (T, 3, H, W) float in [-1, 1], the network's range."""
    return frames_to_tensor(frames) * 2 - 1


class SourceCache:
    """The source encoder's features of frames, computed when first asked for and dropped when far behind."""

    def __init__(self, net: Vinet, images: torch.Tensor, holes: torch.Tensor) -> None:
        self.net, self.images, self.holes = net, images, holes
        self.encoded: dict[int, Sources] = {}

    def get(self, indices: list[int]) -> Sources:
        """The frames ``indices`` as `Sources` (N = 1, S = len(indices))."""
        for i in indices:
            if i not in self.encoded:
                self.encoded[i] = self.net.encode_sources(self.images[i][None, None], self.holes[i][None, None])
        keep = set(indices)
        for i in [k for k in self.encoded if k not in keep and min(abs(k - j) for j in keep) > 6]:
            del self.encoded[i]
        return Sources.stack([self.encoded[i] for i in indices])


@torch.no_grad()
def inpaint_frames(net: Vinet, frames: np.ndarray, holes: np.ndarray, device: torch.device | None = None,
                   warmup: int = WARMUP, progress: bool = False) -> np.ndarray:
    """Fill ``holes`` (T, H, W) bool of ``frames`` (T, H, W, 3) uint8; known pixels come back unchanged."""
    device = device or torch.device("cpu")
    net = net.to(device).eval()
    count = len(frames)
    images, (height, width) = pad_to(to_signed(frames).to(device))
    masks, _ = pad_to(torch.from_numpy(holes[:, None].astype(np.float32)).to(device))
    cache = SourceCache(net, images, masks)
    lead = min(warmup, count - 1)
    order = list(range(lead, 0, -1)) + list(range(count))
    out = torch.empty_like(images)
    previous, state = None, None
    bar = Bar(len(order), "vinet", unit="frame", show=progress)
    for step, t in enumerate(order):
        neighbours = cache.get([mirror(t + d, count) for d in OFFSETS])
        hole = masks[t][None]
        result = net(images[t][None], hole, neighbours, previous, state)
        previous = torch.where(hole > 0, result.image, images[t][None])
        state = result.state
        if step >= lead:
            out[t] = previous[0]
        bar.update()
    bar.close()
    filled = to_uint8((out[..., :height, :width] + 1) / 2)
    return np.where(holes[..., None], filled, frames)


def _run(problem: Problem, options: RunOptions) -> np.ndarray:
    net, _ = load_weights(options.param("weights", "") or None)
    device = pick_device(options.device, loud=options.progress)
    adapt = options.param("adapt", 0.0)
    if adapt:
        from ..training import adapt_to_video

        net = adapt_to_video(net, problem, options, seconds=adapt)
    return inpaint_frames(net, problem.observed, problem.hole, device, warmup=options.param("warmup", WARMUP),
                          progress=options.progress)


METHODS = [
    Method("vinet", "feed-forward", ("inpaint",),
           "VINet: a trained network warps neighbour frames' features into the hole; fast, --adapt to fine-tune",
           _run, window=60, context=6),
]
