"""The interpolation network: shapes at odd sizes and factors, exact frames for a static scene and a pure shift,
training lowers the loss and resumes, the shipped weights beat the untrained network on a synthetic occlusion,
adaptation on the video's own frames only, the method, the command, the web app and batch."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch
from helpers import stopped_and_resumed, write_training_folder
from synthetic import panning_clip, textured_image

from vidprior import metrics, perceptual
from vidprior.errors import VidpriorError
from vidprior.fit import Schedule, fit
from vidprior.inbetween import classical
from vidprior.interp import Interpolator, InterpolatorConfig, load_interpolator, save_interpolator, training
from vidprior.interp import adaptation as adaptation_module
from vidprior.interp import inference as inference_module
from vidprior.interp import network as network_module
from vidprior.interp.adaptation import OwnTriplets, adaptation, own_triplets
from vidprior.interp.inference import interpolate_frames
from vidprior.interp.training import InterpolatorTraining, draw_sample
from vidprior.methods import METHODS, RunOptions
from vidprior.problems import Problem, drop_frames
from vidprior.training_clips import TrainingClip
from vidprior.video import frames_to_tensor, read_video

TINY = InterpolatorConfig(width=8, depth=1, features=4)


def tiny_net(seed: int = 0) -> Interpolator:
    torch.manual_seed(seed)
    return Interpolator(TINY)


def pans(count: int = 3, frames: int = 8, size: int = 48, step: int = 2) -> list[TrainingClip]:
    return [TrainingClip(f"pan{s}", panning_clip(frames=frames, height=size, width=size + 16, step=step, seed=s))
            for s in range(count)]


def moving_square(frames: int = 5, height: int = 64, width: int = 96, speed: int = 4) -> np.ndarray:
    """A textured square sliding ``speed`` px/frame right over a background panning 1 px/frame left:
    occlusions that a blend of two warps gets wrong at the square's edges."""
    back = panning_clip(frames=frames, height=height, width=width, step=1, seed=3)
    square = textured_image(20, 20, seed=4)
    clip = back.copy()
    for t in range(frames):
        x = 10 + speed * t
        clip[t, 22:42, x: x + 20] = square
    return clip


def test_doctests():
    for module in (adaptation_module, inference_module, network_module):
        assert doctest.testmod(module).failed == 0


# ------------------------------------------------------------------------------------ the network


@pytest.mark.parametrize("size", [(37, 53), (16, 16), (9, 30)])
def test_shapes_at_odd_sizes_and_the_untrained_network_is_the_classical_blend(size):
    a, b = torch.rand(2, 3, *size), torch.rand(2, 3, *size)
    f01, f10, f0p, f12 = (torch.randn(2, 2, *size) for _ in range(4))
    tau = torch.tensor([0.5, 1 / 3])
    for outer in ((), (f0p, f12)):
        out = tiny_net()(a, b, f01, f10, tau, *outer)
        assert out.shape == (2, 3, *size)
        assert torch.allclose(out, classical(a, b, f01, f10, tau, *outer), atol=1e-6)  # zero-initialised last layer


@pytest.mark.parametrize("factor", [2, 3, 5])
def test_any_factor_at_an_odd_size(factor):
    frames = panning_clip(frames=3, height=27, width=41, step=1)
    out = interpolate_frames(tiny_net(), frames, factor, progress=False)
    assert out.shape == (2 * factor + 1, 27, 41, 3) and np.array_equal(out[::factor], frames)


def test_the_untrained_network_is_flowinterp():
    clip = panning_clip(frames=9, height=48, width=64, step=3)
    problem = Problem("interpolate", drop_frames(clip, 2), factor=2)
    ours = interpolate_frames(tiny_net(), problem.observed, 2, progress=False)
    flowinterp = METHODS["flowinterp"].run(problem, RunOptions(progress=False))
    assert np.abs(ours.astype(int) - flowinterp).max() <= 1


