"""Video retargeting by object removal (VINet's application): change a video's width without
squashing its subject.

1. remove the object (any inpainting method, VINet by default) to get a clean background;
2. resize the background to the new width (height unchanged);
3. put the object back at its own size, its centre moved to where the background point under it
   went, so it keeps its place in the scene.

Frames are streamed: memory holds one window of the inpainting method, not the video.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from .errors import VidpriorError
from .masks import MaskSource, dilate
from .methods import RunOptions
from .progress import Bar
from .restore import Report, parse_range, peak_memory_mb, restore
from .video import VideoWriter, check_frame_size, check_output, iter_frames, probe

REMOVAL_MARGIN = 2  # pixels the removal mask is grown by, so no rim of the object stays in the background


def place_object(background: np.ndarray, frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Paste the pixels of ``frame`` under ``mask`` (H, W) onto the resized ``background`` (H, W', 3).

    The object keeps its size; it is shifted horizontally so that its centre lands at the centre's
    scaled position. Parts pushed past the border are cut.
    """
    out = background.copy()
    if not mask.any():
        return out
    height, width = mask.shape
    new_width = background.shape[1]
    xs = np.nonzero(mask.any(axis=0))[0]
    centre = (xs[0] + xs[-1] + 1) / 2
    shift = int(round(centre * new_width / width - centre))
    ys, xs = np.nonzero(mask)
    moved = xs + shift
    inside = (moved >= 0) & (moved < new_width)
    out[ys[inside], moved[inside]] = frame[ys[inside], xs[inside]]
    return out


def retarget(input: Path | str, mask: Path | str, output: Path | str, width: int, *, method: str | None = "vinet",
             start: int = 0, frames: int | None = None, crf: int = 18, options: RunOptions | None = None) -> Report:
    """Write ``input`` at ``width`` pixels wide with the masked object kept at its size; returns a `Report`."""
    options = options or RunOptions()
    began = time.monotonic()
    input, output, mask = Path(input), Path(output), Path(mask)
    info = probe(input)
    check_frame_size(info.height, info.width, str(input))
    check_output(output, input, mask)
    if not 16 <= width <= 4 * info.width:
        raise VidpriorError(f"--width {width} is out of range for a {info.width}-pixel-wide video; "
                            f"give 16 to {4 * info.width}")
    count = parse_range(start, frames, info.frames, input)
    masks = MaskSource(mask, info.frames, (info.height, info.width))
    masks.validate(start, count)
    with tempfile.TemporaryDirectory(prefix=".vidprior-retarget.", dir=output.resolve().parent) as tmp:
        background = Path(tmp) / "background.mkv"
        removal = restore("inpaint", input, background, method=method, mask=mask, mask_dilate=REMOVAL_MARGIN,
                          start=start, frames=count, options=options)
        with VideoWriter(output, info.fps, crf) as writer, \
                Bar(count, "retarget", unit="frame", show=options.progress) as bar:
            for frame, object_mask, clean in zip(iter_frames(input, start, count), masks.iter(start, count),
                                                 iter_frames(background)):
                resized = cv2.resize(clean, (width, info.height),
                                     interpolation=cv2.INTER_AREA if width < info.width else cv2.INTER_CUBIC)
                writer.write(place_object(resized, frame, dilate(object_mask, 1)))
                bar.update()
    return Report(output, f"retarget ({removal.method})", count, time.monotonic() - began,
                  peak_memory_mb())
