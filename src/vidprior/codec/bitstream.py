"""The ``.vpr`` file: a neural video representation's quantised tensors, entropy coded.

Layout (little endian), version 2::

    magic b"VPRN" | u16 version | u32 header bytes | header (UTF-8 JSON)
    | u32 params bytes | params (float32 scales and offsets of each tensor, then u16 histograms)
    | u32 payload words | payload (u32 words of one ANS stream holding every tensor's symbols)
    | u32 stream bytes | stream (an embedded video stream, e.g. the hybrid codec's HEVC base; may be empty)
    | u32 CRC-32 of everything before it

Version 1 (files of vidprior before the hybrid codec) is the same without the stream section; it is
still read.

The header holds the caller's metadata (sizes, fps, frame count, model settings) and, per tensor,
its name, shape, bit width and number of quantisation channels. The symbols of all tensors of
one bit width share one histogram (stored over the used range as 16-bit counts: a few hundred
bytes), which drives constriction's ANS coder; tensors quantised to one width are normalised
alike (max-abs or min-max per channel), so one table fits them all well. A file that is damaged, truncated, of another
format or of a newer version is refused with `CorruptFile` before anything is decoded.
"""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np

from ..errors import VidpriorError
from .quantize import Quantized

MAGIC = b"VPRN"
VERSION = 2


class CorruptFile(VidpriorError):
    """The file is not a readable .vpr file of a supported version."""


def _histogram(tensors: list[Quantized], bits: int) -> tuple[int, np.ndarray]:
    """(first symbol, u16 counts from it to the last symbol used) over all tensors of one bit width.

    Counts are scaled to fit 16 bits with every used symbol kept at least 1, so the decoder builds
    exactly the encoder's model from what is stored.
    """
    counts = np.zeros(2**bits, np.int64)
    for q in tensors:
        counts += np.bincount(q.symbols.ravel(), minlength=2**bits)
    used = np.nonzero(counts)[0]
    if used.size == 0:
        return 0, np.ones(1, np.uint16)
    counts = counts[used[0]: used[-1] + 1]
    scaled = np.where(counts > 0, np.maximum(1, np.round(counts * (65535 / counts.max()))), 0)
    return int(used[0]), scaled.astype(np.uint16)


def _model(counts: np.ndarray):
    import constriction

    return constriction.stream.model.Categorical(counts.astype(np.float64), perfect=False)


def encode(meta: dict, tensors: dict[str, Quantized], stream: bytes = b"") -> bytes:
    """The file's bytes for ``tensors`` (name -> quantised tensor), JSON-serialisable ``meta`` and an embedded
    ``stream``."""
    import constriction

    entries = [{"name": name, "shape": list(q.symbols.shape), "bits": q.bits, "channels": int(q.scale.size)}
               for name, q in tensors.items()]
    widths = sorted({q.bits for q in tensors.values()})
    histograms = {b: _histogram([q for q in tensors.values() if q.bits == b], b) for b in widths}
    coder = constriction.stream.stack.AnsCoder()
    for q in reversed(list(tensors.values())):  # a stack: last in, first out
        if q.symbols.size:
            first, counts = histograms[q.bits]
            coder.encode_reverse((q.symbols.ravel() - first).astype(np.int32), _model(counts))
    payload = coder.get_compressed().astype("<u4").tobytes()
    header = json.dumps({"meta": meta, "tensors": entries,
                         "histograms": [[b, histograms[b][0], len(histograms[b][1])] for b in widths]},
                        separators=(",", ":")).encode()
    params = b"".join([*(np.concatenate([q.scale, q.offset]).astype("<f4").tobytes() for q in tensors.values()),
                       *(histograms[b][1].astype("<u2").tobytes() for b in widths)])
    body = b"".join([MAGIC, struct.pack("<HI", VERSION, len(header)), header, struct.pack("<I", len(params)),
                     params, struct.pack("<I", len(payload) // 4), payload, struct.pack("<I", len(stream)), stream])
    return body + struct.pack("<I", zlib.crc32(body))


def decode(data: bytes) -> tuple[dict, dict[str, Quantized], bytes]:
    """(meta, tensors, stream) from a file's bytes; raises `CorruptFile` for anything that is not a sound
    file."""
    import constriction

    if len(data) < 4 or data[:4] != MAGIC:
        raise CorruptFile("not a vidprior compressed video (.vpr): the file does not start with its signature")
    if len(data) < 10:
        raise CorruptFile("the .vpr file is truncated")
    (version,) = struct.unpack_from("<H", data, 4)
    if version > VERSION:
        raise CorruptFile(f"the .vpr file has format version {version}; this vidprior reads up to {VERSION} "
                          "(upgrade vidprior)")
    body, (stored,) = data[:-4], struct.unpack("<I", data[-4:])
    if zlib.crc32(body) != stored:
        raise CorruptFile("the .vpr file is damaged or truncated (checksum mismatch)")
    try:
        (header_len,) = struct.unpack_from("<I", body, 6)
        pos = 10 + header_len
        header = json.loads(body[10:pos])
        (param_len,) = struct.unpack_from("<I", body, pos)
        params = body[pos + 4: pos + 4 + param_len]
        pos += 4 + param_len
        (words,) = struct.unpack_from("<I", body, pos)
        payload = np.frombuffer(body, "<u4", words, pos + 4).astype(np.uint32)
        pos += 4 + 4 * words
        stream = b""
        if version >= 2:
            (stream_len,) = struct.unpack_from("<I", body, pos)
            stream = body[pos + 4: pos + 4 + stream_len]
            if len(stream) != stream_len or pos + 4 + stream_len != len(body):
                raise ValueError("the stream section does not end where the file does")
        entries = header["tensors"]
        floats = np.frombuffer(params, "<f4", sum(2 * e["channels"] for e in entries))
        at, histograms = floats.nbytes, {}
        for bits, first, length in header["histograms"]:
            histograms[bits] = first, np.frombuffer(params, "<u2", length, at)
            at += 2 * length
    except (ValueError, KeyError, TypeError, struct.error, json.JSONDecodeError) as error:
        raise CorruptFile(f"the .vpr file's structure is broken ({error})") from None
    coder = constriction.stream.stack.AnsCoder(payload)
    tensors, offset = {}, 0
    for entry in entries:
        bits, channels, shape = entry["bits"], entry["channels"], tuple(entry["shape"])
        scale, shift = floats[offset: offset + channels], floats[offset + channels: offset + 2 * channels]
        offset += 2 * channels
        count = int(np.prod(shape))
        symbols = np.zeros(0, np.int32)
        if count:
            first, counts = histograms[bits]
            symbols = np.asarray(coder.decode(_model(counts), count), np.int32) + first
        tensors[entry["name"]] = Quantized(symbols.reshape(shape), bits, scale.copy(), shift.copy())
    return header["meta"], tensors, stream

