"""Weights files of the trained networks: safetensors whose metadata holds the network's configuration
(``config``, JSON of ``net.config.to_dict()``) and notes on how the weights were made."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from torch import nn

from ..errors import VidpriorError
from ..files import atomic_write


def shipped(name: str, arch: str = "window") -> Path:
    """The shipped weights of network ``name``: ``data/NAME.safetensors``, or ``data/NAME-ARCH.safetensors`` for an
    architecture other than the first one shipped ('window')."""
    return Path(str(resources.files("vidprior") / "data" / (name + ("" if arch == "window" else f"-{arch}")
                                                           + ".safetensors")))


def save_network(net: nn.Module, path: Path, **metadata: str) -> Path:
    """Write ``net`` (a module with a ``config``) as safetensors with its configuration and notes; atomic."""
    from safetensors.torch import save_file

    state = {k: v.detach().float().cpu().contiguous() for k, v in net.state_dict().items()}
    with atomic_write(path) as tmp:
        save_file(state, str(tmp), metadata={"config": json.dumps(net.config.to_dict()), **metadata})
    return Path(path)


def load_network(path: Path, build: Callable[[dict], nn.Module], what: str, missing: str
                 ) -> tuple[nn.Module, dict[str, str]]:
    """The network ``build(config)`` with the weights stored at ``path``, in eval mode, and the file's metadata.

    what: the network's name in errors (e.g. 'VINet'); missing: what to do when there is no such file.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise VidpriorError(f"{what} weights {path}: no such file; {missing}")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not iterable)
        config = json.loads(metadata["config"])
        net = build(config)
    except (SafetensorError, KeyError, TypeError, ValueError, OSError) as exc:
        raise VidpriorError(f"{path} is not a {what} weights file (safetensors with a 'config' entry): {exc}") from None
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise VidpriorError(f"{path}: weights do not fit a {what} of {config}: {str(exc).splitlines()[0]}") from None
    return net.eval(), metadata
