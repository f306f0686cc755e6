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

from ..errors import VidpriorError
from ..nn.unet import UNet

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
