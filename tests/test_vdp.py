"""Video Dynamics Prior: shapes, the recurrence, the pyramid loss, one tiny fit per task, the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import psnr_vs_input_alone
from synthetic import task_problem

from vidprior.losses import pyramid, pyramid_mse
from vidprior.methods import METHODS, RunOptions
from vidprior.methods.vdp import VdpObjective
from vidprior.nn.convlstm import ConvLSTMCell
from vidprior.nn.vdp import FrameDecoder, LatentDynamics
from vidprior.problems import Problem, add_gaussian_noise
from vidprior.video import read_video

FAST = {"decoder": "32,16", "latent": "16", "hidden": "16", "precision": "fp32", "init_steps": "10"}


def _options(**params) -> RunOptions:
    return RunOptions(progress=False, params={**FAST, **params})


def test_convlstm_cell_keeps_the_size_and_carries_its_state():
    torch.manual_seed(0)
    cell = ConvLSTMCell(3, 5)
    x = torch.rand(2, 3, 7, 9)
    h, c = cell(x)
    assert h.shape == c.shape == (2, 5, 7, 9)
    assert torch.all(cell.gates.bias[5:10] == 1)  # forget gate starts open
    h2, _ = cell(x, (h, c))
    assert not torch.allclose(h2, h)  # the same input gives another output once there is memory


def test_latent_dynamics_roll_z0_forward_causally_and_only_through_the_recurrence():
    torch.manual_seed(0)
    dynamics = LatentDynamics(4, 6)
    z0 = torch.randn(1, 4, 3, 5, requires_grad=True)
    latents = dynamics(z0, 6)
    assert latents.shape == (6, 4, 3, 5)
    assert torch.equal(latents[0], z0[0])
    assert torch.allclose(dynamics(z0, 3), latents[:3])  # a latent never depends on later steps
    # the last latent depends on z0 (through five steps of the cell) ...
    (grad,) = torch.autograd.grad(latents[-1].sum(), z0)
    assert grad.abs().sum() > 0
    # ... and on nothing else: the same z0 gives the same trajectory, another z0 another one everywhere
    assert torch.equal(dynamics(z0, 6), latents)
    moved = dynamics(z0 + 0.5, 6)
    assert all(not torch.allclose(moved[t], latents[t]) for t in range(6))


def test_frame_decoder_and_objective_handle_odd_sizes():
    decoder = FrameDecoder(8, (16, 8))
    assert decoder(torch.rand(2, 8, 5, 7)).shape == (2, 3, 20, 28)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 37, 53, 3), dtype=np.uint8)
    objective = VdpObjective(Problem("upscale", frames, factor=3), latent=8, hidden=8, decoder=(16, 8))
    assert objective.z0.shape == (1, 8, 28, 40)  # ceil(111/4), ceil(159/4): padded inside
    assert objective.render().shape == (3, 111, 159, 3)  # cropped outside
    loss, stats = objective.loss(0)
    assert torch.isfinite(loss) and stats["psnr"] > 0


def test_warm_up_predicts_ever_further_into_the_clip(clip):
    objective = VdpObjective(Problem("denoise", clip, sigma=10), latent=8, hidden=8, decoder=(8,), init_steps=12)
    counts = [objective.usable(step) for step in (0, 6, 12, 50)]
    assert counts == [2, 5, 8, 8]


def test_pyramid_loss_on_known_errors():
    y = torch.zeros(1, 3, 8, 8)
    assert float(pyramid_mse(y + 0.1, y, levels=3)) == pytest.approx(3 * 0.01)  # a flat error stays at every level
    checker = torch.tensor([[1.0, -1.0], [-1.0, 1.0]]).repeat(4, 4) * 0.1
    assert float(pyramid_mse(y + checker, y, levels=3)) == pytest.approx(0.01)  # fine noise averages out above
    assert float(pyramid_mse(y + checker, y, levels=1)) == pytest.approx(0.01)
    weight = torch.ones(1, 1, 8, 8)
    weight[..., :4, :] = 0  # the top half is unknown and wildly wrong
    x = y.clone()
    x[..., :4, :] = 5.0
    assert float(pyramid_mse(x, y, weight, levels=3)) == 0.0
    levels = pyramid(x, weight, 3)
    assert [tuple(level.shape[-2:]) for level, _ in levels] == [(8, 8), (4, 4), (2, 2)]
    with pytest.raises(ValueError):
        pyramid_mse(x, y, levels=2, level_weights=(1.0,))


def test_pyramid_loss_weighs_a_signal_error_more_than_the_noise():
    """Against a noisy target, the coarse levels average the noise away but keep a wrong signal,
    so the pyramid separates the clean answer from a biased one more than the single-scale loss."""
    torch.manual_seed(0)
    clean = torch.rand(1, 3, 1, 1).expand(1, 3, 64, 64)
    noisy = clean + 0.1 * torch.randn(1, 3, 64, 64)
    biased = clean + 0.1

    def ratio(levels: int) -> float:
        return float(pyramid_mse(biased, noisy, levels=levels)) / float(pyramid_mse(clean, noisy, levels=levels))

    assert ratio(1) == pytest.approx(2.0, rel=0.1)  # noise 0.01 vs noise + bias 0.02
    assert ratio(3) > 1.4 * ratio(1)  # about 3.3: the bias costs at every level, the noise mostly at the finest


@pytest.mark.slow
@pytest.mark.parametrize("task", ["inpaint", "denoise", "interpolate", "upscale"])
def test_vdp_serves_every_task(task, clip, hole):
    problem = task_problem(task, clip, hole)
    # upscaling takes the most steps to beat nearest-neighbour; the budget is for a busy machine
    raw = METHODS["vdp"].run(problem, _options(steps=600, lr="0.01", latent="32", hidden="32", budget=600))
    assert raw.shape == (*problem.target_shape, 3) and raw.dtype == np.uint8
    ours, input_alone = psnr_vs_input_alone(problem, raw, clip[: len(raw)])
    assert ours > input_alone + 0.5, (ours, input_alone)


def test_vdp_keeps_its_run_in_the_run_folder(tmp_path, clip):
    problem = Problem("denoise", add_gaussian_noise(clip, 20, 0), sigma=20.0)
    first = RunOptions(progress=False, run_dir=tmp_path, params={**FAST, "steps": 20})
    result = METHODS["vdp"].run(problem, first)
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert (run / "checkpoint.pt").is_file() and (run / "result.npy").is_file()
    again = RunOptions(progress=False, run_dir=tmp_path, resume=True, params={**FAST, "steps": 20})
    assert np.array_equal(METHODS["vdp"].run(problem, again), result)
    assert first.stats["steps"] == again.stats["steps"] == 20  # the finished run's own figures
    assert first.stats["it/s"] > 0 and again.stats["it/s"] == 0  # it is reused, not refitted


@pytest.mark.slow
def test_vdp_from_the_command_line(tmp_path, clip_file, vidprior):
    out = tmp_path / "up.mkv"
    params = [x for k, v in {**FAST, "steps": 15}.items() for x in ("--param", f"{k}={v}")]
    done = vidprior("upscale", clip_file, "--scale", "2", "--sigma", "5", "-o", out, "--method", "vdp", *params, "-q")
    assert done.returncode == 0, done.stderr
    assert read_video(out).frames.shape == (8, 96, 128, 3)
    bad = vidprior("denoise", clip_file, "-o", tmp_path / "d.mkv", "--method", "vdp", "--param", "levels=0", "-q")
    assert bad.returncode == 2 and "levels" in bad.stderr and "Traceback" not in bad.stderr
