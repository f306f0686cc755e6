"""/api/videos: upload a video or take the demo clip (identical uploads are kept once); its frames; its masks:
the keyframes painted on it (kept, so a reload reopens them), the masks they carry to the other frames
(`vidprior.carry`) and an uploaded mask, each drawn as an overlay.

A video's folder: source.EXT, info.json (its record), keyframes/NNNNN.png (painted, 255 = fill; an all-black
one says the object is not there), mask/ or mask.EXT (uploaded).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Annotated

import cv2
import numpy as np
from fastapi import APIRouter, File, HTTPException, Request, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ..carry import covering_masks, segment
from ..errors import VidpriorError
from ..maskprop import load_maskprop
from ..maskprop.inference import Refiner
from ..maskprop.inference import refiner as maskprop_refiner
from ..masks import MAX_DILATE, MaskSource, binarize, checked_keyframes, dilate
from ..propose import propose
from ..video import IMAGE_SUFFIXES, check_frame_size, iter_frames, probe
from .common import CHUNK, MaxUploadMB, Queue, Videos, frame_png, json_object, too_large

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".webm")
KEYFRAMES = "keyframes"
HOLE, RING = (40, 40, 255, 255), (40, 200, 255, 255)  # BGRA of an overlay: the mask (the page's brush red), dilation

router = APIRouter(prefix="/api/videos")


def find_video(videos: Path, vid: str) -> tuple[Path, dict]:
    """The folder and the record (info.json) of an uploaded video; 404 when there is none."""
    folder = videos / vid
    if not vid.isalnum() or not (folder / "info.json").is_file():
        raise HTTPException(404, f"no video {vid}")
    return folder, json.loads((folder / "info.json").read_text())


def receive(upload: UploadFile, target: Path, max_upload_mb: int) -> str:
    """Store an upload at ``target``, refusing it past the size limit; returns its SHA-256 (hex)."""
    size, digest = 0, hashlib.sha256()
    with open(target, "wb") as out:
        while chunk := upload.file.read(CHUNK):
            size += len(chunk)
            if size > max_upload_mb * CHUNK:
                out.close()
                target.unlink()
                raise HTTPException(413, f"{upload.filename}: {too_large(max_upload_mb)}")
            out.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def records(videos: Path) -> list[dict]:
    """Every uploaded video's record, the newest first."""
    found = [json.loads(p.read_text()) for p in videos.glob("*/info.json")]
    return sorted(found, key=lambda r: r.get("created", 0), reverse=True)


def register(folder: Path, source: Path, name: str, digest: str) -> dict:
    """Probe a new video and write its record (info.json); a video we cannot read is refused and removed.

    The same bytes uploaded before are not kept twice: the earlier video is returned (with its masks)."""
    earlier = next((r for r in records(folder.parent) if r.get("sha256") == digest and r["id"] != folder.name), None)
    if earlier is not None:
        shutil.rmtree(folder)
        return described(folder.parent / earlier["id"], earlier)
    try:
        info = probe(source)
        check_frame_size(info.height, info.width, name)
    except VidpriorError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise VidpriorError(f"{name}: not a video we can read ({str(exc).split(': ', 1)[-1]})") from None
    record = {"id": folder.name, "name": name, "source": source.name, "frames": info.frames,
              "width": info.width, "height": info.height, "fps": info.fps, "sha256": digest, "created": time.time()}
    (folder / "info.json").write_text(json.dumps(record))
    return described(folder, record)


def uploaded_mask(folder: Path) -> Path | None:
    """The video's uploaded mask (a folder or a file), if any."""
    return next(iter(sorted(folder.glob("mask*"))), None)


def described(folder: Path, info: dict) -> dict:
    """The record as the page gets it: with the uploaded mask's name and the painted keyframes' numbers."""
    mask = uploaded_mask(folder)
    painted_frames = sorted(int(p.stem) for p in (folder / KEYFRAMES).glob("*.png"))
    return {**info, "mask": mask.name if mask else None, "keyframes": painted_frames}


def overlay(mask: np.ndarray, grow: int = 0) -> bytes:
    """A mask (H, W) bool drawn as an RGBA PNG: the mask, and the ring that dilating it by ``grow`` pixels adds."""
    rgba = np.zeros((*mask.shape, 4), np.uint8)
    rgba[dilate(mask, grow)] = RING
    rgba[mask] = HOLE
    return cv2.imencode(".png", rgba)[1].tobytes()


def data_url(mask: np.ndarray) -> str:
    """A mask (H, W) bool as the page paints it: an RGBA PNG data URL, opaque where painted."""
    return "data:image/png;base64," + base64.b64encode(overlay(mask)).decode()


_carried: OrderedDict[str, dict[int, np.ndarray]] = OrderedDict()  # keyframes' digest -> {frame: mask, packed}
_carried_lock = threading.Lock()
CARRIED_KEPT = 2  # keyframe sets whose masks are kept: scrubbing, playing and the job reuse them
TRUST_NEAR, TRUST_BETWEEN = 5, 30  # frames: a carried mask to start a stroke from (see `trusted`)
PROPOSE_GAPS = (1, 2, 4)  # frames before and after a clicked one whose motion tells a moving object


