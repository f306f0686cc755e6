"""Video Dynamics Prior (Shrivastava, Lim, Shrivastava; NeurIPS 2023), for every task.

A fixed random latent ``z0`` is rolled forward in time by a recurrent latent frame predictor
(LFPNet) and each latent is decoded to a frame by a convolutional frame decoder (FDNet); both are
fitted to the one observed video through the task's observation operator with the spatial
pyramid loss (`vidprior.losses.pyramid_mse`). The frames never enter the network: everything the
video shares over time has to be carried by the dynamics, which is the prior.

No public code exists for the paper (METHODS.md §1.2), so every unknown is a parameter
(``--param key=value``); the defaults are our choices, made for a CPU budget of minutes:

- latent: a spatial tensor of ``latent`` channels at 1/2**len(decoder) of the frame size; z0 ~ N(0, I).
- LFPNet: one ConvLSTM cell (``hidden`` channels) fed with z_{t-1}; z_t = z_{t-1} + conv1x1(h_t)
  (residual steps, so consecutive latents start close and the video starts temporally smooth).
- FDNet: [bilinear ×2, (3×3 conv, GroupNorm, LeakyReLU) ×2] per entry of ``decoder`` (channels),
  then a 1×1 conv and a sigmoid. Frames are decoded on a padded grid and cropped.
- pyramid loss: ``levels`` area-pyramid levels (3), weight 1 each; ``levels=1`` is the ablation.
- initialisation by future-frame prediction: for the first ``init_steps`` steps the frames a step
  may use grow from the first two observed frames to all of them, so the dynamics learn to carry
  what they have fitted to the next frame before they see the whole clip.
- interpolation ×k: the recurrence runs at the fine time step (one latent per output frame) and
  only every k-th latent meets an observed frame; the others come from the dynamics alone.
- noisy observations (known or estimated sigma): weight averaging (EMA 0.99) and a stop at the
  noise floor (`internal.noise_floor`), as for Deep Image Prior.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..errors import VidpriorError
from ..fit import Objective
from ..losses import masked_mse, pyramid_mse
from ..nn.convlstm import ConvLSTMCell
from ..problems import Problem
from .base import Method, RunOptions
from .internal import noise_floor, run_fit, schedule_from, to_uint8


class LatentDynamics(nn.Module):
    """LFPNet: rolls a latent (1, C, h, w) forward; ``forward(z0, steps)`` -> (steps, C, h, w), z_0 first."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.cell = ConvLSTMCell(channels, hidden)
        self.step = nn.Conv2d(hidden, channels, 1)

    def forward(self, z0: torch.Tensor, steps: int) -> torch.Tensor:
        latents, z, state = [z0], z0, None
        for _ in range(steps - 1):
            state = self.cell(z, state)
            z = z + self.step(state[0])
            latents.append(z)
        return torch.cat(latents)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, padding_mode="reflect"),
                         nn.GroupNorm(min(8, cout), cout), nn.LeakyReLU(0.2))


