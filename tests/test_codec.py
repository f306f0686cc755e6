"""The .vpr bitstream, pruning and quantisation."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import torch

from vidprior.codec import bitstream
from vidprior.codec.quantize import magnitude_masks, quantize, quantize_best
from vidprior.errors import VidpriorError


def _tensors(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    weights = rng.laplace(0, 0.05, (16, 8, 3, 3)).astype(np.float32)
    weights[np.abs(weights) < 0.02] = 0  # pruned
    embedding = rng.normal(0.3, 0.2, (10, 4, 3, 5)).astype(np.float32)
    return {"decoder.0.weight": quantize_best(weights, 8, symmetric=True), "embedding": quantize_best(embedding, 6),
            "bias": quantize(rng.normal(size=7), 8), "empty": quantize(np.zeros((0,)), 8)}


@pytest.mark.parametrize("bits", [2, 6, 8, 12])
@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("per_channel", [False, True])
def test_quantisation_error_is_at_most_half_a_step(bits, symmetric, per_channel):
    x = np.random.default_rng(bits).normal(0, 1, (6, 5, 4)).astype(np.float32) * np.arange(1, 7)[:, None, None]
    q = quantize(x, bits, per_channel=per_channel, symmetric=symmetric)
    assert q.symbols.min() >= 0 and q.symbols.max() < 2**bits
    assert np.abs(q.values() - x).max() <= q.max_error * (1 + 1e-5)
    assert q.scale.size == (6 if per_channel else 1)


def test_symmetric_quantisation_keeps_zeros_exact_and_per_channel_helps_uneven_channels():
    x = np.random.default_rng(0).normal(0, 1, (4, 50)).astype(np.float32) * np.array([[0.01], [0.1], [1], [10]])
    x[:, ::3] = 0
    q = quantize(x, 8, symmetric=True)
    assert np.all(q.values()[x == 0] == 0)
    best = quantize_best(x, 8, symmetric=True)
    assert best.per_channel
    assert np.abs(best.values() - x)[0].max() < np.abs(q.values() - x)[0].max() / 10
    with pytest.raises(VidpriorError):
        quantize(x, 0)


def test_magnitude_pruning_is_global():
    tensors = {"a": torch.tensor([0.1, -0.2, 3.0, 0.05]), "b": torch.tensor([[1.0, -0.01], [0.5, 2.0]])}
    masks = magnitude_masks(tensors, 0.5)
    assert masks["a"].tolist() == [False, False, True, False]
    assert masks["b"].tolist() == [[True, False], [True, True]]
    assert all(m.all() for m in magnitude_masks(tensors, 0.0).values())
    with pytest.raises(VidpriorError):
        magnitude_masks(tensors, 1.0)


def test_round_trip_is_bit_exact():
    tensors = _tensors()
    meta = {"fps": 25.0, "size": [144, 256], "frames": 10, "model": {"strides": [4, 2]}}
    back_meta, back, stream = bitstream.decode(bitstream.encode(meta, tensors))
    assert back_meta == meta and list(back) == list(tensors) and stream == b""
    for name, q in tensors.items():
        assert np.array_equal(back[name].symbols, q.symbols)
        assert np.array_equal(back[name].values(), q.values())
        assert back[name].bits == q.bits


def test_embedded_stream_comes_back_and_version_1_files_still_decode():
    tensors = _tensors()
    embedded = bytes(range(256)) * 3 + b"tail"
    meta, back, stream = bitstream.decode(bitstream.encode({"fps": 25.0}, tensors, embedded))
    assert stream == embedded and meta == {"fps": 25.0}
    # a version 1 file: no stream section (written by vidprior before the hybrid codec)
    body = bitstream.encode({"fps": 25.0}, tensors)[:-4]
    assert body[-4:] == b"\0\0\0\0"  # the empty stream's length
    old = body[:4] + struct.pack("<H", 1) + body[6:-4]
    old += struct.pack("<I", zlib.crc32(old))
    meta, back, stream = bitstream.decode(old)
    assert meta == {"fps": 25.0} and stream == b""
    assert np.array_equal(back["embedding"].symbols, tensors["embedding"].symbols)
    # a version 2 file whose stream length runs past the end is refused, though its checksum is right
    lying = body[:-4] + struct.pack("<I", 99)
    with pytest.raises(bitstream.CorruptFile, match="structure"):
        bitstream.decode(lying + struct.pack("<I", zlib.crc32(lying)))


def test_entropy_coding_compresses_pruned_weights():
    weights = np.random.default_rng(0).laplace(0, 0.05, (64, 64, 3, 3)).astype(np.float32)
    weights[np.abs(weights) < 0.04] = 0  # about half pruned
    q = quantize_best(weights, 8, symmetric=True)
    assert len(bitstream.encode({}, {"w": q})) * 8 < 0.6 * q.symbols.size * 8


def test_damaged_truncated_foreign_and_newer_files_are_refused():
    data = bitstream.encode({"fps": 25.0}, _tensors())
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x10
    cases = {
        "damaged": bytes(flipped),
        "truncated": data[: len(data) - 9],
        "foreign": b"\x1aE\xdf\xa3" + data[4:],  # a Matroska signature
        "newer": data[:4] + struct.pack("<H", bitstream.VERSION + 1) + data[6:],
        "tiny": data[:6],
    }
    for name, bad in cases.items():
        with pytest.raises(bitstream.CorruptFile) as error:
            bitstream.decode(bad)
        assert "vpr" in str(error.value), name
    with pytest.raises(bitstream.CorruptFile, match="version"):
        bitstream.decode(cases["newer"])
