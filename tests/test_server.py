"""The web app's API (without a browser): uploads, refusals, masks, jobs, cancel, restart with resume."""

from __future__ import annotations

import base64
import json
import socket
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from helpers import wait_until
from synthetic import moving_square

from vidprior.jobs import JobState
from vidprior.server import create_app
from vidprior.video import write_video
from vidprior.workqueue import JobRecord, WorkQueue


def png_url(mask: np.ndarray) -> str:
    """A painted mask as the page sends it: RGBA PNG data URL, alpha > 0 where painted."""
    rgba = np.zeros((*mask.shape, 4), np.uint8)
    rgba[mask] = (40, 40, 255, 255)
    return "data:image/png;base64," + base64.b64encode(cv2.imencode(".png", rgba)[1]).decode()


def box(shape: tuple[int, int], top: int, left: int, size: int) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[top: top + size, left: left + size] = True
    return mask


def wait_for(client: TestClient, job_id: str, states=("done", "failed", "cancelled"), timeout: float = 120) -> dict:
    def record() -> dict | None:
        found = client.get(f"/api/jobs/{job_id}").json()
        return found if found["state"] in states else None

    return wait_until(record, timeout, f"job {job_id} to be {' or '.join(states)}")


def fitted(client: TestClient, job_id: str) -> int:
    """How far the job's dip fit is, 0 to 1000 (0 before it begins)."""
    bars = client.get(f"/api/jobs/{job_id}").json()["bars"]
    return max((b["done"] for b in bars if b["label"] == "dip"), default=0)


@pytest.fixture
def client(tmp_path: Path):
    with TestClient(create_app(tmp_path / "home", max_upload_mb=1, threads=2, mask_adapt=0)) as client:
        yield client


def upload(client: TestClient, path: Path) -> dict:
    response = client.post("/api/videos", files={"file": (path.name, path.read_bytes())})
    assert response.status_code == 200, response.text
    return response.json()


def test_bad_uploads_are_refused_with_a_message(client: TestClient, clip_file: Path):
    cases = [("clip.txt", b"hello", 400, "not a video file"),
             ("clip.mp4", b"not really a video", 400, "not a video we can read"),
             ("big.mkv", b"\0" * (1 << 20) + b"\0" * 10, 413, "larger than the 1 MB limit"),  # read, then refused
             ("huge.mkv", b"\0" * (3 << 20), 413, "larger than the 1 MB limit")]  # refused by its declared size
    for name, data, status, words in cases:
        response = client.post("/api/videos", files={"file": (name, data)})
        assert response.status_code == status and words in response.json()["detail"], response.text
    assert client.get("/api/videos/nosuchvideo/frames/0").status_code == 404
    video = upload(client, clip_file)
    assert (video["frames"], video["width"], video["height"]) == (8, 64, 48)
    assert client.get(f"/api/videos/{video['id']}/frames/99").status_code == 400
    # nothing of the refused uploads is left behind
    assert len(list((client.app.state.queue.folder.parent / "videos").iterdir())) == 1


def test_requests_for_another_host_are_refused(tmp_path: Path):
    """As `vidprior serve` on 127.0.0.1 sets it up: a DNS-rebinding page cannot reach the API."""
    app = create_app(tmp_path / "home", start_queue=False, hosts=["127.0.0.1", "localhost"])
    with TestClient(app, base_url="http://127.0.0.1:8000") as here, \
            TestClient(app, base_url="http://attacker.example") as there:
        assert here.get("/api/jobs").status_code == 200
        assert there.get("/api/jobs").status_code == 400


def test_the_page_makes_no_calls_outside_the_app(client: TestClient):
    page = client.get("/").text
    assert "<canvas" in page and "/api/jobs" in page
    assert "http://" not in page and "https://" not in page and "//cdn" not in page


