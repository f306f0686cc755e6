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
import threading
import time
import uuid
from pathlib import Path

from .jobs import Job, JobResult, run_job
from .progress import read_status
from .video import probe

RECORD = "job.json"


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
            if record["state"] in ("queued", "running"):
                record["state"] = "queued"
            self.records[record["id"]] = record
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._work, name="vidprior-queue", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 150.0) -> None:
        """Interrupt the running job (it checkpoints and stays queued) and end the worker."""
        self._halt.set()
        self._wake.set()
        for event in self._cancel.values():
            event.set()
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
            record = self.records[job_id]
            if record["state"] == "queued":
                record["state"], record["message"] = "cancelled", "cancelled before it started"
                self._save(record)
            elif record["state"] == "running":
                record["cancelling"] = True
                self._cancel[job_id].set()
        return record

    def view(self, job_id: str) -> dict:
        """The record with the live progress of a running job ('bars', see `vidprior.progress`)."""
        record = dict(self.records[job_id])
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
            if not queued:
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
            job = Job(**record["job"])
            try:
                result = run_job(job, self.job_folder(record["id"]), threads=self.threads,
                                 stop=self._cancel[record["id"]])
            except Exception as exc:  # noqa: BLE001 - a job must never take the queue down with it
                result = JobResult(job.name, "failed", message=f"{type(exc).__name__}: {exc}")
            self._finish(record, result)

    def _finish(self, record: dict, result: JobResult) -> None:
        with self._lock:
            record["seconds"] = record.get("seconds", 0.0) + result.seconds
            if result.state in ("done", "skipped"):
                record["state"], record["message"] = "done", result.message.removeprefix(record["job"]["output"] + ": ")
                record["result_frames"] = probe(Path(record["job"]["output"])).frames
            elif result.state == "interrupted" and record.pop("cancelling", False):
                record["state"], record["message"] = "cancelled", "cancelled; its checkpoint is kept"
            elif result.state == "interrupted":  # the server is stopping: carry on at the next start
                record["state"], record["message"] = "queued", "interrupted by a server stop; resumes at the next"
            else:
                record["state"], record["message"] = "failed", result.message
            self._cancel.pop(record["id"], None)
            self._save(record)
