"""Denoiser weights files (`vidprior.nn.weights`), and the shipped ``data/denoiser.safetensors``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..nn.weights import load_network, save_network
from .network import Denoiser, DenoiserConfig


def save_denoiser(net: Denoiser, path: Path, **metadata: str) -> Path:
    """Write ``net`` as safetensors with its configuration and notes on its training; atomic."""
    return save_network(net, path, **metadata)


def shipped_weights() -> Path:
    return Path(str(resources.files("vidprior") / "data" / "denoiser.safetensors"))


def load_denoiser(path: Path | str | None = None) -> tuple[Denoiser, dict[str, str]]:
    """The network stored at ``path`` (default: the shipped one), in eval mode, and the file's metadata."""
    return load_network(Path(path) if path else shipped_weights(),
                        lambda config: Denoiser(DenoiserConfig(**config)), "denoiser",
                        "train one with `vidprior train denoiser --data DIR -o FILE`")
