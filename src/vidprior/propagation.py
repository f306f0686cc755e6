"""Flow-guided propagation: where each hole pixel of a clip is seen in another frame, and the fill it gives.

A hole pixel of frame t is followed along the flows of adjacent frames, one frame at a time,
forward (t -> t+1 -> ...) and backward, until it lands on a pixel that frame knows: its candidate
(FGVC's chains: only adjacent flows are estimated, and every frame of the window can be reached).
A chain stops where the forward-backward check fails (the flow is not trusted there) or where it
leaves the image. Pixels that no chain reaches follow a second set of flows where given (flowfill:
completed by the camera's motion), then try far frames registered to frame t by homographies (the
camera's motion), kept only where that registration matches frame t around its hole. Each pixel's
candidates are averaged, nearer frames weighing more, and so are the pixel differences around them
in their frames; those differences are fused in the gradient domain (`vidprior.poisson`), so no
step is left at the hole border or between pixels copied from different frames. What nothing sees
is left to the caller (`flowfill` fills it with Telea).

Shapes: frames (T, H, W, 3) uint8, holes (T, H, W) bool (True = unknown). Flows are kept at
1/``scale`` of the frame size (`ClipFlows`), in pixels of that size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from . import flow, poisson
from .flowcomp.scale import working_frames, working_holes

CHECK_ALPHA, CHECK_BETA = 0.01, 0.5  # forward-backward check (Sundaram et al. 2010), as `flow.consistent`
RING = 8  # pixels around a hole on which a far frame's registration is checked
RING_ERROR = 6.0  # mean absolute grey-level error on that ring above which the far frame is not used


def sample(image: np.ndarray, points: np.ndarray, border: float | None = None) -> np.ndarray:
    """Bilinear samples of ``image`` (H, W) or (H, W, C) at ``points`` (N, 2) = (x, y): (N,) or (N, C) float32.

    Outside the image the border is replicated, or ``border`` is returned when given.

    >>> sample(np.arange(6, dtype=np.float32).reshape(2, 3), np.array([[0.5, 0.0], [2.0, 1.0]])).tolist()
    [0.5, 5.0]
    """
    n = len(points)
    if n == 0:
        return np.zeros((0, *image.shape[2:]), np.float32)
    side = int(np.ceil(np.sqrt(n)))  # cv2.remap wants a 2-D map of modest size
    grid = np.zeros((side * side, 2), np.float32)
    grid[:n] = points
    maps = grid.reshape(side, side, 2)
    mode = cv2.BORDER_REPLICATE if border is None else cv2.BORDER_CONSTANT
    out = cv2.remap(np.asarray(image, np.float32), maps[..., 0], maps[..., 1], cv2.INTER_LINEAR,
                    borderMode=mode, borderValue=border or 0.0)
    return out.reshape(side * side, *image.shape[2:])[:n]


def flow_scale(size: tuple[int, int], longest: int = 480) -> int:
    """The downscale at which flow is estimated for frames of ``size`` (H, W): 1 up to ``longest`` pixels on the
    longer side, then the nearest integer that brings it there (854×480: 2, 1280×720: 3, 1920×1080: 4)."""
    return max(1, round(max(size) / longest))


@dataclass
class ClipFlows:
    """forward[t]: flow t -> t+1, backward[t]: t -> t-1, (T, h, w, 2) float32 at 1/``scale`` of the frames, in
    pixels of that size (forward[-1] and backward[0] are zero)."""

    forward: np.ndarray
    backward: np.ndarray
    scale: int = 1

    @staticmethod
    def estimate(frames: np.ndarray, scale: int = 1) -> ClipFlows:
        """DIS flows of adjacent frames of ``frames`` (T, H, W, 3), estimated at 1/``scale`` of their size."""
        return ClipFlows.of_small(working_frames(frames, scale), scale)

    @staticmethod
    def of_small(small: np.ndarray, scale: int, done: Callable[[int], None] | None = None) -> ClipFlows:
        """DIS flows of adjacent frames of ``small`` (T, h, w, 3), frames already taken to 1/``scale``;
        ``done(1)`` after each pair (a progress bar's update)."""
        forward = np.zeros((*small.shape[:3], 2), np.float32)
        backward = np.zeros_like(forward)
        for t in range(len(small) - 1):
            forward[t] = flow.dis_flow(small[t], small[t + 1])
            backward[t + 1] = flow.dis_flow(small[t + 1], small[t])
            if done:
                done(1)
        return ClipFlows(forward, backward, scale)

    def along(self, direction: int) -> tuple[np.ndarray, np.ndarray]:
        """(the flows that step in ``direction`` +1/-1, the flows that step back)."""
        return (self.forward, self.backward) if direction > 0 else (self.backward, self.forward)

    def motion(self, field: np.ndarray, points: np.ndarray) -> np.ndarray:
        """The flow ``field`` (h, w, 2) at frame-size ``points`` (N, 2) = (x, y), in frame pixels."""
        return sample(field, (points + 0.5) / self.scale - 0.5) * self.scale


@dataclass
class Candidates:
    """Where the hole pixels of one frame, listed by ``pixels`` (N, 2) = (y, x), are seen.

    source (N,) int: the frame that sees each (-1: none); where (N, 2) float32: its (x, y) in that
    frame; steps (N,) int: how many frames away that is.
    """

    pixels: np.ndarray
    source: np.ndarray
    where: np.ndarray
    steps: np.ndarray

    @staticmethod
    def none(pixels: np.ndarray) -> Candidates:
        n = len(pixels)
        return Candidates(pixels, np.full(n, -1), np.zeros((n, 2), np.float32), np.zeros(n, int))

    @property
    def found(self) -> np.ndarray:
        return self.source >= 0

    def record(self, index: np.ndarray, source: int, where: np.ndarray, steps: int) -> None:
        self.source[index], self.where[index], self.steps[index] = source, where, steps


def _known_at(hole: np.ndarray, points: np.ndarray) -> np.ndarray:
    """True where the four pixels around each (x, y) point are known (``hole`` (H, W) bool or float32, nonzero =
    unknown) and inside the frame."""
    return sample(hole if hole.dtype == np.float32 else hole.astype(np.float32), points, border=1.0) == 0


def follow(t: int, direction: int, flows: ClipFlows, holes: np.ndarray, pixels: np.ndarray, reach: int
           ) -> Candidates:
    """Chains from frame ``t``'s ``pixels`` (N, 2) = (y, x) along ``flows``, ``direction`` +1 (forward) or -1,
    up to ``reach`` frames; each stops at the first frame that knows its pixel."""
    count, height, width = holes.shape
    out = Candidates.none(pixels)
    points = pixels[:, ::-1].astype(np.float32)
    alive = np.arange(len(pixels))
    step, back = flows.along(direction)
    s = t
    while len(alive) and 0 <= s + direction < count and abs(s + direction - t) <= reach:
        motion = flows.motion(step[s], points)
        moved = points + motion
        returned = flows.motion(back[s + direction], moved)
        error = np.sum((motion + returned) ** 2, axis=1)
        trusted = error < CHECK_ALPHA * (np.sum(motion**2, axis=1) + np.sum(returned**2, axis=1)) + CHECK_BETA
        inside = (moved[:, 0] >= 0) & (moved[:, 0] <= width - 1) & (moved[:, 1] >= 0) & (moved[:, 1] <= height - 1)
        s += direction
        going = trusted & inside
        landed = going & _known_at(holes[s], moved)
        out.record(alive[landed], s, moved[landed], abs(s - t))
        keep = going & ~landed
        alive, points = alive[keep], moved[keep]
    return out


def _map_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    moved = cv2.perspectiveTransform(points.reshape(-1, 1, 2).astype(np.float64), matrix)
    return moved.reshape(-1, 2).astype(np.float32)


def camera_motions(flows: ClipFlows, holes: np.ndarray) -> dict[int, list[np.ndarray | None]]:
    """For ``direction`` +1 and -1, the homographies (3, 3) in frame pixels taking each frame t to t + direction
    (None where the flow gives none), fitted on the flow outside the holes (T, H, W)."""
    count = len(holes)
    zoom = np.diag([flows.scale, flows.scale, 1.0])
    known = ~working_holes(holes, flows.scale)
    motions: dict[int, list[np.ndarray | None]] = {}
    for direction in (1, -1):
        step = flows.along(direction)[0]
        fitted = [flow.camera_motion(step[t], known[t]) if 0 <= t + direction < count else None for t in range(count)]
        motions[direction] = [None if m is None else zoom @ m @ np.linalg.inv(zoom) for m in fitted]
    return motions


def _grey(frame: np.ndarray) -> np.ndarray:
    return frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def far_frames(t: int, frames: np.ndarray, holes: np.ndarray, motions: dict[int, list[np.ndarray | None]],
               pixels: np.ndarray, reach: int, stride: int) -> Candidates:
    """Candidates from frames ``stride``, 2 ``stride``, ... away (up to ``reach``), registered to frame ``t`` by
    chaining the adjacent frames' camera ``motions`` (`camera_motions`); ``frames`` (T, H, W, 3) or their grey
    (T, H, W). A frame is used only where its registration matches frame t on a `RING` around the hole
    (`RING_ERROR`), and each pixel takes the nearest such frame that knows it."""
    count = len(holes)
    out = Candidates.none(pixels)
    points = pixels[:, ::-1].astype(np.float32)
    hole = holes[t] > 0
    ring = cv2.dilate(hole.astype(np.uint8), np.ones((2 * RING + 1,) * 2, np.uint8)).astype(bool) & ~hole
    ring_points = np.argwhere(ring)[:, ::-1].astype(np.float32)
    grey = sample(_grey(frames[t]), ring_points)
    for direction in (1, -1):
        matrix, s = np.eye(3), t
        while 0 <= s + direction < count and abs(s + direction - t) <= reach and motions[direction][s] is not None:
            matrix = motions[direction][s] @ matrix
            s += direction
            todo = ~out.found
            if abs(s - t) % stride or not todo.any():
                continue
            seen_ring = _map_points(matrix, ring_points)
            usable = _known_at(holes[s], seen_ring)
            if usable.sum() < 16:
                continue
            other = sample(_grey(frames[s]), seen_ring[usable])
            if np.abs(other - grey[usable]).mean() > RING_ERROR:
                continue
            moved = _map_points(matrix, points[todo])
            landed = _known_at(holes[s], moved)
            out.record(np.nonzero(todo)[0][landed], s, moved[landed], abs(s - t))
    return out


def gather(frames: np.ndarray, holes: np.ndarray, candidates: list[Candidates], differences: bool = True
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each pixel's colour (N, 3) and differences to its four neighbours of `poisson.STEPS` in its source
    frame (N, 4, 3), float64, averaged over ``candidates`` with weights 1 / steps² (a frame twice as far
    counts a quarter), and the sum of the weights (N,), 0 where no candidate sees the pixel. A difference
    is taken only where the source frame knows the neighbour too (``holes`` (T, H, W)); NaN where none does
    (all NaN without ``differences``)."""
    n = len(candidates[0].pixels)
    values, weight = np.zeros((n, 3)), np.zeros(n)
    wishes, wish_weight = np.zeros((n, 4, 3)), np.zeros((n, 4))
    for c in candidates:
        for s in np.unique(c.source[c.found]):
            chosen = np.nonzero(c.source == s)[0]
            where = c.where[chosen]
            image = frames[s].astype(np.float32)
            centre = sample(image, where)
            share = 1.0 / c.steps[chosen].astype(np.float64) ** 2
            values[chosen] += share[:, None] * centre
            weight[chosen] += share
            for k, (dy, dx) in enumerate(poisson.STEPS if differences else ()):
                beside = where + np.array([dx, dy], np.float32)
                known = _known_at(holes[s], beside)
                rows = chosen[known]
                wishes[rows, k] += share[known, None] * (centre[known] - sample(image, beside[known]))
                wish_weight[rows, k] += share[known]
    seen = weight > 0
    values[seen] /= weight[seen, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        wishes /= wish_weight[..., None]
    return values, wishes, weight


def _spread(pixels: np.ndarray, chosen: np.ndarray, part: Candidates) -> Candidates:
    """The candidates ``part`` of ``pixels[chosen]``, listed for all ``pixels`` (none for the others)."""
    out = Candidates.none(pixels)
    index = np.nonzero(chosen)[0]
    out.source[index], out.where[index], out.steps[index] = part.source, part.where, part.steps
    return out


def propagate(frames: np.ndarray, holes: np.ndarray, flows: ClipFlows, *, reach: int, anchor: float | None,
              far: int = 0, fallback: ClipFlows | None = None, done: Callable[[int], None] | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fill the holes of ``frames`` with what other frames see along ``flows`` (then along ``fallback``, where
    given, for the pixels that ``flows`` leaves unseen).

    reach: frames a chain may travel; anchor: the fusion's pull towards the copied colours (0: pure
    gradient-domain fusion, large: plain copies, None: plain copies without solving); far: stride of the
    far frames tried where no chain arrives (0: none); done(1) is called after each frame (a progress bar).
    Returns the frames (holes that nothing sees keep their input values), the (T, H, W) bool mask of those
    unseen pixels and the travel (T, H, W) float32: how many frames away the nearest frame that sees each hole
    pixel is (0 outside the holes and where none does). Known pixels are returned unchanged.
    """
    out, unseen = frames.copy(), np.zeros_like(holes)
    travel = np.zeros(holes.shape, np.float32)
    masks = holes.astype(np.float32)  # converted once for all the lookups
    motions = camera_motions(flows, holes) if far else {}
    grey = np.stack([_grey(f) for f in frames]) if far else None  # converted once for the far frames' checks
    for t in range(len(frames)):
        if done and t:
            done(1)
        pixels = np.argwhere(holes[t])
        if not len(pixels):
            continue
        candidates = [follow(t, direction, flows, masks, pixels, reach) for direction in (1, -1)]
        nowhere = ~np.any([c.found for c in candidates], axis=0)
        if fallback is not None and nowhere.any():
            candidates += [_spread(pixels, nowhere, follow(t, direction, fallback, masks, pixels[nowhere], reach))
                           for direction in (1, -1)]
            nowhere = ~np.any([c.found for c in candidates], axis=0)
        if far and nowhere.any():
            candidates.append(_spread(pixels, nowhere, far_frames(t, grey, masks, motions, pixels[nowhere], reach,
                                                                   far)))
        values, wishes, weight = gather(frames, masks, candidates, differences=anchor is not None)
        seen = weight > 0
        steps = np.stack([np.where(c.found, c.steps, np.iinfo(int).max) for c in candidates]).min(axis=0)
        travel[t][pixels[seen, 0], pixels[seen, 1]] = steps[seen]
        region = np.zeros(holes.shape[1:], bool)
        region[pixels[seen, 0], pixels[seen, 1]] = True
        if anchor is None:
            out[t][region] = np.clip(np.round(values[seen]), 0, 255).astype(np.uint8)
        else:
            fused = poisson.fuse(frames[t], region, wishes[seen], values[seen], usable=~holes[t],
                                 weight=max(anchor, 1e-6))
            out[t][region] = np.clip(np.round(fused[region]), 0, 255).astype(np.uint8)
        unseen[t] = holes[t] & ~region
    if done and len(frames):
        done(1)
    return out, unseen, travel
