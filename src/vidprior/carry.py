"""Masks carried along optical flow, snapped to the object's edges.

A mask painted on a keyframe is carried to the next frame by backward warping along the flow from
that frame to the keyframe, mask_{t+1}(x) = mask_t(x + flow_{t+1->t}(x)), and on frame by frame;
between two keyframes it is carried forward from the earlier one and backward from the later one,
and the two are blended by distance. The carried mask is soft (float in [0, 1]).

Carrying alone leaves a trail: background that the object uncovers looks back onto the object, so
the mask grows behind a moving object, frame after frame. Snapping corrects the mask at every frame
near its edge, from `BAND` pixels outside to `DEPTH` pixels inside plus as far as the object moved
against its surroundings in that step (where a trail would be): each pixel there weighs the carried
mask (the prior) against its colour's likelihood under the object's colours (a histogram of the
painted keyframe's object) and under the background's (around the painted mask, mixed with the ring
around the carried mask in this frame), so a trail with the background's colours is dropped and
object pixels next to the edge are taken back; holes are filled. A mask painted with a margin of
background around the object keeps that margin: it is measured on the keyframe, and the snap works
on the object inside it and grows the result back by it.

Instead of snapping, a ``refine`` step (`Refine`; the trained mask-propagation network of `vidprior.maskprop`)
can decide the whole carried mask at every frame from the frames, the flow and the previous mask.

Carried masks are objects (`whole`): where the painted keyframes have no hole, the carried masks have none
(holes are filled), and they keep only as many separate pieces as the keyframes have (the largest ones, and any
piece at least `PIECE` of the largest).

Flows and snaps work at a size of at most `WORKING` pixels on the longer side (`propagation.flow_scale`);
the masks come back at the frames' size.

Shapes: frames (H, W, 3) uint8 RGB, masks (H, W) bool; at the working size frames (h, w, 3) and
soft masks (h, w) float32.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from . import flow
from .errors import VidpriorError
from .masks import checked_keyframes
from .propagation import flow_scale
from .video import iter_frames

WORKING = 480  # longest side (pixels) of the frames that flows and snaps work on
PATCH, STRIDE = 4, 2  # DIS patch size and stride, at the finest scale, without variational refinement
BINS = 32  # colour histogram bins per channel
SMOOTH = 0.1  # share of a histogram bin's count spread to each neighbour, per channel
FLOOR = 1e-6  # added to colour likelihoods, so unseen colours tell nothing
RING = 0.5  # the background around a mask: out to this fraction of its size (sqrt of its area), from 2 pixels
MIX = 0.5  # weight of the current frame's background colours against the keyframe's
PRIOR = (0.03, 0.9)  # the carried mask, as a prior, is clipped to this range, so colours can overrule it
BAND = 4  # pixels out from the carried mask's edge that snapping decides
DEPTH = 2  # pixels in from the edge that snapping decides
TEMPERATURE = 3.0  # softens the snapped mask's log-odds
FOLLOW = True  # decide deeper in by how far the object moved against its surroundings
FILL = True  # fill holes in the snapped mask
ROUNDS = 4  # at most this many margin estimates, each with the object's colours taken inside the last one
MARGIN_MAX = 0.2  # the most margin (fraction of the mask's size) a painted mask is taken to have
PIECE = 0.2  # a carried piece at least this share of the largest one is kept even beyond the keyframes' count
SPECK = 0.01  # pieces of a painted mask under this share of its area are not counted as pieces


class Refine(Protocol):
    """Decides a carried mask anew: (frame (h, w, 3) uint8, the previous frame (h, w, 3) uint8, the flow (h, w, 2)
    from the frame to the previous one, the carried mask (h, w) float32, the previous mask (h, w) float32)
    -> the frame's soft mask (h, w) float32."""

    def __call__(self, frame: np.ndarray, previous_frame: np.ndarray, field: np.ndarray, carried: np.ndarray,
                 previous: np.ndarray) -> np.ndarray: ...


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _grow(mask: np.ndarray, radius: int) -> np.ndarray:
    return cv2.dilate(mask.astype(np.uint8), _disc(radius)) > 0


def _shrink(mask: np.ndarray, radius: int) -> np.ndarray:
    return cv2.erode(mask.astype(np.uint8), _disc(radius)) > 0


