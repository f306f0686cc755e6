"""`vidprior batch`: job files, three jobs with one interrupted and resumed, and the same jobs on a local Ray."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from pathlib import Path

import pytest
from helpers import wait_until

from vidprior.batch import load_jobs
from vidprior.cli import _resume_command, build_parser
from vidprior.errors import VidpriorError
from vidprior.jobs import Job, run_job
from vidprior.progress import read_status
from vidprior.requests import Request
from vidprior.video import probe


def write_jobs(folder: Path, text: str) -> Path:
    path = folder / "jobs.yaml"
    path.write_text(text)
    return path


def fitting(status: Path) -> bool:
    """Whether the job whose status file this is has begun its dip fit."""
    return any(b["label"] == "dip" and b["done"] > 0 for b in read_status(status).get("bars", []))


THREE_JOBS = """
defaults: {task: inpaint, mask: masks}
jobs:
  - {name: quick, input: clip.mkv, method: telea}
  - {name: learned, input: clip.mkv, method: dip, budget: 8s}
  - {name: denoised, input: clip.mkv, task: denoise, sigma: 10, method: nlmeans, mask: null, output: out/clean.mkv}
"""


def test_job_files_become_checked_command_lines(tmp_path: Path, clip_file: Path, mask_folder: Path):
    jobs = load_jobs(write_jobs(tmp_path, THREE_JOBS))
    assert [j.name for j in jobs] == ["quick", "learned", "denoised"]
    assert jobs[1].request.argv() == ["inpaint", str(clip_file), "--output", str(tmp_path / "results" / "learned.mp4"),
                                      "--method", "dip", "--budget", "8", "--mask", str(mask_folder)]
    assert jobs[2].output == str(tmp_path / "out" / "clean.mkv") and jobs[2].request.mask is None
    assert jobs[2].request.argv()[-2:] == ["--sigma", "10"]
    assert Job.from_dict(jobs[1].to_dict()) == jobs[1]  # records keep the request


@pytest.mark.parametrize("text, words", [
    ("jobs: []", "expected a list of jobs"),
    ("jobs: [{input: clip.mkv}]", "'task' is missing"),
    ("jobs: [{task: paint, input: clip.mkv}]", "task 'paint' is not one of"),
    ("jobs: [{task: denoise, input: clip.mkv, colour: red}]", "denoise has no option 'colour'"),
    ("jobs: [{task: denoise, input: clip.mkv, method: nlmeans, param: {stpes: 3}}]", "nlmeans has no setting 'stpes'"),
    ("jobs: [{task: denoise, input: clip.mkv, method: telea}]", "does not do denoise"),
    ("jobs: [{task: denoise, input: clip.mkv, budget: soon}]", "not a duration"),
    ("jobs: [{task: upscale, input: clip.mkv, scale: 1}]", "from 2 to 16"),
    ("jobs: [{task: denoise, input: a.mkv}, {task: denoise, input: a.mkv}]", "job names must differ"),
    ("jobs: [{task: denoise, input: a.mkv, name: x}, {task: denoise, input: b.mkv, output: results/x.mp4}]",
     "write the same output"),
    ("jobs: [{task: denoise, input: a.mkv, param: 3}]", "must be a mapping"),
    ("jobs: [{task: denoise\n", "not a readable YAML file"),
    ("jobs: [{task: denoise, input: a.mkv, name: ../up}]", "may hold only letters"),
])
def test_bad_job_files_are_refused_with_one_line(tmp_path: Path, text: str, words: str):
    path = write_jobs(tmp_path, text)
    with pytest.raises(VidpriorError, match=words):
        load_jobs(path)


@pytest.mark.slow
def test_the_command_refuses_a_bad_job_file_in_one_line(tmp_path: Path, vidprior):
    path = write_jobs(tmp_path, "jobs: [{task: denoise, input: clip.mkv, colour: red}]")
    result = vidprior("batch", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("vidprior: error: job clip: denoise has no option 'colour'; its options: input")
    assert len(result.stderr.strip().splitlines()) == 1
    assert vidprior("batch", str(tmp_path / "missing.yaml")).stderr.endswith("no such job file\n")


@pytest.mark.slow
def test_three_jobs_one_interrupted_then_resumed(tmp_path: Path, clip_file: Path, mask_folder: Path, vidprior):
    path = write_jobs(tmp_path, THREE_JOBS)
    status = tmp_path / "jobs.batch" / "learned" / "status.json"
    batch = vidprior.start("batch", path, "-q", "--workers", "1", stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env={**os.environ, "OMP_NUM_THREADS": "2"})
    wait_until(lambda: batch.poll() is not None or fitting(status), 120, "the dip job to begin fitting")
    assert batch.poll() is None, batch.communicate()[0]
    batch.send_signal(signal.SIGINT)  # Ctrl-C: the running job checkpoints, the rest waits
    output = batch.communicate(timeout=120)[0]
    assert batch.returncode == 130, output
    first = {r["name"]: r for r in json.loads((tmp_path / "jobs.batch" / "summary.json").read_text())}
    assert [first[n]["state"] for n in ("quick", "learned", "denoised")] == ["done", "interrupted", "interrupted"]
    assert list((tmp_path / "jobs.batch" / "learned" / "run").rglob("checkpoint.pt"))
    assert not (tmp_path / "results" / "learned.mp4").exists()

    again = vidprior("batch", str(path), "-q")
    assert again.returncode == 0, again.stdout + again.stderr
    second = {r["name"]: r for r in json.loads((tmp_path / "jobs.batch" / "summary.json").read_text())}
    assert second["quick"]["state"] == "skipped"
    assert second["learned"]["state"] == "done" and second["learned"]["resumed"]
    assert second["denoised"]["state"] == "done"
    assert "| learned | inpaint | dip | done (resumed) |" in again.stdout and "2 done, 1 skipped" in again.stdout
    log = (tmp_path / "jobs.batch" / "learned" / "log.txt").read_text()
    assert "interrupted at step" in log and "--resume" in log.splitlines()[-2]
    for output in (tmp_path / "results" / "quick.mp4", tmp_path / "results" / "learned.mp4",
                   tmp_path / "out" / "clean.mkv"):
        assert probe(output).frames == 8


@pytest.mark.slow
def test_a_job_killed_from_outside_fails_and_is_not_taken_for_an_interruption(tmp_path: Path, clip_file: Path):
    job = Job("k", Request.build("denoise", {"input": clip_file, "output": tmp_path / "k.mp4", "method": "dip",
                                             "budget": "60s"}))
    started = []
    runner = threading.Thread(target=lambda: started.append(run_job(job, tmp_path / "k", on_start=started.append)))
    runner.start()
    wait_until(lambda: fitting(tmp_path / "k" / "status.json") or len(started) > 1, 60, "the dip fit to begin")
    started[0].kill()  # as the out-of-memory killer would
    runner.join(60)
    result = started[1]
    assert result.state == "failed" and "SIGKILL" in result.message


@pytest.mark.slow
def test_the_same_jobs_run_as_ray_tasks(tmp_path: Path, clip_file: Path, mask_folder: Path, vidprior):
    pytest.importorskip("ray", reason="Ray is in the test extras: pip install -e '.[test]'")
    path = write_jobs(tmp_path, """