def carried(folder: Path, info: dict, keyframes: dict[int, np.ndarray], frames: Iterable[int] | None = None,
            adapt: int = 0) -> Iterator[np.ndarray]:
    """The masks (H, W) bool that ``keyframes`` carry to every frame, or to ``frames``: what object removal fills
    (`covering_masks`: the shipped mask-propagation network's masks and the snapped ones together). ``adapt``
    (a job's masks: steps, `maskprop.adaptation.STEPS` unless the server is told) fine-tunes the network on the
    keyframes first: slower to start, closer to the object (`benchmarks/results/mask-carry.md`).

    The masks of the last few keyframe sets are kept; a frame not yet carried is carried with the whole
    stretch between its keyframes (what the page will show next as the user scrubs or plays).
    """
    total, shape = info["frames"], (info["height"], info["width"])
    digest = hashlib.sha256(f"{folder.name} {adapt}".encode())
    for t in sorted(keyframes):
        digest.update(f"{t}:".encode() + np.packbits(keyframes[t]).tobytes())
    with _carried_lock:
        kept = _carried.setdefault(digest.hexdigest(), {})
        _carried.move_to_end(digest.hexdigest())
        while len(_carried) > CARRIED_KEPT:
            _carried.popitem(last=False)
    wanted = list(range(total) if frames is None else frames)
    order = checked_keyframes(keyframes, total)
    stretches = {segment(order, t) for t in wanted if t not in kept and t not in keyframes}
    todo = [t for t in range(total) if t not in keyframes and segment(order, t) in stretches]
    source = folder / info["source"]
    step = maskprop_refiner(source, keyframes, adapt_steps=adapt) if adapt > 0 and todo else refine()
    for t, mask in zip(todo, covering_masks(source, keyframes, total, step, todo)):
        kept[t] = np.packbits(mask)
    for t in wanted:
        yield keyframes[t] if t in keyframes else np.unpackbits(kept[t], count=shape[0] * shape[1]).reshape(shape) > 0


@lru_cache(maxsize=1)
def refine() -> Refiner:
    """The shipped mask-propagation network as the carrying's refine step (loaded once)."""
    return Refiner(load_maskprop()[0])


def _dilation(value: str | None) -> int:
    """The ``dilate`` query parameter: whole pixels, 0 to MAX_DILATE."""
    if value in (None, ""):
        return 0
    if not value.isdigit() or int(value) > MAX_DILATE:
        raise VidpriorError(f"grow the mask by {value!r} pixels? give whole pixels from 0 to {MAX_DILATE}")
    return int(value)


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


@router.get("")
def list_videos(videos: Videos):
    """The uploaded videos, the newest first, as `described` gives them."""
    return [described(videos / r["id"], r) for r in records(videos)]


@router.post("")
def upload_video(file: Annotated[UploadFile, File()], videos: Videos, queue: Queue, max_upload_mb: MaxUploadMB):
    """Store an uploaded video (a plain def: FastAPI runs it off the event loop)."""
    suffix = Path(file.filename or "").suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise VidpriorError(f"{file.filename}: not a video file; upload {', '.join(VIDEO_SUFFIXES)}")
    folder = videos / queue.new_id()
    folder.mkdir()
    try:
        digest = receive(file, folder / f"source{suffix}", max_upload_mb)
    except HTTPException:
        shutil.rmtree(folder)
        raise
    return register(folder, folder / f"source{suffix}", file.filename, digest)


@router.post("/demo")
def demo_video(videos: Videos, queue: Queue):
    from ..demo import demo_clip

    folder = videos / queue.new_id()
    folder.mkdir()
    source = folder / "source.mp4"
    shutil.copyfile(demo_clip(), source)
    return register(folder, source, "demo.mp4", hashlib.sha256(source.read_bytes()).hexdigest())


@router.get("/{vid}")
def video_info(vid: str, videos: Videos):
    return described(*find_video(videos, vid))


@router.get("/{vid}/frames/{index}")
def video_frame(vid: str, index: int, videos: Videos):
    folder, info = find_video(videos, vid)
    return Response(frame_png(str(folder / info["source"]), index), media_type="image/png")


@router.get("/{vid}/keyframes")
def get_keyframes(vid: str, videos: Videos):
    """The painted keyframes kept for the video: {"keyframes": {frame: PNG data URL}}."""
    folder = find_video(videos, vid)[0]
    return {"keyframes": {str(int(p.stem)): data_url(cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) > 0)
                          for p in sorted((folder / KEYFRAMES).glob("*.png"))}}