def flow_to(reference: np.ndarray, target: np.ndarray) -> np.ndarray:
    """DIS flow (h, w, 2) float32 from frame ``reference`` to ``target`` (h, w, 3) uint8, tuned for carrying
    masks: finest scale, small patches and no variational refinement (which blurs the flow across edges)."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    dis.setFinestScale(0)
    dis.setPatchSize(PATCH)
    dis.setPatchStride(STRIDE)
    dis.setVariationalRefinementIterations(0)
    grey = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in (reference, target)]
    return dis.calc(grey[0], grey[1], None)


def _bins(frame: np.ndarray) -> np.ndarray:
    """(h, w, 3) uint8 -> (h, w) int: the colour histogram bin of each pixel."""
    q = (frame // (256 // BINS)).astype(np.int64)
    return (q[..., 0] * BINS + q[..., 1]) * BINS + q[..., 2]


def colours(frame: np.ndarray, where: np.ndarray) -> np.ndarray:
    """The colour distribution (BINS**3,) float32 of ``frame`` (h, w, 3) uint8 at ``where`` (h, w) bool, each
    bin's count spread a little to its neighbours; sums to 1 (all zero when ``where`` is empty)."""
    counts = np.bincount(_bins(frame)[where], minlength=BINS**3).astype(np.float32).reshape(BINS, BINS, BINS)
    for axis in range(3):
        spread = counts * (1 - 2 * SMOOTH)
        spread += SMOOTH * np.roll(counts, 1, axis) * (np.arange(BINS) > 0).reshape([-1 if a == axis else 1
                                                                                 for a in range(3)])
        spread += SMOOTH * np.roll(counts, -1, axis) * (np.arange(BINS) < BINS - 1).reshape([-1 if a == axis else 1
                                                                                         for a in range(3)])
        counts = spread
    return (counts / max(float(counts.sum()), 1e-12)).reshape(-1)


def _filled(mask: np.ndarray) -> np.ndarray:
    """``mask`` (h, w) bool with its holes (background that does not reach the image's border) filled."""
    outside = np.pad(~mask, 1, constant_values=True).astype(np.uint8)
    cv2.floodFill(outside, None, (0, 0), 2)
    return outside[1:-1, 1:-1] != 2


def has_holes(mask: np.ndarray) -> bool:
    """Whether ``mask`` (h, w) bool encloses background."""
    return bool((_filled(mask) & ~mask).any())


def pieces(mask: np.ndarray) -> int:
    """The separate pieces of ``mask`` (h, w) bool, not counting specks under `SPECK` of its area."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    return int((areas >= SPECK * max(int(areas.sum()), 1)).sum())


def whole(mask: np.ndarray, holes: bool, count: int) -> np.ndarray:
    """``mask`` (h, w) bool as an object: its holes filled unless ``holes``, and only its ``count`` largest pieces
    kept, with any other at least `PIECE` of the largest.

    >>> m = np.zeros((9, 12), bool); m[1:8, 1:8] = True; m[4, 4] = False; m[2, 10] = True
    >>> w = whole(m, holes=False, count=1)
    >>> bool(w[4, 4]), bool(w[2, 10]), int(w.sum())
    (True, False, 49)
    """
    if not holes:
        mask = _filled(mask)
    number, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if number <= 2:
        return mask
    areas = stats[1:, cv2.CC_STAT_AREA]
    order = np.argsort(-areas)
    keep = set(order[:max(count, 1)].tolist()) | set(np.flatnonzero(areas >= PIECE * areas.max()).tolist())
    return np.isin(labels, [k + 1 for k in keep])


def ring(mask: np.ndarray) -> np.ndarray:
    """The background around ``mask`` (h, w) bool: from 2 pixels out to `RING` of its size (at least 3)."""
    reach = max(3, round(RING * np.sqrt(max(int(mask.sum()), 1))))
    return _grow(mask, reach) & ~_grow(mask, 2)


class Snap:
    """Snaps carried masks to the object painted on a keyframe ``frame`` (h, w, 3) with ``mask`` (h, w) bool.

    A mask painted with a margin around the object (a hole to fill is painted generously) keeps it: the
    margin is measured on the keyframe (`margin`), the object inside it is snapped and grown back by it.
    """

    def __init__(self, frame: np.ndarray, mask: np.ndarray) -> None:
        self.background = colours(frame, ring(mask))
        core = _shrink(mask, 1)
        self.object = colours(frame, core if core.sum() > 10 else mask)
        self.margin = 0
        for _ in range(ROUNDS if MARGIN_MAX > 0 else 0):
            measured = margin(mask, self.ratio(frame, self.background))
            if measured == self.margin:
                break
            self.margin = measured
            core = _shrink(mask, self.margin + 1)
            self.object = colours(frame, core if core.sum() > 10 else mask)

    def ratio(self, frame: np.ndarray, background: np.ndarray) -> np.ndarray:
        """(h, w) float32: log-likelihood ratio of each pixel's colour, object against ``background``."""
        bins = _bins(frame)
        return np.log(self.object[bins] + FLOOR) - np.log(background[bins] + FLOOR)

    def __call__(self, frame: np.ndarray, soft: np.ndarray, field: np.ndarray | None = None) -> np.ndarray:
        """The carried ``soft`` mask (h, w) float32 of ``frame`` (h, w, 3) with its object's edge decided anew,
        from `DEPTH` pixels inside (plus how far the object moved against the background since the frame it
        was carried from, by the flow ``field`` (h, w, 2) it was carried along) to `BAND` outside, by the
        carried prior times the colour likelihood ratio."""
        inside = soft > 0.5
        if inside.sum() < 4:
            return soft
        around = ring(inside)
        background = (1 - MIX) * self.background + MIX * colours(frame, around)
        depth = DEPTH
        if field is not None and around.any():
            moved = np.median(field[inside], axis=0) - np.median(field[around], axis=0)
            depth += int(np.ceil(np.hypot(*moved)))
        if self.margin:
            soft = cv2.erode(soft, _disc(self.margin))
            inside = soft > 0.5
        prior = np.clip(soft, *PRIOR)
        odds = np.log(prior / (1 - prior)) + self.ratio(frame, background)
        decided = cv2.medianBlur((odds > 0).astype(np.uint8), 3) > 0
        band = _grow(inside, BAND) & ~_shrink(inside, depth)
        if FILL:
            decided = _filled(np.where(band, decided, inside))
        if self.margin:
            return _grow(np.where(band, decided, inside), self.margin).astype(np.float32)
        snapped = 1 / (1 + np.exp(-np.clip(odds / TEMPERATURE, -30, 30)))
        snapped = np.where(decided, np.maximum(snapped, 0.51), np.minimum(snapped, 0.49))
        return np.where(band, snapped, soft).astype(np.float32)


