"""The web app as an editor uses it, on a real 854×480 clip: how soon a carried mask shows, how soon a job's
progress moves, and how often the page sees it move.

    python benchmarks/editor.py benchmarks/results [--clip ../shared/data/train480/car-turn] [--frames 25]

The clip is written as a video (lossless .mkv) and uploaded; its true object mask is painted on the first and
the last frame (as the page sends it). Measured through the API the page uses, polled every 1.5 s as the page
polls: the answer time of the carried mask of a middle frame (the first answer carries every frame between
the keyframes, later ones reuse them), of queuing the job (its mask written for every frame), then for
flowfill (the task's default, which showed "0 %" for 294 s on such a clip before issue 19) the seconds until its
progress first moved and how many distinct progress figures the page saw. A timing benchmark of the page's
server, not a quality one: the clip comes from the training set as the shared benchmark clips are 256×144.
"""

from __future__ import annotations

import argparse
import base64
import tempfile
import time
from pathlib import Path

import cv2
import httpx
import numpy as np

from vidprior.server import launch
from vidprior.video import read_video, write_video

ROOT = Path(__file__).resolve().parents[1]


def painted(mask: np.ndarray) -> str:
    rgba = np.zeros((*mask.shape, 4), np.uint8)
    rgba[mask] = (40, 40, 255, 255)
    return "data:image/png;base64," + base64.b64encode(cv2.imencode(".png", rgba)[1]).decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, nargs="?", default=ROOT / "benchmarks" / "results")
    parser.add_argument("--clip", type=Path, default=ROOT / ".." / "shared" / "data" / "train480" / "car-turn")
    parser.add_argument("--frames", type=int, default=25)
    parser.add_argument("--method", default="flowfill")
    args = parser.parse_args()
    frames = read_video(args.clip / "frames").frames[:args.frames]
    masks = read_video(args.clip / "masks").frames[:args.frames].max(axis=3) > 127
    with tempfile.TemporaryDirectory() as scratch:
        source = write_video(Path(scratch) / f"{args.clip.name}.mkv", frames, fps=24.0)
        process, url = launch(Path(scratch) / "home")
        try:
            client = httpx.Client(base_url=url, timeout=3600)

            def call(path: str, data: dict | None = None, **upload) -> tuple[float, dict | bytes]:
                began = time.monotonic()
                answer = client.get(path) if data is None and not upload else client.post(path, json=data, **upload)
                answer.raise_for_status()
                json_answer = answer.headers["content-type"].startswith("application/json")
                return time.monotonic() - began, answer.json() if json_answer else answer.content

            _, video = call("api/videos", files={"file": (source.name, source.read_bytes())})
            keyframes = {"0": painted(masks[0]), str(len(frames) - 1): painted(masks[-1])}
            middle = len(frames) // 2
            first, _ = call(f"api/videos/{video['id']}/carried/{middle}", {"keyframes": keyframes})
            again, _ = call(f"api/videos/{video['id']}/carried/{middle + 1}", {"keyframes": keyframes})
            queued, job = call("api/jobs", {"video": video["id"], "task": "inpaint", "method": args.method,
                                            "keyframes": keyframes})
            began, moved, figures, record = time.monotonic(), None, set(), {"state": "queued"}
            while record["state"] in ("queued", "running"):
                _, record = call(f"api/jobs/{job['id']}")
                assert isinstance(record, dict)
                bars = record.get("bars") or []
                if bars:
                    figures.add(bars[0]["fraction"])
                    if moved is None and bars[0]["fraction"] > 0:
                        moved = time.monotonic() - began
                time.sleep(1.5)
            total = time.monotonic() - began
        finally:
            process.terminate()
            process.wait(60)
    height, width = frames.shape[1:3]
    lines = ["## The web app as an editor (`python benchmarks/editor.py`)", "",
             f"{args.clip.name} ({len(frames)} frames, {width}×{height}, from the training set), its true mask painted "
             f"on frames 0 and {len(frames) - 1}; 2 cores, no GPU. Polled every 1.5 s as the page does.", "",
             "| step | figure |", "|---|---|",
             f"| carried mask of frame {middle}, first answer (carries the frames between the keyframes) "
             f"| {first:.1f} s |",
             f"| carried mask of frame {middle + 1}, next answer (kept) | {1000 * again:.0f} ms |",
             f"| queuing the job (mask of every frame written) | {1000 * queued:.0f} ms |",
             f"| {args.method}: until its progress first moved | {moved:.1f} s |" if moved is not None else
             f"| {args.method}: its progress never moved | - |",
             f"| {args.method}: distinct progress figures seen | {len(figures)} |",
             f"| {args.method}: submit -> {record['state']} | {total:.0f} s |", ""]
    (args.out / "editor.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
