"""DNeRV, difference neural representation for videos (Zhao, Asif, Ma; CVPR 2023).

A video becomes a small decoder plus two tiny embeddings per frame: a *content* embedding that an
encoder makes from the frame itself, and a *difference* embedding made from the frame's
differences to its neighbours ([x_t - x_{t-1}, x_{t+1} - x_t], 6 channels; a missing neighbour
counts as the frame itself). The decoder upsamples the content embedding with PixelShuffle blocks;
part-way up, the difference stream (1x1 conv, one upsampling block) joins through the gated
Collaborative Content Unit (`nn.nerv`). Encoders and decoder are fitted to the one video with MSE
(on known pixels for inpainting). Compression stores only the decoder and the embeddings
(`codec`); interpolation decodes in-between frames from embeddings interpolated linearly between
their observed neighbours (the frames themselves are never seen).

Sizes follow the input instead of one resolution (METHODS.md §3.1 is built for 960x1920):
the decoder's upscale factors (``strides``, coarse to fine) multiply to the frame padding
multiple, and the channel width ``width`` (reduced 1.2x per stage, as in the paper) comes from
a target size: ``--bpp`` or ``--params`` (`config_for`). Our choices for a CPU budget of minutes:
Adam at 2e-3 with warm-up and cosine decay, 2 frames per step, gradient clipping at 1 (5e-3 left
the fit of the demo clip stuck at a constant frame for seed 0: the "collapse" users report).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..codec import bitstream
from ..codec.quantize import magnitude_masks, quantize_best
from ..errors import VidpriorError
from ..fit import Objective
from ..losses import masked_mse
from ..nn.nerv import CollaborativeContentUnit, UpBlock, encoder
from ..problems import Problem
from .base import Codec, Method, RunOptions
from .internal import run_fit, schedule_from, to_uint8


@dataclass(frozen=True)
class DnervConfig:
    """Everything needed to rebuild the decoder (stored in the compressed file's header).

    strides: decoder upscale factors, coarse to fine (their product is the padding multiple);
    fuse_after: decoder stages before the difference stream joins; diff_scale: upscale of the
    difference stream to that point; content/difference: embedding channels; width: decoder
    channels after the stem (reduced by ``reduce`` per stage); encoder_width: encoder channels.
    """

    height: int
    width_px: int
    strides: tuple[int, ...] = (4, 2, 2, 2)
    fuse_after: int = 2
    diff_scale: int = 4
    content: int = 8
    difference: int = 2
    width: int = 48
    reduce: float = 1.2
    encoder_width: int = 32

    @property
    def multiple(self) -> int:
        return math.prod(self.strides)

    @property
    def padded(self) -> tuple[int, int]:
        m = self.multiple
        return -(-self.height // m) * m, -(-self.width_px // m) * m

    def channels(self) -> list[int]:
        """Decoder channels after the stem and after each stage."""
        return [max(4, round(self.width / self.reduce**i)) for i in range(len(self.strides) + 1)]

    @property
    def difference_stride(self) -> int:
        """How much smaller the difference embedding is than the padded frame."""
        return math.prod(self.strides[self.fuse_after:]) * self.diff_scale

    def embedding_shapes(self) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        """(C, h, w) of the content and the difference embedding of one frame."""
        h, w = self.padded
        fine = self.difference_stride
        return (self.content, h // self.multiple, w // self.multiple), (self.difference, h // fine, w // fine)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> DnervConfig:
        return cls(**{**data, "strides": tuple(data["strides"])})


class DnervDecoder(nn.Module):
    """(content (N, C, h, w), difference (N, D, h', w')) -> frames (N, 3, H_pad, W_pad) in [0, 1]."""

    def __init__(self, config: DnervConfig) -> None:
        super().__init__()
        channels = config.channels()
        self.stem = nn.Conv2d(config.content, channels[0], 1)
        self.stages = nn.ModuleList(UpBlock(channels[i], channels[i + 1], s, kernel=1 if i == 0 else 3)
                                    for i, s in enumerate(config.strides))
        fused = channels[config.fuse_after]
        self.difference = nn.Sequential(nn.Conv2d(config.difference, fused, 1),
                                        UpBlock(fused, fused, config.diff_scale))
        self.fuse = CollaborativeContentUnit(fused)
        self.head = nn.Conv2d(channels[-1], 3, 3, padding=1)
        self.fuse_after = config.fuse_after

    def forward(self, content: torch.Tensor, difference: torch.Tensor) -> torch.Tensor:
        x = self.stem(content)
        for i, stage in enumerate(self.stages):
            if i == self.fuse_after:
                x = self.fuse(x, self.difference(difference))
            x = stage(x)
        return torch.sigmoid(self.head(x))


def frame_differences(frames: torch.Tensor) -> torch.Tensor:
    """(T, 3, H, W) -> (T, 6, H, W): [x_t - x_{t-1}, x_{t+1} - x_t], zero where a neighbour is missing."""
    before = torch.cat([frames[:1], frames[:-1]])
    after = torch.cat([frames[1:], frames[-1:]])
    return torch.cat([frames - before, after - frames], dim=1)


class DnervObjective(Objective):
    """DNeRV fitted to the observed frames of a `Problem` (fit, inpaint or interpolate)."""

    def __init__(self, problem: Problem, config: DnervConfig, batch: int = 2) -> None:
        super().__init__()
        self.problem, self.config, self.batch = problem, config, batch
        h, w = config.padded
        y = problem.y()
        known = problem.weights()
        pad = (0, w - y.shape[-1], 0, h - y.shape[-2])
        self.register_buffer("y", y)
        self.register_buffer("known", known)
        # encoder inputs: the padded observed frames (holes set to mid-grey) and their differences
        inputs = F.pad(y * known + 0.5 * (1 - known), pad, mode="replicate")
        self.register_buffer("inputs", inputs)
        self.register_buffer("diffs", frame_differences(inputs))
        self.content_encoder = encoder(3, config.encoder_width, config.content, _split(config.multiple))
        self.difference_encoder = encoder(6, config.encoder_width, config.difference,
                                          _split(config.difference_stride))
        self.decoder = DnervDecoder(config)

    def embed(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings of observed frames ``index``: (N, C, h, w), (N, D, h', w')."""
        return self.content_encoder(self.inputs[index]), self.difference_encoder(self.diffs[index])

    def decode(self, content: torch.Tensor, difference: torch.Tensor) -> torch.Tensor:
        height, width = self.problem.observed.shape[1:3]
        return self.decoder(content, difference)[..., :height, :width]

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        pick = torch.randperm(len(self.y))[: self.batch].to(self.y.device)
        x = self.decode(*self.embed(pick))
        known = self.known[pick]
        loss = masked_mse(x, self.y[pick], known)
        mse = float(loss.detach()) / max(float(known.mean()), 1e-8)
        return loss, {"mse": mse, "psnr": -10 * np.log10(max(mse, 1e-12))}

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings of every target frame: observed ones encoded, in-between ones interpolated."""
        parts = [self.embed(torch.arange(i, min(i + 8, len(self.y)), device=self.y.device))
                 for i in range(0, len(self.y), 8)]
        content = torch.cat([p[0] for p in parts])
        difference = torch.cat([p[1] for p in parts])
        return interpolate_embeddings(content, self.problem.target_shape[0], self.problem.observed_index), \
            interpolate_embeddings(difference, self.problem.target_shape[0], self.problem.observed_index)

    def render(self) -> np.ndarray:
        content, difference = self.embeddings()
        return to_uint8(torch.cat([self.decode(content[i: i + 4], difference[i: i + 4])
                                   for i in range(0, len(content), 4)]))

    def preview(self) -> np.ndarray:
        middle = torch.tensor([len(self.y) // 2], device=self.y.device)
        return to_uint8(self.decode(*self.embed(middle)))[0]


def _split(stride: int) -> tuple[int, ...]:
    """An encoder's strides for a total ``stride``: its factors (4s first, then 3, 2, 5, 7), largest first."""
    factors = []
    while stride > 1:
        for f in (4, 3, 2, 5, 7):
            if stride % f == 0:
                factors.append(f)
                stride //= f
                break
        else:
            factors.append(stride)
            break
    return tuple(sorted(factors, reverse=True)) or (1,)


def interpolate_embeddings(observed: torch.Tensor, count: int, index: np.ndarray) -> torch.Tensor:
    """Embeddings (t, ...) at target times ``index`` -> (count, ...), linear in between."""
    if len(index) == count:
        return observed
    position = torch.from_numpy(np.interp(np.arange(count), index, np.arange(len(index)))).to(observed)
    lo = position.floor().long()
    hi = (lo + 1).clamp(max=len(index) - 1)
    tau = (position - lo).view(-1, *([1] * (observed.dim() - 1)))
    return observed[lo] * (1 - tau) + observed[hi] * tau


# ------------------------------------------------------------------------------------ sizing


def decoder_parameters(config: DnervConfig) -> int:
    return sum(p.numel() for p in DnervDecoder(config).parameters())


def config_for(height: int, width: int, frames: int, bpp: float | None = None, params: int | None = None,
               **fixed) -> DnervConfig:
    """A configuration whose compressed size is about ``bpp`` bits per pixel (or whose decoder has
    about ``params`` weights): the widest decoder that fits, after the embeddings' share.

    The estimate counts ~7 bits per 8-bit weight and ~4.5 bits per 6-bit embedding value after
    entropy coding (measured on our files), plus 2 kbit of header.
    """
    base = DnervConfig(height, width, **fixed)
    if bpp is None and params is None:
        return base
    if bpp is not None and not 0.001 <= bpp <= 8:
        raise VidpriorError(f"--bpp {bpp} is out of range; give a rate from 0.001 to 8 bits per pixel")
    if params is not None and not 1000 <= params <= 10**8:
        raise VidpriorError(f"--params {params} is out of range; give 1000 to 100000000 weights")
    if params is None:
        budget = bpp * frames * height * width - 2000
        content, difference = base.embedding_shapes()
        embedding_bits = frames * (math.prod(content) + math.prod(difference)) * 4.5
        if embedding_bits > 0.5 * budget and "difference" not in fixed:  # thinner embeddings at low rates
            base = DnervConfig(height, width, **{**fixed, "content": max(2, base.content // 2), "difference": 1})
            content, difference = base.embedding_shapes()
            embedding_bits = frames * (math.prod(content) + math.prod(difference)) * 4.5
        params = int(max(budget - embedding_bits, 0) / 7.0)
    best = DnervConfig.from_dict({**base.to_dict(), "width": 4})
    for channels in range(4, 513, 2):
        candidate = DnervConfig.from_dict({**base.to_dict(), "width": channels})
        if decoder_parameters(candidate) > params:
            break
        best = candidate
    return best


# ------------------------------------------------------------------------------------ fitting


def fit_dnerv(problem: Problem, options: RunOptions, config: DnervConfig | None = None) -> DnervObjective:
    """Fit DNeRV to ``problem``; returns the fitted objective (its weights and embeddings)."""
    torch.manual_seed(options.seed)
    _, height, width = problem.observed.shape[:3]
    if config is None:
        bpp = options.params.get("bpp")
        params = options.params.get("params")
        config = config_for(height, width, len(problem.observed), float(bpp) if bpp is not None else None,
                            int(params) if params is not None else None)
    objective = DnervObjective(problem, config, batch=options.param("batch", 2))
    schedule = schedule_from(options, 20000, 150.0, 2e-3, clip_grad=options.param("clip_grad", 1.0),
                             warmup=options.param("warmup", 100))
    run_fit(objective, schedule, problem, options, "dnerv")
    return objective


def run_dnerv(problem: Problem, options: RunOptions) -> np.ndarray:
    objective = fit_dnerv(problem, options)
    with torch.no_grad():
        return objective.render()


# ------------------------------------------------------------------------------------ compression

WEIGHT_BITS, EMBEDDING_BITS = 8, 6
FORMAT = "dnerv"


def compress(frames: np.ndarray, fps: float, options: RunOptions) -> bytes:
    """Fit DNeRV to ``frames`` (T, H, W, 3) uint8 and return the .vpr file's bytes.

    The decoder's weights are pruned by magnitude (``--param prune=0.1``, the fraction of all
    weights set to zero) and quantised to 8 bits (symmetric, per tensor or per output channel,
    whichever errs less); the embeddings to 6 bits (min-max, per frame or per clip). Encoders
    are not stored: decoding needs only the file.
    """
    objective = fit_dnerv(Problem("fit", frames), options)
    prune = options.param("prune", 0.1)
    decoder = objective.decoder
    weights = {k: v for k, v in decoder.state_dict().items() if v.dim() > 1}
    masks = magnitude_masks(weights, prune)
    with torch.no_grad():
        content, difference = (e.cpu().numpy() for e in objective.embeddings())
    tensors = {f"decoder.{k}": quantize_best((v * masks[k] if k in masks else v).cpu().numpy(), WEIGHT_BITS,
                                             symmetric=True) for k, v in decoder.state_dict().items()}
    tensors["content"] = quantize_best(content, EMBEDDING_BITS)
    tensors["difference"] = quantize_best(difference, EMBEDDING_BITS)
    height, width = frames.shape[1:3]
    meta = {"format": FORMAT, "frames": len(frames), "height": height, "width": width, "fps": float(fps),
            "weight_bits": WEIGHT_BITS, "embedding_bits": EMBEDDING_BITS, "prune": prune,
            "config": objective.config.to_dict()}
    return bitstream.encode(meta, tensors)


def decompress(data: bytes, device: str = "cpu") -> tuple[np.ndarray, float]:
    """(frames (T, H, W, 3) uint8, fps) from a .vpr file's bytes."""
    meta, tensors = bitstream.decode(data)
    if meta.get("format") != FORMAT:
        raise bitstream.CorruptFile(f"the .vpr file holds '{meta.get('format')}', not a {FORMAT} video")
    decoder = DnervDecoder(DnervConfig.from_dict(meta["config"])).to(device)
    state = {k: torch.from_numpy(tensors[f"decoder.{k}"].values()).reshape(v.shape)
             for k, v in decoder.state_dict().items()}
    decoder.load_state_dict(state)
    content = torch.from_numpy(tensors["content"].values()).to(device)
    difference = torch.from_numpy(tensors["difference"].values()).to(device)
    out = np.empty((meta["frames"], meta["height"], meta["width"], 3), np.uint8)
    with torch.no_grad():
        for i in range(0, len(content), 4):
            frames = decoder(content[i: i + 4], difference[i: i + 4])[..., : meta["height"], : meta["width"]]
            out[i: i + 4] = to_uint8(frames)
    return out, meta["fps"]


def _codec_encode(frames: np.ndarray, fps: float, bpp: float) -> bytes:
    return compress(frames, fps, RunOptions(progress=False, params={"bpp": bpp}))


METHODS = [
    Method("dnerv", "internal", ("inpaint", "interpolate"),
           "DNeRV: content + difference embeddings per frame, PixelShuffle decoder with gated fusion.",
           run_dnerv, window=30, context=2),
]

CODECS = [
    Codec("dnerv", "DNeRV fitted to the clip (150 s), pruned, quantised and entropy coded, at a target bpp.",
          _codec_encode, lambda data: decompress(data)[0], (0.4, 0.2, 0.1, 0.05), quality_name="bpp target"),
]
