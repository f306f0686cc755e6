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

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import VidpriorError

TASKS = ("inpaint", "denoise", "interpolate", "upscale", "compress", "retarget")
SPEC_KEYS = ("name", "task", "input", "output", "mask", "method", "param")
STOP_GRACE = 120.0  # seconds a stopped job may take to write its checkpoint before it is killed


class _Refusing(argparse.ArgumentParser):
    """An argument parser that raises instead of printing usage and exiting."""

    def error(self, message: str):
        raise VidpriorError(message)


@dataclass
class Job:
    """One command: ``task`` on ``input`` into ``output`` (paths absolute or relative to the cwd).

    options: the command's other flags by name, e.g. {"budget": "30s", "factor": 2, "mask_dilate": 4};
    param: method settings (--param key=value).
    """

    name: str
    task: str
    input: str
    output: str
    mask: str | None = None
    method: str | None = None
    options: dict = field(default_factory=dict)
    param: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, spec: dict, base: Path, label: str) -> Job:
        """A job from a dict of the job file (relative paths are taken from ``base``); checked like the CLI.

        Its name is ``name`` or the input's file name without suffix; ``label`` names it in errors till then.
        """
        if not isinstance(spec, dict):
            raise VidpriorError(f"job {label}: expected a mapping of keys (input, output, task, ...), got {spec!r}")
        for key in ("task", "input"):
            if not spec.get(key):
                raise VidpriorError(f"job {label}: '{key}' is missing")
        task = str(spec["task"])
        if task not in TASKS:
            raise VidpriorError(f"job {label}: task '{task}' is not one of {', '.join(TASKS)}")

        def place(value) -> str | None:
            return None if value in (None, "") else str((base / str(value)).resolve())

        name = str(spec.get("name") or Path(str(spec["input"])).stem)
        if not re.fullmatch(r"\w[\w.-]*", name):
            raise VidpriorError(f"job {label}: name {name!r} may hold only letters, digits, '_', '-' and '.'")
        default_output = base / "results" / f"{name}.{'vpr' if task == 'compress' else 'mp4'}"
        param = spec.get("param") or {}
        if not isinstance(param, dict):
            raise VidpriorError(f"job {name}: 'param' must be a mapping of method settings, e.g. {{lr: 0.001}}")
        job = cls(name=name, task=task, input=place(spec["input"]),
                  output=place(spec.get("output")) or str(default_output.resolve()), mask=place(spec.get("mask")),
                  method=spec.get("method"), param=dict(param),
                  options={k: v for k, v in spec.items() if k not in SPEC_KEYS})
        job.check()
        return job

    def argv(self) -> list[str]:
        """The command line after ``vidprior``."""
        words = [self.task, self.input, "-o", self.output]
        if self.mask:
            words += ["--mask", self.mask]
        if self.method:
            words += ["--method", self.method]
        for key, value in self.options.items():
            flag = "--" + key.replace("_", "-")
            if value is True:
                words.append(flag)
            elif value not in (False, None):
                words += [flag, str(value)]
        for key, value in self.param.items():
            words += ["--param", f"{key}={value}"]
        return words

    def check(self) -> None:
        """Refuse a job the command would refuse for its flags (unknown option, missing value, ...)."""
        from .cli import TASK_HELP, build_parser, run_options, task_factor
        from .restore import check_request

        try:
            args = build_parser(_Refusing).parse_args(self.argv())
            run_options(args)  # budget, --param, --weights/--adapt: as the command checks them
            if self.task in TASK_HELP:
                check_request(self.task, args.method, task_factor(args), getattr(args, "sigma", None))
        except VidpriorError as exc:
            raise VidpriorError(f"job {self.name}: {exc}") from None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class JobResult:
    """How a run of a job ended: state is done | skipped | interrupted | failed."""

    name: str
    state: str
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
        return JobResult(job.name, "skipped", message=f"{job.output} exists")
    folder.mkdir(parents=True, exist_ok=True)
    Path(job.output).parent.mkdir(parents=True, exist_ok=True)
    run_dir, status = folder / "run", folder / "status.json"
    resumed = has_checkpoints(run_dir)
    words = [*job.argv(), "-q", "--status", str(status), "--run-dir", str(run_dir)]
    if resumed:
        words += ["--resume", str(run_dir)]
    if device and "device" not in job.options:
        words += ["--device", device]
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
        return JobResult(job.name, "done", seconds, last, resumed)
    if stopping_since is not None:  # only a stop we asked for is an interruption
        return JobResult(job.name, "interrupted", seconds, "stopped; a new run resumes it", resumed)
    if process.returncode < 0:  # killed from outside: the out-of-memory killer, say
        return JobResult(job.name, "failed", seconds, f"killed by {signal.Signals(-process.returncode).name} "
                         "(out of memory?); a new run resumes it", resumed)
    return JobResult(job.name, "failed", seconds, last.removeprefix("vidprior: error: "), resumed)


def _last_line(path: Path) -> str:
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""
