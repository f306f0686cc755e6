"""Run one task with one method on a video file, streaming it through in temporal windows.

This is what the CLI's task commands and the Python API call:

    >>> from vidprior import restore
    >>> report = restore("inpaint", "clip.mp4", "out.mp4", mask="masks/")

Frames are decoded once, in order, into a sliding buffer of ``window + 2·context`` frames (the
method's needs), so memory is bounded by the window, not by the length of the video. Each
window's result has its known pixels pasted back (`Problem.finalize`), only its core frames are
written, and outputs are committed atomically.
"""

from __future__ import annotations

import resource
import time
from collections import deque
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import metrics
from .errors import VidpriorError
from .masks import MaskSource
from .methods import Method, RunOptions
from .problems import Problem
from .progress import Bar
from .requests import check_request
from .shadow import grow_into_shadow
from .video import VideoWriter, check_frame_size, check_output, iter_frames, probe
from .viz import side_by_side


@dataclass
class Report:
    """What a run did: output path, frame count, wall time, peak memory and quality figures."""

    output: Path
    method: str
    frames: int
    seconds: float
    peak_memory_mb: float
    metrics: dict[str, float] = field(default_factory=dict)

    def line(self) -> str:
        figures = "  ".join(f"{k}={v:.4g}" for k, v in self.metrics.items())
        return (f"{self.output}: {self.frames} frames by {self.method} in {self.seconds:.1f}s "
                f"(peak memory {self.peak_memory_mb:.0f} MB)" + (f"  {figures}" if figures else ""))


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def windows(frames: Iterator[np.ndarray], total: int, size: int, before: int, after: int
            ) -> Iterator[tuple[int, int, int, np.ndarray]]:
    """Cut a stream of ``total`` items into windows with context.

    Yields (lo, a, b, items[lo:hi]) where [a, b) is the core (consecutive cores tile 0..total)
    and ``lo = max(0, a - before)``, ``hi = min(total, b + after)``. At most
    ``size + before + after`` items are held at once.
    """
    size = size or total
    buffer: deque[np.ndarray] = deque()
    buffer_start = 0
    for a in range(0, total, size):
        b = min(total, a + size)
        lo, hi = max(0, a - before), min(total, b + after)
        while buffer_start < lo:
            buffer.popleft()
            buffer_start += 1
        while buffer_start + len(buffer) < hi:
            buffer.append(next(frames))
        yield lo, a, b, np.stack(list(buffer)[: hi - buffer_start])


def parse_range(start: int, count: int | None, total: int, what: Path) -> int:
    """Frames to take from ``start``; a clear error when the range is outside the video."""
    if start < 0 or start >= total:
        raise VidpriorError(f"--start {start} is outside {what}, which has {total} frames (0..{total - 1})")
    if count is not None and count < 1:
        raise VidpriorError(f"--frames {count} must be at least 1")
    return min(total - start, count or total)


@dataclass
class Part:
    """One window of a restored stream: the input frames ``observed`` [lo, hi) and their ``hole`` (or None), the
    core [a, b) of the input it restores, and ``core``, its output frames, which start at output index ``first``
    of the window's result."""

    lo: int
    a: int
    b: int
    observed: np.ndarray
    hole: np.ndarray | None
    first: int
    core: np.ndarray


def restored(task: str, chosen: Method, frames: Iterator[np.ndarray], count: int, options: RunOptions, factor: int = 1,
             sigma: float | None = None, holes: Iterator[np.ndarray] | None = None, shadow: bool = False,
             bar: Bar | None = None) -> Iterator[Part]:
    """Restore a stream of ``count`` frames with the method ``chosen``, window by window (`windows`, the method's
    window and context): one `Part` per window, whose cores tile the output ((count - 1) * factor + 1 frames for
    interpolate, else count). holes: the stream of masks for inpaint (grown into shadows when ``shadow``); bar:
    told how many frames each window will make."""
    step = factor if task == "interpolate" else 1
    after = max(chosen.context, 1 if task == "interpolate" else 0)
    hole_windows = windows(holes, count, chosen.window, chosen.context, after) if holes is not None else None
    for lo, a, b, observed in windows(frames, count, chosen.window, chosen.context, after):
        hole = next(hole_windows)[3] if hole_windows else None
        if shadow and hole is not None:
            hole = grow_into_shadow(observed, hole)
        problem = Problem(task, observed, hole, factor if step > 1 or task == "upscale" else 1, sigma)
        first, last = (a - lo) * step, (b - lo) * step if b < count else (b - 1 - lo) * step + 1
        if bar is not None:
            bar.expect(last - first)
        result = problem.finalize(chosen.run(problem, options))
        core = result[first:last]
        del problem, result
        yield Part(lo, a, b, observed, hole, first, core)
        del observed, hole, core  # before the next window is read: one window held, not two


