"""VINet weights files: safetensors whose metadata holds the network's configuration (``config``)
and any notes (the shipped ``data/vinet.safetensors`` says in ``trained`` how it was made)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from ..errors import VidpriorError
from ..files import atomic_write
from .network import Vinet, VinetConfig


def shipped_weights() -> Path:
    return Path(str(resources.files("vidprior") / "data" / "vinet.safetensors"))


def save_vinet(net: Vinet, path: Path, **metadata: str) -> Path:
    """Write ``net`` as safetensors with its configuration (and any notes) in the metadata; atomic."""
    from safetensors.torch import save_file

    state = {k: v.detach().float().cpu().contiguous() for k, v in net.state_dict().items()}
    with atomic_write(path) as tmp:
        save_file(state, str(tmp), metadata={"config": json.dumps(net.config.to_dict()), **metadata})
    return Path(path)


def load_vinet(path: Path | str | None = None) -> tuple[Vinet, dict[str, str]]:
    """The network stored at ``path`` (default: the shipped one) and the file's metadata."""
    from safetensors import SafetensorError, safe_open

    path = Path(path) if path else shipped_weights()
    if not path.is_file():
        raise VidpriorError(f"VINet weights {path}: no such file; give --weights FILE or train one with "
                            "`vidprior train vinet --data DIR -o FILE`")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not iterable)
        config = VinetConfig(**json.loads(metadata["config"]))
    except (SafetensorError, KeyError, TypeError, ValueError, OSError) as exc:
        raise VidpriorError(f"{path} is not a VINet weights file (safetensors with a 'config' entry): {exc}") from None
    net = Vinet(config)
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise VidpriorError(f"{path}: weights do not fit a VINet of width {config.width}: "
                            f"{str(exc).splitlines()[0]}") from None
    return net.eval(), metadata