defaults: {task: inpaint, mask: masks, method: telea}
jobs:
  - {name: one, input: clip.mkv}
  - {name: two, input: clip.mkv, task: denoise, method: nlmeans, mask: null, sigma: 10}
""")
    result = vidprior("batch", str(path), "--ray", "local", "-q", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 done" in result.stdout
    assert probe(tmp_path / "results" / "one.mp4").frames == 8 and probe(tmp_path / "results" / "two.mp4").frames == 8


def test_the_interrupt_hint_resumes_from_the_top_run_folder(tmp_path: Path):
    words = ["inpaint", "in.mp4", "-o", str(tmp_path / "out.mp4"), "--mask", "m", "--method", "dip"]
    args = build_parser().parse_args(words)
    assert _resume_command(args, words).endswith(f"--resume {tmp_path / 'out.mp4.run'}")
    again = [*words, "--resume", str(tmp_path / "elsewhere")]
    assert _resume_command(build_parser().parse_args(again), again).count("--resume") == 1
    train = ["train", "vinet", "--data", "d", "-o", "w.safetensors"]
    assert _resume_command(build_parser().parse_args(train), train).endswith("w.safetensors --resume")


def test_the_documented_job_file_is_valid(tmp_path: Path):
    from vidprior.batch import JOB_FILE

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    documented = readme.split("```yaml\n", 1)[1].split("```", 1)[0]
    for text in (documented, "\n".join(line[4:] for line in JOB_FILE.splitlines() if line.startswith("    "))):
        jobs = load_jobs(write_jobs(tmp_path, text))
        assert [j.task for j in jobs] == ["inpaint", "inpaint", "denoise"]
        assert jobs[1].request.param == {"lr": 0.001} and jobs[2].request.mask is None