class FrameDecoder(nn.Module):
    """FDNet: latents (N, C, h, w) -> frames (N, 3, h·2**len(channels), w·2**len(channels)) in [0, 1]."""

    def __init__(self, latent: int, channels: tuple[int, ...]) -> None:
        super().__init__()
        layers: list[nn.Module] = [_block(latent, channels[0])]
        previous = channels[0]
        for c in channels:
            layers += [nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                       _block(previous, c), _block(c, c)]
            previous = c
        layers += [nn.Conv2d(previous, 3, 1), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)
        self.multiple = 2 ** len(channels)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class VdpObjective(Objective):
    """The Video Dynamics Prior fitted to a `Problem` (any task), see the module notes."""

    def __init__(self, problem: Problem, *, latent: int = 32, hidden: int = 32,
                 decoder: tuple[int, ...] = (64, 32, 16), levels: int = 3, batch: int = 2,
                 init_steps: int = 100, seed: int = 0) -> None:
        super().__init__()
        for name, value in (("latent", latent), ("hidden", hidden), ("levels", levels), ("batch", batch),
                            *((f"decoder[{i}]", c) for i, c in enumerate(decoder))):
            if not 1 <= value <= 4096:
                raise VidpriorError(f"--param {name}={value} is out of range; give a whole number from 1 to 4096")
        if not decoder:
            raise VidpriorError("--param decoder= needs at least one width, e.g. decoder=64,32,16")
        self.problem = problem
        self.size = problem.target_shape
        self.dynamics = LatentDynamics(latent, hidden)
        self.decoder = FrameDecoder(latent, decoder)
        m = self.decoder.multiple
        generator = torch.Generator().manual_seed(seed)
        z0 = torch.randn(1, latent, -(-self.size[1] // m), -(-self.size[2] // m), generator=generator)
        self.register_buffer("z0", z0)
        self.register_buffer("y", problem.y())
        self.register_buffer("w", problem.weights())
        self.register_buffer("observed", torch.as_tensor(problem.observed_index))
        self.levels, self.batch, self.init_steps = levels, batch, init_steps

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """(N, C, h, w) -> frames (N, 3, H, W), cropped from the padded grid."""
        return self.decoder(latents)[..., : self.size[1], : self.size[2]].float()

    def usable(self, step: int) -> int:
        """How many observed frames step ``step`` may draw from (the future-prediction warm-up)."""
        count = len(self.observed)
        if step >= self.init_steps or count <= 2:
            return count
        return 2 + (count - 2) * step // self.init_steps

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        pick = torch.randperm(self.usable(step))[: self.batch].to(self.y.device)
        index = self.observed[pick]
        latents = self.dynamics(self.z0, int(index.max()) + 1)[index]
        x = self.problem.observe_frames(self.decode(latents))
        y, w = self.y[pick], self.w[pick]
        loss = pyramid_mse(x, y, w, self.levels)
        mse = float(masked_mse(x.detach(), y, w)) / max(float(w.mean()), 1e-8)
        return loss, {"mse": mse, "psnr": -10 * np.log10(max(mse, 1e-12))}

    def frames(self, chunk: int = 4) -> torch.Tensor:
        """All target frames (T, 3, H, W)."""
        latents = self.dynamics(self.z0, self.size[0])
        return torch.cat([self.decode(latents[i: i + chunk]) for i in range(0, len(latents), chunk)])

    def render(self) -> np.ndarray:
        return to_uint8(self.frames())

    def preview(self) -> np.ndarray:
        middle = self.size[0] // 2
        return to_uint8(self.decode(self.dynamics(self.z0, middle + 1)[middle:]))[0]


def _ints(text: str, name: str) -> tuple[int, ...]:
    try:
        return tuple(int(c) for c in str(text).split(",") if c)
    except ValueError:
        raise VidpriorError(f"--param {name}={text}: give comma-separated whole numbers, e.g. 64,32,16") from None


def run_vdp(problem: Problem, options: RunOptions) -> np.ndarray:
    torch.manual_seed(options.seed)
    objective = VdpObjective(problem, latent=options.param("latent", 32), hidden=options.param("hidden", 32),
                             decoder=_ints(options.params.get("decoder", "64,32,16"), "decoder"),
                             levels=options.param("levels", 3), batch=options.param("batch", 2),
                             init_steps=options.param("init_steps", 100), seed=options.seed)
    floor = noise_floor(problem)
    schedule = schedule_from(options, 10000, 150.0, 5e-3, ema=0.99 if floor else 0.0, stop_below=floor)
    return run_fit(objective, schedule, problem, options, "vdp")


METHODS = [
    Method("vdp", "internal", ("inpaint", "denoise", "interpolate", "upscale"),
           "Video Dynamics Prior: ConvLSTM latent dynamics from fixed noise + conv frame decoder, pyramid loss.",
           run_vdp, window=30, context=2),
]