def test_uploaded_masks_are_checked_against_the_video(client: TestClient, clip_file: Path, mask_folder: Path):
    video = upload(client, clip_file)
    url = f"/api/videos/{video['id']}/mask"

    def send(*images: np.ndarray, names=None):
        names = names or [f"{i:03d}.png" for i in range(len(images))]
        return client.post(url, files=[("files", (n, cv2.imencode(".png", m)[1].tobytes()))
                                       for n, m in zip(names, images)])

    wrong_size = send(np.full((30, 30), 255, np.uint8))
    assert wrong_size.status_code == 400 and "another aspect ratio" in wrong_size.json()["detail"]
    too_few = send(*[np.zeros((48, 64), np.uint8)] * 3)
    assert too_few.status_code == 400 and "3 masks for a video of 8 frames" in too_few.json()["detail"]
    empty = send(np.zeros((48, 64), np.uint8))
    assert empty.status_code == 400 and "empty" in empty.json()["detail"]
    full = send(np.full((48, 64), 255, np.uint8))
    assert full.status_code == 400 and "whole frame" in full.json()["detail"]
    frames = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted(mask_folder.iterdir())]
    sneaky = send(frames[0], names=["../../escape.png"])  # names from the browser never leave the upload folder
    home = client.app.state.queue.folder.parent
    assert sneaky.status_code == 200
    assert not (home / "escape.png").exists() and not (home.parent / "escape.png").exists()
    accepted = send(*frames)
    assert accepted.status_code == 200 and 0 < accepted.json()["coverage"] < 0.2

    job = client.post("/api/jobs", json={"video": video["id"], "task": "inpaint", "method": "telea"}).json()
    assert send(frames[0]).status_code == 200  # a later upload does not change the job: it has its own copy
    record = wait_for(client, job["id"])
    assert record["state"] == "done", record["message"]
    assert len(list(Path(record["job"]["mask"]).iterdir())) == 8


def moving_object(tmp_path: Path, frames: int = 8) -> tuple[Path, np.ndarray]:
    """`moving_square` as a lossless video file, and its true masks (T, H, W) bool."""
    clip, truth = moving_square(frames)
    return write_video(tmp_path / "square.mkv", clip, fps=25.0), truth


def overlay_mask(png: bytes) -> np.ndarray:
    """What an overlay PNG marks: its mask (opaque red), not the ring a dilation adds."""
    bgra = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    return (bgra[..., 3] > 0) & (bgra[..., 1] < 100)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


@pytest.mark.slow
def test_painted_keyframes_are_carried_with_the_object_and_the_job_runs(client: TestClient, tmp_path: Path):
    path, truth = moving_object(tmp_path)
    video = upload(client, path)
    keyframes = {"0": png_url(truth[0]), "7": png_url(truth[7])}
    job = client.post("/api/jobs", json={"video": video["id"], "task": "inpaint", "method": "telea", "dilate": "0",
                                         "keyframes": keyframes}).json()
    record = wait_for(client, job["id"])
    assert record["state"] == "done", record["message"]
    assert record["result_frames"] == 8 and record["job"]["mask_dilate"] == 0
    folder = client.app.state.queue.job_folder(job["id"])
    masks = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) > 0 for p in sorted((folder / "mask").glob("*.png"))]
    assert len(masks) == 8
    assert (masks[0] == truth[0]).all() and (masks[7] == truth[7]).all()
    assert min(iou(m, t) for m, t in zip(masks, truth)) > 0.6  # the mask follows the square frame by frame
    shown = client.post(f"/api/videos/{video['id']}/carried/3", json={"keyframes": keyframes})  # what the page shows:
    assert shown.status_code == 200 and iou(overlay_mask(shown.content), truth[3]) > 0.6  # the object too (the
    grown = client.post(f"/api/videos/{video['id']}/carried/3?dilate=2", json={"keyframes": keyframes})  # job's
    ring = cv2.imdecode(np.frombuffer(grown.content, np.uint8), cv2.IMREAD_UNCHANGED)[..., 3] > 0  # is fitted)
    shown = overlay_mask(shown.content)
    assert (overlay_mask(grown.content) == shown).all() and ring.sum() > shown.sum() + 40
    assert client.post(f"/api/videos/{video['id']}/carried/8", json={"keyframes": keyframes}).status_code == 400
    assert client.post(f"/api/videos/{video['id']}/carried/3?dilate=-1", json={"keyframes": keyframes}
                       ).status_code == 400
    download = client.get(f"/api/jobs/{job['id']}/result")
    assert download.status_code == 200 and download.content[4:8] == b"ftyp"
    assert "square-inpaint-telea.mp4" in download.headers["content-disposition"]
    assert client.get(f"/api/jobs/{job['id']}/frames/3").content[:4] == b"\x89PNG"
    assert (overlay_mask(client.get(f"/api/jobs/{job['id']}/mask/3").content) == masks[3]).all()
    assert client.get("/api/jobs").json()[0]["id"] == job["id"]

    again = client.post(f"/api/jobs/{job['id']}/again").json()  # a done job runs afresh
    assert again["state"] == "queued" and "result_frames" not in again
    assert wait_for(client, job["id"])["state"] == "done"


