"""`vidprior serve`: the web app. Upload or pick the demo, paint a mask, run, watch, compare, download.

A FastAPI app over a home folder kept across restarts::

    HOME/videos/ID/   the upload (source.EXT), info.json, an uploaded mask (mask/ or mask.EXT)
    HOME/jobs/ID/     one job (see `vidprior.workqueue`): job.json, mask/, run/, result.mp4

The page (``web/index.html``, no external resources) talks to this JSON API:

    GET  /api/methods                     tasks -> methods, defaults
    POST /api/videos                      upload a video (multipart 'file')
    POST /api/videos/demo                 the built-in demo clip
    GET  /api/videos/{vid}/frames/{i}     frame i as PNG
    POST /api/videos/{vid}/mask           upload masks: a mask video, one image or several images (a folder)
    POST /api/videos/{vid}/carried/{i}    the mask painted keyframes give frame i (shown while scrubbing)
    POST /api/jobs                        {video, task, method, budget, factor, sigma, keyframes | uploaded_mask}
    GET  /api/jobs, /api/jobs/{id}        records with live progress
    GET  /api/jobs/{id}/preview           the fit's latest preview image
    GET  /api/jobs/{id}/frames/{i}        result frame i as PNG (the before/after slider)
    GET  /api/jobs/{id}/result            download the result
    POST /api/jobs/{id}/cancel, /again    stop it (checkpoint kept); queue a cancelled/failed one again
    DELETE /api/jobs/{id}                 forget a job that is not running, with its files

Bad requests get HTTP 400 (413 for too large uploads) with a one-line ``detail`` the page shows.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import asynccontextmanager
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated

import cv2
import numpy as np
from fastapi import FastAPI, File, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.middleware.trustedhost import TrustedHostMiddleware

from .errors import VidpriorError
from .jobs import Job
from .masks import MaskSource, binarize, keyframe_masks
from .methods import DEFAULTS, METHODS
from .video import IMAGE_SUFFIXES, check_frame_size, iter_frames, probe
from .workqueue import Conflict, NoSuchJob, WorkQueue

PAGE_TASKS = ("inpaint", "denoise", "interpolate", "upscale")  # the page offers these (not compress)
VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".webm")
CHUNK = 1 << 20


def create_app(home: Path, max_upload_mb: int = 500, threads: int | None = None, start_queue: bool = True,
               hosts: list[str] | None = None):
    """The FastAPI app serving ``home`` (created if missing); the job queue runs while the app does.

    hosts: the Host names requests may carry (None: any), against DNS-rebinding pages on this machine.
    """
    home = Path(home)
    videos = home / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    queue = WorkQueue(home, threads=threads)
    limit = max_upload_mb * CHUNK

    @asynccontextmanager
    async def lifespan(app):
        if start_queue:
            queue.start()
        yield
        queue.stop()

    app = FastAPI(title="vidprior", lifespan=lifespan)
    app.state.queue = queue
    if hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts)

    @app.middleware("http")
    async def size_limit(request: Request, call_next):
        """Refuse an upload by its declared size before its body is read (and spooled to disk)."""
        declared = request.headers.get("content-length", "0")
        if request.method == "POST" and declared.isdigit() and int(declared) > limit + CHUNK:
            return JSONResponse({"detail": f"the upload is larger than the {max_upload_mb} MB limit "
                                           "(vidprior serve --max-upload MB raises it)"}, status_code=413)
        return await call_next(request)

    @app.exception_handler(VidpriorError)
    async def refused(request: Request, exc: VidpriorError):
        status = 409 if isinstance(exc, Conflict) else 404 if isinstance(exc, NoSuchJob) else 400
        return JSONResponse({"detail": str(exc)}, status_code=status)

    def video(vid: str) -> tuple[Path, dict]:
        """The folder and the record (info.json) of an uploaded video; 404 when there is none."""
        folder = videos / vid
        if not vid.isalnum() or not (folder / "info.json").is_file():
            raise HTTPException(404, f"no video {vid}")
        return folder, json.loads((folder / "info.json").read_text())

    def receive(upload: UploadFile, target: Path) -> Path:
        """Store an upload under ``target`` (its own suffix kept), refusing it past the size limit."""
        size = 0
        with open(target, "wb") as out:
            while chunk := upload.file.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    out.close()
                    target.unlink()
                    raise HTTPException(413, f"{upload.filename}: larger than the {max_upload_mb} MB limit "
                                             "(vidprior serve --max-upload MB raises it)")
                out.write(chunk)
        return target

    def register(folder: Path, source: Path, name: str) -> dict:
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

    @app.get("/", response_class=HTMLResponse)
    def page():
        return (resources.files("vidprior") / "web" / "index.html").read_text()

    @app.get("/api/methods")
    def methods():
        return {"tasks": {t: [m.name for m in METHODS.values() if t in m.tasks] for t in PAGE_TASKS},
                "defaults": {t: DEFAULTS[t] for t in PAGE_TASKS},
                "summaries": {m.name: m.summary for m in METHODS.values()}}

    @app.post("/api/videos")
    def upload_video(file: Annotated[UploadFile, File()]):  # plain def: FastAPI runs it off the event loop
        suffix = Path(file.filename or "").suffix.lower()
        if suffix not in VIDEO_SUFFIXES:
            raise VidpriorError(f"{file.filename}: not a video file; upload {', '.join(VIDEO_SUFFIXES)}")
        folder = videos / queue.new_id()
        folder.mkdir()
        try:
            source = receive(file, folder / f"source{suffix}")
        except HTTPException:
            shutil.rmtree(folder)
            raise
        return register(folder, source, file.filename)

    @app.post("/api/videos/demo")
    def demo_video():
        from .demo import demo_clip

        folder = videos / queue.new_id()
        folder.mkdir()
        source = folder / "source.mp4"
        shutil.copyfile(demo_clip(), source)
        return register(folder, source, "demo.mp4")

    @app.get("/api/videos/{vid}")
    def video_info(vid: str):
        return video(vid)[1]

    @app.get("/api/videos/{vid}/frames/{index}")
    def video_frame(vid: str, index: int):
        folder, info = video(vid)
        return Response(_frame_png(str(folder / info["source"]), index), media_type="image/png")

    @app.post("/api/videos/{vid}/carried/{index}")
    async def carried_mask(vid: str, index: int, request: Request):
        """The mask that painted keyframes ({"keyframes": {...}}) give frame ``index``, as an RGBA PNG."""
        info = video(vid)[1]
        keyframes = _painted((await _json_object(request)).get("keyframes"), info)
        if not 0 <= index < info["frames"]:
            raise VidpriorError(f"no frame {index} in this video")
        (mask,) = await run_in_threadpool(lambda: list(keyframe_masks(keyframes, info["frames"], [index])))
        rgba = np.zeros((*mask.shape, 4), np.uint8)
        rgba[mask] = (40, 40, 255, 255)  # BGRA: the page's brush red
        return Response(cv2.imencode(".png", rgba)[1].tobytes(), media_type="image/png")

    @app.post("/api/videos/{vid}/mask")
    def upload_mask(vid: str, files: Annotated[list[UploadFile], File()]):
        folder, info = video(vid)
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            tmp = Path(tmp)
            for upload in files:
                suffix = Path(upload.filename or "").suffix.lower()
                if suffix not in (*IMAGE_SUFFIXES, *VIDEO_SUFFIXES):
                    raise VidpriorError(f"{upload.filename}: not an image or video; masks are images or a video")
                receive(upload, tmp / (re.sub(r"[^\w.-]", "_", Path(upload.filename).name).lstrip(".")
                                       or f"mask{suffix}"))
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

    @app.post("/api/jobs")
    async def create_job(request: Request):
        spec = await _json_object(request)
        folder, info = video(str(spec.get("video", "")))
        job_id = queue.new_id()
        job_dir = queue.job_folder(job_id)
        try:
            job = await run_in_threadpool(_job_from_request, spec, folder, info, job_id, job_dir)  # writes masks
        except VidpriorError:
            shutil.rmtree(job_dir, ignore_errors=True)
            raise
        return queue.submit(job_id, job, {"video": info["id"], "video_name": info["name"], "task": job.task,
                                          "method": job.method or DEFAULTS[job.task]})

    @app.get("/api/jobs")
    def list_jobs():
        return queue.all()

    @app.get("/api/jobs/{job_id}")
    def job_view(job_id: str):
        return queue.view(job_id)

    @app.post("/api/jobs/{job_id}/cancel")
    def cancel_job(job_id: str):
        return queue.cancel(job_id)

    @app.post("/api/jobs/{job_id}/again")
    def run_again(job_id: str):
        return queue.again(job_id)

    @app.delete("/api/jobs/{job_id}")
    def delete_job(job_id: str):
        queue.delete(job_id)
        return {"deleted": job_id}

    @app.get("/api/jobs/{job_id}/preview")
    def job_preview(job_id: str):
        queue.record(job_id)
        previews = sorted(queue.job_folder(job_id).glob("run/**/preview.png"), key=lambda p: p.stat().st_mtime)
        if not previews:
            raise HTTPException(404, "no preview yet (classical methods write none)")
        return FileResponse(previews[-1], media_type="image/png", headers={"Cache-Control": "no-store"})

    @app.get("/api/jobs/{job_id}/result")
    def job_result(job_id: str):
        record = queue.record(job_id)
        if record["state"] != "done":
            raise HTTPException(409, f"job {job_id} is {record['state']}; the result comes when it is done")
        name = f"{Path(record.get('video_name', 'video')).stem}-{record['task']}-{record['method']}.mp4"
        return FileResponse(record["job"]["output"], media_type="video/mp4", filename=name)

    @app.get("/api/jobs/{job_id}/frames/{index}")
    def job_frame(job_id: str, index: int):
        record = queue.record(job_id)
        if record["state"] != "done":
            raise HTTPException(409, f"job {job_id} is {record['state']}")
        return Response(_frame_png(record["job"]["output"], index), media_type="image/png")

    return app


async def _json_object(request: Request) -> dict:
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


def _job_from_request(spec: dict, video: Path, info: dict, job_id: str, job_dir: Path) -> Job:
    """The `Job` a page request asks for, its files (mask) in ``job_dir``, checked like the command line."""
    task, method = spec.get("task", "inpaint"), spec.get("method") or None
    if task not in PAGE_TASKS:
        raise VidpriorError(f"task '{task}' is not one of {', '.join(PAGE_TASKS)}")
    if method is not None and not isinstance(method, str):
        raise VidpriorError("method must be a method's name; `vidprior methods` lists them")
    budget = spec.get("budget") or None
    options = {"budget": str(budget) if budget else None, "compare": str(job_dir / "compare.mp4")}
    if task in ("interpolate", "upscale"):
        factor = _number(spec, "factor", int)
        options["factor" if task == "interpolate" else "scale"] = 2 if factor is None else factor
    if task in ("denoise", "upscale"):
        options["sigma"] = _number(spec, "sigma", float)
    job_dir.mkdir(parents=True)
    job = Job(name=job_id, task=task, input=str(video / info["source"]), output=str(job_dir / "result.mp4"),
              mask=_job_mask(spec, video, info, job_dir) if task == "inpaint" else None, method=method,
              options={k: v for k, v in options.items() if v is not None})
    try:
        job.check()
    except VidpriorError as exc:
        raise VidpriorError(str(exc).removeprefix(f"job {job_id}: ")) from None
    return job


def _painted(keyframes: dict, info: dict) -> dict[int, np.ndarray]:
    """The page's painted keyframes {frame: PNG data URL} -> {frame: (H, W) bool}, checked against the video."""
    if not isinstance(keyframes, dict):
        raise VidpriorError("keyframes must map frame numbers to PNG data URLs")
    painted = {}
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
        painted[int(key)] = image[..., 3] > 0 if image.ndim == 3 and image.shape[2] == 4 else binarize(image)
    return painted