@router.put("/{vid}/keyframes")
async def put_keyframes(vid: str, request: Request, videos: Videos):
    """Keep the page's painted keyframes ({"keyframes": {frame: PNG data URL}}), replacing the ones kept."""
    folder, info = find_video(videos, vid)
    masks = painted((await json_object(request)).get("keyframes") or {}, info)
    if any(not 0 <= t < info["frames"] for t in masks):
        raise VidpriorError(f"a keyframe is outside the video's {info['frames']} frames; reload the page")
    kept = folder / KEYFRAMES
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        for t, mask in masks.items():
            cv2.imwrite(str(Path(tmp) / f"{t:05d}.png"), mask.astype(np.uint8) * 255)
        shutil.rmtree(kept, ignore_errors=True)
        shutil.move(tmp, kept)
    return {"keyframes": sorted(masks)}


@router.post("/{vid}/carried/{index}")
async def carried_mask(vid: str, index: int, request: Request, videos: Videos, dilate: str | None = None):
    """The mask that painted keyframes ({"keyframes": {...}}) carry to frame ``index``, as an overlay PNG."""
    folder, info = find_video(videos, vid)
    keyframes = painted((await json_object(request)).get("keyframes"), info)
    grow = _dilation(dilate)
    if not 0 <= index < info["frames"]:
        raise VidpriorError(f"no frame {index} in this video")
    (mask,) = await run_in_threadpool(lambda: list(carried(folder, info, keyframes, [index])))
    return Response(overlay(mask, grow), media_type="image/png",
                    headers={"Cache-Control": "no-store", "X-Trusted": "yes" if trusted(keyframes, index) else "no"})


def trusted(keyframes: dict[int, np.ndarray], index: int) -> bool:
    """Whether the mask carried to frame ``index`` is close enough to painted frames to start a stroke from: at
    most `TRUST_NEAR` frames from one, or between two at most `TRUST_BETWEEN` frames apart (an empty keyframe
    counts: the object is known to be absent there).

    >>> m = np.ones((2, 2), bool)
    >>> trusted({0: m}, 5), trusted({0: m}, 20), trusted({0: m, 30: m}, 15), trusted({0: m, 60: m}, 30)
    (True, False, True, False)
    """
    order = sorted(keyframes)
    if any(abs(index - k) <= TRUST_NEAR for k in order):
        return True
    before, after = segment(order, index)
    return before is not None and after is not None and after - before <= TRUST_BETWEEN


@router.post("/{vid}/propose/{index}")
async def propose_mask(vid: str, index: int, request: Request, videos: Videos):
    """The object under a click ({"x": ..., "y": ...} in the frame's pixels) on frame ``index``, proposed from its
    motion against the camera's or from its colour (`vidprior.propose`), as an overlay PNG; the header
    ``X-Found-By`` says which."""
    folder, info = find_video(videos, vid)
    spec = await json_object(request)
    if not 0 <= index < info["frames"]:
        raise VidpriorError(f"no frame {index} in this video")
    try:
        point = (float(spec["x"]), float(spec["y"]))
    except (KeyError, TypeError, ValueError):
        raise VidpriorError("give the clicked point as {\"x\": ..., \"y\": ...} in the frame's pixels") from None
    mask, how = await run_in_threadpool(_proposed, folder / info["source"], info["frames"], index, point)
    return Response(overlay(mask), media_type="image/png", headers={"Cache-Control": "no-store", "X-Found-By": how})


def _proposed(source: Path, total: int, index: int, point: tuple[float, float]) -> tuple[np.ndarray, str]:
    """`propose` on frame ``index`` of ``source`` with the frames `PROPOSE_GAPS` before and after it."""
    lo, hi = max(0, index - PROPOSE_GAPS[-1]), min(total - 1, index + PROPOSE_GAPS[-1])
    frames = list(iter_frames(source, lo, hi - lo + 1))
    around = [t for gap in PROPOSE_GAPS for t in (index - gap, index + gap) if lo <= t <= hi]
    return propose(frames[index - lo], [frames[t - lo] for t in around], point)


@router.get("/{vid}/mask/{index}")
def mask_frame(vid: str, index: int, videos: Videos, dilate: str | None = None):
    """Frame ``index`` of the uploaded mask, as an overlay PNG."""
    folder, info = find_video(videos, vid)
    grow, path = _dilation(dilate), uploaded_mask(folder)
    if path is None:
        raise HTTPException(404, "this video has no uploaded mask")
    if not 0 <= index < info["frames"]:
        raise VidpriorError(f"no frame {index} in this video")
    (mask,) = MaskSource(path, info["frames"], (info["height"], info["width"])).iter(index, 1)
    return Response(overlay(mask, grow), media_type="image/png")


@router.delete("/{vid}/mask")
def drop_mask(vid: str, videos: Videos):
    """Forget the uploaded mask (jobs already queued keep their own copy)."""
    folder = find_video(videos, vid)[0]
    for old in folder.glob("mask*"):
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    return {"mask": None}


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
        drop_mask(vid, videos)
        kept = folder / ("mask" + (chosen.suffix if chosen.is_file() else ""))
        shutil.move(chosen, kept)
    resized = "{}x{}".format(*masks.source_size) if masks.resize else None
    return {"mask": kept.name, "coverage": round(coverage, 4), "resized_from": resized}
