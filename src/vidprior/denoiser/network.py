"""The multi-frame denoising network: a small U-Net from five noisy frames and a noise level to the
middle frame, clean.

Inputs (N = batch, any h × w):

- frames (N, 5, 3, h, w): frames t-2 .. t+2 in [0, 1] (the clip's ends repeat the nearest frame);
- level (N,): the noise standard deviation on the 0-255 scale (the given sigma, or an estimate).

Output (N, 3, h, w): frame t, denoised: the noisy middle frame minus the predicted noise. The
network is not told how the frames are aligned: its three levels (full, 1/2, 1/4 size, receptive
field about 40 pixels) see motion of a few pixels per frame, as FastDVDnet's do (Tassano et al.
2020); a noise-level map as an extra input channel follows FFDNet, so one network covers every
level. The last layer starts at zero: an untrained network returns the noisy frame.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import VidpriorError
from ..nn.padding import pad_to
from ..nn.recurrent import SLOPE, Motion, Propagation, ResidualBlocks, he_init, motion
from ..nn.unet import UNet
from ..video import mirror, tensor_to_frames

FRAMES = 5
LEVEL_UNIT = 50.0  # noise std (0-255) that the level channel shows as 1


@dataclass(frozen=True)
class DenoiserConfig:
    width: int = 32  # channels of the first level (x2, x4 below)
    depth: int = 2  # 3x3 convolutions at the coarsest level beyond the first

    def to_dict(self) -> dict:
        return asdict(self)


class Denoiser(UNet):
    """U-Net over (five frames, a level map) -> the middle frame without its noise.

    >>> net = Denoiser()
    >>> net(torch.rand(2, 5, 3, 37, 50), torch.tensor([25.0, 50.0])).shape
    torch.Size([2, 3, 37, 50])
    """

    def __init__(self, config: DenoiserConfig | None = None) -> None:
        config = config or DenoiserConfig()
        super().__init__(3 * FRAMES + 1, 3, config.width, config.depth)
        self.config = config

    def forward(self, frames: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        if frames.dim() != 5 or frames.shape[1:3] != (FRAMES, 3):
            raise VidpriorError(f"the denoiser takes frames (N, {FRAMES}, 3, h, w), not {tuple(frames.shape)}")
        n, _, _, h, w = frames.shape
        level_map = (level.to(frames.dtype) / LEVEL_UNIT).view(n, 1, 1, 1).expand(n, 1, h, w)
        x = torch.cat([frames.reshape(n, 3 * FRAMES, h, w), level_map], 1)
        return frames[:, FRAMES // 2] - self.features(x)


SCALE = 2  # the recurrent denoiser works on 2×2 pixel blocks (FFDNet's sub-images): a quarter of the pixels
FIRST_PASS_PIXELS = 1_200_000  # frames of the first pass run at once: about three 854×480 frames


@dataclass(frozen=True)
class RecurrentDenoiserConfig:
    width: int = 32  # channels of the features carried through the clip
    blocks: int = 2  # residual blocks in each recurrent cell (and in the feature extractor)
    first_width: int = 32  # the five-frame network of the first pass (`DenoiserConfig`)
    first_depth: int = 2

    def to_dict(self) -> dict:
        return {**asdict(self), "arch": "recurrent"}


class RecurrentDenoiser(nn.Module):
    """A whole clip at once: noisy frames (N, T, 3, H, W) in [0, 1] and their level (N,) -> the clean frames
    (N, T, 3, H, W).

    - first pass: the five-frame network (``window``, trained before and frozen) denoises each frame; the
      DIS flow between its outputs, at half size (`vidprior.nn.recurrent.motion`), is far more reliable than
      the flow of noisy frames;
    - each frame's 2×2 blocks, noisy and first-pass (24 channels, with the level map), give features at half
      size; the shared `Propagation` carries them backward then forward through the whole clip along that
      flow; a head turns each frame's features into a correction of its first-pass frame at full size.

    The head starts at zero: an untrained network returns the first pass, so training starts from the
    five-frame network's answer and learns what the whole clip adds to it.

    >>> net = RecurrentDenoiser(RecurrentDenoiserConfig(width=8, blocks=1, first_width=4, first_depth=1))
    >>> noisy = torch.rand(1, 3, 3, 17, 22)
    >>> torch.equal(net(noisy, torch.tensor([25.0])), net.first_pass(noisy, torch.tensor([25.0])))
    True
    """

    def __init__(self, config: RecurrentDenoiserConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or RecurrentDenoiserConfig()
        w = config.width
        self.window = Denoiser(DenoiserConfig(config.first_width, config.first_depth)).requires_grad_(False)
        self.extract = nn.Sequential(nn.Conv2d(6 * SCALE * SCALE + 1, w, 3, padding=1), nn.LeakyReLU(SLOPE, True),
                                     ResidualBlocks(w, config.blocks))
        self.propagation = Propagation(w, config.blocks)
        self.head = nn.Sequential(nn.Conv2d(w, 3 * SCALE * SCALE, 3, padding=1), nn.PixelShuffle(SCALE))
        he_init(self.extract)
        he_init(self.propagation)
        nn.init.zeros_(self.head[0].weight)
        nn.init.zeros_(self.head[0].bias)

    @torch.no_grad()
    def first_pass(self, noisy: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """The frozen five-frame network on every frame of (N, T, 3, H, W), its neighbours mirrored at the
        clip's ends, a few frames at a time; same shape back."""
        n, count, _, h, w = noisy.shape
        index = torch.tensor([[mirror(t + d, count) for d in range(-(FRAMES // 2), FRAMES // 2 + 1)]
                              for t in range(count)], device=noisy.device)
        out = torch.empty_like(noisy)
        per_batch = max(1, FIRST_PASS_PIXELS // (h * w))
        for b in range(n):
            for first in range(0, count, per_batch):
                chosen = index[first: first + per_batch]
                told = level[b].expand(len(chosen))
                out[b, first: first + len(chosen)] = self.window(noisy[b][chosen], told).to(out.dtype)
        return out

    def forward(self, noisy: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        if noisy.dim() != 5 or noisy.shape[2] != 3:
            raise VidpriorError(f"the recurrent denoiser takes frames (N, T, 3, H, W), not {tuple(noisy.shape)}")
        n, count, _, h, w = noisy.shape
        first = self.first_pass(noisy, level)
        moves = Motion.stack([motion(tensor_to_frames(f.float()), SCALE) for f in first]).to(noisy.device)
        x, _ = pad_to(torch.cat([noisy, first], 2).flatten(0, 1), SCALE, mode="replicate")
        x = F.pixel_unshuffle(x, SCALE)
        level_map = (level.to(x.dtype) / LEVEL_UNIT).repeat_interleave(count).view(-1, 1, 1, 1)
        features = self.extract(torch.cat([x, level_map.expand(-1, 1, *x.shape[-2:])], 1))
        correction = self.propagation(features.view(n, count, -1, *x.shape[-2:]), moves,
                                      head=lambda state: self.head(state)[..., :h, :w])
        return first + correction


def build_denoiser(config: dict) -> Denoiser | RecurrentDenoiser:
    """The denoiser a weights file's configuration describes (``arch`` 'recurrent', else the five-frame one)."""
    config = dict(config)
    if config.pop("arch", "window") == "recurrent":
        return RecurrentDenoiser(RecurrentDenoiserConfig(**config))
    return Denoiser(DenoiserConfig(**config))
