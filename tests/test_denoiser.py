"""The multi-frame denoiser: shapes and its zero start, noise, training lowers the loss and resumes, the shipped
weights, adaptation that never sees a clean frame, known and blind levels, the method and the command."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from helpers import stopped_and_resumed, write_training_folder
from synthetic import panning_clip

from vidprior import metrics
from vidprior.denoiser import Denoiser, DenoiserConfig, load_denoiser, save_denoiser
from vidprior.denoiser.adaptation import FrameToFrame, adaptation, skipping, warped_neighbours
from vidprior.denoiser.inference import denoise_frames, stack
from vidprior.denoiser.noise import KINDS, add_noise, estimate_level
from vidprior.denoiser.training import DenoiserTraining, draw_sample
from vidprior.errors import VidpriorError
from vidprior.fit import Schedule, fit
from vidprior.methods import METHODS, RunOptions
from vidprior.problems import Problem, add_gaussian_noise
from vidprior.training_clips import TrainingClip
from vidprior.video import read_video

TINY = DenoiserConfig(width=8, depth=1)


def tiny_net(seed: int = 0) -> Denoiser:
    torch.manual_seed(seed)
    return Denoiser(TINY)


def pans(count: int = 3, frames: int = 8, size: int = 48) -> list[TrainingClip]:
    return [TrainingClip(f"pan{s}", panning_clip(frames=frames, height=size, width=size + 16, step=1, seed=s))
            for s in range(count)]


def train(objective, steps: int, **kwargs) -> np.ndarray:
    return fit(objective, Schedule(steps=steps, lr=3e-3, warmup=10, clip_grad=1.0), progress=False, **kwargs)[0]


# ------------------------------------------------------------------------------------ the network


@pytest.mark.parametrize("size", [(37, 53), (16, 16), (9, 30)])
def test_shapes_at_odd_sizes_and_the_untrained_network_returns_the_noisy_frame(size):
    frames = torch.rand(2, 5, 3, *size)
    out = tiny_net()(frames, torch.tensor([25.0, 10.0]))
    assert out.shape == (2, 3, *size)
    assert torch.equal(out, frames[:, 2])  # zero-initialised last layer


def test_the_network_refuses_a_wrong_number_of_frames():
    with pytest.raises(VidpriorError, match=r"\(N, 5, 3, h, w\)"):
        tiny_net()(torch.rand(1, 3, 3, 16, 16), torch.tensor([25.0]))


def test_the_noise_level_changes_the_output_of_a_trained_network():
    net = tiny_net()
    torch.nn.init.normal_(net.out.weight, std=0.1)
    frames = torch.rand(1, 5, 3, 24, 24)
    assert not torch.allclose(net(frames, torch.tensor([5.0])), net(frames, torch.tensor([50.0])))


def test_windows_mirror_at_the_ends_and_short_clips_run():
    x = torch.arange(4.0).view(4, 1, 1, 1).expand(4, 3, 2, 2)
    assert stack(x, 0)[:, 0, 0, 0].tolist() == [2, 1, 0, 1, 2]
    assert stack(x, 3)[:, 0, 0, 0].tolist() == [1, 2, 3, 2, 1]
    for count in (1, 2):
        frames = panning_clip(frames=count, height=20, width=27)
        out = denoise_frames(tiny_net(), frames, 25.0, progress=False)
        assert out.shape == frames.shape and np.array_equal(out, frames)  # untrained: the input back


# ------------------------------------------------------------------------------------ noise and samples


def test_each_noise_kind_degrades_and_reports_a_plausible_level():
    clean = np.repeat(panning_clip(frames=5, height=64, width=64)[None], 1, 0)[0]
    rng = np.random.default_rng(0)
    for kind in KINDS:
        noisy, level = add_noise(clean, kind, rng)
        assert noisy.shape == clean.shape and noisy.dtype == np.uint8
        error = float(np.sqrt(np.mean((noisy.astype(float) - clean) ** 2)))
        assert 1 < error < 60 and 0 < level < 70, (kind, error, level)
    sigma = 30.0
    estimated = estimate_level(add_gaussian_noise(clean, sigma, seed=1)[2])
    assert abs(estimated - sigma) < 4


def test_samples_come_from_torchs_rng_and_keep_the_clean_middle_frame():
    clips = pans()
    torch.manual_seed(3)
    a = draw_sample(clips, 4, 32)
    torch.manual_seed(3)
    b = draw_sample(clips, 4, 32)
    # the same draws; H.264 through PyAV can differ in a few pixels between two encodes of the same frames
    assert torch.equal(a.clean, b.clean) and float((a.noisy - b.noisy).abs().mean()) < 1e-3
    assert torch.allclose(a.level, b.level, atol=0.2)
    assert a.noisy.shape == a.clean.shape == (4, 5, 3, 32, 32)
    assert float((a.noisy - a.clean).abs().mean()) > 0.005  # noisy, and around the clean frames
    assert float((a.noisy - a.clean).mean().abs()) < 0.02


# ------------------------------------------------------------------------------------ training


@pytest.mark.slow
def test_training_lowers_the_loss(one_thread):
    objective = DenoiserTraining(tiny_net(), pans(), batch=4, crop=32)
    before = objective.validate()
    assert before["psnr"] == pytest.approx(before["noisy psnr"], abs=0.05)  # the untrained network: the input
    train(objective, 150)
    after = objective.validate()
    assert after["noisy psnr"] == before["noisy psnr"] and after["psnr"] > before["psnr"] + 2


def test_an_interrupted_training_resumes_where_it_stopped(tmp_path, monkeypatch, one_thread):
    clips = pans(1)

    def objective() -> DenoiserTraining:
        torch.manual_seed(0)
        return DenoiserTraining(Denoiser(TINY), clips, batch=2, crop=24)

    straight, resumed = stopped_and_resumed(objective, 16, 6, tmp_path, monkeypatch)
    assert len(resumed.history) == 9  # steps 7..15 only
    for a, b in zip(straight.net.state_dict().values(), resumed.net.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6)


def test_weights_round_trip_and_bad_files(tmp_path):
    net = tiny_net()
    path = save_denoiser(net, tmp_path / "w.safetensors", trained="random, for tests")
    again, meta = load_denoiser(path)
    assert again.config == TINY and meta["trained"] == "random, for tests"
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.state_dict().values()))
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a safetensors file")
    for bad in (garbage, tmp_path / "missing.safetensors"):
        with pytest.raises(VidpriorError):
            load_denoiser(bad)


def test_the_shipped_weights_beat_an_untrained_network_on_a_synthetic_clip():
    """Trained on DAVIS clips only; here a textured pan with Gaussian noise of sigma 25, told and estimated."""
    net, metadata = load_denoiser(arch="window")
    assert int(metadata["steps"]) > 1000 and "train480" in metadata["data"]
    clean = panning_clip(frames=6, height=64, width=96, step=1)
    noisy = add_gaussian_noise(clean, 25.0, seed=0)
    untrained = metrics.psnr(denoise_frames(Denoiser(net.config), noisy, 25.0, progress=False), clean)
    for level in (25.0, estimate_level(noisy[3])):
        assert metrics.psnr(denoise_frames(net, noisy, level, progress=False), clean) > untrained + 6


# ------------------------------------------------------------------------------------ adaptation


def test_the_adaptation_input_never_holds_the_target_frame():
    for count in (2, 3, 6, 10):
        for t in range(count):
            for d in (-1, 1):
                if 0 <= t + d < count:
                    window = skipping(t, d, count)
                    assert len(window) == 5 and window[2] == t and t + d not in window


def test_warped_neighbours_line_up_a_pan():
    clean = panning_clip(frames=4, height=48, width=64, step=2)
    targets, valid = warped_neighbours(clean, clean)
    assert not valid[0, 0].any() and not valid[3, 1].any()  # no frame before the first, none after the last
    inner = (slice(8, -8), slice(8, -8))
    for t, k in ((1, 0), (1, 1), (2, 1)):
        assert valid[t, k][inner].mean() > 0.9
        error = np.abs(targets[t, k][inner] - clean[t][inner].astype(np.float32)).mean()
        assert error < 3, (t, k, error)


def test_adaptation_never_reads_a_clean_frame():
    """The same noisy frames, reached from two different clean clips: identical losses, step by step."""
    clean = panning_clip(frames=6, height=40, width=56, step=1)
    noisy = add_gaussian_noise(clean, 25.0, seed=0)
    other = panning_clip(frames=6, height=40, width=56, step=1, seed=9)
    losses = []
    for reference in (clean, other):
        problem = Problem("denoise", noisy, sigma=25.0)
        objective, _ = adaptation(tiny_net(), problem.observed, 25.0, 5.0, steps=3, lr=1e-3, batch=2, crop=32)
        assert not any(torch.equal(b, torch.from_numpy(reference)) for b in objective.buffers())
        torch.manual_seed(1)
        losses.append([float(objective.loss(step)[0].detach()) for step in range(3)])
    assert losses[0] == losses[1]


@pytest.mark.slow
def test_adaptation_lowers_the_error_of_an_untrained_network(one_thread):
    """Frame-to-frame fine-tuning alone (targets are warped noisy neighbours) learns to denoise a pan."""
    clean = panning_clip(frames=8, height=48, width=64, step=1)
    noisy = add_gaussian_noise(clean, 25.0, seed=0)
    first = np.stack([cv2.GaussianBlur(f, (0, 0), 1.5) for f in noisy])  # a first pass to align the frames by
    objective = FrameToFrame(tiny_net(), noisy, 25.0, first, batch=4, crop=32)
    torch.manual_seed(0)
    result = train(objective, 200)
    assert metrics.psnr(result, clean) > metrics.psnr(noisy, clean) + 3


# ------------------------------------------------------------------------------------ the method and the command


@pytest.mark.parametrize("sigma", [25.0, None])
def test_the_method_runs_with_a_known_and_an_estimated_level(sigma):
    clean = panning_clip(frames=5, height=48, width=64, step=1)
    noisy = add_gaussian_noise(clean, 25.0, seed=0)
    options = RunOptions(progress=False, params={"adapt": 0})
    out = METHODS["denoiser"].run(Problem("denoise", noisy, sigma=sigma), options)
    assert out.shape == clean.shape and metrics.psnr(out, clean) > metrics.psnr(noisy, clean) + 5
    assert options.stats["level"] == 25.0 if sigma else abs(options.stats["level"] - 25) < 5


@pytest.mark.slow
def test_denoise_command_with_adaptation_and_the_refusals(tmp_path, vidprior):
    clean = panning_clip(frames=6, height=48, width=64, step=1)
    folder = tmp_path / "noisy"
    folder.mkdir()
    for i, frame in enumerate(add_gaussian_noise(clean, 20.0, seed=0)):
        cv2.imwrite(str(folder / f"{i:03d}.png"), frame[..., ::-1])
    out = tmp_path / "out"
    done = vidprior("denoise", str(folder), "-o", str(out), "--method", "denoiser", "--adapt", "3s", "-q")
    assert done.returncode == 0, done.stderr
    assert read_video(out).frames.shape == clean.shape
    plain = vidprior("denoise", str(folder), "-o", str(tmp_path / "plain"), "--adapt", "0", "-q")  # the default method
    assert plain.returncode == 0, plain.stderr
    assert not np.array_equal(read_video(tmp_path / "plain").frames, read_video(out).frames)
    for args, says in ((["--method", "bm3d", "--adapt", "3s"], "not to bm3d"), (["--adapt", "-3"], "is negative")):
        bad = vidprior("denoise", str(folder), "-o", str(tmp_path / "o2"), *args)
        assert bad.returncode == 2 and says in bad.stderr and len(bad.stderr.splitlines()) == 1


@pytest.mark.slow
def test_train_command_writes_loadable_weights_and_resumes(tmp_path, vidprior):
    data = write_training_folder(tmp_path / "data", frames=8, height=64, width=80, step=1)
    out = tmp_path / "w.safetensors"
    args = ["train", "denoiser", "--arch", "window", "--data", str(data), "-o", str(out), "--budget", "3s", "--width",
            "8", "--crop", "32", "--batch", "2", "-q"]
    done = vidprior(*args)
    assert done.returncode == 0, done.stderr
    net, meta = load_denoiser(out)
    assert net.config.width == 8 and "2 clips" in meta["trained"] and int(meta["steps"]) > 0
    assert "noisy input" in meta["psnr"] and str(data) in meta["data"]
    again = vidprior(*args, "--resume")  # finished: the cached run, same weights
    assert again.returncode == 0, again.stderr
    reloaded = load_denoiser(out)[0]
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), reloaded.state_dict().values()))
    further = tmp_path / "further.safetensors"
    done = vidprior("train", "denoiser", "--data", str(data), "-o", str(further), "--budget", "2s", "--crop", "32",
                    "--batch", "2", "--init", str(out), "-q")
    assert done.returncode == 0, done.stderr
    more, notes = load_denoiser(further)
    assert more.config == net.config and int(notes["steps"]) > int(meta["steps"])
    assert "continued from" in notes["trained"]


@pytest.mark.slow
def test_the_web_app_and_batch_run_the_denoiser_with_adaptation(tmp_path, vidprior):
    from fastapi.testclient import TestClient
    from helpers import wait_until

    from vidprior.server import create_app
    from vidprior.video import write_video

    noisy = add_gaussian_noise(panning_clip(frames=6, height=48, width=64, step=1), 20.0, seed=0)
    source = write_video(tmp_path / "noisy.mkv", noisy, fps=10)
    with TestClient(create_app(tmp_path / "home", threads=1, mask_adapt=0)) as client:
        video = client.post("/api/videos", files={"file": (source.name, source.read_bytes())}).json()
        job = client.post("/api/jobs", json={"video": video["id"], "task": "denoise", "method": "denoiser",
                                             "sigma": "20", "param": {"adapt": 2}}).json()
        record = wait_until(lambda: (r := client.get(f"/api/jobs/{job['id']}").json())["state"] in
                            ("done", "failed") and r, 120, "the denoising job")
        assert record["state"] == "done", record["message"]
    (tmp_path / "jobs.yaml").write_text(
        f"jobs:\n  - {{name: clean, task: denoise, input: {source}, method: denoiser, adapt: 2s, sigma: 20}}\n")
    done = vidprior("batch", str(tmp_path / "jobs.yaml"), "-q")
    assert done.returncode == 0, done.stderr + done.stdout
    assert read_video(tmp_path / "results" / "clean.mp4").frames.shape == noisy.shape
