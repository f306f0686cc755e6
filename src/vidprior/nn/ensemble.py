"""Self-ensembles: a network's output averaged over flipped views of its input (a free gain of a few tenths
of a dB for restoration networks, for that many times the time)."""

from __future__ import annotations

from collections.abc import Callable

import torch

FLIPS = ((), (-1,), (-2,), (-2, -1))  # as is, mirrored, upside down, both (the last two dims are the image's)


def flip_ensemble(run: Callable[..., torch.Tensor], views: int, *inputs: torch.Tensor) -> torch.Tensor:
    """The mean over the first ``views`` of `FLIPS` of ``run(*inputs flipped)``, each flipped back (float32).

    >>> x = torch.arange(6.0).view(1, 1, 2, 3)
    >>> torch.equal(flip_ensemble(lambda t: 2 * t, 4, x), 2 * x)
    True
    """
    out = [run(*(x.flip(f) if f else x for x in inputs)).float() for f in FLIPS[:views]]
    return torch.stack([o.flip(f) if f else o for o, f in zip(out, FLIPS)]).mean(0)
