"""Convolutional LSTM (Shi et al., 2015): an LSTM whose gates are convolutions over feature maps."""

from __future__ import annotations

import torch
from torch import nn


class ConvLSTMCell(nn.Module):
    """One step: input (N, C_in, H, W) and state (h, c), each (N, C_hidden, H, W) -> new (h, c).

    The four gates come from one convolution of [input, h]; the forget gate's bias starts at 1 so
    that memory is kept early in training.
    """

    def __init__(self, in_channels: int, hidden: int, kernel: int = 3) -> None:
        super().__init__()
        self.hidden = hidden
        self.gates = nn.Conv2d(in_channels + hidden, 4 * hidden, kernel, padding=kernel // 2)
        with torch.no_grad():
            self.gates.bias.zero_()
            self.gates.bias[hidden: 2 * hidden] = 1.0

    def initial_state(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Zero (h, c) shaped for input ``x``."""
        zeros = x.new_zeros(x.shape[0], self.hidden, *x.shape[-2:])
        return zeros, zeros

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        h, c = state if state is not None else self.initial_state(x)
        i, f, o, g = self.gates(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c