def test_an_emptied_keyframe_empties_its_frame_only(client: TestClient, tmp_path: Path):
    """A frame marked "object not in this frame" in the page is a keyframe without mask: the object is absent
    there, and only there: the frame beside it keeps the mask carried from the painted frame."""
    path, truth = moving_object(tmp_path)
    video = upload(client, path)
    keyframes = {"0": png_url(truth[0]), "7": png_url(np.zeros_like(truth[0]))}
    late = client.post(f"/api/videos/{video['id']}/carried/6", json={"keyframes": keyframes})
    early = client.post(f"/api/videos/{video['id']}/carried/1", json={"keyframes": keyframes})
    assert late.status_code == early.status_code == 200
    assert overlay_mask(late.content).sum() > 0.7 * overlay_mask(early.content).sum()
    assert (overlay_mask(late.content) & truth[6]).sum() > 0.5 * truth[6].sum()


def test_keyframes_and_masks_are_kept_with_the_video_and_uploads_kept_once(client: TestClient, tmp_path: Path,
                                                                          clip_file: Path, mask_folder: Path):
    video = upload(client, clip_file)
    assert upload(client, clip_file)["id"] == video["id"]  # the same bytes again: the same video
    assert [v["id"] for v in client.get("/api/videos").json()] == [video["id"]]
    painted = {"2": png_url(box((48, 64), 10, 4, 10)), "5": png_url(np.zeros((48, 64), bool))}
    url = f"/api/videos/{video['id']}"
    assert client.put(f"{url}/keyframes", json={"keyframes": painted}).json() == {"keyframes": [2, 5]}
    kept = client.get(f"{url}/keyframes").json()["keyframes"]
    assert sorted(kept) == ["2", "5"]
    assert (overlay_mask(base64.b64decode(kept["2"].split(",")[1])) == box((48, 64), 10, 4, 10)).all()
    assert not overlay_mask(base64.b64decode(kept["5"].split(",")[1])).any()
    assert client.get(url).json()["keyframes"] == [2, 5]
    refused = client.put(f"{url}/keyframes", json={"keyframes": {"9": painted["2"]}})
    assert refused.status_code == 400 and "outside the video" in refused.json()["detail"]

    assert client.get(f"{url}/mask/0").status_code == 404
    files = [("files", (p.name, p.read_bytes())) for p in sorted(mask_folder.iterdir())]
    assert client.post(f"{url}/mask", files=files).status_code == 200
    assert client.get(url).json()["mask"] == "mask"
    shown = overlay_mask(client.get(f"{url}/mask/3").content)
    assert (shown == (cv2.imread(str(mask_folder / "00003.png"), cv2.IMREAD_GRAYSCALE) > 0)).all()
    assert client.delete(f"{url}/mask").status_code == 200
    assert client.get(url).json()["mask"] is None and client.get(f"{url}/mask/3").status_code == 404
    refused = client.post("/api/jobs", json={"video": video["id"], "task": "inpaint", "method": "telea"})
    assert refused.status_code == 400 and "no mask" in refused.json()["detail"]


def test_a_quick_preview_runs_on_a_few_frames_around_the_one_shown(client: TestClient, tmp_path: Path):
    path, truth = moving_object(tmp_path, frames=12)
    video = upload(client, path)
    job = client.post("/api/jobs", json={"video": video["id"], "task": "inpaint", "method": "telea", "preview": 9,
                                         "keyframes": {"0": png_url(truth[0]), "11": png_url(truth[11])}}).json()
    assert job["label"] == "preview of frames 4-11"
    record = wait_for(client, job["id"])
    assert record["state"] == "done", record["message"]
    assert record["result_frames"] == 8 and record["job"]["start"] == 4
    masks = sorted((client.app.state.queue.job_folder(job["id"]) / "mask").glob("*.png"))
    assert len(masks) == 12 and not (cv2.imread(str(masks[0])) > 0).any()  # only the preview's frames carried
    refused = client.post("/api/jobs", json={"video": video["id"], "task": "denoise", "preview": 12})
    assert refused.status_code == 400 and "no frame 12" in refused.json()["detail"]


def test_the_page_gets_each_methods_settings(client: TestClient):
    methods = client.get("/api/methods").json()
    flowfill = {s["name"]: s for s in methods["settings"]["flowfill"]}
    assert flowfill["rounds"]["default"] == 2 and flowfill["rounds"]["range"] == "1 to 10"
    assert set(methods["settings"]) >= {m for names in methods["tasks"].values() for m in names}
    assert methods["budgets"]["ilvi"]["default"] > 0 and "flowfill" not in methods["budgets"]  # only fits have one
    assert "budget" not in {s["name"] for s in methods["settings"]["ilvi"]}  # the page's budget field sets it


