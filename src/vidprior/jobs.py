"""A job: one vidprior command on one input, run in a process of its own, resumable and cancellable.

`vidprior batch` and the web app (`vidprior serve`) both describe work as `Job`s and run them with
`run_job`, which starts ``python -m vidprior TASK ...`` in the job's folder::

    FOLDER/run/          checkpoints and preview.png of learned methods (--run-dir)
    FOLDER/status.json   progress of the running command (see `vidprior.progress`)
    FOLDER/log.txt       what the command printed

A job whose output exists is finished; a job whose run folder holds checkpoints is resumed with
``--resume`` instead of started again. Stopping a job sends SIGTERM: learned methods write a
checkpoint and exit, so the next `run_job` carries on from there.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from .errors import VidpriorError
from .requests import COMMANDS, Request

STOP_GRACE = 120.0  # seconds a stopped job may take to write its checkpoint before it is killed


@dataclass
class Job:
    """A named `Request`, run as ``python -m vidprior ...`` in a process of its own."""

    name: str
    request: Request

    @property
    def task(self) -> str:
        return self.request.command

    @property
    def method(self) -> str | None:
        return self.request.method

    @property
    def output(self) -> str:
        return str(self.request.output)

    @classmethod
    def from_spec(cls, spec: dict, base: Path, label: str) -> Job:
        """A job from a mapping of a job file: ``task``, ``name`` and the command's options by name
        (relative paths are taken from ``base``); checked like the command line. Its name is ``name``
        or the input's file name without suffix; ``label`` names it in errors till then.
        """
        if not isinstance(spec, dict):
            raise VidpriorError(f"job {label}: expected a mapping of keys (input, output, task, ...), got {spec!r}")
        for key in ("task", "input"):
            if not spec.get(key):
                raise VidpriorError(f"job {label}: '{key}' is missing")
        task = str(spec["task"])
        if task not in COMMANDS:
            raise VidpriorError(f"job {label}: task '{task}' is not one of {', '.join(COMMANDS)}")
        name = str(spec.get("name") or Path(str(spec["input"])).stem)
        if not re.fullmatch(r"\w[\w.-]*", name):
            raise VidpriorError(f"job {label}: name {name!r} may hold only letters, digits, '_', '-' and '.'")
        values = {str(k).replace("-", "_"): v for k, v in spec.items() if k not in ("task", "name")}  # flags' names
        if not values.get("output"):
            values["output"] = Path("results") / f"{name}.{'vpr' if task == 'compress' else 'mp4'}"
        try:
            return cls(name, Request.build(task, values, base=base))
        except VidpriorError as exc:
            raise VidpriorError(f"job {name}: {exc}") from None

    def to_dict(self) -> dict:
        """Plain data for records: the name and the request's fields."""
        return {"name": self.name, **self.request.to_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> Job:
        """A job from `to_dict`'s data, or from a record of the earlier form (task, options, param)."""
        data = dict(data)
        name = data.pop("name")
        if "command" in data:
            return cls(name, Request.from_dict(data))
        values = {"input": data["input"], "output": data["output"], "mask": data.get("mask"),
                  "method": data.get("method"), "param": data.get("param") or None, **data.get("options", {})}
        return cls(name, Request.build(data["task"], values))


class JobState(StrEnum):
    """Where a job stands: a run ends done, skipped, interrupted or failed; the web app's queue
    (`vidprior.workqueue`) keeps its jobs queued, running, done, failed or cancelled.

    A `str`: JSON, the page and comparisons with plain strings see its value.
    """

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass
class JobResult:
    """How a run of a job ended: state is done | skipped | interrupted | failed."""

    name: str
    state: JobState
    seconds: float = 0.0
    message: str = ""
    resumed: bool = False


def has_checkpoints(run_dir: Path) -> bool:
    return run_dir.is_dir() and any(run_dir.rglob("checkpoint.pt"))


def run_job(job: Job, folder: Path, *, threads: int | None = None, stop: threading.Event | None = None,
            device: str | None = None, on_start=None) -> JobResult:
    """Run ``job`` to its end in a child process; ``stop`` set -> SIGTERM, checkpoint, 'interrupted'.

    folder: the job's own folder (run/, status.json, log.txt). threads: torch/OpenMP threads of the
    child (None: its default). on_start(process): called once the child runs (for callers that track it).
    """
    folder = Path(folder).resolve()
    if Path(job.output).exists():
        return JobResult(job.name, JobState.SKIPPED, message=f"{job.output} exists")
    folder.mkdir(parents=True, exist_ok=True)
    Path(job.output).parent.mkdir(parents=True, exist_ok=True)
    run_dir, status = folder / "run", folder / "status.json"
    resumed = has_checkpoints(run_dir)
    request = job.request.but(quiet=True, status=status, run_dir=run_dir, resume=run_dir if resumed else None)
    if device and request.device == "auto":
        request = request.but(device=device)
    words = request.argv()
    env = dict(os.environ)
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    began = time.monotonic()
    with open(folder / "log.txt", "a") as log:
        log.write(f"$ vidprior {' '.join(words)}\n")
        log.flush()
        process = subprocess.Popen([sys.executable, "-m", "vidprior", *words], stdout=log, stderr=subprocess.STDOUT,
                                   env=env, start_new_session=True)
        if on_start:
            on_start(process)
        stopping_since, asked = None, False
        while process.poll() is None:
            try:
                if (asked or (stop is not None and stop.is_set())) and stopping_since is None:
                    process.send_signal(signal.SIGTERM)
                    stopping_since = time.monotonic()
                if stopping_since is not None and time.monotonic() - stopping_since > STOP_GRACE:
                    process.kill()
                time.sleep(0.2)
            except KeyboardInterrupt:  # Ctrl-C here, or a Ray task being cancelled
                asked = True
    seconds = time.monotonic() - began
    last = _last_line(folder / "log.txt")
    if process.returncode == 0 or Path(job.output).exists():  # outputs appear complete or not at all
        return JobResult(job.name, JobState.DONE, seconds, last, resumed)
    if stopping_since is not None:  # only a stop we asked for is an interruption
        return JobResult(job.name, JobState.INTERRUPTED, seconds, "stopped; a new run resumes it", resumed)
    if process.returncode < 0:  # killed from outside: the out-of-memory killer, say
        return JobResult(job.name, JobState.FAILED, seconds, f"killed by {signal.Signals(-process.returncode).name} "
                         "(out of memory?); a new run resumes it", resumed)
    return JobResult(job.name, JobState.FAILED, seconds, last.removeprefix("vidprior: error: "), resumed)


def _last_line(path: Path) -> str:
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""
