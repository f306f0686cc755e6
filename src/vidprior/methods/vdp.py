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
- a learned start (``init=FILE``, written by `vidprior train vdp`): both networks begin from weights
  that Reptile (`vidprior.reptile`) learned over fits to noisy training clips, instead of at random.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import VidpriorError
from ..fit import Objective, Schedule, error_stats, fingerprint, mean_stat, train
from ..losses import masked_mse, pyramid_mse
from ..nn.vdp import VdpConfig, VdpNetworks
from ..nn.weights import load_network, save_network
from ..problems import Problem, add_gaussian_noise
from ..reptile import Reptile
from ..settings import Setting
from ..training_clips import load_training_clips
from ..video import tensor_to_frames
from .base import Method, RunOptions
from .internal import fit_settings, in_chunks, noise_floor, run_fit, schedule_from


class VdpObjective(Objective):
    """The Video Dynamics Prior fitted to a `Problem` (any task), see the module notes.

    networks: the networks to fit (a learned start, shared, not copied); default: new ones of
    ``latent``, ``hidden`` and ``decoder`` channels, at random.
    """

    def __init__(self, problem: Problem, *, latent: int = 32, hidden: int = 32,
                 decoder: tuple[int, ...] = (64, 32, 16), levels: int = 3, batch: int = 2,
                 init_steps: int = 100, seed: int = 0, networks: VdpNetworks | None = None) -> None:
        super().__init__()
        self.problem = problem
        self.size = problem.target_shape
        networks = networks or VdpNetworks(VdpConfig(latent, hidden, tuple(decoder)))
        latent = networks.config.latent
        self.dynamics, self.decoder = networks.dynamics, networks.decoder
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


def load_start(path: str | Path) -> VdpNetworks:
    """The learned start stored at ``path`` (written by `train_vdp`)."""
    net, _ = load_network(Path(path), lambda config: VdpNetworks(VdpConfig(**config)), "VDP start",
                          "learn one with `vidprior train vdp --data DIR -o FILE`")
    return net.train()


def run_vdp(problem: Problem, options: RunOptions) -> np.ndarray:
    torch.manual_seed(options.seed)
    start = load_start(options.param("init")) if options.param("init") else None
    objective = VdpObjective(problem, latent=options.param("latent"), hidden=options.param("hidden"),
                             decoder=options.param("decoder"), levels=options.param("levels"),
                             batch=options.param("batch"), init_steps=options.param("init_steps"), seed=options.seed,
                             networks=start)
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
               Setting("init_steps", 100, "warm-up steps predicting ever further into the clip", low=0),
               Setting("init", "", "learned start of both networks (`vidprior train vdp`; its sizes replace "
                                   "latent, hidden and decoder); default: random"))),
]


# ------------------------------------------------------------------------------ a learned start

START_SIZE = (144, 256)  # (h, w) of the tasks: a start suits videos of this size (z0's shape follows the size)
START_FRAMES = 10
START_SIGMAS = (15.0, 50.0)


def start_tasks(folders: list[Path]) -> list[np.ndarray]:
    """Clean clips of ``folders`` area-resized to ``START_SIZE``, at least ``START_FRAMES`` frames each."""
    import cv2

    clips = []
    for clip in load_training_clips(folders):
        if len(clip.frames) >= START_FRAMES:
            size = START_SIZE[::-1]
            clips.append(np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in clip.frames]))
    if not clips:
        raise VidpriorError(f"no clip of {START_FRAMES} frames or more in {', '.join(map(str, folders))}")
    return clips


def train_vdp(data: list[Path], output: Path, *, budget: float, inner: int = 50, lr: float = 3e-3,
              steps: int = 1_000_000, run_dir: Path | None = None, resume: bool = False, device: str = "auto",
              seed: int = 0, progress: bool = True) -> dict[str, float]:
    """Learn a start for VDP denoising fits (Reptile over noisy clips of ``data``); write it to ``output``.

    A task is ``START_FRAMES`` frames of a clip at ``START_SIZE`` with Gaussian noise of a random sigma
    in ``START_SIGMAS``, fitted with the method's default settings but no future-prediction warm-up.
    """
    if output.suffix != ".safetensors":
        raise VidpriorError(f"-o {output}: VDP starts are written as NAME.safetensors")
    torch.manual_seed(seed)
    began = time.monotonic()
    clips = start_tasks(data)
    defaults = {s.name: s.default for s in METHODS[0].settings}

    def draw(networks: nn.Module) -> VdpObjective:
        clip = clips[int(torch.randint(len(clips), ()))]
        first = int(torch.randint(len(clip) - START_FRAMES + 1, ()))
        sigma = float(torch.empty(()).uniform_(*START_SIGMAS))
        noisy = add_gaussian_noise(clip[first: first + START_FRAMES], sigma, seed=int(torch.randint(2**31, ())))
        return VdpObjective(Problem("denoise", noisy, sigma=sigma), levels=defaults["levels"],
                            batch=defaults["batch"], init_steps=0, seed=0, networks=networks)

    start = VdpNetworks(VdpConfig(defaults["latent"], defaults["hidden"], tuple(defaults["decoder"])))
    objective = Reptile(start, draw, inner=inner, inner_lr=defaults["lr"])
    schedule = Schedule(steps=steps, budget=budget, lr=lr, warmup=10, final_lr=0.1, checkpoint_every=60.0,
                        preview_every=30.0)
    key = fingerprint(extra=f"vdp start {len(clips)} {start.config} {inner} {lr} {budget} {seed}")
    report = train(objective, schedule, name="vdp", about=f" (a learned start, over {len(clips)} clips)", key=key,
                   run_dir=run_dir, resume=resume, device=device, progress=progress)
    history = objective.history
    figures = {"steps": report.steps, "seconds": time.monotonic() - began,
               "first task psnr at step 1": mean_stat(history[:20], "first psnr"),
               "last task psnr at step 1": mean_stat(history[-20:], "first psnr"),
               f"last task psnr at step {inner}": mean_stat(history[-20:], "last psnr")}
    folders = ", ".join(str(Path(d)) for d in data)
    save_network(start.cpu(), output, data=folders, steps=str(report.steps), seconds=f"{report.seconds:.0f}",
                 trained=(f"vidprior train vdp: Reptile over {len(clips)} clips of {folders} at "
                          f"{START_SIZE[1]}x{START_SIZE[0]}, {START_FRAMES} frames, Gaussian sigma "
                          f"{START_SIGMAS[0]:g}-{START_SIGMAS[1]:g}; {inner} inner steps, outer lr {lr}"))
    return figures


