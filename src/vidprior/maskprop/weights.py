"""Mask-propagation weights files (`vidprior.nn.weights`) and the shipped ``data/maskprop.safetensors``."""

from __future__ import annotations

from pathlib import Path

from ..nn.weights import load_network, shipped
from .network import MaskProp, build_maskprop


def load_maskprop(path: Path | str | None = None) -> tuple[MaskProp, dict[str, str]]:
    """The network stored at ``path`` (default: the shipped one), in eval mode, and the file's metadata."""
    return load_network(Path(path) if path else shipped("maskprop"), build_maskprop, "mask-propagation network",
                        "train one with `vidprior train maskprop --data DIR -o FILE`")