def restore(task: str, input: Path | str, output: Path | str, *, method: str | None = None,
            mask: Path | str | None = None, mask_dilate: int = 0, mask_shadow: bool = False, factor: int = 1,
            sigma: float | None = None, start: int = 0, frames: int | None = None, crf: int = 18,
            options: RunOptions | None = None, compare: Path | str | None = None,
            reference: Path | str | None = None) -> Report:
    """Restore ``input`` into ``output`` (see the module docstring); returns a `Report`.

    task: inpaint | denoise | interpolate | upscale. mask: required for inpaint; mask_shadow: grow it into the
    object's shadow and contacts first (`vidprior.shadow`), window by window. factor: k for
    interpolate, s for upscale. sigma: noise level (0-255 scale) when known. compare: also write a
    side-by-side video there. reference: a clean video to score the result against.
    """
    options = options or RunOptions()
    input, output = Path(input), Path(output)
    info = probe(input)
    check_frame_size(info.height, info.width, str(input))
    check_output(output, input, mask and Path(mask), reference and Path(reference))
    if compare is not None:
        check_output(Path(compare), input, output)
    chosen = check_request(task, method, factor, sigma, options.params)
    count = parse_range(start, frames, info.frames, input)
    masks = None
    if task == "inpaint":
        if mask is None:
            raise VidpriorError("inpaint needs --mask: a folder of mask images, a mask video or one image")
        masks = MaskSource(Path(mask), info.frames, (info.height, info.width), mask_dilate)
        masks.validate(start, count)
    if task == "interpolate" and count < 2:
        raise VidpriorError("interpolation needs at least 2 frames")

    step = factor if task == "interpolate" else 1
    n_out = (count - 1) * step + 1
    fps = info.fps * step
    clean = iter_frames(reference, start * step, n_out) if reference is not None else None
    scores: list[tuple[int, dict[str, float]]] = []
    began = time.monotonic()

    mask_stream = masks.iter(start, count) if masks else None
    with VideoWriter(output, fps, crf, input if info.has_audio else None, start / info.fps) as writer, \
            (VideoWriter(compare, fps, crf) if compare else nullcontext()) as compare_writer, \
            Bar(n_out, f"{task} ({chosen.name})", unit="frame", show=options.progress) as bar:
        for part in restored(task, chosen, iter_frames(input, start, count), count, options, factor, sigma,
                             mask_stream, mask_shadow, bar):
            writer.write_all(part.core)
            if compare:
                for i, frame in enumerate(part.core):
                    source_index = (part.first + i) // step
                    shown = part.observed[min(source_index, len(part.observed) - 1)]
                    tint = part.hole[source_index] if part.hole is not None else None
                    compare_writer.write(side_by_side(shown, frame, tint, ("input", chosen.name)))
            if clean is not None:
                truth = np.stack([next(clean) for _ in range(len(part.core))])
                if truth.shape != part.core.shape:
                    raise VidpriorError(f"{reference}: reference frames are {truth.shape[1:3]}, "
                                        f"the result is {part.core.shape[1:3]}; give the clean video of this clip")
                window_hole = part.hole[part.a - part.lo: part.b - part.lo] if part.hole is not None else None
                scores.append((len(part.core), metrics.evaluate(part.core, truth, hole=window_hole,
                                                               sr_scale=factor if task == "upscale" else None)))
            bar.update(len(part.core))
            del part
    return Report(output, chosen.name, n_out, time.monotonic() - began, peak_memory_mb(), mean_scores(scores))


def mean_scores(scores: list[tuple[int, dict[str, float]]]) -> dict[str, float]:
    """Frame-weighted mean of per-window figures."""
    if not scores:
        return {}
    total = sum(n for n, _ in scores)
    keys = scores[0][1].keys()
    return {k: sum(n * s[k] for n, s in scores) / total for k in keys if all(k in s for _, s in scores)}
