"""The multi-frame upscaler: shapes at odd sizes and every factor (products in passes), the untrained network is
bicubic, training lowers the loss and resumes, the shipped weights, adaptation on the video itself only, noisy
input, the method, the command, the web app and batch."""

from __future__ import annotations

import doctest

import cv2
import numpy as np
import pytest
import torch
from helpers import stopped_and_resumed, write_training_folder
from synthetic import blocks_clip, panning_clip

from vidprior import metrics
from vidprior.errors import VidpriorError
from vidprior.fit import Schedule, fit
from vidprior.methods import METHODS, RunOptions
from vidprior.methods.upscaler import input_level
from vidprior.problems import Problem, add_gaussian_noise, downscale_frames
from vidprior.training_clips import TrainingClip
from vidprior.upscaler import Upscaler, UpscalerConfig, alignment, inference, load_upscaler, save_upscaler, training
from vidprior.upscaler.adaptation import DownscaledSelf, adaptation
from vidprior.upscaler.inference import passes, upscale_frames
from vidprior.upscaler.training import UpscalerTraining, draw_sample
from vidprior.video import read_video

TINY = UpscalerConfig(width=8, blocks=1)


def tiny_net(seed: int = 0) -> Upscaler:
    torch.manual_seed(seed)
    return Upscaler(TINY)


def pans(count: int = 3, frames: int = 8, size: int = 64) -> list[TrainingClip]:
    return [TrainingClip(f"pan{s}", panning_clip(frames=frames, height=size, width=size + 16, step=1, seed=s))
            for s in range(count)]


def test_doctests():
    assert doctest.testmod(alignment).failed == 0 and doctest.testmod(inference).failed == 0


# ------------------------------------------------------------------------------------ the network


@pytest.mark.parametrize("size", [(13, 21), (8, 8), (9, 30)])
@pytest.mark.parametrize("factor", [2, 3, 4])
def test_shapes_at_odd_sizes_and_the_untrained_network_is_bicubic(size, factor):
    frames = torch.rand(2, 5, 3, *size)
    out = tiny_net()(frames, torch.ones(2, 5, 1, *size), torch.tensor([0.0, 10.0]), factor)
    assert out.shape == (2, 3, size[0] * factor, size[1] * factor)
    bicubic = torch.nn.functional.interpolate(frames[:, 2], scale_factor=factor, mode="bicubic", align_corners=False)
    assert torch.equal(out, bicubic)


@pytest.mark.parametrize("factor", [2, 3, 4, 6, 8])
def test_a_clip_at_any_trained_factor_or_product(factor):
    frames = panning_clip(frames=3, height=11, width=17, step=1)
    out = upscale_frames(tiny_net(), frames, factor, progress=False)
    assert out.shape == (3, 11 * factor, 17 * factor, 3) and out.dtype == np.uint8


def test_factors_that_are_no_product_of_trained_ones_are_refused():
    assert passes(12, (2, 3, 4)) == [4, 3]
    with pytest.raises(VidpriorError, match="x5: .*lanczos"):
        passes(5, (2, 3, 4))
    with pytest.raises(VidpriorError, match="trained for x2"):
        Upscaler(UpscalerConfig(width=8, blocks=1, factors=(2,)))(torch.rand(1, 5, 3, 8, 8), torch.ones(1, 5, 1, 8, 8),
                                                                  torch.zeros(1), 3)


def test_neighbours_line_up_a_pan():
    clip = panning_clip(frames=5, height=48, width=64, step=2)
    stack, valid = alignment.aligned(clip, 2)
    inner = (slice(6, -6), slice(12, -12))
    for k in range(5):
        assert np.abs(stack[k][inner] - clip[2][inner]).mean() < 3
        assert valid[k][inner].mean() > 0.9


# ------------------------------------------------------------------------------------ training


def test_samples_come_from_torchs_rng_and_shrink_by_the_factor():
    clips = pans(2)
    torch.manual_seed(5)
    a = draw_sample(clips, 3, 12, 4)
    torch.manual_seed(5)
    b = draw_sample(clips, 3, 12, 4)
    assert torch.equal(a.frames, b.frames) and torch.equal(a.level, b.level)
    assert a.frames.shape == (3, 5, 3, 12, 12) and a.target.shape == (3, 5, 3, 48, 48) and a.factor == 4


