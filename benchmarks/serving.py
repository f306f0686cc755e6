"""Batch and web-app figures: what running many jobs through `vidprior batch` / `vidprior serve` costs.

    python benchmarks/serving.py benchmarks/results     # ~5 minutes on 2 cores; writes serving.md

Jobs: the three shared clips with object masks inpainted by flowfill, and all six clips with noise
(sigma 25) denoised by nlmeans; 30 frames each, as videos (lossless .mkv) like a user's files.
Measured: the same nine commands run one after another by hand (the reference), then by
`vidprior batch` with 1 and 2 workers and as Ray tasks on a local Ray; a second batch run (all
finished: skipped); and the web app: answer time of the job list and of a frame, and time from
submitting the demo job to its result, against the same command run directly.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

from vidprior.bench import load_clips
from vidprior.problems import add_gaussian_noise
from vidprior.video import write_video

CLIPS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "clips"


def vidprior(*words: str) -> float:
    began = time.monotonic()
    subprocess.run([sys.executable, "-m", "vidprior", *words], check=True, capture_output=True)
    return time.monotonic() - began


def make_jobs(folder: Path) -> str:
    """Write the clips as videos and return the job file's text."""
    lines = ["jobs:"]
    for clip in load_clips(CLIPS, 30):
        noisy = write_video(folder / f"{clip.name}-noisy.mkv", add_gaussian_noise(clip.frames, 25), fps=clip.fps)
        lines.append(f"  - {{name: {clip.name}-denoise, task: denoise, input: {noisy.name}, method: nlmeans, "
                     "sigma: 25}")
        if clip.masks is not None:
            write_video(folder / f"{clip.name}.mkv", clip.frames, fps=clip.fps)
            write_video(folder / f"{clip.name}-mask.mkv", np.repeat(clip.masks[..., None] * 255, 3, axis=3)
                        .astype(np.uint8), fps=clip.fps)
            lines.append(f"  - {{name: {clip.name}-inpaint, task: inpaint, input: {clip.name}.mkv, "
                         f"mask: {clip.name}-mask.mkv, method: flowfill}}")
    return "\n".join(lines) + "\n"


def batch_seconds(folder: Path, text: str, *flags: str) -> tuple[float, dict]:
    shutil.rmtree(folder / "results", ignore_errors=True)
    shutil.rmtree(folder / "jobs.batch", ignore_errors=True)
    (folder / "jobs.yaml").write_text(text)
    seconds = vidprior("batch", str(folder / "jobs.yaml"), "-q", *flags)
    summary = json.loads((folder / "jobs.batch" / "summary.json").read_text())
    return seconds, {s: sum(r["state"] == s for r in summary) for s in ("done", "skipped", "failed")}


def one_by_one(folder: Path, text: str) -> float:
    from vidprior.batch import load_jobs

    (folder / "jobs.yaml").write_text(text)
    out = folder / "direct"
    out.mkdir(exist_ok=True)
    total = 0.0
    for job in load_jobs(folder / "jobs.yaml"):
        request = job.request.but(output=out / Path(job.output).name)
        total += vidprior(*request.argv(), "-q")
    return total


def web_figures(folder: Path) -> dict:
    import base64

    import cv2

    from vidprior.demo import demo_clip
    from vidprior.server import launch

    process, url = launch(folder / "home")
    try:
        def call(path: str, data: dict | None = None) -> tuple[float, dict | bytes]:
            request = urllib.request.Request(url + path, data=json.dumps(data).encode() if data else None,
                                             headers={"Content-Type": "application/json"},
                                             method="POST" if data is not None else "GET")
            began = time.monotonic()
            with urllib.request.urlopen(request) as answer:
                body = answer.read()
            seconds = time.monotonic() - began
            return seconds, json.loads(body) if answer.headers.get_content_type() == "application/json" else body

        _, video = call("api/videos/demo", {})
        frame_ms = [1000 * call(f"api/videos/{video['id']}/frames/{i}")[0] for i in range(30)]
        mask = np.zeros((144, 256, 4), np.uint8)
        mask[80:110, 140:182, 3] = 255
        painted = "data:image/png;base64," + base64.b64encode(cv2.imencode(".png", mask)[1]).decode()
        began = time.monotonic()
        _, job = call("api/jobs", {"video": video["id"], "task": "inpaint", "method": "flowfill",
                                   "keyframes": {"0": painted}})
        while call(f"api/jobs/{job['id']}")[1]["state"] in ("queued", "running"):
            time.sleep(0.1)
        web_job = time.monotonic() - began
        list_ms = [1000 * call("api/jobs")[0] for _ in range(50)]
        direct = vidprior("inpaint", str(demo_clip()), "-o", str(folder / "direct.mp4"), "--mask",
                          str(folder / "home" / "jobs" / job["id"] / "mask"), "--method", "flowfill", "-q")
        rss = int(Path(f"/proc/{process.pid}/status").read_text().split("VmRSS:")[1].split()[0]) / 1024
    finally:
        process.terminate()
        process.wait(60)
    return {"frame_ms": statistics.median(frame_ms), "list_ms": statistics.median(list_ms), "web_job": web_job,
            "direct": direct, "server_mb": rss}


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        text = make_jobs(folder)
        jobs = text.count("name:")
        reference = one_by_one(folder, text)
        rows = [(f"{jobs} commands one after another (reference)", reference, f"{jobs} done")]
        for label, flags in [("`vidprior batch` (1 worker, 2 threads)", ["--workers", "1"]),
                             ("`vidprior batch --workers 2` (1 thread each)", ["--workers", "2"]),
                             ("`vidprior batch --ray local --workers 2`", ["--ray", "local", "--workers", "2"])]:
            seconds, states = batch_seconds(folder, text, *flags)
            rows.append((label, seconds, ", ".join(f"{n} {s}" for s, n in states.items() if n)))
        again = vidprior("batch", str(folder / "jobs.yaml"), "-q")
        rows.append(("the same batch again (all finished)", again, f"{jobs} skipped"))
        web = web_figures(folder)
    lines = ["## Batch and web app (`python benchmarks/serving.py`)", "",
             f"{jobs} jobs on the shared clips (30 frames each): flowfill inpainting of the 3 masked clips, nlmeans "
             "denoising (sigma 25) of all 6; 2 cores, no GPU.", "",
             "| how | wall s | jobs |", "|---|---|---|"]
    lines += [f"| {label} | {seconds:.1f} | {states} |" for label, seconds, states in rows]
    lines += ["", "| web app | figure |", "|---|---|",
              f"| job list (GET /api/jobs), median | {web['list_ms']:.1f} ms |",
              f"| one frame as PNG (scrubbing), median over 30 | {web['frame_ms']:.1f} ms |",
              f"| demo clip, flowfill: submit -> result ready | {web['web_job']:.1f} s |",
              f"| the same command run directly | {web['direct']:.1f} s |",
              f"| server memory (RSS) after the job | {web['server_mb']:.0f} MB |", ""]
    (out / "serving.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("benchmarks/results"))
