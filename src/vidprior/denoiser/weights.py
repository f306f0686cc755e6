"""Denoiser weights files (`vidprior.nn.weights`), and the shipped ``data/denoiser-recurrent.safetensors`` and
``data/denoiser.safetensors`` (window)."""

from __future__ import annotations

from pathlib import Path

from ..nn.weights import load_network, save_network, shipped
from .network import Denoiser, RecurrentDenoiser, build_denoiser


def save_denoiser(net: Denoiser | RecurrentDenoiser, path: Path, **metadata: str) -> Path:
    """Write ``net`` as safetensors with its configuration and notes on its training; atomic."""
    return save_network(net, path, **metadata)


DEFAULT_ARCH = "recurrent"  # the shipped network the method and the loader use unless told (the benchmark's pick)


def load_denoiser(path: Path | str | None = None, arch: str = DEFAULT_ARCH
                  ) -> tuple[Denoiser | RecurrentDenoiser, dict[str, str]]:
    """The network stored at ``path`` (default: the shipped one of ``arch``), in eval mode, and the file's
    metadata."""
    return load_network(Path(path) if path else shipped("denoiser", arch), build_denoiser, "denoiser",
                        "train one with `vidprior train denoiser --data DIR -o FILE`")
