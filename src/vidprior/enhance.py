"""`vidprior enhance`: old footage denoised, upscaled and interpolated in one streaming pass.

    >>> from vidprior import enhance
    >>> report = enhance("old.mp4", "new.mp4", scale=2, factor=2)  # doctest: +SKIP

The frames are decoded once and flow through the three tasks as a chain of streams, each restoring its
windows with the task's default method (`vidprior.restore.restored`): denoising at the input's size (the
noise level given, 0 to skip it, or estimated: under `MILD`, with upscaling, the upscaler alone cleans it and
the coding artefacts better than denoising first), upscaling by ``scale`` (1 skips it), then interpolation by
``factor`` at the output's size (1 skips it). Only each stage's window is held, so memory does not grow with
the video's length; one progress bar counts the output frames; the audio is carried over.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from . import metrics
from .denoiser.noise import estimate_sigma
from .errors import VidpriorError
from .methods import RunOptions
from .progress import Bar
from .requests import AUTO, check_request, enhance_chain
from .restore import Part, Report, mean_scores, parse_range, peak_memory_mb, restored
from .video import VideoWriter, check_frame_size, check_output, iter_frames, probe

MILD = 3.0  # noise std (0-255) under which `enhance` leaves the denoising to the upscaler ('auto' only)
ESTIMATE_FRAMES = 5  # frames the noise level is estimated on


def _frames(parts: Iterator[Part]) -> Iterator[np.ndarray]:
    for part in parts:
        yield from part.core


def enhance(input: Path | str, output: Path | str, *, scale: int = 2, factor: int = 2,
            sigma: float | str | None = AUTO, start: int = 0, frames: int | None = None, crf: int = 18,
            options: RunOptions | None = None, reference: Path | str | None = None,
            methods: dict[str, str] | None = None) -> Report:
    """Denoise, upscale by ``scale`` and interpolate by ``factor`` ``input`` into ``output`` (see the module notes);
    returns a `Report`. sigma: the noise level on the 0-255 scale, 'auto' (estimated) or 0 (no denoising).
    reference: the clean video at the output's size and frame rate, to score the result against. methods: a
    method other than the default for some tasks, e.g. {'upscale': 'lanczos'}."""
    options = options or RunOptions()
    input, output = Path(input), Path(output)
    info = probe(input)
    check_frame_size(info.height, info.width, str(input))
    check_output(output, input, reference and Path(reference))
    if sigma in (AUTO, None) and scale > 1:  # mild noise is the upscaler's: it cleans it and the coding artefacts
        level = estimate_sigma(np.stack(list(iter_frames(input, start, min(ESTIMATE_FRAMES, info.frames - start)))))
        sigma = 0 if level < MILD else AUTO
    chain = enhance_chain(scale, factor, sigma)
    chosen = {task: check_request(task, (methods or {}).get(task), k, level) for task, k, level in chain}
    count = parse_range(start, frames, info.frames, input)
    if factor > 1 and count < 2:
        raise VidpriorError("interpolation needs at least 2 frames; give factor 1 for a single frame")
    inner = replace(options, progress=False, params={})
    stream: Iterator[np.ndarray] = iter_frames(input, start, count)
    length = count
    for task, k, level in chain[:-1]:
        stream = _frames(restored(task, chosen[task], stream, length, inner, k, level))
        length = (length - 1) * k + 1 if task == "interpolate" else length
    task, k, level = chain[-1]
    n_out = (length - 1) * k + 1 if task == "interpolate" else length
    clean = iter_frames(reference, start * factor, n_out) if reference is not None else None
    scores: list[tuple[int, dict[str, float]]] = []
    began = time.monotonic()
    names = " + ".join(chosen[t].name for t, _, _ in chain)
    with VideoWriter(output, info.fps * factor, crf, input if info.has_audio else None, start / info.fps) as writer, \
            Bar(n_out, "enhance", unit="frame", show=options.progress) as bar:
        for part in restored(task, chosen[task], stream, length, inner, k, level):
            writer.write_all(part.core)
            if clean is not None:
                truth = np.stack([next(clean) for _ in range(len(part.core))])
                if truth.shape != part.core.shape:
                    raise VidpriorError(f"{reference}: reference frames are {truth.shape[1:3]}, the result is "
                                        f"{part.core.shape[1:3]}; give the clean video at the output's size")
                scores.append((len(part.core), metrics.evaluate(part.core, truth)))
            bar.update(len(part.core))
            del part
    return Report(output, names, n_out, time.monotonic() - began, peak_memory_mb(), mean_scores(scores))