def perturbed_net() -> Interpolator:
    """A network whose last layer is far from zero, as a trained one's is."""
    net = tiny_net()
    with torch.no_grad():
        for p in net.synthesis.out.parameters():
            p.normal_(0, 0.1)
    return net


@pytest.mark.parametrize("which", ["untrained", "perturbed", "shipped"])
def test_a_static_scene_and_a_pure_shift_come_out_exactly(which):
    """Still: exact whatever the weights (the correction is gated off where the splatted frames agree). A shift:
    DIS's flow of it is not exact, so only weights that learnt to leave agreeing frames alone keep it."""
    net = {"untrained": tiny_net, "perturbed": perturbed_net, "shipped": lambda: load_interpolator()[0]}[which]()
    still = textured_image(48, 64, seed=1)
    out = interpolate_frames(net, np.stack([still, still, still]), 2, progress=False)[1::2]
    assert np.array_equal(out, np.stack([still, still]))
    if which == "perturbed":
        return
    big = textured_image(48, 96, seed=2)
    shifted = np.stack([big[:, 8:72], big[:, 12:76]])  # 4 px to the left, the middle one 2 px
    out = interpolate_frames(net, shifted, 2, progress=False)[1]
    inner = (slice(8, -8), slice(8, -8))  # away from the borders, where content enters the frame
    error = np.abs(out[inner].astype(int) - big[:, 10:74][inner])
    assert error.mean() < 0.5 and error.max() <= 3


def test_the_network_refuses_mismatched_inputs():
    with pytest.raises(VidpriorError, match="flows"):
        tiny_net()(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16), torch.zeros(1, 2, 8, 8), torch.zeros(1, 2, 8, 8),
                   torch.tensor([0.5]))


# ------------------------------------------------------------------------------------ training


def test_samples_come_from_torchs_rng_and_hold_a_frame_in_between():
    clips = pans(2)
    torch.manual_seed(5)
    a = draw_sample(clips, 3, 32)
    torch.manual_seed(5)
    b = draw_sample(clips, 3, 32)
    assert torch.equal(a.target, b.target) and torch.equal(a.tau, b.tau)
    assert a.a.shape == (3, 3, 32, 32) and a.f01.shape == (3, 2, 32, 32) and a.f12.shape == (3, 2, 32, 32)
    assert ((a.tau > 0) & (a.tau < 1)).all()
    torch.manual_seed(0)
    many = draw_sample(clips, 40, 32)
    straight = [torch.equal(many.f0p[i], -many.f01[i]) for i in range(40)]
    assert 0 < sum(straight) < 40  # some samples have straight paths, as at a clip's ends; most quadratic ones


def train(objective, steps: int, **kwargs) -> np.ndarray:
    return fit(objective, Schedule(steps=steps, lr=1e-3, warmup=10, clip_grad=1.0), progress=False, **kwargs)[0]


@pytest.mark.slow
def test_training_lowers_the_loss(one_thread, monkeypatch):
    """On one fixed batch (a network this small learns a varied set too slowly for a test)."""
    clips = pans(2, step=3)
    fixed = draw_sample(clips, 4, 40)
    monkeypatch.setattr(training, "draw_sample", lambda clips, batch, crop: fixed)
    objective = InterpolatorTraining(tiny_net(), clips, batch=4, crop=40)
    objective.valid = [fixed]
    before = objective.validate()
    assert before["psnr"] == pytest.approx(before["blend psnr"], abs=0.05)  # untrained: the classical blend
    train(objective, 100)
    after = objective.validate()
    assert after["blend psnr"] == before["blend psnr"] and after["psnr"] > before["psnr"] + 1


