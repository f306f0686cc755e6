"""Jobs of the web app: kept on disk, run one at a time, resumed after a restart.

Each job lives in ``HOME/jobs/ID/`` (see `vidprior.jobs` for run/, status.json, log.txt) with its
record ``job.json`` (a `JobRecord`): the `Job`, its state (queued | running | done | failed |
cancelled), a message and timestamps. On start every job found queued or running is queued again;
`run_job` then resumes it from its checkpoints. Stopping the queue (server shutdown) interrupts the
running job with a checkpoint and leaves it queued for the next start.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from .errors import VidpriorError
from .files import atomic_write
from .jobs import Job, JobResult, JobState, has_checkpoints, run_job
from .progress import read_status
from .video import probe

RECORD = "job.json"


class Conflict(VidpriorError):
    """A request that the job's state forbids (HTTP 409)."""


class NoSuchJob(VidpriorError):
    """A job id the queue does not know (HTTP 404)."""


def _end_process(pid: int | None, wait: float = 150.0) -> None:
    """Stop a job process left by a server that died (checked to be ours: PIDs are reused)."""
    try:
        if not pid or b"vidprior" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return
        os.kill(pid, signal.SIGTERM)  # it checkpoints and exits
        deadline = time.monotonic() + wait
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)
    except (OSError, ValueError):
        pass


@dataclass
class JobRecord:
    """A job of the queue, as ``job.json`` keeps it and the page reads it.

    job: the `Job` as `Job.to_dict` gives it (`to_job` rebuilds it); pid: its process while it runs;
    started: when it last began to run; result_frames: the result's frame count once done;
    video, video_name, task, method, label (e.g. a preview's frames): what the page shows.
    """

    id: str
    job: dict
    state: JobState = JobState.QUEUED
    message: str = ""
    created: float = field(default_factory=time.time)
    seconds: float = 0.0
    video: str | None = None
    video_name: str | None = None
    task: str | None = None
    method: str | None = None
    pid: int | None = None
    result_frames: int | None = None
    cancelling: bool = False
    started: float | None = None
    label: str | None = None

    @classmethod
    def from_dict(cls, data: dict) -> JobRecord:
        """A record from its ``job.json`` (of any version: missing fields take their defaults)."""
        names = {f.name for f in fields(cls)}
        record = cls(**{k: v for k, v in data.items() if k in names})
        record.state = JobState(record.state)
        return record

    def to_dict(self) -> dict:
        """The ``job.json`` form, also the API's: fields not set (None, not cancelling) are left out."""
        return {k: v for k, v in asdict(self).items() if v is not None and v is not False}

    def to_job(self) -> Job:
        """The job to run (the one place a record's `Job` is rebuilt)."""
        return Job.from_dict(self.job)

    @property
    def output(self) -> Path:
        return Path(self.job["output"])


