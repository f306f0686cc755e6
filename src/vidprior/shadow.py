"""The mask aid for object removal: close a mask's concavities and grow it into the shadow attached to it.

Masks drawn around an object leave out its shadow and the gaps between its wheels or legs, and a
filled hole then leaves a dark blotch behind. Two cues, both cheap (Omnimatte learns the same
association; this is its classical cue, `RESEARCH.md`):

- contact: each frame's mask is closed by a disc of about a tenth of its size, and what it encloses
  filled, so the ground between two wheels goes with the car;
- shadow: in a band around the hole, each pixel is compared with the background that flowfill
  propagates to it from the other frames (the band is made a hole too, so what the other frames see
  there is known). A shadow darkens the background and keeps its chroma; it moves with the object,
  so the other frames saw that ground lit. A dark thing that stays put is dark in the other frames
  too and is left alone. Where no frame saw the ground (under a car the camera follows), the band's
  surroundings, filled in by Telea, stand in for it, with a stricter threshold, and only inside a
  shadow that is partly confirmed by what other frames saw. Parallax makes a pole in front of a facade
  look darker than the facade propagated to it, so shadows are taken to lie on the ground: a piece that
  reaches above the object's upper part is left out. Shadow pixels connected to the hole join it; this
  is done twice, the second time around the grown hole, so a long shadow is followed; each frame's
  shadow then takes in its neighbours' (`steady`), so that no frame keeps a piece of it known.

Shapes: frames (T, H, W, 3) uint8, holes (T, H, W) bool (True = to fill).
"""

from __future__ import annotations

import cv2
import numpy as np

from .flowfill import flowfill

DARKER = 0.8  # a shadow pixel has at most this share of its background's brightness
DARKER_GUESSED = 0.65  # ... where no frame saw that background and it is only Telea's guess from around the band
DARKEST = 0.03  # ... and at least this (the umbra under a car is nearly black)
CHROMA = 0.06  # largest change of the chromaticities r/(r+g+b), g/(r+g+b) under a shadow
DIM = 40.0  # brightness (0-255) below which a pixel's chromaticity is noise and is not compared
CONFIRMED = 0.3  # share of a shadow's pixels whose lit background some frame saw (the rest are guessed)
GROUND = 0.3  # a shadow lies on the ground: no piece reaches above this share of the hole's height from its top
BAND = 0.25  # width of the band searched around the hole, as a share of the hole's size (√area)
NARROWEST = 8  # ... and at least this many pixels
ROUNDS = 2
MARGIN = 2  # pixels the shadow found is grown by, as a hole's edge is


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _size(hole: np.ndarray) -> float:
    return float(np.sqrt(hole.sum()))


def close_contacts(holes: np.ndarray, share: float = 0.1) -> np.ndarray:
    """Each frame's mask closed by a disc of ``share`` of its size (√area, at least 1 px) and its enclosed
    holes filled: the gaps between wheels or legs go with the object.

    >>> ring = np.zeros((1, 20, 20), bool); ring[0, 5:15, 5:15] = True; ring[0, 8:12, 8:12] = False
    >>> bool(close_contacts(ring)[0, 10, 10])
    True
    """
    out = holes.copy()
    for t, hole in enumerate(holes):
        if not hole.any():
            continue
        radius = max(1, round(share * _size(hole)))
        pad = radius + 1  # closing must not glue the mask to the border
        closed = cv2.morphologyEx(np.pad(hole.astype(np.uint8), pad), cv2.MORPH_CLOSE, _disc(radius))
        out[t] = _fill_enclosed(closed[pad:-pad, pad:-pad] > 0) | hole
    return out


def _fill_enclosed(mask: np.ndarray) -> np.ndarray:
    """``mask`` (H, W) bool with every region it encloses (not connected to the border) filled."""
    outside = np.pad(~mask, 1, constant_values=True).astype(np.uint8)
    cv2.floodFill(outside, None, (0, 0), 2)
    return mask | (outside[1:-1, 1:-1] != 2)