def test_the_perceptual_term_adds_the_lpips_distance_to_the_squared_error(monkeypatch, one_thread):
    if not perceptual.weights_available("alex"):
        pytest.skip("LPIPS weights not installed")
    clips = pans(2, step=3)
    fixed = draw_sample(clips, 2, 40)
    monkeypatch.setattr(training, "draw_sample", lambda clips, batch, crop: fixed)
    plain, weighted = (InterpolatorTraining(tiny_net(), clips, batch=2, crop=40, perceptual=w) for w in (0.0, 0.5))
    (loss, stats), (with_lpips, same) = plain.loss(0), weighted.loss(0)
    with torch.no_grad():
        distance = perceptual.lpips_model("alex")(classical(*fixed.inputs()).clamp(0, 1), fixed.target).mean()
    assert stats["psnr"] == pytest.approx(same["psnr"])  # the stats stay the squared error's
    assert with_lpips.item() == pytest.approx(loss.item() + 0.5 * distance.item(), rel=1e-4)
    with pytest.raises(VidpriorError, match="perceptual"):
        InterpolatorTraining(tiny_net(), clips, batch=2, crop=40, perceptual=-1)


def test_an_interrupted_training_resumes_where_it_stopped(tmp_path, monkeypatch, one_thread):
    clips = pans(1)

    def objective() -> InterpolatorTraining:
        torch.manual_seed(0)
        return InterpolatorTraining(Interpolator(TINY), clips, batch=2, crop=32)

    straight, resumed = stopped_and_resumed(objective, 16, 6, tmp_path, monkeypatch)
    assert len(resumed.history) == 9
    for a, b in zip(straight.net.state_dict().values(), resumed.net.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6)


def test_weights_round_trip_and_bad_files(tmp_path):
    net = tiny_net()
    path = save_interpolator(net, tmp_path / "w.safetensors", trained="random, for tests")
    again, meta = load_interpolator(path)
    assert again.config == TINY and meta["trained"] == "random, for tests"
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a safetensors file")
    for bad in (garbage, tmp_path / "missing.safetensors"):
        with pytest.raises(VidpriorError):
            load_interpolator(bad)


def test_the_shipped_weights_beat_an_untrained_network_on_a_synthetic_clip():
    """Trained on DAVIS clips only; here a square crossing a panning background, 12 px per output gap (occlusions
    at its edges; at 8 px the splatted blend is already within 0.1 dB of what the network makes)."""
    net, metadata = load_interpolator()
    assert int(metadata["steps"]) > 1000 and "train480" in metadata["data"]
    clip = moving_square(frames=9, width=160, speed=6)
    untrained = interpolate_frames(Interpolator(net.config), clip[::2], 2, progress=False)
    trained = interpolate_frames(net, clip[::2], 2, progress=False)
    assert metrics.psnr(trained[1::2], clip[1::2]) > metrics.psnr(untrained[1::2], clip[1::2]) + 0.2  # measured: +0.33


# ------------------------------------------------------------------------------------ adaptation


def test_adaptation_learns_from_the_given_frames_only():
    assert all(0 <= a < t < b < 6 for a, t, b in own_triplets(6))
    clip = moving_square(frames=9)
    given = clip[::2]
    objective = OwnTriplets(tiny_net(), given, 2, batch=2, crop=32)
    assert torch.equal(objective.frames, frames_to_tensor(given))  # nothing else is held: no in-between frame
    assert {t for _, t, _ in objective.triplets} <= set(range(len(given)))
    with pytest.raises(VidpriorError, match="at least 3 frames"):
        OwnTriplets(tiny_net(), given[:2], 2)


@pytest.mark.slow
def test_adaptation_lowers_the_error_on_the_videos_own_triplets(one_thread):
    given = panning_clip(frames=9, height=48, width=64, step=2)[::2]
    objective, schedule = adaptation(tiny_net(), given, 2, 30.0, steps=100, lr=1e-3, batch=4, crop=48)

    def error() -> float:  # on the same crops each time
        torch.manual_seed(1)
        with torch.no_grad():
            return float(np.mean([objective.loss(0)[1]["mse"] for _ in range(8)]))

    before = error()
    fit(objective, schedule, progress=False)
    assert error() < 0.8 * before