class WorkQueue:
    """Persisted jobs under ``home``; a worker thread runs the queued ones in order of creation."""

    def __init__(self, home: Path, threads: int | None = None) -> None:
        self.folder = Path(home) / "jobs"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.threads = threads
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._halt = threading.Event()
        self._cancel: dict[str, threading.Event] = {}
        self._records: dict[str, JobRecord] = {}
        for path in sorted(self.folder.glob(f"*/{RECORD}")):
            try:
                record = JobRecord.from_dict(json.loads(path.read_text()))
            except ValueError:
                continue
            if record.state == JobState.RUNNING:  # the last server died with it: make sure its process is gone
                _end_process(record.pid)
            if record.state in (JobState.QUEUED, JobState.RUNNING):
                record.state = JobState.QUEUED
            self._records[record.id] = record
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._work, name="vidprior-queue", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 150.0) -> None:
        """Interrupt the running job (it checkpoints and stays queued) and end the worker."""
        with self._lock:
            self._halt.set()
            for event in self._cancel.values():
                event.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def new_id(self) -> str:
        return uuid.uuid4().hex[:10]

    def job_folder(self, job_id: str) -> Path:
        return self.folder / job_id

    def submit(self, job_id: str, job: Job, **page: str) -> JobRecord:
        """Queue ``job`` (its output inside the job folder); ``page``: the record's video, video_name, task, method."""
        record = JobRecord(job_id, job.to_dict(), **page)
        with self._lock:
            self._records[job_id] = record
            self._save(record)
        self._wake.set()
        return record

    def cancel(self, job_id: str) -> JobRecord:
        with self._lock:
            record = self.record(job_id)
            if record.state == JobState.QUEUED:
                record.state, record.message = JobState.CANCELLED, "cancelled before it started"
                self._save(record)
            elif record.state == JobState.RUNNING:
                record.cancelling = True
                self._cancel[job_id].set()
            else:
                raise Conflict(f"the job is {record.state}; only queued or running jobs can be cancelled")
        return record

    def again(self, job_id: str) -> JobRecord:
        """Queue a finished job again: a cancelled or failed one resumes from its checkpoints where it has
        some, a done one starts afresh (its result and checkpoints are removed)."""
        with self._lock:
            record = self.record(job_id)
            if record.state in (JobState.QUEUED, JobState.RUNNING):
                raise Conflict(f"the job is {record.state}; it runs once it is done, failed or cancelled")
            if record.state == JobState.DONE:
                request, folder = record.to_job().request, self.job_folder(job_id)
                for path in (request.output, request.compare, folder / "status.json", folder / "run"):
                    if path is not None and path.is_dir():
                        shutil.rmtree(path)
                    elif path is not None:
                        path.unlink(missing_ok=True)
                record.result_frames = None
            record.state, record.message = JobState.QUEUED, "queued again"
            self._save(record)
        self._wake.set()
        return record

    def delete(self, job_id: str) -> None:
        """Forget a job that is not running, with its folder (checkpoints, result)."""
        with self._lock:
            if self.record(job_id).state == JobState.RUNNING:
                raise Conflict("the job is running; cancel it first")
            del self._records[job_id]
            shutil.rmtree(self.job_folder(job_id), ignore_errors=True)

    def record(self, job_id: str) -> JobRecord:
        if job_id not in self._records:
            raise NoSuchJob(f"no job {job_id}")
        return self._records[job_id]

    @property
    def records(self) -> dict[str, dict]:
        """Every job's record by id, as ``job.json`` holds it."""
        return {r.id: r.to_dict() for r in list(self._records.values())}

    def preview(self, job_id: str) -> Path | None:
        """The latest preview image a running fit wrote (learned methods), if any."""
        found = sorted(self.job_folder(job_id).glob("run/**/preview.png"), key=lambda p: p.stat().st_mtime)
        return found[-1] if found else None

    def view(self, job_id: str) -> dict:
        """The record with the live progress of a running job: its 'bars' (see `vidprior.progress`), the
        seconds it has run ('elapsed') and whether it has a preview image."""
        record = self.record(job_id)
        if record.state != JobState.RUNNING:
            return {**record.to_dict(), "bars": []}
        bars = read_status(self.job_folder(job_id) / "status.json").get("bars", [])
        elapsed = record.seconds + (time.time() - record.started if record.started else 0.0)
        return {**record.to_dict(), "bars": bars, "elapsed": round(elapsed, 1),
                "preview": self.preview(job_id) is not None}

    def all(self) -> list[dict]:
        return sorted((self.view(i) for i in list(self._records)), key=lambda r: r["created"], reverse=True)

    def _save(self, record: JobRecord) -> None:
        folder = self.job_folder(record.id)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_write(folder / RECORD) as tmp:
            tmp.write_text(json.dumps(record.to_dict(), indent=1))

    def _next(self) -> JobRecord | None:
        with self._lock:
            queued = [r for r in self._records.values() if r.state == JobState.QUEUED]
            if not queued or self._halt.is_set():
                return None
            record = min(queued, key=lambda r: r.created)
            record.state, record.message, record.started = JobState.RUNNING, "", time.time()
            self._cancel[record.id] = threading.Event()
            self._save(record)
            return record

    def _work(self) -> None:
        while not self._halt.is_set():
            record = self._next()
            if record is None:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            try:  # a job must never take the queue down with it
                result = run_job(record.to_job(), self.job_folder(record.id), threads=self.threads,
                                 stop=self._cancel[record.id], on_start=lambda p, r=record: self._started(r, p))
                self._finish(record, result)
            except Exception as exc:  # noqa: BLE001
                self._finish(record, JobResult(record.id, JobState.FAILED, message=f"{type(exc).__name__}: {exc}"))

    def _started(self, record: JobRecord, process) -> None:
        with self._lock:
            record.pid = process.pid
            self._save(record)

    def _finish(self, record: JobRecord, result: JobResult) -> None:
        frames = None
        if result.state in (JobState.DONE, JobState.SKIPPED):
            try:
                frames = probe(record.output).frames
            except VidpriorError as exc:
                result = JobResult(result.name, JobState.FAILED, result.seconds, f"the result is unreadable: {exc}")
        with self._lock:
            record.seconds += result.seconds
            cancelled, record.pid, record.cancelling = record.cancelling, None, False
            if frames is not None:
                record.result_frames = frames  # before the state: a poll that sees 'done' sees the count
                record.state, record.message = JobState.DONE, result.message.split(": ", 1)[-1]
            elif result.state == JobState.INTERRUPTED and cancelled:
                kept = has_checkpoints(self.job_folder(record.id) / "run")
                record.state = JobState.CANCELLED
                record.message = "cancelled; Run again resumes from its checkpoint" if kept else "cancelled"
            elif result.state == JobState.INTERRUPTED and self._halt.is_set():  # the server stops: resume at next start
                record.state, record.message = JobState.QUEUED, "interrupted by a server stop; resumes at the next"
            else:
                record.state, record.message = JobState.FAILED, result.message
            self._cancel.pop(record.id, None)
            self._save(record)
