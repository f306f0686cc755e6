"""Flow completion: network shapes and its zero start, samples, training lowers the EPE and resumes, weights, CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import stopped_and_resumed, write_training_folder
from synthetic import textured_image

from vidprior.errors import VidpriorError
from vidprior.fit import Schedule, fit
from vidprior.flowcomp import FlowCompletion, FlowCompletionConfig, complete_flows, smooth_flows
from vidprior.flowcomp.data import FlowClip, clip_flows, draw_sample
from vidprior.flowcomp.scale import resize_flow, working_holes
from vidprior.flowcomp.training import FlowCompletionTraining, hole_epe
from vidprior.flowcomp.weights import load_flowcomp, save_flowcomp

TINY = FlowCompletionConfig(width=8)


def patchwork(frames: int = 8, height: int = 40, width: int = 48, seed: int = 0) -> FlowClip:
    """Flows (the same in every frame) made of 8 x 8 cells moving each its own way: the smooth fill
    cannot guess a cell, the neighbouring frames' flows show it where their holes are elsewhere
    (object-shaped holes jump between frames)."""
    rng = np.random.default_rng(seed)
    cells = rng.uniform(-3, 3, (height // 8 + 1, width // 8 + 1, 2)).astype(np.float32)
    field = np.repeat(np.repeat(cells, 8, axis=0), 8, axis=1)[:height, :width]
    forward = np.repeat(field[None], frames, axis=0)
    shapes = np.zeros((frames, height, width), bool)
    shapes[:, 10:30, 12:28] = True  # an object's masks to borrow hole shapes from (they move along a path)
    return FlowClip("cells", forward.astype(np.float16), (-forward).astype(np.float16), shapes)


def random_inputs(size: tuple[int, int], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    flows = torch.randn(2, 3, 2, 2, *size, generator=g)
    holes = torch.zeros(2, 3, *size)
    holes[:, :, 5:20, 7:30] = 1
    smooth = torch.randn(2, 2, 2, *size, generator=g)
    return flows, holes, smooth


# ------------------------------------------------------------------------------------ the network


@pytest.mark.parametrize("size", [(37, 53), (16, 16), (41, 20)])
def test_shapes_at_odd_sizes_and_the_untrained_network_returns_the_smooth_fill(size):
    torch.manual_seed(0)
    flows, holes, smooth = random_inputs(size)
    out = FlowCompletion(TINY)(flows, holes, smooth)
    assert out.shape == (2, 2, 2, *size)
    hole = holes[:, 1, None, None].expand_as(out) > 0
    assert torch.equal(out[hole], smooth[hole])  # zero-initialised last layer: exactly the smooth fill
    assert torch.equal(out[~hole], flows[:, 1][~hole])  # known flow untouched


def test_a_trained_network_still_leaves_the_known_flow_untouched():
    torch.manual_seed(0)
    net = FlowCompletion(TINY)
    torch.nn.init.normal_(net.out.weight)
    flows, holes, smooth = random_inputs((24, 32))
    out = net(flows, holes, smooth)
    hole = holes[:, 1, None, None].expand_as(out) > 0
    assert not torch.equal(out[hole], smooth[hole]) and torch.equal(out[~hole], flows[:, 1][~hole])


def test_flow_values_scale_with_the_resolution():
    field = np.ones((40, 80, 2), np.float32) * [8.0, -4.0]
    small = resize_flow(field, (10, 20))
    assert small.shape == (10, 20, 2) and np.allclose(small, [2.0, -1.0])
    assert np.allclose(resize_flow(small, (40, 80)), field)
    holes = np.zeros((1, 9, 9), bool)
    holes[0, 4, 4] = True
    assert working_holes(holes, 4).tolist() == [[[False, False], [False, True]]]


def test_completing_a_clip_with_an_untrained_network_is_the_smooth_fill():
    clip = patchwork(frames=5)
    forward, backward = clip.forward.astype(np.float32), clip.backward.astype(np.float32)
    holes = np.zeros(forward.shape[:3], bool)
    holes[:, 10:25, 15:30] = True
    done = complete_flows(FlowCompletion(TINY), forward, backward, holes)
    smooth = smooth_flows(forward, backward, holes)
    assert np.array_equal(done[0][:-1], smooth[0][:-1]) and np.array_equal(done[1][1:], smooth[1][1:])


# ------------------------------------------------------------------------------------ samples and training


def test_samples_come_from_torchs_rng_and_hide_the_truth_only_in_the_hole():
    clips = [patchwork()]
    draws = []
    for seed in (0, 0, 1):
        torch.manual_seed(seed)
        draws.append(draw_sample(clips, [], batch=3, crop=32))
    assert torch.equal(draws[0].holes, draws[1].holes) and not torch.equal(draws[0].holes, draws[2].holes)
    s = draws[0]
    assert s.truth.shape == (3, 3, 2, 2, 32, 32) and s.holes.shape == (3, 3, 32, 32)
    assert s.smooth.shape == (3, 2, 2, 32, 32) and s.holes[:, 1].sum((1, 2)).min() > 0
    outside = (s.holes[:, 1, None, None] == 0).expand_as(s.smooth)
    assert torch.equal(s.smooth[outside], s.truth[:, 1][outside])


def train(objective: FlowCompletionTraining, steps: int, **kwargs) -> np.ndarray:
    return fit(objective, Schedule(steps=steps, lr=1e-2, warmup=10, clip_grad=1.0), progress=False, **kwargs)[0]


@pytest.mark.slow
def test_training_lowers_the_epe_below_the_smooth_fill(one_thread):
    torch.manual_seed(0)
    objective = FlowCompletionTraining(FlowCompletion(TINY), [patchwork(seed=s) for s in range(3)], batch=4,
                                       crop=32)
    before = objective.validate()
    assert before["epe"] == pytest.approx(before["smooth epe"])
    train(objective, 300)
    after = objective.validate()
    assert after["smooth epe"] == before["smooth epe"] and after["epe"] < 0.85 * before["epe"]


def test_an_interrupted_training_resumes_where_it_stopped(tmp_path, monkeypatch, one_thread):
    clips = [patchwork()]

    def objective() -> FlowCompletionTraining:
        torch.manual_seed(0)
        return FlowCompletionTraining(FlowCompletion(TINY), clips, batch=2, crop=24)

    straight, resumed = stopped_and_resumed(objective, 20, 8, tmp_path, monkeypatch)
    assert len(resumed.history) == 11  # steps 9..19 only
    for a, b in zip(straight.net.state_dict().values(), resumed.net.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6)


def test_hole_epe_is_the_mean_vector_length_in_the_hole():
    truth = torch.zeros(1, 1, 2, 4, 4)
    predicted = truth.clone()
    predicted[0, 0, :, 0, 0] = torch.tensor([3.0, 4.0])
    hole = torch.zeros(1, 4, 4)
    hole[0, :2, :2] = 1
    assert float(hole_epe(predicted, truth, hole)) == pytest.approx(5 / 4, abs=1e-4)


# ------------------------------------------------------------------------------------ weights and the command


def object_over_pan(frames: int = 10, height: int = 72, width: int = 96, seed: int = 0) -> FlowClip:
    """DIS flows of a textured background panning 2 px a frame under a textured square moving (4, 1) px a
    frame; the square's masks lend the hole shapes."""
    back = textured_image(height, width + 2 * frames, seed)
    thing = textured_image(24, 24, seed + 1)
    clip, shapes = [], np.zeros((frames, height, width), bool)
    for t in range(frames):
        frame = back[:, 2 * t: 2 * t + width].copy()
        y, x = 20 + t, 10 + 4 * t
        frame[y: y + 24, x: x + 24] = thing
        shapes[t, y: y + 24, x: x + 24] = True
        clip.append(frame)
    forward, backward = clip_flows(np.stack(clip))
    return FlowClip("object", forward.astype(np.float16), backward.astype(np.float16), shapes)


