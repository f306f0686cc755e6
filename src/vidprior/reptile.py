"""Learned initial weights for an internal-learning fit, by Reptile (Nichol, Achiam, Schulman 2018).

A fit from random weights needs 10^4 steps; started from weights that many fits to similar videos
end near, it needs far fewer (Tancik et al. 2021, "Learned initializations for optimizing
coordinate-based neural representations"). Reptile finds such weights with first-order updates
only: each outer step draws one task (a video and its observation), fits a copy of the current
start to it for ``inner`` Adam steps, and moves the start towards where that fit ended.

As an `Objective` for the shared loop (`vidprior.fit`): the loss ``½‖θ − θ_task‖²`` (θ_task held
fixed) has the gradient θ − θ_task, so fit's optimiser makes the Reptile update, and the budget,
progress, checkpoints and resume come from the loop.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from .fit import Objective


class Reptile(Objective):
    """Learns ``start``: weights that fits of the tasks ``draw`` makes reach good answers from quickly.

    start: the networks whose initial weights are learned (e.g. an `nn.ModuleDict`).
    draw(networks) -> an `Objective` for one random task that fits ``networks`` (a copy of ``start``),
    its random choices from torch's RNG. stats: the task's PSNR after its first and last inner step.
    render: the last task's render (its frames as fitted from the current start).
    """

    def __init__(self, start: nn.Module, draw: Callable[[nn.Module], Objective], inner: int = 50,
                 inner_lr: float = 5e-3) -> None:
        super().__init__()
        self.start, self.draw, self.inner, self.inner_lr = start, draw, inner, inner_lr
        self.recent: list[Objective] = []  # the last task (a list, so that it is no submodule of this one)
        self.history: list[dict[str, float]] = []

    def adapted(self) -> tuple[nn.Module, Objective, dict[str, float]]:
        """A copy of ``start`` fitted to one drawn task for ``inner`` steps, the task, and the fit's stats."""
        networks = copy.deepcopy(self.start)
        for p in networks.parameters():
            p.requires_grad_(True)
        task = self.draw(networks).to(next(networks.parameters()).device)
        optimizer = torch.optim.Adam(networks.parameters(), lr=self.inner_lr)
        stats: dict[str, float] = {}
        for step in range(self.inner):
            loss, found = task.loss(step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if step == 0:
                stats["first psnr"] = found.get("psnr", float("nan"))
            stats["last psnr"] = found.get("psnr", float("nan"))
        return networks, task, stats

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        with torch.enable_grad():
            networks, task, stats = self.adapted()
        self.recent[:] = [task]
        target = dict(networks.named_parameters())
        loss = sum(0.5 * (p.float() - target[name].detach().float()).pow(2).sum()
                   for name, p in self.start.named_parameters())
        self.history.append(stats)
        return loss, stats

    def render(self) -> np.ndarray:
        if not self.recent:
            with torch.enable_grad():
                self.recent[:] = [self.adapted()[1]]
        return self.recent[0].render()

    def preview(self) -> np.ndarray:
        return self.recent[0].preview() if self.recent else self.render()[0]
