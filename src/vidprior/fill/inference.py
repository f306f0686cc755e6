"""Running the fill over a clip after flowfill: frame by frame in order, each frame fed the previous output
warped onto it, the network run only on the part of the frame around the hole."""

from __future__ import annotations

import numpy as np
import torch

from .. import flow
from ..flowfill import Filled, flowfill
from ..progress import Bar
from ..video import frames_to_tensor, tensor_to_frames
from .network import FillNet, feedback

MARGIN = 48  # pixels of context around a hole's bounding box (at least; half the box's side where more)


def around(hole: np.ndarray, margin: int = MARGIN) -> tuple[slice, slice]:
    """The region (rows, columns) of a frame that the network sees for ``hole`` (H, W) bool: its bounding box
    grown by ``margin`` or half its larger side, whichever is more, inside the frame.

    >>> hole = np.zeros((100, 200), bool); hole[40:50, 90:100] = True
    >>> around(hole, margin=8)
    (slice(32, 58, None), slice(82, 108, None))
    """
    ys, xs = np.nonzero(hole)
    top, bottom, left, right = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    grow = max(margin, max(bottom - top, right - left) // 2)
    height, width = hole.shape
    return slice(max(0, top - grow), min(height, bottom + grow)), slice(max(0, left - grow), min(width, right + grow))


def _masks(x: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None, None].to(device)


@torch.no_grad()
def refine_frames(net: FillNet, filled: Filled, holes: np.ndarray, device: torch.device | None = None,
                  progress: bool = False) -> np.ndarray:
    """Flowfill's frames (``filled``) refined by ``net`` inside ``holes`` (T, H, W) bool; known pixels and
    frames without a hole come back unchanged. (T, H, W, 3) uint8."""
    device = device or torch.device("cpu")
    net = net.to(device).eval()
    out = filled.frames.copy()
    bar = Bar(len(out), "fill", unit="frame", show=progress)
    for t in range(len(out)):
        bar.update()
        if not holes[t].any():
            continue
        rows, cols = around(holes[t])
        here = filled.frames[t, rows, cols]
        image = frames_to_tensor(here[None]).to(device)
        if t and holes[t - 1].any():
            before = filled.frames[t - 1, rows, cols]
            back = flow.flow_to_tensor(flow.dis_flow(here, before, preset="fast")).to(device)
            previous, agree = feedback(frames_to_tensor(out[t - 1, rows, cols][None]).to(device), image,
                                       frames_to_tensor(before[None]).to(device), back)
        else:
            previous, agree = image, torch.zeros_like(image[:, :1])
        result = net(image, _masks(holes[t, rows, cols], device), _masks(filled.unseen[t, rows, cols], device),
                     _masks(filled.travel[t, rows, cols], device), previous, agree)
        out[t, rows, cols] = np.where(holes[t, rows, cols, None], tensor_to_frames(result.clamp(0, 1).cpu())[0], here)
    bar.close()
    return out


def keyframe_frames(net: FillNet, frames: np.ndarray, holes: np.ndarray, filled: Filled, settings: dict,
                    device: torch.device | None = None, progress: bool = False) -> Filled:
    """FGVC's route: the frame where flowfill saw least of its hole (the most unseen pixels) is filled by the
    network alone, as an image, then flowfill runs again with that frame known, so what it invented travels
    along the flow to the other frames. ``settings``: flowfill's. Returns flowfill's second answer."""
    key = int(np.argmax(filled.unseen.sum(axis=(1, 2))))
    if not filled.unseen[key].any():
        return filled
    one = Filled(filled.frames[key: key + 1], filled.unseen[key: key + 1], filled.travel[key: key + 1])
    known_frames, known_holes = frames.copy(), holes.copy()
    known_frames[key] = refine_frames(net, one, holes[key: key + 1], device)[0]
    known_holes[key] = False
    second = flowfill(known_frames, known_holes, progress=progress, **settings)
    second.unseen[key] = False
    return second