def test_the_method_runs_plain_and_adapted():
    clip = panning_clip(frames=7, height=40, width=56, step=2)
    for params in ({}, {"adapt": 1}):
        options = RunOptions(progress=False, params=params)
        out = METHODS["interp"].run(Problem("interpolate", drop_frames(clip, 2), factor=2), options)
        assert out.shape == clip.shape and metrics.psnr(out[1::2], clip[1::2]) > 30
    assert options.stats["adapt steps"] > 0


@pytest.mark.slow
def test_interpolate_command_with_adaptation_and_the_train_command(tmp_path, vidprior):
    from vidprior.video import write_video

    source = write_video(tmp_path / "in.mkv", panning_clip(frames=4, height=40, width=56, step=2), fps=10)
    out = tmp_path / "out.mkv"
    done = vidprior("interpolate", str(source), "-o", str(out), "--method", "interp", "--factor", "3", "--adapt",
                    "2s", "-q")
    assert done.returncode == 0, done.stderr
    assert read_video(out).frames.shape == (10, 40, 56, 3)
    data = write_training_folder(tmp_path / "data", frames=6, height=48, width=64, step=2)
    weights = tmp_path / "w.safetensors"
    args = ["train", "interp", "--data", str(data), "-o", str(weights), "--budget", "3s", "--width", "8", "--crop",
            "32", "--batch", "2", "-q"]
    done = vidprior(*args)
    assert done.returncode == 0, done.stderr
    net, meta = load_interpolator(weights)
    assert net.config.width == 8 and int(meta["steps"]) > 0 and "classical blend" in meta["psnr"]
    again = vidprior(*args, "--resume")  # finished: the cached run, same weights
    assert again.returncode == 0, again.stderr
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), load_interpolator(weights)[0]
                                                 .state_dict().values()))
    done = vidprior("interpolate", str(source), "-o", str(tmp_path / "o2.mkv"), "--method", "interp", "--weights",
                    str(weights), "--factor", "2", "-q")
    assert done.returncode == 0, done.stderr
    bad = vidprior("train", "denoiser", "--data", str(data), "-o", str(tmp_path / "d.safetensors"), "--perceptual",
                   "0.1")
    assert bad.returncode == 2 and "--perceptual: not a setting of denoiser" in bad.stderr
    assert len(bad.stderr.splitlines()) == 1


@pytest.mark.slow
def test_the_web_app_and_batch_run_the_network_with_adaptation(tmp_path, vidprior):
    from fastapi.testclient import TestClient
    from helpers import wait_until

    from vidprior.server import create_app
    from vidprior.video import write_video

    source = write_video(tmp_path / "in.mkv", panning_clip(frames=4, height=40, width=56, step=2), fps=10)
    with TestClient(create_app(tmp_path / "home", threads=1, mask_adapt=0)) as client:
        video = client.post("/api/videos", files={"file": (source.name, source.read_bytes())}).json()
        job = client.post("/api/jobs", json={"video": video["id"], "task": "interpolate", "method": "interp",
                                             "factor": 2, "param": {"adapt": 1}}).json()
        record = wait_until(lambda: (r := client.get(f"/api/jobs/{job['id']}").json())["state"] in
                            ("done", "failed") and r, 120, "the interpolation job")
        assert record["state"] == "done", record["message"]
    (tmp_path / "jobs.yaml").write_text(
        f"jobs:\n  - {{name: smooth, task: interpolate, input: {source}, method: interp, adapt: 1s, factor: 2}}\n")
    done = vidprior("batch", str(tmp_path / "jobs.yaml"), "-q")
    assert done.returncode == 0, done.stderr + done.stdout
    assert len(read_video(tmp_path / "results" / "smooth.mp4").frames) == 7
