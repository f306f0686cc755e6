"""`vidprior batch JOBS.yaml`: run many jobs with one command, locally or on a Ray cluster.

The job file is described by `JOB_FILE` (also `vidprior batch --help`). Each job gets a folder
under ``JOBS.batch/`` (run/, status.json, log.txt); ``summary.md`` there lists how every job
ended. Locally, ``workers`` processes run at once (default: half the cores, at least 2), the cores
shared among them; with ``ray_address`` every job is a Ray task asking for a GPU where the cluster
has one (inputs and outputs must then be on a file system all nodes see).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .errors import VidpriorError
from .jobs import Job, JobResult, JobState, run_job
from .progress import Bar, read_status
from .signals import on_stop_signals

JOB_FILE = """Run the jobs of a YAML job file: each is one vidprior command (its task, input, mask,
method, output and any of its options by name), with optional defaults for all of them:

    defaults: {task: inpaint, mask_dilate: 2}
    jobs:
      - {input: clips/tennis.mp4, mask: clips/tennis-masks/}
      - {input: clips/bmx.mp4, mask: clips/bmx-masks/, method: ilvi, budget: 3m, param: {lr: 0.001}}
      - {input: noisy.mkv, task: denoise, sigma: 25, mask: null, mask_dilate: null, output: out/clean.mkv}

