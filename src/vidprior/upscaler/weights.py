"""Upscaler weights files (`vidprior.nn.weights`), and the shipped ``data/upscaler.safetensors``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..nn.weights import load_network, save_network
from .network import Upscaler, UpscalerConfig

save_upscaler = save_network  # (net, path, **notes): safetensors with the configuration and notes; atomic


def shipped_weights() -> Path:
    return Path(str(resources.files("vidprior") / "data" / "upscaler.safetensors"))


def load_upscaler(path: Path | str | None = None) -> tuple[Upscaler, dict[str, str]]:
    """The network stored at ``path`` (default: the shipped one), in eval mode, and the file's metadata."""
    return load_network(Path(path) if path else shipped_weights(),
                        lambda config: Upscaler(UpscalerConfig(**config)), "upscaler",
                        "train one with `vidprior train upscaler --data DIR -o FILE`")