def train(objective, steps: int, **kwargs) -> np.ndarray:
    return fit(objective, Schedule(steps=steps, lr=1e-3, warmup=10, clip_grad=1.0), progress=False, **kwargs)[0]


@pytest.mark.slow
def test_training_lowers_the_loss(one_thread, monkeypatch):
    """On one fixed batch (a network this small learns a varied set too slowly for a test), x2 only."""
    clips = pans(2)
    fixed = draw_sample(clips, 4, 16, 2)
    monkeypatch.setattr(training, "draw_sample", lambda clips, batch, crop, factor, **kwargs: fixed)
    torch.manual_seed(0)
    objective = UpscalerTraining(Upscaler(UpscalerConfig(width=16, blocks=2, factors=(2,))), clips, batch=4, crop=16)
    objective.valid = [fixed]
    before = objective.validate()
    assert before["x2 psnr"] == pytest.approx(before["x2 bicubic psnr"], abs=0.05)  # untrained: bicubic
    train(objective, 200)
    assert objective.validate()["x2 psnr"] > before["x2 psnr"] + 1


def test_an_interrupted_training_resumes_where_it_stopped(tmp_path, monkeypatch, one_thread):
    clips = pans(1)

    def objective() -> UpscalerTraining:
        torch.manual_seed(0)
        return UpscalerTraining(Upscaler(TINY), clips, batch=2, crop=16)

    straight, resumed = stopped_and_resumed(objective, 16, 6, tmp_path, monkeypatch)
    assert len(resumed.history) == 9
    for a, b in zip(straight.net.state_dict().values(), resumed.net.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6)


def test_weights_round_trip_and_bad_files(tmp_path):
    net = tiny_net()
    path = save_upscaler(net, tmp_path / "w.safetensors", trained="random, for tests")
    again, meta = load_upscaler(path)
    assert again.config == TINY and meta["trained"] == "random, for tests"
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a safetensors file")
    for bad in (garbage, tmp_path / "missing.safetensors"):
        with pytest.raises(VidpriorError):
            load_upscaler(bad)


def test_the_shipped_weights_beat_an_untrained_network_on_a_synthetic_clip():
    """Trained on DAVIS clips only; here sharp-edged rectangles panning, downscaled x4 and x2, clean and with noise
    (sigma 10)."""
    net, metadata = load_upscaler(arch="window")
    assert int(metadata["steps"]) > 1000 and "train480" in metadata["data"]
    clip = blocks_clip(frames=5, height=96, width=128, step=1, sizes=(8, 40))
    for factor, sigma in ((4, 0.0), (2, 0.0), (4, 10.0)):
        low = downscale_frames(clip, factor)
        if sigma:
            low = add_gaussian_noise(low, sigma, seed=0)
        untrained = metrics.psnr(upscale_frames(Upscaler(net.config), low, factor, sigma, progress=False), clip)
        assert metrics.psnr(upscale_frames(net, low, factor, sigma, progress=False), clip) > untrained + 0.3


# ------------------------------------------------------------------------------------ adaptation


def test_adaptation_learns_from_the_given_frames_only():
    clip = panning_clip(frames=4, height=72, width=96, step=1)
    low = downscale_frames(clip, 2)  # 48×36: examples at x2 (24×18), not at x4
    objective = DownscaledSelf(tiny_net(), low, 4, 0.0, batch=2, crop=12)
    assert objective.example_factor == 2
    assert torch.equal(objective.targets, torch.from_numpy(low).float().div(255).movedim(-1, 1))  # the input itself
    assert objective.inputs.shape[-2:] == (18, 24)
    with pytest.raises(VidpriorError, match="too small"):
        DownscaledSelf(tiny_net(), low[:, :20, :20], 2, 0.0)


@pytest.mark.slow
def test_adaptation_lowers_the_error_on_the_video_downscaled(one_thread):
    low = downscale_frames(panning_clip(frames=4, height=128, width=160, step=1), 2)
    torch.manual_seed(0)
    net = Upscaler(UpscalerConfig(width=16, blocks=2, factors=(2,)))
    objective, schedule = adaptation(net, low, 2, 0.0, 30.0, steps=150, lr=1e-3, batch=4, crop=16)

    def error() -> float:
        torch.manual_seed(1)
        with torch.no_grad():
            return float(np.mean([objective.loss(0)[1]["mse"] for _ in range(8)]))

    before = error()
    fit(objective, schedule, progress=False)
    assert error() < 0.8 * before


