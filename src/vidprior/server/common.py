"""What the routes share: the app's state as dependencies, JSON requests, frames as PNG."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated

import cv2
from fastapi import Depends, Request

from ..errors import VidpriorError
from ..video import iter_frames
from ..workqueue import WorkQueue

CHUNK = 1 << 20


def _queue(request: Request) -> WorkQueue:
    return request.app.state.queue


def _videos(request: Request) -> Path:
    return request.app.state.videos


def _max_upload_mb(request: Request) -> int:
    return request.app.state.max_upload_mb


Queue = Annotated[WorkQueue, Depends(_queue)]  # the jobs
Videos = Annotated[Path, Depends(_videos)]  # HOME/videos
MaxUploadMB = Annotated[int, Depends(_max_upload_mb)]


def too_large(max_upload_mb: int) -> str:
    """How an upload past the limit is refused."""
    return f"larger than the {max_upload_mb} MB limit (vidprior serve --max-upload MB raises it)"


PAGE_NAMES = {"--budget": "time budget", "--sigma": "noise σ", "--mask-dilate": "grow it by", "--scale": "factor",
              "--resume": "resume", "--weights": "weights"}  # command-line flags as the page names its fields


def page_words(text: str) -> str:
    """A message of the command line in the page's words: its fields' names instead of flags.

    >>> page_words("--budget '-5s' is negative; --param rounds=x is not a number; --adapt 30s fine-tunes it")
    "time budget '-5s' is negative; setting rounds = x is not a number; adapt 30s fine-tunes it"
    """
    text = re.sub(r"--param (\w+)=", r"setting \1 = ", text)
    for flag, name in PAGE_NAMES.items():
        text = re.sub(re.escape(flag) + r"\b", name, text)
    return re.sub(r"(?<![\w-])--(\w[\w-]*)", lambda m: m.group(1).replace("-", " "), text)


async def json_object(request: Request) -> dict:
    """The request's JSON object; only application/json is taken (no cross-site form posts)."""
    if request.headers.get("content-type", "").split(";")[0] != "application/json":
        raise VidpriorError("send the request as JSON (Content-Type: application/json)")
    try:
        spec = await request.json()
    except ValueError:
        raise VidpriorError("the request is not valid JSON") from None
    if not isinstance(spec, dict):
        raise VidpriorError("the request must be a JSON object")
    return spec


@lru_cache(maxsize=256)
def frame_png(path: str, index: int) -> bytes:
    """Frame ``index`` of the video at ``path``, PNG-encoded (cached: the page scrubs back and forth)."""
    try:
        frame = next(iter_frames(Path(path), index, 1))
    except (StopIteration, VidpriorError):
        raise VidpriorError(f"no frame {index} in this video") from None
    return cv2.imencode(".png", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))[1].tobytes()