def margin(mask: np.ndarray, ratio: np.ndarray) -> int:
    """How many pixels of background a painted ``mask`` (h, w) bool has around its object: the outer layers
    (1 pixel deep each) whose pixels look like the object's colours (log ``ratio`` (h, w) > 0) less than half
    as often as in the layer that looks most like it, up to `MARGIN_MAX` of the mask's size (sqrt of its area)."""
    depth = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
    limit = int(MARGIN_MAX * np.sqrt(mask.sum()))
    like = ratio > 0
    shares = []
    for layer in range(2 * limit + 2):
        shell = (depth > layer) & (depth <= layer + 1)
        if shell.sum() < 8:
            break
        shares.append(like[shell].mean())
    if len(shares) < 2:
        return 0
    typical = max(shares)
    return min(limit, next(layer for layer, share in enumerate(shares) if share >= 0.5 * typical))


def carry(frames: list[np.ndarray], start: np.ndarray, reverse: bool, wanted: set[int], snap: Snap | None,
          refine: Refine | None = None) -> dict[int, np.ndarray]:
    """Carry the soft mask ``start`` (h, w) float32 of frames[0] (of frames[-1] when ``reverse``) through
    ``frames`` (h, w, 3) uint8 one frame at a time, snapping each with ``snap`` and then deciding it with
    ``refine`` (either may be None): {index into frames: soft mask (h, w) uint8, 255 = 1} for the ``wanted``
    indices, stopping at the last of them."""
    order = list(range(len(frames) - 1, -1, -1) if reverse else range(len(frames)))
    last = max((order.index(i) for i in wanted), default=0)
    soft, out = start, {}
    for previous, index in zip(order[:last], order[1: last + 1]):
        field = flow_to(frames[index], frames[previous])
        carried = flow.warp_np(soft, field)
        if snap is not None:
            carried = snap(frames[index], carried, field if FOLLOW else None)
        soft = carried if refine is None else refine(frames[index], frames[previous], field, carried, soft)
        if index in wanted:
            out[index] = np.round(soft * 255).astype(np.uint8)
    return out


def segment(order: list[int], t: int) -> tuple[int | None, int | None]:
    """The keyframes (before, after) of frame ``t`` (not a keyframe itself) in ``order``; None where there is
    none."""
    before = next((k for k in reversed(order) if k < t), None)
    after = next((k for k in order if k > t), None)
    return before, after


