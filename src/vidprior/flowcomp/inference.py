"""Completing the flows of a whole clip, frame by frame, at the working resolution."""

from __future__ import annotations

import numpy as np
import torch

from .. import flow
from .network import FRAMES, FlowCompletion


def _each_frame(fill, forward: np.ndarray, backward: np.ndarray, holes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (np.stack([fill(f, m) for f, m in zip(forward, holes)]),
            np.stack([fill(b, m) for b, m in zip(backward, holes)]))


def smooth_flows(forward: np.ndarray, backward: np.ndarray, holes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each frame's flows (T, h, w, 2) smooth-filled inside its hole (T, h, w) (`flow.fill_smooth`)."""
    return _each_frame(flow.fill_smooth, forward, backward, holes)


def camera_flows(forward: np.ndarray, backward: np.ndarray, holes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each frame's flows (T, h, w, 2) filled inside its hole (T, h, w) by the camera's motion (`flow.fill_camera`)."""
    return _each_frame(flow.fill_camera, forward, backward, holes)


@torch.no_grad()
def complete_flows(net: FlowCompletion, forward: np.ndarray, backward: np.ndarray, holes: np.ndarray,
                   device: torch.device | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Forward and backward flows (T, h, w, 2) (forward[-1], backward[0] unused) completed inside ``holes``
    (T, h, w) bool. At the ends of the clip the missing neighbour is the frame itself."""
    device = device or torch.device("cpu")
    net = net.to(device).eval()
    count = len(forward)
    smooth_f, smooth_b = smooth_flows(forward, backward, holes)
    out_f, out_b = smooth_f.astype(np.float32), smooth_b.astype(np.float32)
    for t in range(count):
        if not holes[t].any():
            continue
        index = [min(max(t + d, 0), count - 1) for d in range(-(FRAMES // 2), FRAMES // 2 + 1)]
        fields = torch.from_numpy(np.stack([forward[index], backward[index]], axis=1).astype(np.float32))
        smooth = torch.from_numpy(np.stack([smooth_f[t], smooth_b[t]]).astype(np.float32))
        done = net(fields.permute(0, 1, 4, 2, 3)[None].to(device),
                   torch.from_numpy(holes[index].astype(np.float32))[None].to(device),
                   smooth.permute(0, 3, 1, 2)[None].to(device))[0].permute(0, 2, 3, 1).cpu().numpy()
        out_f[t], out_b[t] = done
    out_f[-1], out_b[0] = 0, 0
    return out_f, out_b
