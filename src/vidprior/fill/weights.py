"""Fill weights files (`vidprior.nn.weights`), and the shipped ``data/fill.safetensors``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..nn.weights import load_network, save_network
from .network import FillConfig, FillNet


def save_fill(net: FillNet, path: Path, **metadata: str) -> Path:
    """Write ``net`` as safetensors with its configuration and notes on its training; atomic."""
    return save_network(net, path, **metadata)


def shipped_weights() -> Path:
    return Path(str(resources.files("vidprior") / "data" / "fill.safetensors"))


def load_fill(path: Path | str | None = None) -> tuple[FillNet, dict[str, str]]:
    """The network stored at ``path`` (default: the shipped one), in eval mode, and the file's metadata."""
    return load_network(Path(path) if path else shipped_weights(), lambda config: FillNet(FillConfig(**config)),
                        "fill network", "train one with `vidprior train fill --data DIR -o FILE`")
