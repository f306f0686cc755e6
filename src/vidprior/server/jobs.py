"""/api/jobs: queue a job on an uploaded video (or a quick preview on a few of its frames), watch it, cancel,
run again or forget it, fetch its result."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool

from .. import requests
from ..errors import VidpriorError
from ..jobs import Job, JobState
from ..masks import MaskSource
from ..methods import DEFAULTS
from ..video import probe
from .common import Queue, Videos, frame_png, json_object, page_words
from .videos import carried, find_video, overlay, painted, uploaded_mask

PAGE_TASKS = (*requests.TASKS, "enhance")  # the page offers the restoring tasks (not compress or retarget)
NOT_FROM_THE_PAGE = ("weights",)  # settings naming files on the server
ENHANCE_TASKS = ("denoise", "upscale", "interpolate")  # the methods an enhance job is named by
MASK_DILATE = 2  # pixels the page grows a mask by unless told (as batch)
PREVIEW_FRAMES = 8  # a quick preview runs on this many frames around the one shown

router = APIRouter(prefix="/api/jobs")


@router.post("")
async def create_job(request: Request, queue: Queue, videos: Videos):
    """Queue what the page asks: {video, task, method, budget, factor, sigma, param, dilate, shadow (grow the mask
    into the object's shadow), keyframes | the uploaded mask, preview: frame (run on a few frames around it)}."""
    spec = await json_object(request)
    folder, info = find_video(videos, str(spec.get("video", "")))
    job_id = queue.new_id()
    job_dir = queue.job_folder(job_id)
    try:
        job = await run_in_threadpool(_job_from_request, spec, folder, info, job_id, job_dir,  # writes masks
                                      request.app.state.mask_adapt)
    except VidpriorError:
        shutil.rmtree(job_dir, ignore_errors=True)
        raise
    label = None
    if job.request.frames is not None:
        label = f"preview of frames {job.request.start}-{job.request.start + job.request.frames - 1}"
    method = job.method or DEFAULTS.get(job.task) or "+".join(DEFAULTS[t] for t in ENHANCE_TASKS)
    return queue.submit(job_id, job, video=info["id"], video_name=info["name"], task=job.task, method=method,
                        label=label).to_dict()


def _in_page_words(view: dict) -> dict:
    """A job's view with its message (a failed run's error) in the page's words."""
    return {**view, "message": page_words(view["message"])} if view.get("message") else view


@router.get("")
def list_jobs(queue: Queue):
    return [_in_page_words(view) for view in queue.all()]


@router.get("/{job_id}")
def job_view(job_id: str, queue: Queue):
    return _in_page_words(queue.view(job_id))


@router.post("/{job_id}/cancel")
def cancel_job(job_id: str, queue: Queue):
    return queue.cancel(job_id).to_dict()


@router.post("/{job_id}/again")
def run_again(job_id: str, queue: Queue):
    return queue.again(job_id).to_dict()


@router.delete("/{job_id}")
def delete_job(job_id: str, queue: Queue):
    queue.delete(job_id)
    return {"deleted": job_id}


@router.get("/{job_id}/preview")
def job_preview(job_id: str, queue: Queue):
    """The fit's latest preview image (a job's view says ``preview: true`` once there is one)."""
    queue.record(job_id)
    latest = queue.preview(job_id)
    if latest is None:
        raise HTTPException(404, "no preview yet (classical methods write none)")
    return FileResponse(latest, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.get("/{job_id}/result")
def job_result(job_id: str, queue: Queue):
    record = queue.record(job_id)
    if record.state != JobState.DONE:
        raise HTTPException(409, f"job {job_id} is {record.state}; the result comes when it is done")
    name = f"{Path(record.video_name or 'video').stem}-{record.task}-{record.method}.mp4"
    return FileResponse(record.output, media_type="video/mp4", filename=name)


@router.get("/{job_id}/frames/{index}")
def job_frame(job_id: str, index: int, queue: Queue):
    record = queue.record(job_id)
    if record.state != JobState.DONE:
        raise HTTPException(409, f"job {job_id} is {record.state}")
    return Response(frame_png(str(record.output), index), media_type="image/png")


@router.get("/{job_id}/mask/{index}")
def job_mask(job_id: str, index: int, queue: Queue):
    """Where an inpainting job's frame ``index`` was filled: its mask, and the ring its dilation added, as an
    overlay PNG (the result view draws it over the input)."""
    request = queue.record(job_id).to_job().request
    if request.mask is None:
        raise HTTPException(404, f"job {job_id} has no mask ({request.command})")
    info = probe(request.input)
    if not 0 <= index < info.frames:
        raise VidpriorError(f"no frame {index} in this video")
    (mask,) = MaskSource(request.mask, info.frames, (info.height, info.width)).iter(index, 1)
    return Response(overlay(mask, request.mask_dilate), media_type="image/png")


def _job_from_request(spec: dict, video: Path, info: dict, job_id: str, job_dir: Path, mask_adapt: int = 0
                      ) -> Job:
    """The `Job` a page request asks for, its files (mask) in ``job_dir``, checked like the command line."""
    task, method = spec.get("task", "inpaint"), spec.get("method") or None
    if task not in PAGE_TASKS:
        raise VidpriorError(f"task '{task}' is not one of {', '.join(PAGE_TASKS)}")
    if method is not None and not isinstance(method, str):
        raise VidpriorError("method must be a method's name; `vidprior methods` lists them")
    param = spec.get("param") or {}
    if isinstance(param, dict) and set(param) & set(NOT_FROM_THE_PAGE):
        raise VidpriorError(f"{', '.join(sorted(set(param) & set(NOT_FROM_THE_PAGE)))}: not settable from the page")
    values = {"input": video / info["source"], "output": job_dir / "result.mp4", "method": method,
              "budget": spec.get("budget"), "compare": job_dir / "compare.mp4", "param": param or None}
    if task == "enhance":  # each task's default method; no side-by-side video
        values = {k: v for k, v in values.items() if k not in ("method", "compare", "param")}
    span = range(info["frames"])
    if spec.get("preview") is not None:
        around = _number(spec, "preview", int)
        if not 0 <= around < info["frames"]:
            raise VidpriorError(f"preview: no frame {around} in this video")
        count = min(PREVIEW_FRAMES, info["frames"])
        start = min(max(0, around - count // 2), info["frames"] - count)
        values.update(start=start, frames=count)
        span = range(start, start + count)
    if task in ("interpolate", "upscale"):
        factor = _number(spec, "factor", int)
        values["factor" if task == "interpolate" else "scale"] = 2 if factor is None else factor
    if task == "enhance":
        values["scale"], values["factor"] = _number(spec, "scale", int), _number(spec, "factor", int)
    if task in ("denoise", "upscale", "enhance"):
        values["sigma"] = None if spec.get("sigma") == "auto" else _number(spec, "sigma", float)
    if task == "inpaint":
        dilation = _number(spec, "dilate", int)
        values["mask_dilate"] = MASK_DILATE if dilation is None else dilation
        values["mask_shadow"] = spec.get("shadow") is True
        requests.Request.build(task, {**values, "mask": job_dir / "mask"})  # refuse bad settings before carrying
    job_dir.mkdir(parents=True)
    if task == "inpaint":
        values["mask"] = _job_mask(spec, video, info, job_dir, span, mask_adapt)
    return Job(job_id, requests.Request.build(task, values))


def _number(spec: dict, key: str, kind: type) -> int | float | None:
    """A number field of a job request (None when left empty)."""
    value = spec.get(key)
    if value in (None, ""):
        return None
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise VidpriorError(f"{key} {value!r} is not {'a whole number' if kind is int else 'a number'}") from None


def _job_mask(spec: dict, video: Path, info: dict, job_dir: Path, span: range, mask_adapt: int = 0) -> str:
    """The inpainting mask of a new job, in the job's folder: the painted keyframes carried to every frame by the
    mask-propagation network fitted to them for ``mask_adapt`` steps (PNG frames; a preview's, outside its
    ``span``, empty), or a copy of the video's uploaded mask (a later upload must not change a queued job)."""
    keyframes = spec.get("keyframes") or {}
    if not isinstance(keyframes, dict):
        raise VidpriorError("keyframes must map frame numbers to PNG data URLs")
    if not keyframes:
        uploaded = uploaded_mask(video)
        if uploaded is None:
            raise VidpriorError("no mask: paint the region to fill on a frame, or upload a mask")
        kept = job_dir / uploaded.name
        (shutil.copytree if uploaded.is_dir() else shutil.copyfile)(uploaded, kept)
        return str(kept)
    folder = job_dir / "mask"
    folder.mkdir()
    for t, mask in enumerate(carried(video, info, painted(keyframes, info), adapt=mask_adapt)):
        if t not in span:
            mask = np.zeros_like(mask)
        if mask.all():
            raise VidpriorError(f"the mask of frame {t} covers the whole frame; leave something to fill it from")
        cv2.imwrite(str(folder / f"{t:05d}.png"), mask.astype(np.uint8) * 255)
    return str(folder)
