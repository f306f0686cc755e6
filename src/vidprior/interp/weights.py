"""Interpolation network weights files (`vidprior.nn.weights`), and the shipped ``data/interp.safetensors``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..nn.weights import load_network, save_network
from .network import Interpolator, InterpolatorConfig

save_interpolator = save_network  # (net, path, **notes): safetensors with the configuration and notes; atomic


def shipped_weights() -> Path:
    return Path(str(resources.files("vidprior") / "data" / "interp.safetensors"))


def load_interpolator(path: Path | str | None = None) -> tuple[Interpolator, dict[str, str]]:
    """The network stored at ``path`` (default: the shipped one), in eval mode, and the file's metadata."""
    return load_network(Path(path) if path else shipped_weights(),
                        lambda config: Interpolator(InterpolatorConfig(**config)), "interpolation network",
                        "train one with `vidprior train interp --data DIR -o FILE`")
