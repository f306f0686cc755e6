"""Post-filter weights files (`vidprior.nn.weights`), the shipped ``data/postfilter.safetensors``, and the
fingerprint that ties a compressed file to the weights it was made with."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..nn.weights import load_network, shipped
from .network import PostFilter, build_postfilter


def load_postfilter(path: Path | str | None = None) -> tuple[PostFilter, dict[str, str]]:
    """The network stored at ``path`` (default: the shipped one), in eval mode, and the file's metadata."""
    return load_network(Path(path) if path else shipped("postfilter"), build_postfilter, "post-filter",
                        "train one with `vidprior train postfilter --data DIR -o FILE`")


def weights_id(net: PostFilter) -> str:
    """A short hash of the network's weights: a file made with other weights must not be decoded with these.

    >>> from .network import PostFilterConfig
    >>> weights_id(PostFilter(PostFilterConfig(width=4, blocks=1))) == weights_id(PostFilter(PostFilterConfig(4, 1)))
    False
    """
    digest = hashlib.sha1()
    for name, value in sorted(net.state_dict().items()):
        digest.update(name.encode())
        digest.update(value.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]