def test_the_shipped_weights_beat_the_smooth_fill_on_a_held_out_synthetic_case():
    """Trained on DAVIS flows only; here an object moving over a pan (on seeds 0-3: 12-21% lower EPE)."""
    net, metadata = load_flowcomp()
    assert metadata["scale"] == "4" and int(metadata["steps"]) > 1000 and "train480" in metadata["data"]
    torch.manual_seed(0)
    figures = FlowCompletionTraining(net, [object_over_pan()], batch=4, crop=48).validate()
    assert figures["epe"] < 0.9 * figures["smooth epe"]


def test_weights_round_trip_and_bad_files(tmp_path):
    torch.manual_seed(0)
    net = FlowCompletion(TINY)
    path = save_flowcomp(net, tmp_path / "w.safetensors", scale=2, trained="random, for tests")
    again, meta = load_flowcomp(path)
    assert again.config == TINY and meta["scale"] == "2" and meta["trained"] == "random, for tests"
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.state_dict().values()))
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a safetensors file")
    for bad in (garbage, tmp_path / "missing.safetensors"):
        with pytest.raises(VidpriorError):
            load_flowcomp(bad)


@pytest.mark.slow
def test_train_command_writes_loadable_weights_and_resumes(tmp_path, vidprior):
    data = write_training_folder(tmp_path / "data", frames=8, height=96, width=128, step=4)
    out = tmp_path / "w.safetensors"
    args = ["train", "flowcomp", "--data", str(data), "-o", str(out), "--budget", "3s", "--width", "8", "--crop",
            "24", "--batch", "2", "-q"]
    done = vidprior(*args)
    assert done.returncode == 0, done.stderr
    net, meta = load_flowcomp(out)
    assert net.config.width == 8 and meta["scale"] == "4" and "2 clips" in meta["trained"]
    assert int(meta["steps"]) > 0 and "smooth fill" in meta["epe"] and str(data) in meta["data"]
    again = vidprior(*args, "--resume")  # finished: the cached run, same weights
    assert again.returncode == 0, again.stderr
    reloaded = load_flowcomp(out)[0]
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), reloaded.state_dict().values()))
    bad = vidprior("train", "flowcomp", "--data", str(data), "-o", str(out), "--split", "0.5")
    assert bad.returncode == 2 and "not a setting of flowcomp" in bad.stderr and len(bad.stderr.splitlines()) == 1

