"""The hybrid codec: an HEVC base stream (x265) with a post-filter network over it, the network fitted to the
clip by an update stored in the file. DNeRV's principle (a representation fitted to the one video, shipped
as weights) put where it pays: correcting what a standard codec got wrong, instead of learning the whole
picture from nothing.

- The base: the clip coded by x265 (preset slow, the benchmark's HEVC) in an mp4, stored as it is, so
  `vidprior extract` (or ``decompress --base-only``) gives a stream any player plays.
- The post-filter (`vidprior.postfilter`): trained once on clips coded by x265, shipped; the file names
  the weights it was made with (a short hash), and a decoder with other weights refuses it.
- The fit to the clip: the CRF the filter is told (its strength), chosen from ``LEVELS`` around the
  base's (free: a number in the header); then the least-squares fit of the filter's last scale, shift
  and bias to the clip (`vidprior.postfilter.adaptation`), quantised to ``UPDATE_BITS`` and entropy
  coded (`codec.bitstream`), kept only where its gain pays for its bytes at the rate-distortion slope
  of the base codec.
- The rate: ``--param crf=N`` codes the base at CRF N; a target ``--bpp`` tries the CRF whose file is
  the largest that fits and the two above it (fewer bits for the base, more left for the update) and
  keeps the best PSNR that fits.

File (.vpr, `codec.bitstream`): meta {format, crf, level (the CRF the filter is told; null: the filter is off,
where the encoder found it would not help), fps, frames, filter (the weights' hash)}, the update's tensor when
kept, and the mp4 as the embedded stream.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .. import metrics
from ..codec import bitstream
from ..codec.quantize import quantize
from ..errors import VidpriorError
from ..mp4 import X265_BASE, decode, iter_decode
from ..postfilter.adaptation import ClipSample, Update, fit_update, updated
from ..postfilter.inference import filter_stream
from ..postfilter.network import PostFilter
from ..postfilter.weights import load_postfilter, weights_id
from ..settings import Setting, parse_settings
from .base import Codec, RunOptions
from .classical import CRF_SWEEP

FORMAT = "hybrid"
UPDATE_BITS = 6
SLOPE_DB_PER_DOUBLING = 3.3  # x265's PSNR gain per doubled rate on the benchmark clips (CRF 28 -> 33: 2.4 dB for 1.66x)
TRIED_CRFS = 3  # with a target rate: the CRF whose file fits best, and the ones above it
LEVELS = (-6, -4, -2, 0, 2, 4, 6)  # the CRFs the filter may be told, around the base's: a free choice per clip
MAX_CRF = 51

SETTINGS = (
    Setting("bpp", None, "target bits per pixel of the file (the CRF is chosen to fit it)", low=0.001, high=8,
            kind=float),
    Setting("crf", None, "the base stream's CRF (0-51, x265's scale) instead of a target rate (--bpp)", low=0,
            high=MAX_CRF, kind=int),
    Setting("filter", "auto", "the post-filter: auto (on unless it would not help this video), on, or off",
            choices=("auto", "on", "off")),
    Setting("update", True, "fit the post-filter to the clip and store the update (kept only where it pays)"),
    Setting("weights", None, "post-filter weights file (default: the shipped one); decoding needs the same",
            kind=str),
)


@dataclass
class Candidate:
    """One way to code the clip (a CRF, the filter on or off, with or without an update): its file and PSNR."""

    data: bytes
    psnr: float


def _pack(stream: bytes, crf: int, level: int | None, fps: float, frames: int, filter_id: str, update: Update | None
          ) -> bytes:
    meta = {"format": FORMAT, "crf": crf, "level": level, "fps": round(float(fps), 6), "frames": frames,
            "filter": filter_id}
    tensors = {"update": quantize(update.vector(), UPDATE_BITS, symmetric=True)} if update is not None else {}
    return bitstream.encode(meta, tensors, stream)


def _unpacked_update(data: bytes, width: int) -> Update | None:
    _, tensors, _ = bitstream.decode(data)
    return Update.from_vector(tensors["update"].values(), width) if "update" in tensors else None


def _psnr(mse: float) -> float:
    return 10 * math.log10(255.0**2 / max(mse, 1e-10))


def code_at(frames: np.ndarray, fps: float, crf: int, net: PostFilter, fit: bool, stream: bytes | None = None,
            use: str = "auto") -> list[Candidate]:
    """The clip coded at ``crf``: without an update, and with one when ``fit``; the filter told the level of
    ``LEVELS`` around ``crf`` that suits the clip best, or off (``use`` 'off', or 'auto' where it would not
    help). PSNRs on the frames of a `ClipSample`, after quantisation, as the decoder will compute them."""
    stream = stream or X265_BASE(frames, fps, crf)
    sample = ClipSample(decode(stream), frames)
    filter_id = weights_id(net)
    base_error = float(((sample.decoded[sample.index].astype(np.float32) - frames[sample.index]) ** 2).mean())
    off = Candidate(_pack(stream, crf, None, fps, len(frames), filter_id, None), _psnr(base_error))
    if use == "off":
        return [off]
    level = min((min(max(crf + d, 0), MAX_CRF) for d in LEVELS), key=lambda c: sample.error(net, c))
    plain = _pack(stream, crf, level, fps, len(frames), filter_id, None)
    out = [Candidate(plain, _psnr(sample.error(net, level)))]
    if use == "auto" and out[0].psnr <= off.psnr:  # e.g. content unlike the training clips: it would hurt
        return [off]
    if fit:
        data = _pack(stream, crf, level, fps, len(frames), filter_id, fit_update(net, sample, level))
        tuned = updated(net, _unpacked_update(data, net.config.width))
        out.append(Candidate(data, _psnr(sample.error(tuned, level))))
    return out


def pays(with_update: Candidate, without: Candidate) -> bool:
    """Whether the update's PSNR gain beats what the same bytes would buy the base codec."""
    cost = SLOPE_DB_PER_DOUBLING * math.log2(len(with_update.data) / len(without.data))
    return with_update.psnr - without.psnr > cost