def _chromaticity(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float32)
    return x[..., :2] / (x.sum(-1, keepdims=True) + 1.0)


def _brightness(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def shadow_pixels(frames: np.ndarray, holes: np.ndarray, band: np.ndarray, background: np.ndarray, seen: np.ndarray
                  ) -> np.ndarray:
    """(T, H, W) bool: pixels of ``band`` outside ``holes`` that are darker than ``background`` (what other
    frames show there where ``seen``; elsewhere a guess from around the band, held to a stricter darkness)
    with its chromaticity, in pieces that touch the hole, whose background was mostly seen (`CONFIRMED`) and that
    stay below the top of the hole (`GROUND`)."""
    ratio = (_brightness(frames) + 1.0) / (_brightness(background) + 1.0)
    same_colour = ((np.abs(_chromaticity(frames) - _chromaticity(background)).max(-1) < CHROMA)
                   | (_brightness(frames) < DIM))
    darker = np.where(seen, DARKER, DARKER_GUESSED)
    dark = band & ~holes & (ratio < darker) & (ratio > DARKEST) & same_colour
    out = np.zeros_like(holes)
    for t in range(len(holes)):
        if not dark[t].any():
            continue
        candidate = cv2.morphologyEx(dark[t].astype(np.uint8), cv2.MORPH_OPEN, _disc(1))  # no lone specks
        count, labels, stats, _ = cv2.connectedComponentsWithStats(candidate, connectivity=8)
        rows = np.nonzero(holes[t].any(axis=1))[0]
        ground = rows[0] + GROUND * (rows[-1] - rows[0]) if len(rows) else 0
        beside = cv2.dilate(holes[t].astype(np.uint8), _disc(1)) > 0
        touching = np.bincount(labels[beside], minlength=count) > 0
        confirmed = np.bincount(labels.ravel(), weights=seen[t].ravel(), minlength=count)
        size = np.bincount(labels.ravel(), minlength=count)
        keep = touching & (confirmed >= CONFIRMED * size) & (stats[:, cv2.CC_STAT_TOP] >= ground)
        keep[0] = False  # the background label
        out[t] = keep[labels]
    return out


def grow_into_shadow(frames: np.ndarray, holes: np.ndarray, rounds: int = ROUNDS, settings: dict | None = None
                     ) -> np.ndarray:
    """``holes`` (T, H, W) closed at their contacts and grown into the shadows attached to them (see the module
    note). ``settings``: flowfill's, for the background estimates. Frames without a hole keep theirs."""
    closed = grown = close_contacts(holes)
    for _ in range(rounds):
        band, widest = np.zeros_like(grown), NARROWEST
        for t, hole in enumerate(grown):
            if hole.any():
                reach = max(NARROWEST, round(BAND * _size(hole)))
                band[t] = cv2.dilate(hole.astype(np.uint8), _disc(reach)) > 0
                widest = max(widest, reach)
        # the flow is completed over a band's width beyond it, so that the shadow's own motion does not drag it
        background = flowfill(frames, band, **{**(settings or {}), "rounds": 1, "anchor": None, "grow": widest})
        shadow = shadow_pixels(frames, grown, band, background.frames, ~background.unseen)
        if not shadow.any():
            break
        grown = close_contacts(grown | shadow, share=0.03)
    return closed | steady(grown & ~closed)


def steady(shadow: np.ndarray, margin: int = MARGIN) -> np.ndarray:
    """Each frame's shadow (T, H, W) joined with its neighbours' and grown by ``margin`` pixels: a shadow pixel
    that one frame's test missed would otherwise stay known there, dark, and be copied into the others' holes."""
    out = shadow.copy()
    out[1:] |= shadow[:-1]
    out[:-1] |= shadow[1:]
    return np.stack([cv2.dilate(s.astype(np.uint8), _disc(margin)) > 0 if s.any() else s for s in out])
