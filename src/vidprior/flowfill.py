"""Flowfill's core, the package's classical object removal, for the methods and the learned fill's training:
frames and holes in, the filled frames out with what the propagation could not see (`Filled`).

Each of the ``rounds`` estimates flow between adjacent frames, at a reduced size on large frames
(`propagation.flow_scale`), on the frames so far Telea-filled where nothing is known yet (round 1:
the holes; later rounds: what no frame saw). The filled patch moves with the mask and drags the
flow with it, so inside those regions, grown (`grown_holes`), the flow is completed: by a smooth
fill from around them, or by the flow-completion network (``flows='learned'``); with ``camera``, a
second completion by the camera's motion serves where the first leads nowhere. Only the last
round fuses in the gradient domain; the earlier ones only feed the next round's flow. Telea fills
what no frame sees.

Shapes: frames (T, H, W, 3) uint8, holes (T, H, W) bool (True = unknown).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from . import propagation
from .flowcomp import camera_flows, complete_flows, load_flowcomp, smooth_flows
from .flowcomp.scale import working_frames, working_holes
from .progress import Bar


@dataclass
class Filled:
    """frames (T, H, W, 3) uint8: the holes filled; unseen (T, H, W) bool: the hole pixels no frame sees
    (Telea's); travel (T, H, W) float32: frames between each propagated pixel and the frame it came from."""

    frames: np.ndarray
    unseen: np.ndarray
    travel: np.ndarray


def flowfill(frames: np.ndarray, holes: np.ndarray, *, rounds: int = 2, neighbours: int = 40, flows: str = "smooth",
             grow: int = 4, anchor: float | None = 0.3, camera: bool = True, far: int = 1, flow_scale: int = 0,
             radius: float = 5.0, progress: bool = False) -> Filled:
    """Fill ``holes`` of ``frames`` by flow-guided propagation (see the module note); ``anchor`` None copies
    without the gradient-domain fusion (faster, for a background estimate)."""
    scale = flow_scale or propagation.flow_scale(frames.shape[1:3])
    complete = flow_completion(flows)
    unseen, out, travel = holes, frames, np.zeros(holes.shape, np.float32)
    with Bar(rounds * (2 * len(frames) - 1), "flowfill", unit="step", show=progress) as bar:
        for round_ in range(1, rounds + 1):  # each: flows of the frame pairs, then every frame filled
            small = working_frames(out, scale)  # the flow is estimated on frames Telea-filled at its size
            estimate = propagation.ClipFlows.of_small(telea(small, working_holes(unseen, scale), radius), scale,
                                                      bar.update)
            region = grown_holes(unseen, grow, scale)
            fallback = None
            if camera:
                fallback = propagation.ClipFlows(*camera_flows(estimate.forward, estimate.backward, region), scale)
            fuse = anchor if round_ == rounds else None  # earlier rounds only feed the flow
            out, unseen, travel = propagation.propagate(frames, holes, complete(estimate, region), fallback=fallback,
                                                        anchor=fuse, done=bar.update, reach=neighbours, far=far)
    return Filled(telea(out, unseen, radius), unseen, travel)


def telea(frames: np.ndarray, holes: np.ndarray, radius: float) -> np.ndarray:
    """Each frame (T, H, W, 3) Telea-inpainted inside its hole (T, H, W)."""
    return np.stack([inpaint_frame(f, m, radius, cv2.INPAINT_TELEA) for f, m in zip(frames, holes)])


def inpaint_frame(frame: np.ndarray, hole: np.ndarray, radius: float, flag: int) -> np.ndarray:
    """OpenCV inpainting of one (H, W, 3) uint8 frame where ``hole`` (H, W) is True."""
    if not hole.any():
        return frame.copy()
    return cv2.inpaint(np.ascontiguousarray(frame), hole.astype(np.uint8), radius, flag)


def grown_holes(holes: np.ndarray, grow: int, scale: int, share: float = 0.1) -> np.ndarray:
    """``holes`` (T, H, W) taken to the flow's size (1/``scale``) and grown there by ``grow`` pixels, or by
    ``share`` of a hole's size (the square root of its area) where that is more: the larger the filled
    patch, the further the flow it drags reaches (on the bench's small holes 6 px was best, 4 and 8 lost
    0.1-0.5 dB; a car of 450 × 150 px needed 12 at half size)."""
    out = working_holes(holes, scale)
    for t, hole in enumerate(out):
        size = max(grow, round(share * np.sqrt(hole.sum())))
        out[t] = cv2.dilate(hole.astype(np.uint8), np.ones((2 * size + 1,) * 2, np.uint8)).astype(bool)
    return out


def flow_completion(kind: str):
    """``complete(flows, holes) -> flows`` for flowfill's ``flows`` setting: ``smooth`` fills the flow inside
    the holes (T, h, w) from around it; ``learned`` corrects that fill with the shipped flow-completion network."""
    net = load_flowcomp()[0] if kind == "learned" else None  # loaded once for all the rounds

    def complete(flows: propagation.ClipFlows, holes: np.ndarray) -> propagation.ClipFlows:
        if net is None:
            forward, backward = smooth_flows(flows.forward, flows.backward, holes)
        else:
            forward, backward = complete_flows(net, flows.forward, flows.backward, holes)
        return propagation.ClipFlows(forward, backward, flows.scale)

    return complete
