"""The learned fill over flowfill: the zero start, shapes, training and its cache, the shipped weights,
adaptation to the video, the keyframe route, and the mask aid (contacts and shadows)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from helpers import stopped_and_resumed, write_training_folder
from synthetic import panning_clip, textured_image

from vidprior import metrics
from vidprior.errors import VidpriorError
from vidprior.fill import FillConfig, FillNet, load_fill, save_fill
from vidprior.fill import data as fill_data
from vidprior.fill.adaptation import SHORTEST, adaptation
from vidprior.fill.data import draw_sample, load_fill_clips
from vidprior.fill.inference import refine_frames
from vidprior.fill.training import FillTraining
from vidprior.fit import Schedule, fit
from vidprior.flowfill import flowfill
from vidprior.methods import METHODS, RunOptions
from vidprior.problems import Problem
from vidprior.shadow import close_contacts, grow_into_shadow
from vidprior.video import read_video

TINY = FillConfig(width=8, blocks=1)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """Flowfill's cached answers go to a folder of the test's own."""
    monkeypatch.setenv("VIDPRIOR_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "fill"


@pytest.fixture
def untrained(tmp_path) -> Path:
    torch.manual_seed(0)
    return save_fill(FillNet(TINY), tmp_path / "untrained.safetensors", trained="untrained, for tests")


def _holed(frames: int = 6, height: int = 48, width: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """A pan with a square hole that moves with the camera: the middle of the square is seen by no frame."""
    clip = panning_clip(frames=frames, height=height, width=width, step=1)
    holes = np.zeros(clip.shape[:3], bool)
    holes[:, 14:32, 20:40] = True
    return clip, holes


def _fill(clip: np.ndarray, holes: np.ndarray, **params) -> np.ndarray:
    observed = clip.copy()
    observed[holes] = 0
    problem = Problem("inpaint", observed, holes)
    return problem.finalize(METHODS["fill"].run(problem, RunOptions(progress=False, params=params)))


# ------------------------------------------------------------------------------------ the network


@pytest.mark.parametrize("size", [(37, 53), (16, 16), (45, 31)])
def test_shapes_at_odd_sizes_and_known_pixels_pass_through(size):
    torch.manual_seed(0)
    net = FillNet(TINY)
    torch.nn.init.normal_(net.out.weight, std=0.1)  # a network that changes the hole
    image, hole = torch.rand(2, 3, *size), torch.zeros(2, 1, *size)
    hole[..., 4:12, 5:14] = 1
    out = net(image, hole, hole, hole * 3, image.flip(-1), torch.ones_like(hole))
    assert out.shape == image.shape and torch.isfinite(out).all()
    assert torch.equal(out[hole.expand_as(out) == 0], image[hole.expand_as(out) == 0])
    assert not torch.equal(out, image)


def test_the_network_refuses_wrong_shapes():
    with pytest.raises(VidpriorError, match="takes frames"):
        FillNet(TINY)(torch.rand(1, 4, 8, 8), *[torch.zeros(1, 1, 8, 8)] * 3, torch.rand(1, 3, 8, 8),
                      torch.zeros(1, 1, 8, 8))


@pytest.mark.parametrize("frames", [1, 2, 3])
def test_the_untrained_fill_is_flowfill_bit_for_bit(untrained, frames):
    clip, holes = _holed(frames=frames, height=37, width=53)
    observed = clip.copy()
    observed[holes] = 0
    problem = Problem("inpaint", observed, holes)
    plain = problem.finalize(METHODS["flowfill"].run(problem, RunOptions(progress=False)))
    assert np.array_equal(_fill(clip, holes, weights=str(untrained)), plain)


def test_the_keyframe_route_carries_the_key_frame_to_the_others(untrained):
    """FGVC's route with the zero start: the frame flowfill saw least keeps flowfill's (Telea's) fill, and the
    second propagation copies it along the flow to the other frames, where the hole moves with the camera."""
    clip, holes = _holed(frames=5)
    observed = clip.copy()
    observed[holes] = 0
    first = flowfill(observed, holes)
    key = int(np.argmax(first.unseen.sum(axis=(1, 2))))
    out = _fill(clip, holes, weights=str(untrained), route="keyframe")
    assert np.array_equal(out[~holes], clip[~holes]) and np.array_equal(out[key], first.frames[key])
    assert not np.array_equal(out, first.frames)


def test_refining_keeps_frames_without_a_hole_and_the_known_pixels(untrained):
    net = load_fill(untrained)[0]
    torch.nn.init.normal_(net.out.weight, std=0.1)
    clip, holes = _holed(frames=4)
    holes[2] = False
    done = flowfill(clip, holes)
    out = refine_frames(net, done, holes)
    assert np.array_equal(out[~holes], done.frames[~holes]) and np.array_equal(out[2], done.frames[2])
    assert not np.array_equal(out[holes], done.frames[holes])


# ------------------------------------------------------------------------------------ training


def test_flowfill_answers_are_cached_and_keyed_by_the_code(tmp_path, cache, monkeypatch):
    data = write_training_folder(tmp_path / "data", frames=6, height=40, width=56, step=1)
    first = load_fill_clips([data], draws=1)
    assert len(list(cache.glob("*.npz"))) == 2 and [c.name for c in first] == ["a", "b"]
    assert [c.name for c in load_fill_clips([data], draws=1, exclude=("a",))] == ["b"]
    monkeypatch.setattr(fill_data.flowfill, "flowfill", lambda *a, **k: pytest.fail("recomputed a cached answer"))
    again = load_fill_clips([data], draws=1)
    for a, b in zip(first, again):
        assert np.array_equal(a.draws[0].filled, b.draws[0].filled)
        assert np.array_equal(a.draws[0].unseen, b.draws[0].unseen)
    monkeypatch.setattr(fill_data, "code_key", lambda: "another version of flowfill")
    with pytest.raises(pytest.fail.Exception, match="recomputed"):
        load_fill_clips([data], draws=1)


def _clips(tmp_path: Path):
    return load_fill_clips([write_training_folder(tmp_path / "data", frames=8, height=48, width=64, step=1)])


def test_samples_hold_flowfill_outside_the_hole_and_come_from_torchs_rng(tmp_path, cache):
    clips = _clips(tmp_path)
    torch.manual_seed(3)
    a = draw_sample(clips, batch=3, crop=32, length=3)
    torch.manual_seed(3)
    b = draw_sample(clips, batch=3, crop=32, length=3)
    assert all(torch.equal(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__)
    assert a.filled.shape == (3, 3, 3, 32, 32) and a.back.shape == (3, 3, 2, 32, 32)
    outside = a.hole.expand_as(a.filled) == 0
    assert torch.equal(a.filled[outside], a.clean[outside]) and a.hole.sum() > 0
    assert (a.unseen <= a.hole).all() and (a.travel[a.hole == 0] == 0).all()


@pytest.mark.slow
def test_training_lowers_the_error_in_the_hole(tmp_path, cache, one_thread):
    torch.manual_seed(0)
    objective = FillTraining(FillNet(TINY), _clips(tmp_path), batch=4, crop=32, length=2, perceptual=0)
    before = objective.validate()
    assert before["psnr"] == pytest.approx(before["flowfill psnr"], abs=1e-6)  # the zero start
    fit(objective, Schedule(steps=150, lr=2e-3, warmup=10, clip_grad=1.0), progress=False)
    after = objective.validate()
    assert after["flowfill psnr"] == before["flowfill psnr"] and after["psnr"] > before["psnr"] + 0.5


def test_an_interrupted_training_resumes_where_it_stopped(tmp_path, cache, monkeypatch, one_thread):
    clips = _clips(tmp_path)

    def objective() -> FillTraining:
        torch.manual_seed(0)
        return FillTraining(FillNet(TINY), clips, batch=2, crop=24, length=2, perceptual=0)

    straight, resumed = stopped_and_resumed(objective, 12, 5, tmp_path / "run", monkeypatch)
    assert len(resumed.history) == 6  # steps 6..11 only
    for a, b in zip(straight.net.state_dict().values(), resumed.net.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6)


def test_weights_round_trip_and_bad_files(tmp_path, untrained):
    net, meta = load_fill(untrained)
    assert net.config == TINY and meta["trained"] == "untrained, for tests"
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a safetensors file")
    for bad in (garbage, tmp_path / "missing.safetensors"):
        with pytest.raises(VidpriorError):
            load_fill(bad)


def test_the_shipped_weights_beat_the_zero_start_where_no_frame_sees():
    """Never trained on this: a pan over a texture with a hole that moves with the camera, so its middle is seen
    by no frame and flowfill leaves it to Telea."""
    net, metadata = load_fill()
    assert int(metadata["steps"]) > 1000 and "train480" in metadata["data"]
    clip = panning_clip(frames=6, height=96, width=128, step=2, seed=5)
    holes = np.zeros(clip.shape[:3], bool)
    holes[:, 30:66, 40:84] = True
    done = flowfill(clip, holes)
    assert done.unseen.sum() > 0.3 * holes.sum()
    refined = refine_frames(net, done, holes)
    assert metrics.psnr(refined, clip, region=holes) > metrics.psnr(done.frames, clip, region=holes) + 0.3


# ------------------------------------------------------------------------------------ adaptation


def test_adaptation_reads_only_the_input_video(untrained):
    """Two videos that differ only inside the hole: the same fine-tuning, loss for loss."""
    clip, holes = _holed(frames=5)
    other = clip.copy()
    other[holes] = textured_image(48, 64, seed=9)[holes[0]][None].repeat(5, 0).reshape(-1, 3)
    losses = []
    for frames in (clip, other):
        net = load_fill(untrained)[0]
        settings = {"rounds": 1}
        filled = flowfill(frames, holes, **settings)
        objective, schedule = adaptation(net, frames, holes, filled, 5.0, settings=settings, steps=3, lr=1e-3,
                                         batch=2, crop=32)
        assert schedule.budget == SHORTEST  # 5 s asked, less the hole sets' flowfill runs: the floor
        torch.manual_seed(1)
        losses.append([float(objective.loss(step)[0].detach()) for step in range(3)])
    assert losses[0] == losses[1]


def test_adaptation_needs_frames_and_a_hole(untrained):
    clip, holes = _holed(frames=2)
    with pytest.raises(VidpriorError, match="at least 3 frames"):
        adaptation(load_fill(untrained)[0], clip, holes, flowfill(clip, holes), 5.0, settings={}, steps=1, lr=1e-3,
                   batch=1, crop=32)


# ------------------------------------------------------------------------------------ the mask aid


def shadow_clip(frames: int = 14, height: int = 96, width: int = 160, side: int = 20, step: int = 6,
                shading: float = 0.5):
    """A textured square crossing a texture with its shadow (the ground below it at ``shading`` of its brightness)
    and, just above its path, a dark patch that stays put. Returns the clip, the square's masks, the shadow's
    and the patch."""
    background = textured_image(height, width, seed=3).astype(np.float32) * 0.6 + 90
    still = np.zeros((height, width), bool)
    still[20:34, 60:90] = True
    background[still] *= 0.45
    square, shade = np.zeros((frames, height, width), bool), np.zeros((frames, height, width), bool)
    texture, clip = textured_image(side, side, seed=7)[..., ::-1], []
    for t in range(frames):
        frame = background.copy()
        y, x = 36, 8 + step * t
        shade[t, y + side: y + side + 10, x - 4: x + side + 8] = True
        frame[shade[t]] *= shading
        frame[y: y + side, x: x + side] = texture
        square[t, y: y + side, x: x + side] = True
        clip.append(np.clip(frame, 0, 255).astype(np.uint8))
    return np.stack(clip), square, shade, still


def test_the_shadow_aid_grows_into_a_moving_shadow_and_not_into_a_still_dark_patch():
    clip, square, shade, still = shadow_clip()
    grown = grow_into_shadow(clip, square)
    inner = slice(3, -3)  # frames with other frames on both sides
    assert (grown >= square).all()
    assert (grown & shade)[inner].sum() > 0.85 * shade[inner].sum()
    assert not (grown & still[None]).any()
    near = np.stack([cv2.dilate((a | b).astype(np.uint8), np.ones((19, 19), np.uint8)) > 0
                     for a, b in zip(square, shade)])  # a frame's shadow takes in its neighbours', 6 px away
    assert not (grown & ~near).any()


def test_a_mask_without_a_shadow_stays_as_it_is():
    clip, square, _, _ = shadow_clip(shading=1.0)
    assert np.array_equal(grow_into_shadow(clip, square), square)


def test_closing_fills_the_gap_between_two_legs_and_keeps_apart_what_is_far():
    holes = np.zeros((1, 40, 60), bool)
    holes[0, 6:20, 12:48] = True  # the body
    holes[0, 20:32, 22:26] = holes[0, 20:32, 29:33] = True  # two legs, 3 px apart
    holes[0, 34:38, 2:4] = True  # far away: stays a separate piece
    closed = close_contacts(holes)
    assert closed[0, 20:30, 26:29].all()  # between the legs
    assert not closed[0, 24:34, 40:60].any() and np.array_equal(closed[0, 34:38, 2:6], holes[0, 34:38, 2:6])


# ------------------------------------------------------------------------------------ commands, web app, batch


@pytest.mark.slow
def test_inpaint_command_with_the_fill_the_shadow_aid_and_adaptation(tmp_path, vidprior):
    clip, square, shade, _ = shadow_clip(frames=8)
    folder, masks = tmp_path / "frames", tmp_path / "masks"
    folder.mkdir()
    masks.mkdir()
    for i, (frame, mask) in enumerate(zip(clip, square)):
        cv2.imwrite(str(folder / f"{i:03d}.png"), frame[..., ::-1])
        cv2.imwrite(str(masks / f"{i:03d}.png"), mask.astype(np.uint8) * 255)
    out, plain = tmp_path / "out.mkv", tmp_path / "plain.mkv"
    done = vidprior("inpaint", folder, "--mask", masks, "-o", out, "--method", "fill", "--mask-shadow",
                    "--adapt", "3s", "-q")
    assert done.returncode == 0, done.stderr
    assert vidprior("inpaint", folder, "--mask", masks, "-o", plain, "-q").returncode == 0  # the default method
    aided, left = read_video(out).frames, read_video(plain).frames
    near = np.stack([cv2.dilate((a | b).astype(np.uint8), np.ones((19, 19), np.uint8)) > 0
                     for a, b in zip(square, shade)])
    assert np.array_equal(aided[~near], clip[~near])  # only the mask and its shadow change
    inner = slice(2, -2)
    assert np.abs(aided[inner][shade[inner]].astype(int) - clip[inner][shade[inner]]).mean() > 10  # the shadow went
    assert np.array_equal(left[~square], clip[~square])
    bad = vidprior("inpaint", folder, "--mask", masks, "-o", tmp_path / "o2.mkv", "--method", "fill", "--adapt", "-3")
    assert bad.returncode == 2 and "is negative" in bad.stderr and len(bad.stderr.splitlines()) == 1


@pytest.mark.slow
def test_train_command_writes_loadable_weights_resumes_and_continues(tmp_path, cache, vidprior):
    data = write_training_folder(tmp_path / "data", frames=8, height=48, width=64, step=1)
    out = tmp_path / "w.safetensors"
    args = ["train", "fill", "--data", data, "-o", out, "--budget", "3s", "--width", "8", "--crop", "32", "--batch",
            "2", "--hold-out", "b", "-q"]
    done = vidprior(*args, env={**os.environ, "VIDPRIOR_CACHE": str(cache.parent)})
    assert done.returncode == 0, done.stderr
    net, meta = load_fill(out)
    assert net.config.width == 8 and "1 clips" in meta["trained"] and "held out: b" in meta["trained"]
    assert int(meta["steps"]) > 0 and "flowfill" in meta["psnr"]
    again = vidprior(*args, "--resume", env={**os.environ, "VIDPRIOR_CACHE": str(cache.parent)})
    assert again.returncode == 0, again.stderr
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), load_fill(out)[0].state_dict().values()))
    further = tmp_path / "further.safetensors"
    done = vidprior("train", "fill", "--data", data, "-o", further, "--budget", "2s", "--crop", "32", "--batch", "2",
                    "--init", out, "-q", env={**os.environ, "VIDPRIOR_CACHE": str(cache.parent)})
    assert done.returncode == 0, done.stderr
    more, notes = load_fill(further)
    assert more.config == net.config and int(notes["steps"]) > int(meta["steps"])
    assert "continued from" in notes["trained"]
    wrong = vidprior("train", "denoiser", "--data", data, "-o", tmp_path / "d.safetensors", "--hold-out", "a")
    assert wrong.returncode == 2 and "--hold-out" in wrong.stderr


@pytest.mark.slow
def test_the_web_app_and_batch_remove_the_shadow_with_the_fill(tmp_path, vidprior):
    from fastapi.testclient import TestClient
    from helpers import wait_until
    from test_server import png_url

    from vidprior.server import create_app
    from vidprior.video import write_video

    clip, square, _, _ = shadow_clip(frames=8)
    source = write_video(tmp_path / "square.mkv", clip, fps=10)
    with TestClient(create_app(tmp_path / "home", threads=1, mask_adapt=0)) as client:
        video = client.post("/api/videos", files={"file": (source.name, source.read_bytes())}).json()
        keyframes = {"0": png_url(square[0]), "7": png_url(square[7])}
        job = client.post("/api/jobs", json={"video": video["id"], "task": "inpaint", "method": "fill", "dilate": "0",
                                             "shadow": True, "keyframes": keyframes, "param": {"adapt": 2}}).json()
        record = wait_until(lambda: (r := client.get(f"/api/jobs/{job['id']}").json())["state"] in
                            ("done", "failed") and r, 180, "the inpainting job")
        assert record["state"] == "done", record["message"]
        assert record["job"]["mask_shadow"] is True and record["job"]["method"] == "fill"
    masks = tmp_path / "masks"
    masks.mkdir()
    for i, mask in enumerate(square):
        cv2.imwrite(str(masks / f"{i:03d}.png"), mask.astype(np.uint8) * 255)
    job = f"{{name: gone, task: inpaint, input: {source}, mask: {masks}, mask_shadow: true}}"
    (tmp_path / "jobs.yaml").write_text(f"jobs:\n  - {job}\n")
    done = vidprior("batch", tmp_path / "jobs.yaml", "-q")
    assert done.returncode == 0, done.stderr + done.stdout
    assert read_video(tmp_path / "results" / "gone.mp4").frames.shape == clip.shape
