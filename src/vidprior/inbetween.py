"""The classical in-between frame of two frames at time tau from their DIS flows (the ``flowinterp`` method,
and the start of the interpolation network), by forward splatting or by flow reversal.

Splatting (softmax splatting, Niklaus and Liu 2020): each frame is pushed to time tau along its own flow,
each pixel spread bilinearly over the four pixels around where it lands. Where several land on one pixel,
each counts with ``exp(importance)``: pixels whose flow leads to a matching colour in the other frame and
returns home (the forward-backward check) outweigh the ones that will be hidden, the surface in front. The
weights are mild (``BRIGHTNESS``, ``CHECK``): on the training clips, weights ten times as strong lost 0.25 dB
at x2 (DIS's check fails on whole regions of fast motion, and noisy weights resample texture unevenly) and
none at all did as well as these. What no pixel of a frame reaches is a hole of that frame: the occlusion
mask. The two splatted frames are blended with weights (1-tau)·seen0 and tau·seen1 (seen: the share of the
pixels landing there that passed the check); the pixels neither frame reaches (rare: a tear in the flow)
come from flow reversal.

Flow reversal (Super SloMo): the flows from time tau back to each frame are approximated from the two flows,
F_t0 = -(1-t)·t·F01 + t²·F10 and F_t1 = (1-t)²·F01 - t·(1-t)·F10; both frames warped back and blended the
same way. It cannot tell which surface is in front: a fast limb over a background comes out doubled.

With the flows to the frames before and after the pair (``f0p``: frame 0 to frame -1, ``f12``: frame 1 to
frame 2), the paths are quadratic (QVI, Xu et al. 2019): x(t) = x0 + v·t + a·t²/2 with v = (F01 - F0p)/2 and
a = F01 + F0p, so motion that speeds up or turns lands where it will be.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from . import flow
from .progress import Bar
from .video import frames_to_tensor, tensor_to_frames

BRIGHTNESS = 2.0  # importance lost per unit of colour mismatch (mean over RGB in [0, 1]) along the flow
CHECK = 1.0  # importance lost by a pixel that fails the forward-backward check
EPS = 1e-3  # weight of a frame whose pixels all fail the check (so that a blend is always defined)
REACHED = 1e-2  # splatted mass below this is a hole
# Frames of up to this many pixels get DIS flow matched at full size instead of the preset's half size: on the
# 256×144 training clips +0.25 dB at x2 for twice the flow time; at 854×480 +0.12 dB for 0.3 s more per pair
FINE_PIXELS = 480 * 270


def travel(f01: torch.Tensor, tau: torch.Tensor, f0p: torch.Tensor | None = None) -> torch.Tensor:
    """Flow (N, 2, H, W) from frame 0 to time ``tau`` (N,): tau·F01, or the quadratic path through frame -1.

    >>> f = torch.ones(1, 2, 2, 2)
    >>> travel(f, torch.tensor([0.5]))[0, :, 0, 0].tolist(), travel(f, torch.tensor([0.5]), -f)[0, :, 0, 0].tolist()
    ([0.5, 0.5], [0.5, 0.5])
    """
    t = tau.view(-1, 1, 1, 1).to(f01.dtype)
    if f0p is None:
        return t * f01
    return 0.5 * (f01 - f0p) * t + 0.5 * (f01 + f0p) * t * t


def importance(a: torch.Tensor, b: torch.Tensor, f01: torch.Tensor, seen0: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) log-weight of each pixel of ``a`` (N, 3, H, W) when splatted along ``f01``: minus its colour
    mismatch with ``b`` where the flow leads, minus ``CHECK`` where it fails the check (``seen0`` = 0)."""
    mismatch = (a - flow.warp(b, f01)).abs().mean(1, keepdim=True)
    return -BRIGHTNESS * mismatch - CHECK * (1 - seen0)


