"""Jobs of the web app: kept on disk, run one at a time, resumed after a restart.

Each job lives in ``HOME/jobs/ID/`` (see `vidprior.jobs` for run/, status.json, log.txt) with its
record ``job.json``: the `Job`, its state (queued | running | done | failed | cancelled), a message
and timestamps. On start every job found queued or running is queued again; `run_job` then resumes
it from its checkpoints. Stopping the queue (server shutdown) interrupts the running job with a
checkpoint and leaves it queued for the next start.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
import uuid
from pathlib import Path

from .errors import VidpriorError
from .jobs import Job, JobResult, run_job
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
        self.records: dict[str, dict] = {}
        for path in sorted(self.folder.glob(f"*/{RECORD}")):
            try:
                record = json.loads(path.read_text())
            except ValueError:
                continue
            if record["state"] == "running":  # the last server died with it: make sure its process is gone
                _end_process(record.get("pid"))
            if record["state"] in ("queued", "running"):
                record["state"] = "queued"
            self.records[record["id"]] = record
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

    def submit(self, job_id: str, job: Job, extra: dict | None = None) -> dict:
        """Queue ``job`` (its output inside the job folder); ``extra`` is kept in the record for the page."""
        record = {"id": job_id, "job": job.to_dict(), "state": "queued", "message": "", "created": time.time(),
                  "seconds": 0.0, **(extra or {})}
        with self._lock:
            self.records[job_id] = record
            self._save(record)
        self._wake.set()
        return record

    def cancel(self, job_id: str) -> dict:
        with self._lock:
            record = self.record(job_id)
            if record["state"] == "queued":
                record["state"], record["message"] = "cancelled", "cancelled before it started"
                self._save(record)
            elif record["state"] == "running":
                record["cancelling"] = True
                self._cancel[job_id].set()
            else:
                raise Conflict(f"the job is {record['state']}; only queued or running jobs can be cancelled")
        return record

    def again(self, job_id: str) -> dict:
        """Queue a cancelled or failed job again; it resumes from its checkpoints where it has some."""
        with self._lock:
            record = self.record(job_id)
            if record["state"] not in ("cancelled", "failed"):
                raise Conflict(f"the job is {record['state']}; only cancelled or failed jobs run again")
            record["state"], record["message"] = "queued", "queued again"
            self._save(record)
        self._wake.set()
        return record

    def delete(self, job_id: str) -> None:
        """Forget a job that is not running, with its folder (checkpoints, result)."""
        with self._lock:
            if self.record(job_id)["state"] == "running":
                raise Conflict("the job is running; cancel it first")
            del self.records[job_id]
            shutil.rmtree(self.job_folder(job_id), ignore_errors=True)

    def record(self, job_id: str) -> dict:
        if job_id not in self.records:
            raise NoSuchJob(f"no job {job_id}")
        return self.records[job_id]

    def view(self, job_id: str) -> dict:
        """The record with the live progress of a running job ('bars', see `vidprior.progress`)."""
        record = dict(self.record(job_id))
        record["bars"] = read_status(self.job_folder(job_id) / "status.json").get("bars", []) \
            if record["state"] == "running" else []
        return record

    def all(self) -> list[dict]:
        return sorted((self.view(i) for i in list(self.records)), key=lambda r: r["created"], reverse=True)

    def _save(self, record: dict) -> None:
        folder = self.job_folder(record["id"])
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / (RECORD + ".tmp")
        tmp.write_text(json.dumps(record, indent=1))
        os.replace(tmp, folder / RECORD)

    def _next(self) -> dict | None:
        with self._lock:
            queued = [r for r in self.records.values() if r["state"] == "queued"]
            if not queued or self._halt.is_set():
                return None
            record = min(queued, key=lambda r: r["created"])
            record["state"] = "running"
            self._cancel[record["id"]] = threading.Event()
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
                result = run_job(Job(**record["job"]), self.job_folder(record["id"]), threads=self.threads,
                                 stop=self._cancel[record["id"]], on_start=lambda p, r=record: self._started(r, p))
                self._finish(record, result)
            except Exception as exc:  # noqa: BLE001
                self._finish(record, JobResult(record["id"], "failed", message=f"{type(exc).__name__}: {exc}"))

    def _started(self, record: dict, process) -> None:
        with self._lock:
            record["pid"] = process.pid
            self._save(record)

    def _finish(self, record: dict, result: JobResult) -> None:
        frames = None
        if result.state in ("done", "skipped"):
            try:
                frames = probe(Path(record["job"]["output"])).frames
            except VidpriorError as exc:
                result = JobResult(result.name, "failed", result.seconds, f"the result is unreadable: {exc}")
        with self._lock:
            record["seconds"] = record.get("seconds", 0.0) + result.seconds
            record.pop("pid", None)
            cancelled = record.pop("cancelling", False)
            if frames is not None:
                record["result_frames"] = frames  # before the state: a poll that sees 'done' sees the count
                record["state"], record["message"] = "done", result.message.split(": ", 1)[-1]
            elif result.state == "interrupted" and cancelled:
                record["state"], record["message"] = "cancelled", "cancelled; its checkpoint is kept"
            elif result.state == "interrupted" and self._halt.is_set():  # the server stops: resume at next start
                record["state"], record["message"] = "queued", "interrupted by a server stop; resumes at the next"
            else:
                record["state"], record["message"] = "failed", result.message
            self._cancel.pop(record["id"], None)
            self._save(record)
