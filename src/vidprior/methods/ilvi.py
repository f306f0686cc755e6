"""Deep-Image-Prior generators fitted to one video: plain DIP (every task) and internal-learning
video inpainting with joint frame and flow generation (Zhang et al., ICCV 2019).

Both use the DIP skip encoder-decoder (`vidprior.nn.skip`) applied frame by frame to a fixed
per-frame input; the frames only meet in the losses.

dip: input = fixed noise; loss = weighted MSE of A(x) against the observation (any task).
ilvi: the generator also outputs optical flow (forward and backward at strides ``strides``) and is
fitted with the paper's four losses: masked image reconstruction (1), flow reconstruction
against DIS flow on pixels known in both frames and passing a forward-backward check (0.1),
flow-image consistency inside the holes (1), and the masked VGG-16 perceptual loss (0.01).
Training follows the consecutive-batch schedule: windows of ``batch`` frames at one stride with
one flow type, ``batch_steps`` steps each, in shuffled order.

Deviation, for a CPU budget of minutes instead of the paper's hours on a GPU: the input is the
noise map *plus the frame completed by classical flow propagation* (`classical.flowfill`), so the
fit starts from real pixels carried along flow and spends its steps on what propagation got
wrong (``guide=0`` gives the paper's noise-only input). The network works at ``work_size``
(longest side) and only hole pixels of the full-size video change.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import flow as flowlib
from ..fit import Objective, error_stats
from ..losses import Perceptual, flow_consistency, flow_reconstruction, masked_mse
from ..nn.padding import pad_to
from ..nn.skip import SkipNet
from ..problems import Problem
from ..settings import Setting
from ..video import frames_to_tensor, tensor_to_frames
from .base import Method, RunOptions
from .classical import FLOWFILL
from .internal import fit_settings, in_chunks, noise_floor, run_fit, schedule_from


def _resize_bicubic(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, *size), antialiased bicubic (unchanged when already that size)."""
    if tuple(x.shape[-2:]) == size:
        return x
    return F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True)


def work_shape(height: int, width: int, work_size: int) -> tuple[int, int]:
    """The internal (H, W): the longest side at most ``work_size``, aspect kept."""
    scale = min(1.0, work_size / max(height, width))
    return max(8, round(height * scale)), max(8, round(width * scale))


