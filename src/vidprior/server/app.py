"""The app: the job queue's lifespan, Host and upload-size checks, error replies, the page; serving it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.middleware.trustedhost import TrustedHostMiddleware

from ..errors import VidpriorError
from ..maskprop.adaptation import STEPS as MASK_ADAPT
from ..methods import DEFAULTS, METHODS
from ..workqueue import Conflict, NoSuchJob, WorkQueue
from .common import CHUNK, page_words, too_large
from .jobs import NOT_FROM_THE_PAGE, PAGE_TASKS
from .jobs import router as jobs_router
from .videos import router as videos_router

router = APIRouter()
ICON = (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" '
        b'fill="#1d2330"/><path d="M4 4l4 8 4-8" stroke="#2f6fde" stroke-width="2.2" fill="none"/></svg>')


def create_app(home: Path, max_upload_mb: int = 500, threads: int | None = None, start_queue: bool = True,
               hosts: list[str] | None = None, mask_adapt: int = MASK_ADAPT) -> FastAPI:
    """The FastAPI app serving ``home`` (created if missing); the job queue runs while the app does.

    hosts: the Host names requests may carry (None: any), against DNS-rebinding pages on this machine.
    mask_adapt: steps a job fits the mask carrying to the painted frames first (0: not).
    """
    folder = Path(home) / "videos"
    folder.mkdir(parents=True, exist_ok=True)
    queue = WorkQueue(home, threads=threads)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if start_queue:
            queue.start()
        yield
        queue.stop()

    app = FastAPI(title="vidprior", lifespan=lifespan)
    app.state.queue, app.state.videos, app.state.max_upload_mb = queue, folder, max_upload_mb  # see .common
    app.state.mask_adapt = mask_adapt
    if hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts)
    app.middleware("http")(_size_limit)
    app.add_exception_handler(VidpriorError, _refused)
    for part in (router, videos_router, jobs_router):
        app.include_router(part)
    return app


async def _size_limit(request: Request, call_next):
    """Refuse an upload by its declared size before its body is read (and spooled to disk)."""
    declared, max_mb = request.headers.get("content-length", "0"), request.app.state.max_upload_mb
    if request.method == "POST" and declared.isdigit() and int(declared) > (max_mb + 1) * CHUNK:
        return JSONResponse({"detail": f"the upload is {too_large(max_mb)}"}, status_code=413)
    return await call_next(request)


async def _refused(request: Request, exc: VidpriorError) -> JSONResponse:
    """A refused request: 404 for an unknown job, 409 for one whose state forbids it, else 400."""
    status = 409 if isinstance(exc, Conflict) else 404 if isinstance(exc, NoSuchJob) else 400
    return JSONResponse({"detail": page_words(str(exc))}, status_code=status)


@router.get("/", response_class=HTMLResponse)
def page():
    return (resources.files("vidprior") / "web" / "index.html").read_text()


@router.get("/favicon.ico")
def favicon():
    return Response(ICON, media_type="image/svg+xml")


@router.get("/api/methods")
def methods():
    """Tasks -> methods, defaults, summaries, each method's settings (the budget apart: 'budgets' gives the
    methods that fit for a time, with their default seconds per window and their window's frames)."""
    budgets = {m.name: {"default": s.default, "window": m.window} for m in METHODS.values() for s in m.settings
               if s.name == "budget"}
    return {"tasks": {t: [m.name for m in METHODS.values() if t in m.tasks] for t in PAGE_TASKS},
            "defaults": {t: DEFAULTS.get(t) for t in PAGE_TASKS},
            "summaries": {m.name: page_words(m.summary) for m in METHODS.values()},
            "budgets": budgets,
            "settings": {m.name: [s.describe() for s in m.settings if s.name not in (*NOT_FROM_THE_PAGE, "budget")]
                         for m in METHODS.values()}}


def launch(home: Path, port: int | None = None, timeout: float = 30.0, mask_adapt: int = MASK_ADAPT
           ) -> tuple[subprocess.Popen, str]:
    """Start `vidprior serve` in a child process (a free port when none is given); returns it and its URL."""
    if port is None:
        with socket.socket() as probe_socket:
            probe_socket.bind(("127.0.0.1", 0))
            port = probe_socket.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "vidprior", "serve", "--port", str(port), "--home", str(home),
                                "--mask-adapt", str(mask_adapt)],
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


def serve(home: Path, host: str = "127.0.0.1", port: int = 8000, max_upload_mb: int = 500,
          mask_adapt: int = MASK_ADAPT) -> None:
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
    app = create_app(home, max_upload_mb, hosts=["127.0.0.1", "localhost", "[::1]"] if loopback else None,
                     mask_adapt=mask_adapt)
    print(f"vidprior: serving {Path(home).resolve()} at http://{host}:{port}/ (Ctrl-C stops)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
