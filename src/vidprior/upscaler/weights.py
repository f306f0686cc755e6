"""Upscaler weights files (`vidprior.nn.weights`), and the shipped ``data/upscaler-recurrent.safetensors`` and
``data/upscaler.safetensors`` (window)."""

from __future__ import annotations

from pathlib import Path

from ..nn.weights import load_network, save_network, shipped
from .network import RecurrentUpscaler, Upscaler, build_upscaler

save_upscaler = save_network  # (net, path, **notes): safetensors with the configuration and notes; atomic


DEFAULT_ARCH = "recurrent"  # the shipped network the method and the loader use unless told (the benchmark's pick)


def load_upscaler(path: Path | str | None = None, arch: str = DEFAULT_ARCH
                  ) -> tuple[Upscaler | RecurrentUpscaler, dict[str, str]]:
    """The network stored at ``path`` (default: the shipped one of ``arch``), in eval mode, and the file's
    metadata."""
    return load_network(Path(path) if path else shipped("upscaler", arch), build_upscaler, "upscaler",
                        "train one with `vidprior train upscaler --data DIR -o FILE`")
