"""Plain DIP and internal video inpainting: tiny end-to-end fits, the objective's pieces, the CLI."""

from __future__ import annotations

import signal
import subprocess

import numpy as np
import pytest
import torch
from helpers import psnr_vs_input_alone, wait_until
from synthetic import task_problem

from vidprior import metrics
from vidprior.methods import METHODS, RunOptions
from vidprior.methods.ilvi import InpaintObjective, work_shape
from vidprior.nn.padding import pad_to
from vidprior.nn.skip import SkipNet
from vidprior.problems import Problem
from vidprior.video import read_video

FAST = {"steps": 30, "channels": "8,16,16", "precision": "fp32"}


def _options(**params) -> RunOptions:
    return RunOptions(progress=False, params={**FAST, **params})


def test_skipnet_keeps_the_size_and_a_frame_does_not_depend_on_its_batch():
    net = SkipNet(4, 5, (8, 16, 16))
    x, size = pad_to(torch.rand(3, 4, 21, 30), net.multiple)
    assert x.shape[-2:] == (24, 32) and size == (21, 30)
    together = net(x)
    assert together.shape == (3, 5, 24, 32)
    assert torch.allclose(net(x[1:2]), together[1:2], atol=1e-5)


def test_the_default_network_takes_frames_smaller_than_its_depth(clip, hole):
    net = SkipNet(3, 3)  # five levels: 48x64 padded to multiples of 32 would leave 2x2 maps at the bottom
    x, size = pad_to(torch.rand(2, 3, 48, 64), net.multiple, net.smallest)
    assert x.shape[-2:] == (96, 96) and size == (48, 64)
    assert net(x).shape == (2, 3, 96, 96)
    objective = InpaintObjective(clip, hole, clip, strides=(1,), channels=(16, 32, 64, 128, 128), batch=3,
                                 batch_steps=1, crop=96, weights={"image": 1, "flow": 0.1, "consistency": 1}, seed=0)
    loss, _ = objective.loss(0)
    assert objective.crop is None and torch.isfinite(loss)


def test_work_shape_keeps_the_aspect():
    assert work_shape(144, 256, 256) == (144, 256)
    assert work_shape(480, 854, 256) == (144, 256)


@pytest.mark.slow
@pytest.mark.parametrize("task", ["inpaint", "denoise", "interpolate", "upscale"])
def test_dip_serves_every_task(task, clip, hole):
    problem = task_problem(task, clip, hole)
    # upscaling takes the most steps to beat nearest-neighbour; the budget is for a busy machine
    raw = METHODS["dip"].run(problem, _options(steps=500, lr=0.005, channels="16,32,32", ema=0.0, budget=600))
    assert raw.shape == (*problem.target_shape, 3) and raw.dtype == np.uint8
    clean = clip[: len(raw)]  # the target of every task here is the clean clip (first 7 frames for x2)
    ours, input_alone = psnr_vs_input_alone(problem, raw, clean)
    assert ours > input_alone + 0.5, (ours, input_alone)


def test_ilvi_starts_from_the_guide_and_keeps_known_pixels(clip, hole):
    observed = clip.copy()
    observed[hole] = 0
    objective = InpaintObjective(observed, hole, clip, strides=(1,), channels=(8, 16), batch=3, batch_steps=5,
                                 crop=32, weights={"image": 1, "flow": 0.1, "consistency": 1}, seed=0)
    start = objective.render()
    assert np.abs(start.astype(int) - clip).max() <= 1  # residual head starts at zero: output = guide
    assert objective.types == [(1, 1), (1, -1)]
    assert objective.flow_valid[:, :, 0][torch.from_numpy(hole)[None].expand(2, -1, -1, -1)].sum() == 0
    out = Problem("inpaint", observed, hole).finalize(METHODS["ilvi"].run(Problem("inpaint", observed, hole),
                                                                          _options(steps=20, crop=32)))
    assert np.array_equal(out[~hole], clip[~hole])
    assert metrics.psnr(out, clip, region=hole) > 25  # the pan is recoverable by propagation


def test_ilvi_loss_terms_respond_to_their_weights(clip, hole):
    def first_loss(weights):
        torch.manual_seed(0)
        objective = InpaintObjective(clip, hole, None, strides=(1,), channels=(8, 16), batch=3, batch_steps=5,
                                     crop=0, weights=weights, seed=0)
        return float(objective.loss(0)[0].detach())

    image_only = first_loss({"image": 1.0})
    assert first_loss({"image": 1.0, "flow": 0.1}) > image_only  # untrained flows are far from DIS flow
    assert first_loss({"image": 1.0, "consistency": 1.0}) > image_only


def test_ilvi_resumes_from_its_run_folder(tmp_path, clip, hole):
    problem = Problem("inpaint", clip, hole)
    first = METHODS["ilvi"].run(problem, RunOptions(progress=False, run_dir=tmp_path, params={**FAST, "crop": 32}))
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert (run / "result.npy").is_file() and (run / "preview.png").is_file()
    again = METHODS["ilvi"].run(problem, RunOptions(progress=False, run_dir=tmp_path, resume=True,
                                                    params={**FAST, "crop": 32}))
    assert np.array_equal(first, again)


@pytest.mark.slow
def test_ctrl_c_on_the_command_line_checkpoints_and_resume_finishes(tmp_path, clip_file, mask_folder, vidprior):
    out = tmp_path / "out.mkv"
    command = ["inpaint", clip_file, "--mask", mask_folder, "-o", out,
               "--method", "ilvi", "--param", "steps=100000", "--param", "channels=8,16", "--param", "crop=32", "-q"]
    proc = vidprior.start(*command, stderr=subprocess.PIPE)
    run_dir = tmp_path / "out.mkv.run"
    wait_until(lambda: proc.poll() is not None or list(run_dir.glob("*/preview.png")), 120, "fitting to begin")
    assert proc.poll() is None, proc.communicate()[1]
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted at step" in err and f"--resume {run_dir}" in err
    assert not out.exists()
    resumed = vidprior(*command, "--resume", run_dir, "--budget", "2s")
    assert resumed.returncode == 0, resumed.stderr
    assert "no checkpoint" not in resumed.stderr  # it carried on from the interrupted run
    assert read_video(out).frames.shape == (8, 48, 64, 3)
