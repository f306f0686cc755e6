"""Video Dynamics Prior (Shrivastava, Lim, Shrivastava; NeurIPS 2023), for every task.

A fixed random latent ``z0`` is rolled forward in time by a recurrent latent frame predictor
(LFPNet) and each latent is decoded to a frame by a convolutional frame decoder (FDNet); both are
fitted to the one observed video through the task's observation operator with the spatial
pyramid loss (`vidprior.losses.pyramid_mse`). The frames never enter the network: everything the
video shares over time has to be carried by the dynamics, which is the prior.

No public code exists for the paper, so every unknown is a parameter (``--param key=value``);
the defaults are our choices, made for a CPU budget of minutes (the networks: `vidprior.nn.vdp`):

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

from ..fit import Objective, error_stats
from ..losses import masked_mse, pyramid_mse
from ..nn.vdp import FrameDecoder, LatentDynamics
from ..problems import Problem
from ..settings import Setting
from ..video import tensor_to_frames
from .base import Method, RunOptions
from .internal import fit_settings, in_chunks, noise_floor, run_fit, schedule_from


class VdpObjective(Objective):
    """The Video Dynamics Prior fitted to a `Problem` (any task), see the module notes."""

    def __init__(self, problem: Problem, *, latent: int = 32, hidden: int = 32,
                 decoder: tuple[int, ...] = (64, 32, 16), levels: int = 3, batch: int = 2,
                 init_steps: int = 100, seed: int = 0) -> None:
        super().__init__()
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
        return loss, error_stats(float(masked_mse(x.detach(), y, w)) / max(float(w.mean()), 1e-8))

    def frames(self, chunk: int = 4) -> torch.Tensor:
        """All target frames (T, 3, H, W)."""
        return in_chunks(self.decode, self.dynamics(self.z0, self.size[0]), size=chunk)

    def render(self) -> np.ndarray:
        return tensor_to_frames(self.frames())

    def preview(self) -> np.ndarray:
        middle = self.size[0] // 2
        return tensor_to_frames(self.decode(self.dynamics(self.z0, middle + 1)[middle:]))[0]


def run_vdp(problem: Problem, options: RunOptions) -> np.ndarray:
    torch.manual_seed(options.seed)
    objective = VdpObjective(problem, latent=options.param("latent"), hidden=options.param("hidden"),
                             decoder=options.param("decoder"), levels=options.param("levels"),
                             batch=options.param("batch"), init_steps=options.param("init_steps"), seed=options.seed)
    return run_fit(objective, schedule_from(options, stop_below=noise_floor(problem)), problem, options, "vdp")


METHODS = [
    Method("vdp", "internal", ("inpaint", "denoise", "interpolate", "upscale"),
           "Video Dynamics Prior: ConvLSTM latent dynamics from fixed noise + conv frame decoder, pyramid loss.",
           run_vdp, window=30, context=2, settings=(
               *fit_settings(10000, 5e-3),
               Setting("latent", 32, "channels of the latent state", low=1, high=512),
               Setting("hidden", 32, "channels of the ConvLSTM", low=1, high=512),
               Setting("decoder", (64, 32, 16), "channels of the frame decoder's stages, coarse to fine",
                       low=1, high=512),
               Setting("levels", 3, "levels of the spatial pyramid loss", low=1, high=6),
               Setting("batch", 2, "frames per step", low=1, high=64),
               Setting("init_steps", 100, "warm-up steps predicting ever further into the clip", low=0))),
]
