"""VINet: network shapes, cost volume and warping on known shifts, training, weights, adaptation, retargeting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import write_training_folder
from synthetic import panning_clip, textured_image

from vidprior import flow
from vidprior.errors import VidpriorError
from vidprior.methods import METHODS, RunOptions
from vidprior.nn.padding import pad_to
from vidprior.problems import Problem, stroke_masks
from vidprior.retarget import place_object
from vidprior.training_clips import TrainingClip, synthetic_holes
from vidprior.video import read_video, write_video
from vidprior.vinet import Vinet, VinetConfig, inpaint_frames, load_vinet, save_vinet, shipped_weights
from vidprior.vinet.inference import mirror
from vidprior.vinet.network import MULTIPLE, FlowEstimator, cost_volume
from vidprior.vinet.training import VinetTraining, draw_sample

TINY = VinetConfig(width=4, displacement=2)


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    return save_vinet(Vinet(TINY), tmp_path / "tiny.safetensors", trained="random, for tests")


# ------------------------------------------------------------------------------------ the network


@pytest.mark.parametrize("size", [(37, 53), (48, 64)])
def test_step_shapes_at_odd_sizes(size):
    torch.manual_seed(0)
    net = Vinet(TINY)
    x, (h, w) = pad_to(torch.rand(2, 3, *size) * 2 - 1, MULTIPLE, mode="replicate")
    assert (h, w) == size and x.shape[-2] % 8 == 0 and x.shape[-1] % 8 == 0
    hole = torch.zeros(2, 1, *x.shape[-2:])
    hole[..., 8:16, 8:20] = 1
    sources = net.encode_sources(x[:, None].expand(2, 4, -1, -1, -1), hole[:, None].expand(2, 4, -1, -1, -1))
    sizes = [tuple(f.shape[-2:]) for f in sources.features]
    assert sizes == [(x.shape[-2] // s, x.shape[-1] // s) for s in (1, 2, 4, 8)]
    first = net(x, hole, sources)
    second = net(x, hole, sources, previous=first.image, state=first.state)
    for out in (first, second):
        assert out.image.shape == x.shape and torch.isfinite(out.image).all()
        assert out.flows[8].shape == (2, 5, 2, x.shape[-2] // 8, x.shape[-1] // 8)
        assert out.feedback_flow.shape == (2, 2, *x.shape[-2:])
    assert not torch.equal(first.image, second.image)  # the previous output is blended in


def test_cost_volume_peaks_at_the_known_shift():
    torch.manual_seed(0)
    reference = torch.randn(1, 8, 20, 24)
    for dy, dx in [(0, 0), (1, -2), (-2, 2)]:
        source = torch.roll(reference, shifts=(dy, dx), dims=(2, 3))  # content moves by (dx, dy)
        volume = cost_volume(reference, source, reach=2)
        assert volume.shape == (1, 25, 20, 24)
        best = volume[0, :, 4:-4, 4:-4].mean((1, 2)).argmax().item()
        assert divmod(best, 5) == (dy + 2, dx + 2)


def test_warping_with_the_known_shift_aligns_features():
    torch.manual_seed(0)
    reference = torch.randn(1, 4, 24, 32)
    source = torch.roll(reference, shifts=(2, -3), dims=(2, 3))
    shift = torch.zeros(1, 2, 24, 32)
    shift[:, 0], shift[:, 1] = -3, 2
    aligned = flow.warp(source, shift)
    assert torch.allclose(aligned[..., 3:-3, 4:-4], reference[..., 3:-3, 4:-4], atol=1e-5)
    # a fresh flow estimator starts at "no correction": it returns the prior it was given
    estimator = FlowEstimator(4, reach=1, c=4)
    assert torch.allclose(estimator(reference, source, shift), shift)


def test_an_untrained_network_starts_as_a_flow_guided_fill():
    torch.manual_seed(0)
    still = np.repeat(textured_image(32, 64)[None], 13, axis=0)
    hole = np.zeros(still.shape[:3], bool)
    for t in range(13):
        hole[t, 8:24, 2 + 4 * t: 10 + 4 * t] = True  # every hole pixel is seen by a frame 3 or 6 away
    out = inpaint_frames(Vinet(TINY), still, hole, warmup=0)
    assert np.abs(out.astype(int) - still).max() <= 1


def test_mirror_indexing():
    assert [mirror(i, 5) for i in range(-6, 11)] == [2, 3, 4, 3, 2, 1, 0, 1, 2, 3, 4, 3, 2, 1, 0, 1, 2]
    assert mirror(-3, 1) == 0


def test_inpainting_keeps_known_pixels_at_odd_sizes(weights):
    net, meta = load_vinet(weights)
    assert meta["trained"] == "random, for tests" and net.config == TINY
    clip = panning_clip(frames=7, height=37, width=53)
    hole = stroke_masks((37, 53), 7, seed=1, coverage=0.1)
    out = inpaint_frames(net, clip, hole)
    assert out.shape == clip.shape and out.dtype == np.uint8
    assert np.array_equal(out[~hole], clip[~hole])


# ------------------------------------------------------------------------------------ weights files


def test_weights_round_trip_and_bad_files(tmp_path, weights):
    net, _ = load_vinet(weights)
    again = load_vinet(save_vinet(net, tmp_path / "again.safetensors"))[0]
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.state_dict().values()))
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a safetensors file at all")
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(weights.read_bytes()[:-100])
    for bad in (garbage, truncated, tmp_path / "missing.safetensors"):
        with pytest.raises(VidpriorError):
            load_vinet(bad)
    from safetensors.torch import save_file

    wrong = tmp_path / "wrong.safetensors"
    save_file({"x": torch.zeros(2)}, str(wrong), metadata={"config": '{"width": 4, "displacement": 2}'})
    with pytest.raises(VidpriorError, match="do not fit"):
        load_vinet(wrong)


@pytest.mark.slow
def test_the_shipped_checkpoint_loads_and_inpaints():
    net, meta = load_vinet()
    assert shipped_weights().stat().st_size < 8 * 2**20
    assert "17 clips" in meta["trained"]
    clip = read_video(shipped_weights().with_name("demo.mp4"), count=16).frames
    hole = np.zeros(clip.shape[:3], bool)
    for t in range(len(clip)):
        hole[t, 50:80, 40 + 5 * t: 70 + 5 * t] = True

    def error(frames: np.ndarray) -> float:
        return float(np.abs(frames[hole].astype(float) - clip[hole]).mean())

    torch.manual_seed(0)
    trained, untrained = (error(inpaint_frames(m, clip, hole)) for m in (net, Vinet(net.config)))
    telea = error(METHODS["telea"].run(Problem("inpaint", clip, hole), RunOptions(progress=False)))
    # what training taught (flows, mixing, corrections) beats the untrained flow-guided start and Telea
    assert trained < 0.95 * untrained and trained < telea


# ------------------------------------------------------------------------------------ training


def test_holes_are_objects_or_strokes():
    shapes = np.zeros((4, 30, 40), bool)
    shapes[:, 10:20, 10:25] = True
    rng = np.random.default_rng(0)
    holes = [synthetic_holes(rng, [shapes], (48, 64), 9) for _ in range(8)]
    for h in holes:
        assert h.shape == (9, 48, 64) and 0.005 < h.mean() < 0.6
    assert len({h.tobytes() for h in holes}) == 8


@pytest.mark.parametrize("stage", ["single", pytest.param("recurrent", marks=pytest.mark.slow)])
def test_training_steps_lower_the_loss(stage):
    torch.manual_seed(0)
    net = Vinet(TINY)
    clips = [TrainingClip("pan", panning_clip(frames=16, height=40, width=48, step=1))]
    objective = VinetTraining(net, clips, stage=stage, batch=1, crop=40)
    optimizer = torch.optim.Adam(net.parameters(), 3e-3)

    def loss_on_one_sample() -> torch.Tensor:
        torch.manual_seed(123)  # the same crops and holes every time
        return objective.loss(0)[0]

    before = float(loss_on_one_sample().detach())
    for _ in range(40):
        optimizer.zero_grad()
        loss_on_one_sample().backward()
        optimizer.step()
    assert float(loss_on_one_sample().detach()) < 0.9 * before


@pytest.mark.slow
def test_adaptation_trusts_only_known_pixels(weights):
    clip = panning_clip(frames=10, height=40, width=48, step=1)
    hole = np.zeros(clip.shape[:3], bool)
    hole[:, 10:30, 10:30] = True
    truth = clip.copy()
    losses = []
    net = load_vinet(weights)[0]
    for under in (255, 0):  # what is under the hole must not matter to the image terms
        clip[hole] = under
        objective = VinetTraining(net, [TrainingClip("in", clip, ~hole)], stage="recurrent", batch=1, crop=40,
                                  flow_weight=0.0, temporal_weight=0.0)
        torch.manual_seed(5)
        losses.append(objective.loss(0)[0])
    assert torch.allclose(*losses)
    options = RunOptions(progress=False, params={"weights": str(weights), "adapt": 2.0})
    adapted = METHODS["vinet"].run(Problem("inpaint", clip, hole), options)
    plain = METHODS["vinet"].run(Problem("inpaint", clip, hole), RunOptions(progress=False,
                                                                             params={"weights": str(weights)}))
    assert np.array_equal(adapted[~hole], truth[~hole]) and not np.array_equal(adapted, plain)
    assert options.stats["adapt steps"] > 0


@pytest.mark.slow
def test_train_command_writes_loadable_weights_and_resumes(tmp_path, vidprior):
    data = write_training_folder(tmp_path / "data", frames=14, height=40, width=48)
    out = tmp_path / "w.safetensors"
    args = ["train", "vinet", "--data", str(data), "-o", str(out), "--budget", "4s", "--width", "4", "--crop", "32",
            "--batch", "1", "-q"]
    done = vidprior(*args)
    assert done.returncode == 0, done.stderr
    net, meta = load_vinet(out)
    assert net.config.width == 4 and "2 clips" in meta["trained"]
    # both stages finished: a resumed run returns the cached results at once, same weights
    again = vidprior(*args, "--resume")
    assert again.returncode == 0, again.stderr
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), load_vinet(out)[0].state_dict().values()))
    bad = vidprior("train", "vinet", "--data", str(tmp_path / "nothing"), "-o", str(out))
    assert bad.returncode == 2 and "no such file" in bad.stderr
    bad = vidprior("train", "vinet", "--data", str(data), "-o", str(tmp_path / "w.pt"))
    assert bad.returncode == 2 and ".safetensors" in bad.stderr


def test_samples_come_from_torchs_rng_so_a_resumed_run_draws_the_same():
    clips = [TrainingClip("pan", panning_clip(frames=14, height=32, width=40, step=1))]
    draws = []
    for seed in (0, 0, 1):
        torch.manual_seed(seed)
        draws.append(draw_sample(clips, [], batch=2, crop=32, outputs=3))
    assert torch.equal(draws[0].frames, draws[1].frames) and torch.equal(draws[0].holes, draws[1].holes)
    assert not torch.equal(draws[0].holes, draws[2].holes)
    assert draws[0].frames.shape == (2, 15, 3, 32, 32) and draws[0].outputs == [6, 7, 8]
    assert draws[0].flows[0].shape == (2, 5, 2, 32, 32) and not draws[0].flows[0][:, 4].any()


# ------------------------------------------------------------------------------------ the commands


@pytest.mark.slow
def test_inpaint_with_weights_and_adaptation_from_the_command_line(tmp_path, weights, clip_file, mask_folder, clip,
                                                                    vidprior):
    plain, adapted = tmp_path / "plain.mkv", tmp_path / "adapted.mkv"
    done = vidprior("inpaint", clip_file, "--mask", mask_folder, "--method", "vinet", "--weights", weights,
                    "-o", plain, "-q")
    assert done.returncode == 0, done.stderr
    done = vidprior("inpaint", clip_file, "--mask", mask_folder, "--method", "vinet", "--weights", weights,
                    "--adapt", "3s", "-o", adapted, "-q")
    assert done.returncode == 0, done.stderr
    a, b = read_video(plain).frames, read_video(adapted).frames
    assert a.shape == b.shape == clip.shape and not np.array_equal(a, b)
    for args, says in (
        (["--method", "flowfill", "--weights", str(weights)], "not to flowfill"),
        (["--method", "vinet", "--weights", str(tmp_path / "none.safetensors")], "no such file"),
        (["--method", "vinet", "--weights", str(weights), "--adapt", "soon"], "not a duration"),
    ):
        bad = vidprior("inpaint", clip_file, "--mask", mask_folder, *args, "-o", tmp_path / "x.mkv", "-q")
        assert bad.returncode == 2 and says in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "x.mkv").exists()


def test_place_object_keeps_its_size_and_scaled_position():
    frame = np.zeros((20, 40, 3), np.uint8)
    mask = np.zeros((20, 40), bool)
    mask[5:10, 20:26] = True  # centre x = 23
    frame[mask] = 200
    out = place_object(np.full((20, 20, 3), 7, np.uint8), frame, mask)
    ys, xs = np.nonzero(out[..., 0] == 200)
    assert out.shape == (20, 20, 3) and xs.max() - xs.min() + 1 == 6 and ys.max() - ys.min() + 1 == 5
    assert abs((xs.min() + xs.max() + 1) / 2 - 23 * 20 / 40) <= 0.5
    assert np.array_equal(place_object(out, frame, np.zeros_like(mask)), out)


@pytest.mark.slow
def test_retarget_from_the_command_line(tmp_path, weights, clip_file, mask_folder, clip, vidprior):
    out = tmp_path / "narrow.mkv"
    done = vidprior("retarget", clip_file, "--mask", mask_folder, "--width", "40", "--weights", weights,
                    "-o", out, "-q")
    assert done.returncode == 0, done.stderr
    narrow = read_video(out).frames
    assert narrow.shape == (len(clip), clip.shape[1], 40, 3)
    done = vidprior("retarget", clip_file, "--mask", mask_folder, "--width", "96", "--method", "telea",
                    "-o", tmp_path / "wide.mkv", "-q")
    assert done.returncode == 0, done.stderr
    assert read_video(tmp_path / "wide.mkv").frames.shape[2] == 96
    for width in ("4", "100000"):
        bad = vidprior("retarget", clip_file, "--mask", mask_folder, "--width", width, "--method", "telea",
                       "-o", tmp_path / "bad.mkv", "-q")
        assert bad.returncode == 2 and "--width" in bad.stderr and not (tmp_path / "bad.mkv").exists()
    write_video(tmp_path / "short.mkv", clip[:3], fps=25.0)
    bad = vidprior("retarget", tmp_path / "short.mkv", "--mask", mask_folder, "--width", "40", "--method", "telea",
                   "-o", tmp_path / "bad.mkv", "-q")
    assert bad.returncode == 2 and "masks for a video of 3 frames" in bad.stderr