def _number(spec: dict, key: str, kind: type) -> int | float | None:
    """A number field of a job request (None when left empty)."""
    value = spec.get(key)
    if value in (None, ""):
        return None
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise VidpriorError(f"{key} {value!r} is not {'a whole number' if kind is int else 'a number'}") from None


def _job_mask(spec: dict, video: Path, info: dict, job_dir: Path) -> str:
    """The inpainting mask of a new job, in the job's folder: painted keyframes -> PNG frames, or a copy
    of the video's uploaded mask (a later upload must not change a queued job)."""
    keyframes = spec.get("keyframes") or {}
    if not isinstance(keyframes, dict):
        raise VidpriorError("keyframes must map frame numbers to PNG data URLs")
    if not keyframes:
        uploaded = sorted(video.glob("mask*"))
        if not uploaded:
            raise VidpriorError("no mask: paint the region to fill on a frame, or upload a mask")
        kept = job_dir / uploaded[0].name
        (shutil.copytree if uploaded[0].is_dir() else shutil.copyfile)(uploaded[0], kept)
        return str(kept)
    folder = job_dir / "mask"
    folder.mkdir()
    for t, mask in enumerate(keyframe_masks(_painted(keyframes, info), info["frames"])):
        if mask.all():
            raise VidpriorError(f"the mask of frame {t} covers the whole frame; leave something to fill it from")
        cv2.imwrite(str(folder / f"{t:05d}.png"), mask.astype(np.uint8) * 255)
    return str(folder)