def _network(options: RunOptions) -> PostFilter:
    return load_postfilter(options.param("weights"))[0]


def compress(frames: np.ndarray, fps: float, options: RunOptions) -> bytes:
    """The .vpr file's bytes for ``frames`` (T, H, W, 3) uint8, at the settings' CRF or target rate (bpp)."""
    options = replace(options, params=parse_settings(SETTINGS, options.params, FORMAT), settings=SETTINGS)
    net, fit = _network(options), options.param("update")
    crf, bpp = options.param("crf"), options.param("bpp")
    if crf is not None and bpp is not None:
        raise VidpriorError("give --bpp or --param crf=N, not both")
    if crf is not None:
        candidates = code_at(frames, fps, crf, net, fit, use=options.param("filter"))
        return (candidates[1] if len(candidates) > 1 and pays(candidates[1], candidates[0]) else candidates[0]).data
    if bpp is None:
        raise VidpriorError("hybrid compression needs a rate: --bpp B or --param crf=N")
    target = int(bpp * frames[..., 0].size / 8)
    streams = {}

    def size(c: int) -> int:  # the largest file without an update at CRF c (level null is the longest header)
        streams[c] = streams.get(c) or X265_BASE(frames, fps, c)
        return len(_pack(streams[c], c, None, fps, len(frames), "0" * 16, None))

    low, high = 0, MAX_CRF  # the smallest CRF whose file fits: sizes fall as the CRF rises
    if size(high) > target:
        raise VidpriorError(f"--bpp {bpp} is below what the hybrid codec can reach here "
                            f"({metrics.bits_per_pixel(size(high), *frames.shape[:3]):.4f} bpp at CRF {MAX_CRF})")
    while low < high:
        middle = (low + high) // 2
        low, high = (low, middle) if size(middle) <= target else (middle + 1, high)
    fitting = [c for crf in range(low, min(low + TRIED_CRFS, MAX_CRF + 1))
               for c in code_at(frames, fps, crf, net, fit, streams.get(crf), options.param("filter"))
               if len(c.data) <= target]
    return max(fitting, key=lambda c: c.psnr).data


def read(data: bytes, weights: str | Path | None = None, base_only: bool = False
         ) -> tuple[Iterator[np.ndarray], float, int]:
    """(frames (H, W, 3) uint8 one by one, fps, frame count) of a hybrid file's bytes: the base stream through the
    post-filter with the file's update, or the base alone."""
    meta, _, stream = bitstream.decode(data)
    if meta.get("format") != FORMAT:
        raise bitstream.CorruptFile(f"the .vpr file holds '{meta.get('format')}', not a {FORMAT} video")
    base = iter_decode(stream)
    if base_only or meta.get("level", meta["crf"]) is None:  # the encoder found the filter would not help
        return base, meta["fps"], meta["frames"]
    net = load_postfilter(weights)[0]
    if weights_id(net) != meta["filter"]:
        raise VidpriorError(f"this file was made with post-filter {meta['filter']}, not {weights_id(net)} (these "
                            "weights); decode with the weights it was made with (--weights), or decode the base "
                            "stream alone with --base-only")
    update = _unpacked_update(data, net.config.width)
    if update is not None:
        net = updated(net, update)
    return filter_stream(net, base, meta.get("level", meta["crf"])), meta["fps"], meta["frames"]


def decompress(data: bytes) -> np.ndarray:
    frames, _, _ = read(data)
    return np.stack(list(frames))


def parts(data: bytes) -> dict[str, int]:
    """What a hybrid file's bytes are spent on: the base stream, the update's coded symbols and scale, and the
    rest (signature, header, lengths, checksum); they add up to the file's size."""
    meta, _, stream = bitstream.decode(data)
    header = len(bitstream.encode(meta, {}, b""))
    return {"base": len(stream), "update": len(data) - len(stream) - header, "header": header}


def base_stream(data: bytes) -> bytes:
    """The mp4 (HEVC) stream inside a hybrid file."""
    meta, _, stream = bitstream.decode(data)
    if meta.get("format") != FORMAT:
        raise VidpriorError(f"the .vpr file holds a {meta.get('format')} video, which has no base stream; only "
                            f"{FORMAT} files do")
    return stream


def _codec(update: bool):
    def encode(frames: np.ndarray, fps: float, crf: float) -> bytes:
        return compress(frames, fps, RunOptions(progress=False, params={"crf": int(crf), "update": update}))

    return encode


CODECS = [
    Codec("hybrid", "x265 (veryslow, tune psnr) at a CRF with the shipped post-filter over it, fitted to the clip "
          "by an update in the file where it pays.", _codec(True), decompress, CRF_SWEEP, settings=SETTINGS),
    Codec("hybrid-plain", "The hybrid codec without the per-clip update: x265 and the shipped post-filter.",
          _codec(False), decompress, CRF_SWEEP),
]