def carry_segment(video: Path, keyframes: dict[int, np.ndarray], bounds: tuple[int | None, int | None],
                  wanted: list[int], snap: bool, refine: Refine | None = None) -> dict[int, np.ndarray]:
    """Soft masks {t: (h, w) uint8, 255 = 1} at the working size of the ``wanted`` frames between the
    keyframes ``bounds`` = (before, after) (None: the video's start or end), reading the frames from ``before``
    (or the first wanted) to ``after`` (or the last wanted) only."""
    size = next(iter(keyframes.values())).shape
    # an empty keyframe says the object is not in that frame, not that it is missing from its neighbours: it
    # carries nothing, and the frames beside it take the mask of the keyframe on their other side
    before, after = (k if k is not None and keyframes[k].any() else None for k in bounds)
    if before is None and after is None:
        scale = flow_scale(size, WORKING)
        return {t: np.zeros((size[0] // scale, size[1] // scale), np.uint8) for t in wanted}
    if any(mask.shape != size for mask in keyframes.values()):
        raise VidpriorError("the painted masks differ in size; paint them all on the video's frames")
    lo = before if before is not None else min(wanted)
    hi = after if after is not None else max(wanted)
    scale = flow_scale(size, WORKING)
    small = (size[0] // scale, size[1] // scale)

    def working(image: np.ndarray) -> np.ndarray:
        if image.dtype == bool:
            image = image.astype(np.float32)
        return image if image.shape[:2] == small else cv2.resize(image, small[::-1], interpolation=cv2.INTER_AREA)

    frames = []
    for frame in iter_frames(video, lo, hi - lo + 1):
        if frame.shape[:2] != size:
            raise VidpriorError(f"{video}: frames are {frame.shape[1]}x{frame.shape[0]} but the painted masks are "
                                f"{size[1]}x{size[0]}")
        frames.append(working(frame))
    if len(frames) < hi - lo + 1:
        raise VidpriorError(f"{video}: {lo + len(frames)} frames, fewer than the {hi + 1} the masks are for")
    offsets = {t - lo for t in wanted}
    carried = []
    for key, reverse in ((before, False), (after, True)):
        if key is None:
            carried.append({})
            continue
        start = working(keyframes[key])
        snapper = Snap(frames[key - lo], start > 0.5) if snap else None
        carried.append(carry(frames, start, reverse, offsets, snapper, refine))
    forward, backward = carried
    out = {}
    for t in wanted:
        if before is None or after is None:
            out[t] = (forward or backward)[t - lo]
        else:
            weight = (after - t) / (after - before)
            out[t] = np.round(weight * forward[t - lo] + (1 - weight) * backward[t - lo]).astype(np.uint8)
    return out


def _full(soft: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A soft mask (h, w) uint8 (255 = 1) at the working size -> (H, W) = ``size`` bool."""
    if soft.shape != size:
        soft = cv2.resize(soft, size[::-1], interpolation=cv2.INTER_LINEAR)
    return soft > 127


def carry_masks(video: Path, keyframes: dict[int, np.ndarray], total: int, frames: Iterable[int] | None = None,
                snap: bool = True, refine: Refine | None = None, objects: bool = True) -> Iterator[np.ndarray]:
    """Masks (H, W) bool for the ``total`` frames of ``video`` (a file or a folder of frames), or only for
    ``frames`` in the order given, from masks painted on some of them (index -> (H, W) bool).

    A keyframe keeps its painted mask. Between two keyframes a < t < b, a's mask carried forward along the
    flow to t and b's carried backward are blended, a weighing (b - t) / (b - a); before the first keyframe and
    after the last the nearest one's mask is carried. An empty keyframe (the object is not in that frame)
    carries nothing: beside it the other side's keyframe is carried alone. ``snap`` snaps the carried mask to
    the object at every frame (see the module note); ``refine`` decides it instead (`Refine`). ``objects``
    makes every carried mask an object (`whole`): no holes where the segment's keyframes have none, no more
    pieces than they have. Only the frames of the keyframe segment being carried are held, and asking for one
    frame carries only its segment, up to that frame.
    """
    order = checked_keyframes(keyframes, total)
    wanted = list(range(total)) if frames is None else [int(t) for t in frames]
    for t in wanted:
        if not 0 <= t < total:
            raise VidpriorError(f"frame {t} is outside the video's {total} frames")
    done: dict[int, np.ndarray] = {}
    current: tuple[int | None, int | None] | None = None
    for t in wanted:
        if t in keyframes:
            yield keyframes[t].copy()
            continue
        bounds = segment(order, t)
        if bounds != current:
            current = bounds
            done = carry_segment(video, keyframes, bounds,
                                 [u for u in wanted if u not in keyframes and segment(order, u) == bounds], snap,
                                 refine)
            ends = [keyframes[k] for k in bounds if k is not None]
            shape = (any(has_holes(m) for m in ends), max(pieces(m) for m in ends))
        mask = _full(done[t], keyframes[order[0]].shape)
        yield whole(mask, *shape) if objects else mask


def covering_masks(video: Path, keyframes: dict[int, np.ndarray], total: int, refine: Refine,
                   frames: Iterable[int] | None = None) -> Iterator[np.ndarray]:
    """What object removal fills: the union of the masks carried with ``refine`` (tight, the best overlap) and
    snapped (looser, but it keeps thin parts and dark edges the network drops), so that no part of the object is
    left; arguments as `carry_masks`."""
    wanted = None if frames is None else list(frames)
    for snapped, refined in zip(carry_masks(video, keyframes, total, wanted),
                                carry_masks(video, keyframes, total, wanted, refine=refine)):
        yield snapped | refined