def test_the_level_is_the_given_sigma_or_an_estimate_that_reads_clean_frames_as_clean():
    clip = downscale_frames(panning_clip(frames=3, height=96, width=128, step=1), 2)
    assert input_level(Problem("upscale", clip, factor=2)) == 0.0
    assert input_level(Problem("upscale", clip, factor=2, sigma=7.0)) == 7.0
    assert abs(input_level(Problem("upscale", add_gaussian_noise(clip, 10.0), factor=2)) - 10) < 3


def test_the_method_runs_plain_and_adapted():
    clip = blocks_clip(frames=4, height=64, width=96, step=1)
    low = downscale_frames(clip, 2)
    for params in ({}, {"adapt": 1}):
        options = RunOptions(progress=False, params=params)
        out = METHODS["upscaler"].run(Problem("upscale", low, factor=2), options)
        assert out.shape == clip.shape
        lanczos = np.stack([cv2.resize(f, (96, 64), interpolation=cv2.INTER_LANCZOS4) for f in low])
        assert metrics.psnr(out, clip) > metrics.psnr(lanczos, clip)
    assert options.stats["adapt steps"] > 0


@pytest.mark.slow
def test_upscale_command_with_adaptation_and_the_train_command(tmp_path, vidprior):
    from vidprior.video import write_video

    source = write_video(tmp_path / "in.mkv", downscale_frames(panning_clip(frames=4, height=64, width=96), 2), fps=10)
    out = tmp_path / "out.mkv"
    done = vidprior("upscale", str(source), "-o", str(out), "--method", "upscaler", "--scale", "2", "--adapt", "2s",
                    "-q")
    assert done.returncode == 0, done.stderr
    assert read_video(out).frames.shape == (4, 64, 96, 3)
    bad = vidprior("upscale", str(source), "-o", str(tmp_path / "x5.mkv"), "--method", "upscaler", "--scale", "5")
    assert bad.returncode == 2 and "lanczos" in bad.stderr and len(bad.stderr.splitlines()) == 1
    data = write_training_folder(tmp_path / "data", frames=6, height=64, width=80, step=1)
    weights = tmp_path / "w.safetensors"
    args = ["train", "upscaler", "--arch", "window", "--data", str(data), "-o", str(weights), "--budget", "3s",
            "--width", "8", "--crop", "16", "--batch", "2", "-q"]
    done = vidprior(*args)
    assert done.returncode == 0, done.stderr
    net, meta = load_upscaler(weights)
    assert net.config.width == 8 and int(meta["steps"]) > 0 and "x4 bicubic psnr" in meta["psnr"]
    further = tmp_path / "further.safetensors"
    done = vidprior("train", "upscaler", "--data", str(data), "-o", str(further), "--budget", "2s", "--crop", "16",
                    "--batch", "2", "--init", str(weights), "-q")
    assert done.returncode == 0, done.stderr
    assert int(load_upscaler(further)[1]["steps"]) > int(meta["steps"])


@pytest.mark.slow
def test_the_web_app_and_batch_run_the_network_with_adaptation(tmp_path, vidprior):
    from fastapi.testclient import TestClient
    from helpers import wait_until

    from vidprior.server import create_app
    from vidprior.video import write_video

    low = downscale_frames(panning_clip(frames=4, height=64, width=96), 2)
    source = write_video(tmp_path / "in.mkv", low, fps=10)
    with TestClient(create_app(tmp_path / "home", threads=1, mask_adapt=0)) as client:
        video = client.post("/api/videos", files={"file": (source.name, source.read_bytes())}).json()
        job = client.post("/api/jobs", json={"video": video["id"], "task": "upscale", "method": "upscaler",
                                             "factor": 2, "param": {"adapt": 1}}).json()
        record = wait_until(lambda: (r := client.get(f"/api/jobs/{job['id']}").json())["state"] in
                            ("done", "failed") and r, 120, "the upscaling job")
        assert record["state"] == "done", record["message"]
    (tmp_path / "jobs.yaml").write_text(
        f"jobs:\n  - {{name: big, task: upscale, input: {source}, method: upscaler, adapt: 1s, scale: 2}}\n")
    done = vidprior("batch", str(tmp_path / "jobs.yaml"), "-q")
    assert done.returncode == 0, done.stderr + done.stdout
    assert read_video(tmp_path / "results" / "big.mp4").frames.shape == (4, 64, 96, 3)
