"""Learned starts (Reptile): the update moves the start to where the tasks' fits end; VDP's learned start
is written by `vidprior train vdp` and used by ``--param init=FILE``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import write_training_folder
from synthetic import panning_clip
from torch import nn

from vidprior.fit import Objective, Schedule, fit
from vidprior.methods import METHODS, RunOptions
from vidprior.methods.vdp import VdpObjective, load_start
from vidprior.nn.vdp import VdpConfig, VdpNetworks
from vidprior.problems import Problem, add_gaussian_noise
from vidprior.reptile import Reptile


class Shift(Objective):
    """A toy task: move ``networks.value`` to ``goal``."""

    def __init__(self, networks: nn.Module, goal: float) -> None:
        super().__init__()
        self.networks, self.goal = networks, goal

    def loss(self, step: int):
        error = (self.networks.value - self.goal).pow(2).sum()
        return error, {"psnr": -float(error.detach())}

    def render(self) -> np.ndarray:
        return np.zeros((1, 2, 2, 3), np.uint8)


def test_the_start_moves_between_the_tasks_answers():
    torch.manual_seed(0)
    start = nn.Module()
    start.value = nn.Parameter(torch.zeros(3))

    def draw(networks: nn.Module) -> Shift:
        return Shift(networks, 1.0 if torch.rand(()) < 0.5 else 3.0)

    objective = Reptile(start, draw, inner=5, inner_lr=0.1)
    fit(objective, Schedule(steps=300, lr=0.05, warmup=5, final_lr=0.01), progress=False)
    value = start.value.detach()
    assert bool(((value > 1.25) & (value < 2.75)).all()), value  # from 0 to between the answers 1 and 3
    assert len(objective.history) == 300 and "last psnr" in objective.history[0]


def test_a_reptile_step_leaves_the_tasks_untouched_and_has_the_first_order_gradient():
    torch.manual_seed(0)
    start = nn.Module()
    start.value = nn.Parameter(torch.zeros(2))
    objective = Reptile(start, lambda networks: Shift(networks, 4.0), inner=1, inner_lr=0.5)
    loss, _ = objective.loss(0)
    loss.backward()
    moved = objective.recent[0].networks.value.detach()  # one Adam step of 0.5 towards 4
    assert torch.allclose(moved, torch.full((2,), 0.5), atol=1e-4)
    assert torch.allclose(start.value.grad, -moved)  # theta - theta_task
    assert torch.equal(start.value.detach(), torch.zeros(2))


def test_vdp_fits_the_networks_it_is_given():
    networks = VdpNetworks(VdpConfig(latent=4, hidden=4, decoder=(8, 8)))
    noisy = add_gaussian_noise(panning_clip(frames=3, height=16, width=24), 20.0)
    objective = VdpObjective(Problem("denoise", noisy, sigma=20.0), networks=networks)
    assert objective.decoder is networks.decoder and objective.dynamics is networks.dynamics
    assert objective.z0.shape[1] == 4


@pytest.mark.slow
def test_train_vdp_writes_a_start_that_the_method_uses(tmp_path, vidprior):
    data = write_training_folder(tmp_path / "data", frames=12, height=144, width=256, step=2)
    out = tmp_path / "start.safetensors"
    done = vidprior("train", "vdp", "--data", str(data), "-o", str(out), "--budget", "8s", "-q")
    assert done.returncode == 0, done.stderr
    start = load_start(out)
    assert start.config == VdpConfig() and "Reptile" in out.read_bytes()[:4000].decode("latin-1")
    fresh = VdpNetworks()
    assert any(not torch.equal(a, b) for a, b in zip(start.state_dict().values(), fresh.state_dict().values()))
    noisy = add_gaussian_noise(panning_clip(frames=3, height=32, width=48), 20.0)
    options = RunOptions(progress=False, params={"init": str(out), "steps": 3})
    result = METHODS["vdp"].run(Problem("denoise", noisy, sigma=20.0), options)
    assert result.shape == noisy.shape and options.stats["steps"] == 3
    bad = vidprior("train", "vdp", "--data", str(data), "-o", str(out), "--width", "8")
    assert bad.returncode == 2 and "--width" in bad.stderr and len(bad.stderr.splitlines()) == 1
