"""DNeRV, difference neural representation for videos (Zhao, Asif, Ma; CVPR 2023).

A video becomes a small decoder plus two tiny embeddings per frame: a *content* embedding that an
encoder makes from the frame itself, and a *difference* embedding made from the frame's
differences to its neighbours ([x_t - x_{t-1}, x_{t+1} - x_t], 6 channels; a missing neighbour
counts as the frame itself). The decoder upsamples the content embedding with PixelShuffle blocks;
part-way up, the difference stream (1x1 conv, one upsampling block) joins through the gated
Collaborative Content Unit (`nn.nerv`); the networks are in `nn.dnerv`. Encoders and decoder are
fitted to the one video with MSE (on known pixels for inpainting). Compression stores only the
decoder and the embeddings (`codec`); interpolation decodes in-between frames from embeddings
interpolated linearly between their observed neighbours (the frames themselves are never seen).

Sizes follow the input instead of one resolution (the paper's network is built for 960x1920):
the decoder's upscale factors (``strides``, coarse to fine) multiply to the frame padding
multiple, and the channel width ``width`` (reduced 1.2x per stage, as in the paper) comes from
a target size: ``--bpp`` or ``--params`` (`config_for`). Our choices for a CPU budget of minutes:
Adam at 2e-3 with warm-up and cosine decay, 2 frames per step, gradient clipping at 1 (5e-3 left
the fit of the demo clip stuck at a constant frame for seed 0: the "collapse" users report).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..codec import bitstream
from ..codec.quantize import magnitude_masks, quantize_best
from ..errors import VidpriorError
from ..fit import Objective, error_stats
from ..losses import masked_mse
from ..nn.dnerv import DnervConfig, DnervDecoder, content_encoder, difference_encoder, frame_differences
from ..nn.padding import pad_to
from ..problems import Problem
from ..settings import Setting
from ..video import tensor_to_frames
from .base import Codec, Method, RunOptions
from .internal import fit_settings, in_chunks, run_fit, schedule_from


class DnervObjective(Objective):
    """DNeRV fitted to the observed frames of a `Problem` (fit, inpaint or interpolate)."""

    def __init__(self, problem: Problem, config: DnervConfig, batch: int = 2) -> None:
        super().__init__()
        self.problem, self.config, self.batch = problem, config, batch
        y = problem.y()
        known = problem.weights()
        self.register_buffer("y", y)
        self.register_buffer("known", known)
        # encoder inputs: the padded observed frames (holes set to mid-grey) and their differences
        inputs, _ = pad_to(y * known + 0.5 * (1 - known), config.multiple, mode="replicate")
        self.register_buffer("inputs", inputs)
        self.register_buffer("diffs", frame_differences(inputs))
        self.content_encoder = content_encoder(config)
        self.difference_encoder = difference_encoder(config)
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
        return loss, error_stats(float(loss.detach()) / max(float(known.mean()), 1e-8))

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings of every target frame: observed ones encoded, in-between ones interpolated."""
        parts = [self.embed(index) for index in torch.arange(len(self.y), device=self.y.device).split(8)]
        content = torch.cat([p[0] for p in parts])
        difference = torch.cat([p[1] for p in parts])
        return interpolate_embeddings(content, self.problem.target_shape[0], self.problem.observed_index), \
            interpolate_embeddings(difference, self.problem.target_shape[0], self.problem.observed_index)

    def render(self) -> np.ndarray:
        content, difference = self.embeddings()
        return tensor_to_frames(in_chunks(self.decode, content, difference, size=4))

    def preview(self) -> np.ndarray:
        middle = torch.tensor([len(self.y) // 2], device=self.y.device)
        return tensor_to_frames(self.decode(*self.embed(middle)))[0]


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
        config = config_for(height, width, len(problem.observed), options.param("bpp"), options.param("params"))
    objective = DnervObjective(problem, config, batch=options.param("batch"))
    run_fit(objective, schedule_from(options), problem, options, "dnerv")
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
    options = DNERV.prepared(options)
    objective = fit_dnerv(Problem("fit", frames), options)
    prune = options.param("prune")
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
    meta, tensors, _ = bitstream.decode(data)
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
            out[i: i + 4] = tensor_to_frames(frames)
    return out, meta["fps"]


def _codec_encode(frames: np.ndarray, fps: float, bpp: float) -> bytes:
    return compress(frames, fps, RunOptions(progress=False, params={"bpp": bpp}))


DNERV = Method("dnerv", "internal", ("inpaint", "interpolate"),
       "DNeRV: content + difference embeddings per frame, PixelShuffle decoder with gated fusion.",
       run_dnerv, window=30, context=2, settings=(
           *fit_settings(20000, 2e-3, clip_grad=1.0, warmup=100),
           Setting("batch", 2, "frames per step", low=1, high=64),
           Setting("bpp", None, "target bits per pixel of the compressed video (sets the decoder width)",
                   low=0.001, high=8, kind=float),
           Setting("params", None, "target decoder size in weights (instead of bpp)", low=1000, high=10**8,
                   kind=int),
           Setting("prune", 0.1, "compression: share of the decoder's weights set to zero", low=0, high=0.95)))
METHODS = [DNERV]

CODECS = [
    Codec("dnerv", "DNeRV fitted to the clip (150 s), pruned, quantised and entropy coded, at a target bpp.",
          _codec_encode, lambda data: decompress(data)[0], (0.4, 0.2, 0.1, 0.05), quality_name="bpp target"),
]
