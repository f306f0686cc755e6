"""VINet weights files (`vidprior.nn.weights`); the shipped ``data/vinet.safetensors`` says in its
``trained`` metadata how it was made."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..nn.weights import load_network, save_network
from .network import Vinet, VinetConfig


def shipped_weights() -> Path:
    return Path(str(resources.files("vidprior") / "data" / "vinet.safetensors"))


def save_vinet(net: Vinet, path: Path, **metadata: str) -> Path:
    """Write ``net`` as safetensors with its configuration (and any notes) in the metadata; atomic."""
    return save_network(net, path, **metadata)


def load_vinet(path: Path | str | None = None) -> tuple[Vinet, dict[str, str]]:
    """The network stored at ``path`` (default: the shipped one) and the file's metadata."""
    return load_network(Path(path) if path else shipped_weights(), lambda config: Vinet(VinetConfig(**config)),
                        "VINet", "give --weights FILE or train one with `vidprior train vinet --data DIR -o FILE`")
