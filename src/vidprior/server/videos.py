"""/api/videos: upload a video or take the demo clip; its frames; its masks (painted or uploaded)."""

from __future__ import annotations

import base64
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import cv2
import numpy as np
from fastapi import APIRouter, File, HTTPException, Request, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ..errors import VidpriorError
from ..masks import MaskSource, binarize, keyframe_masks
from ..video import IMAGE_SUFFIXES, check_frame_size, probe
from .common import CHUNK, MaxUploadMB, Queue, Videos, frame_png, json_object, too_large

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".webm")

router = APIRouter(prefix="/api/videos")


def find_video(videos: Path, vid: str) -> tuple[Path, dict]:
    """The folder and the record (info.json) of an uploaded video; 404 when there is none."""
    folder = videos / vid
    if not vid.isalnum() or not (folder / "info.json").is_file():
        raise HTTPException(404, f"no video {vid}")
    return folder, json.loads((folder / "info.json").read_text())


def receive(upload: UploadFile, target: Path, max_upload_mb: int) -> Path:
    """Store an upload under ``target`` (its own suffix kept), refusing it past the size limit."""
    size = 0
    with open(target, "wb") as out:
        while chunk := upload.file.read(CHUNK):
            size += len(chunk)
            if size > max_upload_mb * CHUNK:
                out.close()
                target.unlink()
                raise HTTPException(413, f"{upload.filename}: {too_large(max_upload_mb)}")
            out.write(chunk)
    return target


def register(folder: Path, source: Path, name: str) -> dict:
    """Probe a new video and write its record (info.json); a video we cannot read is refused and removed."""
    try:
        info = probe(source)
        check_frame_size(info.height, info.width, name)
    except VidpriorError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise VidpriorError(f"{name}: not a video we can read ({str(exc).split(': ', 1)[-1]})") from None
    record = {"id": folder.name, "name": name, "source": source.name, "frames": info.frames,
              "width": info.width, "height": info.height, "fps": info.fps}
    (folder / "info.json").write_text(json.dumps(record))
    return record


def painted(keyframes: dict, info: dict) -> dict[int, np.ndarray]:
    """The page's painted keyframes {frame: PNG data URL} -> {frame: (H, W) bool}, checked against the video."""
    if not isinstance(keyframes, dict):
        raise VidpriorError("keyframes must map frame numbers to PNG data URLs")
    masks = {}
    for key, url in keyframes.items():
        if not str(key).isdigit() or not isinstance(url, str) or "," not in url:
            raise VidpriorError("keyframes must map frame numbers to PNG data URLs")
        try:
            data = base64.b64decode(url.split(",", 1)[1], validate=True)
            image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if data else None
        except (ValueError, cv2.error):
            image = None
        if image is None:
            raise VidpriorError(f"the mask painted on frame {key} is not a readable image")
        if image.shape[:2] != (info["height"], info["width"]):
            raise VidpriorError(f"the mask painted on frame {key} is {image.shape[1]}x{image.shape[0]}, "
                                f"the video {info['width']}x{info['height']}; reload the page")
        masks[int(key)] = image[..., 3] > 0 if image.ndim == 3 and image.shape[2] == 4 else binarize(image)
    return masks


@router.post("")
def upload_video(file: Annotated[UploadFile, File()], videos: Videos, queue: Queue, max_upload_mb: MaxUploadMB):
    """Store an uploaded video (a plain def: FastAPI runs it off the event loop)."""
    suffix = Path(file.filename or "").suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise VidpriorError(f"{file.filename}: not a video file; upload {', '.join(VIDEO_SUFFIXES)}")
    folder = videos / queue.new_id()
    folder.mkdir()
    try:
        source = receive(file, folder / f"source{suffix}", max_upload_mb)
    except HTTPException:
        shutil.rmtree(folder)
        raise
    return register(folder, source, file.filename)


@router.post("/demo")
def demo_video(videos: Videos, queue: Queue):
    from ..demo import demo_clip

    folder = videos / queue.new_id()
    folder.mkdir()
    source = folder / "source.mp4"
    shutil.copyfile(demo_clip(), source)
    return register(folder, source, "demo.mp4")


@router.get("/{vid}")
def video_info(vid: str, videos: Videos):
    return find_video(videos, vid)[1]


@router.get("/{vid}/frames/{index}")
def video_frame(vid: str, index: int, videos: Videos):
    folder, info = find_video(videos, vid)
    return Response(frame_png(str(folder / info["source"]), index), media_type="image/png")


@router.post("/{vid}/carried/{index}")
async def carried_mask(vid: str, index: int, request: Request, videos: Videos):
    """The mask that painted keyframes ({"keyframes": {...}}) give frame ``index``, as an RGBA PNG."""
    info = find_video(videos, vid)[1]
    keyframes = painted((await json_object(request)).get("keyframes"), info)
    if not 0 <= index < info["frames"]:
        raise VidpriorError(f"no frame {index} in this video")
    (mask,) = await run_in_threadpool(lambda: list(keyframe_masks(keyframes, info["frames"], [index])))
    rgba = np.zeros((*mask.shape, 4), np.uint8)
    rgba[mask] = (40, 40, 255, 255)  # BGRA: the page's brush red
    return Response(cv2.imencode(".png", rgba)[1].tobytes(), media_type="image/png")


@router.post("/{vid}/mask")
def upload_mask(vid: str, files: Annotated[list[UploadFile], File()], videos: Videos, max_upload_mb: MaxUploadMB):
    """Masks for the video: a mask video, one image or several images (a folder's, one per frame)."""
    folder, info = find_video(videos, vid)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        tmp = Path(tmp)
        for upload in files:
            suffix = Path(upload.filename or "").suffix.lower()
            if suffix not in (*IMAGE_SUFFIXES, *VIDEO_SUFFIXES):
                raise VidpriorError(f"{upload.filename}: not an image or video; masks are images or a video")
            name = re.sub(r"[^\w.-]", "_", Path(upload.filename).name).lstrip(".") or f"mask{suffix}"
            receive(upload, tmp / name, max_upload_mb)
        chosen = next(tmp.iterdir()) if len(files) == 1 else tmp
        if len(files) > 1 and any(p.suffix.lower() not in IMAGE_SUFFIXES for p in tmp.iterdir()):
            raise VidpriorError("several mask files must all be images, one per frame")
        try:
            masks = MaskSource(chosen, info["frames"], (info["height"], info["width"]))
            coverage = masks.validate()
        except VidpriorError as exc:
            raise VidpriorError(f"mask refused: {str(exc).replace(f'{chosen}: ', '')}") from None
        for old in folder.glob("mask*"):
            shutil.rmtree(old) if old.is_dir() else old.unlink()
        kept = folder / ("mask" + (chosen.suffix if chosen.is_file() else ""))
        shutil.move(chosen, kept)
    return {"mask": kept.name, "coverage": round(coverage, 4)}