def splat(values: torch.Tensor, motion: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Push ``values`` (N, C, H, W) along ``motion`` (N, 2, H, W), pixels), each pixel counted with ``weight``
    (N, 1, H, W) >= 0 and spread bilinearly. Returns the weighted mean at each target pixel (N, C, H, W; 0
    where nothing lands) and the bilinear mass that landed there (N, 1, H, W), not counting ``weight``.

    >>> v = torch.arange(4.0).view(1, 1, 1, 4)
    >>> out, mass = splat(v, torch.tensor([1.0, 0.0]).view(1, 2, 1, 1).expand(1, 2, 1, 4), torch.ones(1, 1, 1, 4))
    >>> out.tolist(), mass.tolist()
    ([[[[0.0, 0.0, 1.0, 2.0]]]], [[[[0.0, 1.0, 1.0, 1.0]]]])
    """
    n, c, h, w = values.shape
    if motion.shape != (n, 2, h, w) or weight.shape != (n, 1, h, w):
        raise ValueError(f"splat: motion {tuple(motion.shape)} and weight {tuple(weight.shape)} must be "
                         f"(N, 2, H, W) and (N, 1, H, W) for values {tuple(values.shape)}")
    ys, xs = torch.meshgrid(torch.arange(h, device=values.device, dtype=motion.dtype),
                            torch.arange(w, device=values.device, dtype=motion.dtype), indexing="ij")
    x, y = xs + motion[:, 0], ys + motion[:, 1]
    x0, y0 = x.floor(), y.floor()
    payload = torch.cat([values * weight, weight, torch.ones_like(weight)], 1).flatten(2)  # (N, C + 2, HW)
    sums = payload.new_zeros(n, c + 2, h * w)
    for dx in (0, 1):
        for dy in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            share = (1 - (x - xi).abs()) * (1 - (y - yi).abs())
            inside = (xi >= 0) & (xi <= w - 1) & (yi >= 0) & (yi <= h - 1)
            share = (share * inside).flatten(1).unsqueeze(1).to(payload.dtype)
            index = (yi.clamp(0, h - 1) * w + xi.clamp(0, w - 1)).long().flatten(1).unsqueeze(1)
            sums.scatter_add_(2, index.expand(n, c + 2, h * w), payload * share)
    sums = sums.view(n, c + 2, h, w)
    total, mass = sums[:, c: c + 1], sums[:, c + 1:]
    return sums[:, :c] / total.clamp_min(1e-12) * (total > 0), mass


def reversed_flows(f01: torch.Tensor, f10: torch.Tensor, tau: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Flows (N, 2, H, W) from time ``tau`` (N,) back to frame 0 and to frame 1, by flow reversal."""
    t = tau.view(-1, 1, 1, 1).to(f01.dtype)
    return -(1 - t) * t * f01 + t * t * f10, (1 - t) ** 2 * f01 - t * (1 - t) * f10


@dataclass
class Splats:
    """Both frames pushed to time tau.

    a, b (N, 3, H, W): the splatted frames, 0 in their holes; seen_a, seen_b (N, 1, H, W): their trust in [0, 1];
    mass_a, mass_b (N, 1, H, W): how much of each landed there (0 in a hole, about 1 where the frame moves as
    one, more where surfaces collide); blend (N, 3, H, W): the classical in-between frame; motion_a, motion_b
    (N, 2, H, W) and weight_a, weight_b (N, 1, H, W): the paths and weights they were pushed with.
    """

    a: torch.Tensor
    b: torch.Tensor
    seen_a: torch.Tensor
    seen_b: torch.Tensor
    mass_a: torch.Tensor
    mass_b: torch.Tensor
    blend: torch.Tensor
    motion_a: torch.Tensor
    motion_b: torch.Tensor
    weight_a: torch.Tensor
    weight_b: torch.Tensor


def _pushed(a: torch.Tensor, b: torch.Tensor, f01: torch.Tensor, f10: torch.Tensor, motion: torch.Tensor
            ) -> tuple[torch.Tensor, ...]:
    """Frame ``a`` pushed along ``motion``, its trust (the share of the pixels landing there that passed the
    check), the mass landed (below ``REACHED``: 0, a hole) and the weights it was pushed with."""
    seen = flow.consistency(f01, f10)
    weight = importance(a, b, f01, seen).exp()
    out, mass = splat(torch.cat([a, seen], 1), motion, weight)
    mass = mass * (mass > REACHED)
    return out[:, :3], out[:, 3:] * (mass > 0), mass, weight


def splatted(a: torch.Tensor, b: torch.Tensor, f01: torch.Tensor, f10: torch.Tensor, tau: torch.Tensor,
             f0p: torch.Tensor | None = None, f12: torch.Tensor | None = None) -> Splats:
    """``a``, ``b`` (N, 3, H, W) pushed to ``tau`` (N,) along ``f01``, ``f10`` (N, 2, H, W) (quadratic paths with
    ``f0p`` and ``f12``, both or neither), blended; reversal where neither frame reaches."""
    if (f0p is None) != (f12 is None):
        raise ValueError("quadratic paths need both outer flows, f0p and f12")
    t = tau.view(-1, 1, 1, 1).to(a.dtype)
    motion_a, motion_b = travel(f01, tau, f0p), travel(f10, 1 - tau, f12)
    at, seen_a, mass_a, weight_a = _pushed(a, b, f01, f10, motion_a)
    bt, seen_b, mass_b, weight_b = _pushed(b, a, f10, f01, motion_b)
    w0, w1 = (1 - t) * (seen_a + EPS) * (mass_a > 0), t * (seen_b + EPS) * (mass_b > 0)
    total = w0 + w1
    mix = (w0 * at + w1 * bt) / total.clamp_min(1e-12)
    blend = torch.where(total > 0, mix, reversal_blend(a, b, f01, f10, tau))
    return Splats(at, bt, seen_a, seen_b, mass_a, mass_b, blend, motion_a, motion_b, weight_a, weight_b)