Paths are relative to the job file; an output defaults to results/NAME.mp4 beside it (NAME: the
job's 'name' or its input's); null means 'not given' (here: no default mask for the denoising job).
Every job is checked before any runs. Finished jobs (output exists) are skipped, interrupted ones
(Ctrl-C) resume from their checkpoints; JOBS.batch/summary.md says how each ended."""


def load_jobs(path: Path) -> list[Job]:
    """The jobs of a YAML job file, each checked like the command line it becomes."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise VidpriorError(f"{path}: no such job file")
    try:
        spec = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise VidpriorError(f"{path}: not a readable YAML file ({str(exc).splitlines()[0]})") from None
    if isinstance(spec, list):
        spec = {"jobs": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("jobs"), list) or not spec["jobs"]:
        raise VidpriorError(f"{path}: expected a list of jobs under 'jobs:' (see `vidprior batch --help`)")
    defaults = spec.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise VidpriorError(f"{path}: 'defaults' must be a mapping, e.g. {{task: inpaint}}")
    jobs = [Job.from_spec({**defaults, **item} if isinstance(item, dict) else item, path.parent, f"job{i + 1}")
            for i, item in enumerate(spec["jobs"])]
    names = [job.name for job in jobs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise VidpriorError(f"{path}: job names must differ ({', '.join(twice)} used twice); give each a 'name'")
    outputs = [job.output for job in jobs]
    if len(set(outputs)) < len(outputs):
        raise VidpriorError(f"{path}: two jobs write the same output; give them different 'output' or 'name'")
    return jobs


def run_batch(path: Path, *, workers: int | None = None, ray_address: str | None = None,
              folder: Path | None = None, progress: bool = True) -> list[JobResult]:
    """Run the jobs of ``path``; returns how each ended and writes ``summary.md``/``summary.json``."""
    path = Path(path)
    jobs = load_jobs(path)
    folder = (Path(folder) if folder else path.with_suffix(".batch")).resolve()  # Ray workers have other cwds
    folder.mkdir(parents=True, exist_ok=True)
    cores = os.cpu_count() or 1
    if workers is not None and workers < 1:
        raise VidpriorError(f"--workers {workers} must be at least 1")
    # processes beat threads for throughput (benchmarks/serving.py: 2 x 1 thread ran 9 jobs 1.8x faster than 1 x 2)
    workers = workers or min(cores, max(2, cores // 2))  # on one core: 1
    threads = max(1, cores // workers)
    stop = threading.Event()
    results: dict[str, JobResult] = {}
    # Ctrl-C / SIGTERM set ``stop`` (jobs then checkpoint and end) instead of killing the batch
    with on_stop_signals(lambda signum: stop.set()), Bar(len(jobs), "batch", unit="job", show=progress) as bar:
        def finished(result: JobResult) -> None:
            results[result.name] = result
            bar.update()

        if ray_address:
            _run_on_ray(jobs, folder, ray_address, threads, stop, finished, bar)
        else:
            with ThreadPoolExecutor(workers) as pool:
                pending = [pool.submit(_run_local, job, folder, threads, stop) for job in jobs]
                for future in pending:
                    while not future.done():
                        _show_running(jobs, folder, results, bar)
                        time.sleep(0.5)
                    finished(future.result())
    ordered = [results.get(job.name) or JobResult(job.name, JobState.INTERRUPTED) for job in jobs]
    _write_summary(folder, jobs, ordered)
    return ordered


def _run_local(job: Job, folder: Path, threads: int, stop: threading.Event) -> JobResult:
    if stop.is_set():
        return JobResult(job.name, JobState.INTERRUPTED, message="not started")
    try:
        return run_job(job, folder / job.name, threads=threads, stop=stop)
    except OSError as exc:  # e.g. the output folder cannot be made: this job fails, the batch goes on
        return JobResult(job.name, JobState.FAILED, message=str(exc))


def _show_running(jobs: list[Job], folder: Path, results: dict, bar: Bar) -> None:
    """The bar's detail: progress of the jobs now running, read from their status files."""
    parts = []
    for job in jobs:
        status = read_status(folder / job.name / "status.json") if job.name not in results else {}
        if status.get("bars"):
            parts.append(f"{job.name} {100 * status['bars'][-1]['fraction']:.0f}%")
    bar.set_detail(", ".join(parts[:4]))


def _run_on_ray(jobs: list[Job], folder: Path, address: str, threads: int, stop: threading.Event,
                finished, bar: Bar) -> None:
    """Every job a Ray task (``address`` 'local' starts a Ray instance on this machine)."""
    try:
        import ray
    except ImportError:
        raise VidpriorError("--ray needs Ray: pip install 'vidprior[ray]'") from None
    try:
        ray.init(address=None if address == "local" else address, ignore_reinit_error=True,
                 include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise VidpriorError(f"--ray {address}: cannot connect ({exc}); "
                            "give the head node's address, 'auto', or 'local'") from None
    gpu = ray.cluster_resources().get("GPU", 0) > 0
    remote = ray.remote(num_cpus=threads, num_gpus=1 if gpu else 0, max_retries=0)(run_job)
    pending = {remote.remote(job, folder / job.name, threads=threads, device="cuda" if gpu else None): job
               for job in jobs}
    cancelled = False
    while pending:
        if stop.is_set() and not cancelled:
            for ref in pending:
                ray.cancel(ref)  # KeyboardInterrupt in the task: run_job stops its child with a checkpoint
            cancelled = True
        ready, _ = ray.wait(list(pending), timeout=0.5)
        for ref in ready:
            job = pending.pop(ref)
            try:
                finished(ray.get(ref))
            except (ray.exceptions.TaskCancelledError, ray.exceptions.RayTaskError) as exc:
                state = JobState.INTERRUPTED if cancelled else JobState.FAILED
                finished(JobResult(job.name, state, message=str(exc).splitlines()[0]))
        _show_running(jobs, folder, {}, bar)


def _write_summary(folder: Path, jobs: list[Job], results: list[JobResult]) -> None:
    rows = ["| job | task | method | state | seconds | result |", "|---|---|---|---|---|---|"]
    for job, r in zip(jobs, results):
        state = r.state + (" (resumed)" if r.resumed else "")
        rows.append(f"| {job.name} | {job.task} | {job.method or 'default'} | {state} | {r.seconds:.1f}"
                    f" | {r.message.replace('|', '/')} |")
    (folder / "summary.md").write_text("\n".join(rows) + "\n")
    (folder / "summary.json").write_text(json.dumps([vars(r) for r in results], indent=1))


def summary_line(results: list[JobResult]) -> str:
    counts = Counter(r.state for r in results)
    ends = (JobState.DONE, JobState.SKIPPED, JobState.INTERRUPTED, JobState.FAILED)
    return ", ".join(f"{counts[s]} {s}" for s in ends if counts[s])