class FrameGenerator(Objective):
    """A SkipNet applied frame by frame to fixed inputs (T, C, H, W), padded inside.

    ``net(inputs[i])`` gives 3 image channels and ``extra`` more (flows). The image is
    sigmoid(base + out) where ``base`` (T, 3, H, W) holds logits of a starting video (zeros: none),
    and the head starts at zero when a base is given, so the fit starts exactly from it.
    """

    def __init__(self, inputs: torch.Tensor, extra: int, channels: tuple[int, ...],
                 base: torch.Tensor | None = None, norm: bool = True) -> None:
        super().__init__()
        self.net = SkipNet(inputs.shape[1], 3 + extra, channels, norm=norm)
        grid = self.net.multiple, self.net.smallest
        padded, self.size = pad_to(inputs, *grid)
        self.register_buffer("inputs", padded)
        base_padded = pad_to(base, *grid)[0] if base is not None else torch.zeros(len(padded), 3, 1, 1)
        self.register_buffer("base", base_padded.expand(-1, -1, *padded.shape[-2:]).contiguous())
        if base is not None:
            nn.init.zeros_(self.net.head.weight)
            nn.init.zeros_(self.net.head.bias)

    def generate(self, index: torch.Tensor, window: tuple[int, int, int, int] | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """Frames ``index`` (in the crop ``window`` = top, left, height, width, if given)
        -> (images (B, 3, h, w) in [0, 1], extra channels (B, E, h, w))."""
        top, left, h, w = window or (0, 0, *self.inputs.shape[-2:])
        out = self.net(self.inputs[index, :, top: top + h, left: left + w]).float()
        image = torch.sigmoid(self.base[index, :, top: top + h, left: left + w] + out[:, :3])
        if window is None:
            image, out = image[..., : self.size[0], : self.size[1]], out[..., : self.size[0], : self.size[1]]
        return image, out[:, 3:]

    def frames(self, chunk: int = 4) -> torch.Tensor:
        """All generated frames, (T, 3, H, W)."""
        index = torch.arange(self.inputs.shape[0], device=self.inputs.device)
        return in_chunks(lambda part: self.generate(part)[0], index, size=chunk)

    def preview(self) -> np.ndarray:
        middle = torch.tensor([self.inputs.shape[0] // 2], device=self.inputs.device)
        return tensor_to_frames(self.generate(middle)[0])[0]


def _logit(x: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    x = x.clamp(eps, 1 - eps)
    return torch.log(x / (1 - x))


# ------------------------------------------------------------------------------------ plain DIP


class DipObjective(FrameGenerator):
    """Plain Deep Image Prior over a video, for any task through the Problem's operator A.

    Inputs: fixed noise per target frame; for interpolation the in-between frames get the linear
    blend of their observed neighbours' noise, so they lie between them in input space.
    """

    def __init__(self, problem: Problem, channels: tuple[int, ...], batch: int, seed: int) -> None:
        t, h, w = problem.target_shape
        generator = torch.Generator().manual_seed(seed)
        index = problem.observed_index
        keys = torch.rand(len(index), 8, h, w, generator=generator) * 0.1
        position = torch.from_numpy(np.interp(np.arange(t), index, np.arange(len(index)))).float()
        lo = position.floor().long()
        hi, tau = (lo + 1).clamp(max=len(index) - 1), (position - lo).view(-1, 1, 1, 1)
        inputs = keys[lo] * (1 - tau) + keys[hi] * tau
        super().__init__(inputs, 0, channels)
        self.problem = problem
        self.register_buffer("y", problem.y())
        self.register_buffer("w", problem.weights())
        self.register_buffer("observed", torch.as_tensor(index))
        self.batch = min(batch, len(index))

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        pick = torch.randperm(len(self.observed))[: self.batch].to(self.y.device)
        images = self.problem.observe_frames(self.generate(self.observed[pick])[0])
        loss = masked_mse(images, self.y[pick], self.w[pick])
        return loss, error_stats(float(loss.detach()) / max(float(self.w[pick].mean()), 1e-8))

    def render(self) -> np.ndarray:
        return tensor_to_frames(self.frames())


CHANNELS = Setting("channels", (16, 32, 64, 128, 128), "channels of the skip network per scale, fine to coarse",
                   low=1, high=512)


def run_dip(problem: Problem, options: RunOptions) -> np.ndarray:
    torch.manual_seed(options.seed)
    objective = DipObjective(problem, options.param("channels"), options.param("batch"), options.seed)
    # discrepancy principle: stop at the noise floor
    return run_fit(objective, schedule_from(options, stop_below=noise_floor(problem)), problem, options, "dip")


# ------------------------------------------------------------------------------------ ilvi


class InpaintObjective(FrameGenerator):
    """Internal video inpainting: frames + flows from per-frame inputs, four losses (module notes).

    frames (T, H, W, 3) uint8 with holes (T, H, W) bool; guide: the same frames completed by
    classical propagation, or None. With a guide, the generated frames and flows are residuals
    on the guide and on the completed DIS flows, so the fit starts from them. Each step works on
    a ``crop``-pixel window (centred on a hole pixel 3 times out of 4) of a batch of frames.
    """

    def __init__(self, frames: np.ndarray, hole: np.ndarray, guide: np.ndarray | None, *,
                 strides: tuple[int, ...], channels: tuple[int, ...], batch: int, batch_steps: int,
                 crop: int, weights: dict[str, float], seed: int) -> None:
        t, h, w = hole.shape
        generator = torch.Generator().manual_seed(seed)
        noise = torch.rand(t, 1, h, w, generator=generator) * 0.1
        guide_t = frames_to_tensor(guide) if guide is not None else None
        inputs = torch.cat([noise, guide_t], dim=1) if guide_t is not None else noise
        self.types = [(s, d) for s in strides if s < t for d in (1, -1)]
        super().__init__(inputs, 2 * len(self.types), channels,
                         base=_logit(guide_t) if guide_t is not None else None, norm=False)
        self.register_buffer("y", frames_to_tensor(frames))
        self.register_buffer("known", torch.from_numpy(~hole).float()[:, None])
        self.register_buffer("hole_any", torch.from_numpy(hole.any(axis=0)))
        self.weights, self.batch, self.batch_steps = weights, batch, batch_steps
        side = min(crop, h, w) // self.net.multiple * self.net.multiple
        self.crop = side if side >= self.net.smallest else None  # small frames: train on the whole frame
        self.flow_residual = guide is not None
        self.perceptual = Perceptual() if weights.get("perceptual") else None
        self._reference_flows(guide if guide is not None else frames, hole)
        self.order: list[tuple[int, int, int]] = []  # (start, stride, direction) batches still to visit

    def _reference_flows(self, frames: np.ndarray, hole: np.ndarray) -> None:
        """DIS flow of every flow type (completed inside the holes), where it can be trusted, the
        hole-affected region (pixels in a hole or flowing into one) and the flow's scale."""
        t = len(frames)
        computed: dict[tuple[int, int], np.ndarray] = {}

        def dis(i: int, j: int) -> np.ndarray:  # each pair is needed by two flow types
            if (i, j) not in computed:
                computed[(i, j)] = flowlib.dis_flow(frames[i], frames[j])
            return computed[(i, j)]

        flows = torch.zeros(len(self.types), t, 2, *hole.shape[1:])
        valid = torch.zeros(len(self.types), t, 1, *hole.shape[1:])
        region = torch.zeros_like(valid)
        scales = torch.ones(len(self.types))
        for k, (s, d) in enumerate(self.types):
            for i in range(t):
                j = i + s * d
                if not 0 <= j < t:
                    continue
                forward, backward = dis(i, j), dis(j, i)
                forward = flowlib.fill_smooth(forward, hole[i])
                target_hole = flowlib.warp_np(hole[j].astype(np.float32), forward) > 0
                valid[k, i, 0] = torch.from_numpy(~hole[i] & ~target_hole & flowlib.consistent(forward, backward))
                region[k, i, 0] = torch.from_numpy(hole[i] | target_hole)
                flows[k, i] = torch.from_numpy(forward).permute(2, 0, 1)
            scales[k] = max(float(flows[k].abs().max()), 1.0)
        self.register_buffer("ref_flows", flows)
        self.register_buffer("flow_valid", valid)
        self.register_buffer("flow_region", region)
        self.register_buffer("flow_scales", scales)

    def get_extra_state(self) -> dict:
        return {"order": list(self.order)}

    def set_extra_state(self, state: dict) -> None:
        self.order = [tuple(x) for x in state["order"]]

    def _next_batch(self) -> tuple[int, int, int]:
        if not self.order:
            t = self.inputs.shape[0]
            combos = []
            for s in sorted({s for s, _ in self.types} or {1}):
                span = min(self.batch, (t - 1) // s + 1)
                combos += [(b, s, d) for b in range(0, t - (span - 1) * s) for d in (1, -1)]
            self.order = [combos[i] for i in torch.randperm(len(combos)).tolist()]
        return self.order[-1]

    def _window(self) -> tuple[int, int, int, int] | None:
        """A crop (top, left, size, size), centred on a hole pixel 3 times out of 4."""
        if self.crop is None:
            return None
        h, w = self.size
        if float(torch.rand(())) < 0.75 and bool(self.hole_any.any()):
            ys, xs = torch.nonzero(self.hole_any, as_tuple=True)
            k = int(torch.randint(len(ys), ()))
            cy, cx = int(ys[k]), int(xs[k])
        else:
            cy, cx = int(torch.randint(h, ())), int(torch.randint(w, ()))
        top = min(max(cy - self.crop // 2, 0), h - self.crop)
        left = min(max(cx - self.crop // 2, 0), w - self.crop)
        return top, left, self.crop, self.crop

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        start, stride, direction = self._next_batch()
        if (step + 1) % self.batch_steps == 0:
            self.order.pop()
        t = self.inputs.shape[0]
        span = min(self.batch, (t - 1) // stride + 1)
        index = torch.arange(start, start + span * stride, stride, device=self.y.device)
        window = self._window()
        top, left, h, w = window or (0, 0, *self.size)
        crop = (slice(None), slice(None), slice(top, top + h), slice(left, left + w))
        images, extra = self.generate(index, window)
        y, known = self.y[index][crop], self.known[index][crop]
        rec = masked_mse(images, y, known)
        total = self.weights["image"] * rec
        if (stride, direction) in self.types and span > 1:
            k = self.types.index((stride, direction))
            reference = self.ref_flows[k, index][crop]
            # residual flows move in pixels (scaling them by the flow range, as the paper's absolute flows
            # are, let a small step of the net throw the warps far off and the fit diverged on fast clips)
            flows = (extra[:, 2 * k: 2 * k + 2] + reference if self.flow_residual
                     else extra[:, 2 * k: 2 * k + 2] * self.flow_scales[k])
            pairs = slice(0, span - 1) if direction > 0 else slice(1, span)
            others = slice(1, span) if direction > 0 else slice(0, span - 1)
            if self.weights.get("flow"):
                total = total + self.weights["flow"] * flow_reconstruction(
                    flows[pairs], reference[pairs], self.flow_valid[k, index][crop][pairs], float(self.flow_scales[k]))
            if self.weights.get("consistency"):
                total = total + self.weights["consistency"] * flow_consistency(
                    images[pairs], images[others], flows[pairs], self.flow_region[k, index][crop][pairs])
        if self.perceptual is not None:
            total = total + self.weights["perceptual"] * self.perceptual(images, y, known)
        return total, error_stats(float(rec.detach()) / max(float(known.mean()), 1e-8))

    def render(self) -> np.ndarray:
        return tensor_to_frames(self.frames())


# perceptual: 0.01 in the paper; off by default here, since VGG-16 costs ~3x the generator per step
# on a CPU (--param perceptual=0.01 turns it on)
ILVI_WEIGHTS = {"image": 1.0, "flow": 0.1, "consistency": 1.0, "perceptual": 0.0}
LOSS_HELP = {"image": "masked image reconstruction", "flow": "flow reconstruction against DIS flow",
             "consistency": "flow-image consistency inside the holes", "perceptual": "masked VGG-16 perceptual loss"}


def run_ilvi(problem: Problem, options: RunOptions) -> np.ndarray:
    """Inpaint ``problem`` (task inpaint) with the internal-learning generator; see module notes."""
    torch.manual_seed(options.seed)
    t, height, width = problem.hole.shape
    size = work_shape(height, width, options.param("work_size"))
    small = _resize_bicubic(frames_to_tensor(problem.observed), size)
    hole_small = _resize_bicubic(torch.from_numpy(problem.hole).float()[:, None], size)[:, 0].numpy() > 0.01
    frames_small = tensor_to_frames(small)
    guide = None
    if options.param("guide"):
        guide = FLOWFILL.run(Problem("inpaint", frames_small, hole_small), RunOptions(progress=False))
    weights = {k: options.param(k) for k in ILVI_WEIGHTS}
    strides = options.param("strides") if weights["flow"] or weights["consistency"] else ()
    objective = InpaintObjective(frames_small, hole_small, guide, strides=strides, channels=options.param("channels"),
                                 batch=options.param("batch"), batch_steps=options.param("batch_steps"),
                                 crop=options.param("crop"), weights=weights, seed=options.seed)
    result = run_fit(objective, schedule_from(options), problem, options, "ilvi")
    full = _resize_bicubic(frames_to_tensor(result), (height, width))
    return tensor_to_frames(full)


METHODS = [
    Method("dip", "internal", ("inpaint", "denoise", "interpolate", "upscale"),
           "Deep Image Prior over the video: one skip network from fixed per-frame noise, image loss only.",
           run_dip, window=30, context=2, settings=(
               *fit_settings(3000, 1e-2), CHANNELS,
               Setting("batch", 4, "frames per step", low=1, high=64))),
    Method("ilvi", "internal", ("inpaint",),
           "Internal video inpainting: DIP generator of frames and flows, flow/consistency/perceptual losses.",
           run_ilvi, window=30, context=4, settings=(
               # gradient clipping: without normalisation layers, the consistency term made rare gradient
               # spikes (norm ~10 against ~1e-3 typical) that threw the fit off on fast-moving clips
               *fit_settings(4000, 1e-3, clip_grad=0.05), CHANNELS,
               Setting("work_size", 256, "longest side in pixels the network works at", low=32, high=4096),
               Setting("guide", True, "start from the frames completed by flowfill (off: the paper's noise input)"),
               *(Setting(k, v, f"weight of the {LOSS_HELP[k]} loss", low=0) for k, v in ILVI_WEIGHTS.items()),
               Setting("strides", (1, 3), "frame distances of the generated flows", low=1, high=30),
               Setting("batch", 5, "consecutive frames per step", low=2, high=64),
               Setting("batch_steps", 20, "steps on one batch before the next", low=1),
               Setting("crop", 96, "crop size in pixels of each step", low=16, high=4096))),
]