def reversal_blend(a: torch.Tensor, b: torch.Tensor, f01: torch.Tensor, f10: torch.Tensor, tau: torch.Tensor
                   ) -> torch.Tensor:
    """The in-between frame (N, 3, H, W) by flow reversal: both frames warped back from ``tau`` and blended."""
    t = tau.view(-1, 1, 1, 1).to(a.dtype)
    ft0, ft1 = reversed_flows(f01, f10, tau)
    w0 = (1 - t) * (flow.warp(flow.consistency(f01, f10), ft0) + EPS)
    w1 = t * (flow.warp(flow.consistency(f10, f01), ft1) + EPS)
    return (w0 * flow.warp(a, ft0) + w1 * flow.warp(b, ft1)) / (w0 + w1)


Synthesis = Callable[..., torch.Tensor]  # (a, b, f01, f10, tau[, f0p, f12]) -> (N, 3, H, W), as `classical`


def frame_flow(a: np.ndarray, b: np.ndarray) -> torch.Tensor:
    """DIS flow (1, 2, H, W) from (H, W, 3) uint8 frame ``a`` to ``b``, as the method and its training compute
    it: on frames of up to ``FINE_PIXELS``, matched down to full size (thin, fast things are lost at half the
    size of a small frame)."""
    finest = 0 if a.shape[0] * a.shape[1] <= FINE_PIXELS else None
    return flow.flow_to_tensor(flow.dis_flow(a, b, finest=finest))


def pair_flows(a: np.ndarray, b: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """`frame_flow` a -> b and b -> a, each (1, 2, H, W)."""
    return frame_flow(a, b), frame_flow(b, a)


def classical(a: torch.Tensor, b: torch.Tensor, f01: torch.Tensor, f10: torch.Tensor, tau: torch.Tensor,
              f0p: torch.Tensor | None = None, f12: torch.Tensor | None = None) -> torch.Tensor:
    """The classical in-between frame (N, 3, H, W): `splatted`'s blend."""
    return splatted(a, b, f01, f10, tau, f0p, f12).blend


def between_frames(frames: np.ndarray, factor: int, synthesis: Synthesis = classical, *, quadratic: bool = True,
                   device: torch.device | None = None, label: str = "interpolate", progress: bool = True
                   ) -> np.ndarray:
    """(t, H, W, 3) uint8 -> ((t-1)·factor+1, H, W, 3) uint8: the given frames at 0, k, 2k, ... and
    ``synthesis``'s frames at tau = 1/k .. (k-1)/k between each pair, from the DIS flows of the pair and, when
    ``quadratic``, of its neighbours (straight paths where a pair has none on that side).

    Each pair's flows are computed once (the next pair's while this one is made). Memory: the output clip plus
    one pair's k-1 frames.
    """
    device = device or torch.device("cpu")
    count = len(frames)
    out = np.empty(((count - 1) * factor + 1, *frames.shape[1:]), np.uint8)
    out[::factor] = frames
    taus = torch.arange(1, factor, dtype=torch.float32, device=device) / factor
    flows = {0: pair_flows(frames[0], frames[1])}
    with Bar(count - 1, label, unit="pair", show=progress) as bar:
        for i in range(count - 1):
            if i + 2 < count:
                flows[i + 1] = pair_flows(frames[i + 1], frames[i + 2])
            f01, f10 = flows[i]
            f0p = flows[i - 1][1] if i - 1 in flows else -f01
            f12 = flows[i + 1][0] if i + 1 in flows else -f10
            flows.pop(i - 1, None)
            a, b = (frames_to_tensor(frames[j: j + 1]) for j in (i, i + 1))
            inputs = [x.to(device).expand(factor - 1, -1, -1, -1) for x in (a, b, f01, f10)]
            outer = [x.to(device).expand(factor - 1, -1, -1, -1) for x in (f0p, f12)] if quadratic else []
            out[i * factor + 1: (i + 1) * factor] = tensor_to_frames(synthesis(*inputs, taus, *outer).float())
            bar.update()
    return out