@lru_cache(maxsize=256)
def _frame_png(path: str, index: int) -> bytes:
    """Frame ``index`` of the video at ``path``, PNG-encoded (cached: the page scrubs back and forth)."""
    try:
        frame = next(iter_frames(Path(path), index, 1))
    except (StopIteration, VidpriorError):
        raise VidpriorError(f"no frame {index} in this video") from None
    return cv2.imencode(".png", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))[1].tobytes()


def launch(home: Path, port: int | None = None, timeout: float = 30.0) -> tuple[subprocess.Popen, str]:
    """Start `vidprior serve` in a child process (a free port when none is given); returns it and its URL."""
    if port is None:
        with socket.socket() as probe_socket:
            probe_socket.bind(("127.0.0.1", 0))
            port = probe_socket.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "vidprior", "serve", "--port", str(port), "--home", str(home)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url + "api/methods", timeout=1)
            return process, url
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise VidpriorError(f"the server did not start: {process.stdout.read().decode()[-500:]}") from None
            time.sleep(0.2)


def serve(home: Path, host: str = "127.0.0.1", port: int = 8000, max_upload_mb: int = 500) -> None:
    """Run the web app until Ctrl-C (the running job checkpoints and resumes at the next start)."""
    import uvicorn

    if max_upload_mb < 1:
        raise VidpriorError(f"--max-upload {max_upload_mb} must be at least 1 (MB)")
    if not 0 < port < 65536:
        raise VidpriorError(f"--port {port} is not a port number (1-65535)")
    with socket.socket() as trial:
        try:
            trial.bind((host, port))
        except OSError as exc:
            raise VidpriorError(f"cannot listen on {host}:{port} ({exc.strerror}); "
                                "choose another port with --port or another address with --host") from None
    loopback = host in ("127.0.0.1", "localhost", "::1")
    app = create_app(home, max_upload_mb, hosts=["127.0.0.1", "localhost", "[::1]"] if loopback else None)
    print(f"vidprior: serving {Path(home).resolve()} at http://{host}:{port}/ (Ctrl-C stops)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
