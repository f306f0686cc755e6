"""Fitting the mask-propagation network to one video on its painted keyframes: the seeds' internal learning,
applied to masks.

Only the keyframes' masks are known, so the pairs to learn from are made of them (`pair`): the keyframe moved by
two random similarity transforms, once as the previous frame and once as the current one; half the time the
object moves on its own over the background (the object pasted over the keyframe with the object painted out,
`cv2.inpaint`), half the time with it (a camera move). The previous mask is spoilt and carried along the DIS flow
between the two, as in training (`data.one_sample`), and the network is fine-tuned for a few seconds.
"""

from __future__ import annotations

import copy
import time

import cv2
import numpy as np
import torch

from ..carry import flow_to
from .data import crop_around, one_sample, stack_samples
from .network import MaskProp
from .training import mask_loss

SECONDS = 8.0  # default fine-tuning time
STEPS = 40  # the fine-tuning steps of a job's mask carrying: about 8 s on 2 cores
LR = 2e-4
BATCH, CROP = 4, 128
MOVE = 0.04  # translation (share of the frame's side), rotation (radians) and log scale of a random move


def _move(rng: np.random.Generator, size: tuple[int, int], centre: tuple[float, float]) -> np.ndarray:
    """A random similarity transform (2, 3) about ``centre`` (x, y) for frames of ``size`` (h, w)."""
    angle = np.degrees(rng.normal(0, MOVE))
    scale = float(np.exp(rng.normal(0, MOVE)))
    matrix = cv2.getRotationMatrix2D(centre, angle, scale)
    matrix[:, 2] += rng.normal(0, MOVE, 2) * np.array(size[::-1])
    return matrix


def _warped(image: np.ndarray, matrix: np.ndarray, nearest: bool = False) -> np.ndarray:
    h, w = image.shape[:2]
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)


def pair(frame: np.ndarray, mask: np.ndarray, background: np.ndarray, rng: np.random.Generator
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(frame t, mask t, frame t-1, mask t-1) made from a keyframe ``frame`` (h, w, 3) uint8 with ``mask`` (h, w)
    bool and its ``background`` (the object painted out), see the module notes."""
    size = mask.shape
    ys, xs = np.nonzero(mask)
    centre = (float(xs.mean()), float(ys.mean())) if len(xs) else (size[1] / 2, size[0] / 2)
    out = []
    for _ in range(2):
        camera = _move(rng, size, (size[1] / 2, size[0] / 2))
        if rng.random() < 0.5:
            out += [_warped(frame, camera), _warped(mask.astype(np.uint8), camera, nearest=True) > 0]
            continue
        both = np.vstack([camera, [0, 0, 1]]) @ np.vstack([_move(rng, size, centre), [0, 0, 1]])
        moved = _warped(mask.astype(np.uint8), both[:2], nearest=True) > 0
        composite = _warped(background, camera)
        composite[moved] = _warped(frame, both[:2])[moved]
        out += [composite, moved]
    return out[0], out[1], out[2], out[3]


def adapt(net: MaskProp, keyframes: list[tuple[np.ndarray, np.ndarray]], seconds: float = SECONDS,
          steps: int | None = None, seed: int = 0) -> MaskProp:
    """A copy of ``net`` fine-tuned on pairs made of the painted ``keyframes`` [(frame (h, w, 3) uint8 at the
    carrying size, mask (h, w) bool)] for ``seconds`` (or exactly ``steps`` steps), in eval mode."""
    rng = np.random.default_rng(seed)
    tuned = copy.deepcopy(net).train()
    device = next(tuned.parameters()).device
    backgrounds = [cv2.inpaint(f, cv2.dilate(m.astype(np.uint8), np.ones((7, 7), np.uint8)), 5, cv2.INPAINT_TELEA)
                   for f, m in keyframes]
    optimiser = torch.optim.Adam(tuned.parameters(), lr=LR)
    began, step = time.monotonic(), 0
    while (step < steps) if steps is not None else (time.monotonic() - began < seconds):
        parts = []
        for _ in range(BATCH):
            k = int(rng.integers(len(keyframes)))
            frame, mask, previous_frame, previous_mask = pair(*keyframes[k], backgrounds[k], rng)
            area = crop_around(mask, CROP, rng)
            part = one_sample(frame[area], previous_frame[area], flow_to(frame[area], previous_frame[area]),
                              previous_mask[area], mask[area], rng)
            parts.append(part)
        sample = stack_samples(parts).to(device)
        loss = mask_loss(tuned(*sample.inputs()).float(), sample.truth)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        step += 1
    return tuned.eval()
