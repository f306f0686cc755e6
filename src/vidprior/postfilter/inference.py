"""Running the post-filter over decoded frames as they come (a stream: three frames and a batch in memory,
whatever the clip's length)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import torch

from ..video import frames_to_tensor, tensor_to_frames
from .network import PostFilter

PIXELS_PER_BATCH = 600_000  # frames filtered at once: about sixteen 256×144 frames, one 854×480 frame


@torch.no_grad()
def filter_stream(net: PostFilter, frames: Iterable[np.ndarray], crf: float, device: torch.device | None = None
                  ) -> Iterator[np.ndarray]:
    """The decoded frames (H, W, 3) uint8 of a stream coded at ``crf``, corrected, in order; the clip's first
    and last frames stand in for their missing neighbour. Float32 throughout, so that an encoder and a decoder
    of the same machine compute the same frames.

    >>> from .network import PostFilterConfig
    >>> video = np.random.default_rng(0).integers(0, 255, (5, 9, 12, 3), dtype=np.uint8)
    >>> out = list(filter_stream(PostFilter(PostFilterConfig(width=4, blocks=1)), iter(video), 30))
    >>> len(out), np.array_equal(out[2], video[2])
    (5, True)
    """
    device = device or torch.device("cpu")
    net = net.to(device).eval()
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        return
    per_batch = max(1, PIXELS_PER_BATCH // (first.shape[0] * first.shape[1]))
    told = torch.tensor([float(crf)], device=device)

    def run(before: np.ndarray, chunk: list[np.ndarray], after: np.ndarray) -> np.ndarray:
        x = frames_to_tensor(np.stack([before, *chunk, after])).to(device)
        stacks = torch.stack([x[i: i + 3] for i in range(len(chunk))])
        return tensor_to_frames(net(stacks, told.expand(len(chunk))).cpu())

    before, todo = first, [first]
    for frame in frames:
        todo.append(frame)
        if len(todo) == per_batch + 1:
            yield from run(before, todo[:-1], todo[-1])
            before, todo = todo[-2], todo[-1:]
    yield from run(before, todo, todo[-1])
