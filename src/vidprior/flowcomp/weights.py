"""Flow-completion weights files (`vidprior.nn.weights`); the metadata also holds the working scale
(``scale``: the network works at 1/scale of the frames)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..errors import VidpriorError
from ..nn.weights import load_network, save_network
from .network import FlowCompletion, FlowCompletionConfig


def save_flowcomp(net: FlowCompletion, path: Path, scale: int = 4, **metadata: str) -> Path:
    """Write ``net`` as safetensors with its configuration, working scale and any notes; atomic."""
    return save_network(net, path, scale=str(scale), **metadata)


def shipped_weights() -> Path:
    return Path(str(resources.files("vidprior") / "data" / "flowcomp.safetensors"))


def load_flowcomp(path: Path | str | None = None) -> tuple[FlowCompletion, dict[str, str]]:
    """The network stored at ``path`` (default: the shipped one) and the file's metadata
    (``int(metadata['scale'])``: the working scale it was trained at)."""
    net, metadata = load_network(Path(path) if path else shipped_weights(),
                                 lambda config: FlowCompletion(FlowCompletionConfig(**config)),
                                 "flow-completion network",
                                 "train one with `vidprior train flowcomp --data DIR -o FILE`")
    if not str(metadata.get("scale", "")).isdigit():
        raise VidpriorError(f"{path} is not a flow-completion weights file: it gives no working scale")
    return net, metadata