def test_bad_job_requests_are_refused(client: TestClient, clip_file: Path):
    video = upload(client, clip_file)
    inside = png_url(box((48, 64), 10, 10, 8))
    cases = [({"task": "inpaint", "method": "telea"}, "no mask"),
             ({"task": "inpaint", "keyframes": {"0": png_url(np.zeros((48, 64), bool))}}, "empty"),
             ({"task": "inpaint", "keyframes": {"0": png_url(np.ones((48, 64), bool))}}, "whole frame"),
             ({"task": "inpaint", "keyframes": {"0": png_url(np.ones((20, 20), bool))}}, "reload the page"),
             ({"task": "inpaint", "keyframes": {"12": inside}}, "outside the video"),
             ({"task": "inpaint", "keyframes": {"0": inside}, "method": "bm3d"}, "does not do inpaint"),
             ({"task": "inpaint", "keyframes": {"0": inside}, "budget": "soon"}, "not a duration"),
             ({"task": "inpaint", "keyframes": {"0": inside}, "dilate": "500"}, "0 to 100 pixels"),
             ({"task": "transmogrify"}, "not one of"),
             ({"task": "interpolate", "factor": "x"}, "not a whole number"),
             ({"task": "upscale", "factor": 1}, "from 2 to 16"),
             ({"task": "denoise", "sigma": "-5"}, "out of range"),
             ({"task": "denoise", "method": "nlmeans", "param": {"stpes": "3"}}, "nlmeans has no setting 'stpes'"),
             ({"task": "denoise", "method": "nlmeans", "param": {"temporal": "99"}}, "temporal=99 is out of range"),
             ({"task": "denoise", "budget": "-5s"}, "is negative"),
             ({"task": "denoise", "budget": "0s"}, "no time at all"),
             ({"task": "denoise", "budget": "999999h"}, "more than a week"),
             ({"task": "inpaint", "keyframes": {"0": inside}, "method": "vinet", "param": {"weights": "/etc/x"}},
              "not settable from the page")]
    cases += [({"task": "inpaint", "keyframes": {"0": "data:image/png;base64,@@@"}}, "not a readable image"),
              ({"task": "inpaint", "keyframes": {"0": "data:image/png;base64,"}}, "not a readable image"),
              ({"task": "inpaint", "keyframes": ["a"]}, "keyframes must map"),
              ({"task": "denoise", "method": ["bm3d"]}, "method must be")]
    for spec, words in cases:
        response = client.post("/api/jobs", json={"video": video["id"], **spec})
        assert response.status_code == 400 and words in response.json()["detail"], (spec, response.text)
    for body, words in [("not json", "not valid JSON"), ("[1, 2]", "a JSON object")]:
        response = client.post("/api/jobs", content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 400 and words in response.json()["detail"]
    as_form = client.post("/api/jobs", content=json.dumps({"video": video["id"], "task": "denoise"}),
                          headers={"Content-Type": "text/plain"})  # what another site's form could send
    assert as_form.status_code == 400 and "JSON" in as_form.json()["detail"]
    assert client.get("/api/jobs").json() == []
    assert not list(client.app.state.queue.folder.iterdir())  # refused jobs leave no folders
    assert client.post("/api/jobs", json={"video": "nope", "task": "denoise"}).status_code == 404


def test_a_queued_job_can_be_cancelled_queued_again_and_deleted(tmp_path: Path, clip_file: Path):
    with TestClient(create_app(tmp_path / "home", start_queue=False)) as client:
        video = upload(client, clip_file)
        job = client.post("/api/jobs", json={"video": video["id"], "task": "denoise", "method": "nlmeans"}).json()
        assert job["state"] == "queued"
        assert client.post(f"/api/jobs/{job['id']}/cancel").json()["state"] == "cancelled"
        assert client.get(f"/api/jobs/{job['id']}/result").status_code == 409
        assert client.post(f"/api/jobs/{job['id']}/again").json()["state"] == "queued"
        folder = client.app.state.queue.job_folder(job["id"])
        assert folder.is_dir() and client.delete(f"/api/jobs/{job['id']}").status_code == 200
        assert not folder.exists() and client.get(f"/api/jobs/{job['id']}").status_code == 404


@pytest.mark.slow
def test_a_restarted_server_resumes_the_running_job_from_its_checkpoint(tmp_path: Path, clip_file: Path):
    home = tmp_path / "home"
    spec = {"task": "denoise", "method": "dip", "budget": "12s", "sigma": "10"}
    with TestClient(create_app(home, threads=2, mask_adapt=0)) as client:
        video = upload(client, clip_file)
        job = client.post("/api/jobs", json={"video": video["id"], **spec}).json()
        begun = wait_until(lambda: fitted(client, job["id"]), 60, "the dip fit to begin")
        waiting = client.post("/api/jobs", json={"video": video["id"], "task": "denoise", "method": "nlmeans"}).json()

        def fits_on_alone() -> bool:
            assert client.get(f"/api/jobs/{waiting['id']}").json()["state"] == "queued"  # one job at a time
            return fitted(client, job["id"]) >= begun + 125  # another 1.5 s of the 12 s budget

        wait_until(fits_on_alone, 60, "the first job to fit on")
        assert client.get(f"/api/jobs/{job['id']}").json()["state"] == "running"
        refused = client.delete(f"/api/jobs/{job['id']}")
        assert refused.status_code == 409 and "cancel it first" in refused.json()["detail"]
    # leaving the app stopped the job with a checkpoint; it is queued for the next start
    folder = home / "jobs" / job["id"]
    assert json.loads((folder / "job.json").read_text())["state"] == "queued"
    assert list((folder / "run").rglob("checkpoint.pt"))
    assert WorkQueue(home).records[job["id"]]["state"] == "queued"
    with TestClient(create_app(home, threads=2, mask_adapt=0)) as client:
        record = wait_for(client, job["id"])
        assert record["state"] == "done", record["message"]
        assert client.get(f"/api/jobs/{job['id']}/preview").status_code == 200
        assert wait_for(client, waiting["id"])["state"] == "done"
        assert client.post(f"/api/jobs/{waiting['id']}/cancel").status_code == 409
        assert client.post(f"/api/jobs/{waiting['id']}/again").json()["state"] == "queued"  # done: runs afresh
        assert client.post(f"/api/jobs/{waiting['id']}/again").status_code == 409  # not while queued
    log = (folder / "log.txt").read_text()
    assert "interrupted at step" in log and "--resume" in log.splitlines()[-2]


def test_job_records_written_by_the_previous_version_load_and_round_trip(tmp_path: Path):
    """A job.json the dict-based queue wrote (home folders outlive versions) loads as a typed record, unchanged."""
    old = {"id": "0123abcdef", "job": {"name": "0123abcdef", "task": "denoise", "input": "/v/source.mp4",
                                       "output": "/j/result.mp4", "mask": None, "method": "nlmeans",
                                       "options": {"sigma": 10.0}, "param": {}},
           "state": "done", "message": "done in 2.0 s", "created": 1.7e9, "seconds": 2.0, "video": "feedc0ffee",
           "video_name": "clip.mp4", "task": "denoise", "method": "nlmeans", "result_frames": 8}
    interrupted = {"id": "4567abcdef", "job": old["job"], "state": "running", "message": "", "created": 1.8e9,
                   "seconds": 0.0}  # a server died while it ran (no pid yet), from a caller without page extras
    for record in (old, interrupted):
        (tmp_path / "jobs" / record["id"]).mkdir(parents=True)
        (tmp_path / "jobs" / record["id"] / "job.json").write_text(json.dumps(record, indent=1))
    queue = WorkQueue(tmp_path)
    done, queued = queue.record(old["id"]), queue.record(interrupted["id"])
    assert isinstance(done, JobRecord) and done.state is JobState.DONE and done.result_frames == 8
    assert done.output == Path("/j/result.mp4")
    assert done.to_dict() == old and queue.view(old["id"]) == {**old, "bars": []}
    assert queued.state is JobState.QUEUED and queued.to_dict() == {**interrupted, "state": "queued"}
    running = JobRecord("89abcdef01", old["job"], JobState.RUNNING, pid=1234, cancelling=True, video="feedc0ffee")
    assert JobRecord.from_dict(json.loads(json.dumps(running.to_dict()))) == running
    assert [r["id"] for r in queue.all()] == [interrupted["id"], old["id"]]  # newest first


@pytest.mark.slow
def test_serve_refuses_a_busy_port_and_absurd_settings_in_one_line(tmp_path: Path, vidprior):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for flags, words in [(["--port", str(port)], "choose another port"), (["--port", "70000"], "not a port"),
                             (["--max-upload", "0"], "at least 1")]:
            result = vidprior("serve", "--home", tmp_path, *flags, timeout=60)
            assert result.returncode == 2 and words in result.stderr and "Traceback" not in result.stderr
