"""The shared fitting engine on tiny problems: schedule, budget, resume, interruption, NaN guard."""

from __future__ import annotations

import os
import signal
import threading

import numpy as np
import pytest
import torch
from torch import nn

from vidprior.errors import VidpriorError
from vidprior.fit import CHECKPOINT, PREVIEW, RESULT, Interrupted, Objective, Schedule, fit
from vidprior.progress import read_status, report_to


class Curve(Objective):
    """Fit a tiny MLP to a fixed random target, on random mini-batches (uses torch's RNG)."""

    def __init__(self, poison_at: int | None = None, signal_at: int | None = None, signum: int = signal.SIGTERM):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 3))
        self.register_buffer("x", torch.rand(64, 2))
        self.register_buffer("y", torch.rand(64, 3))
        self.poison_at, self.signal_at, self.signum = poison_at, signal_at, signum
        self.calls = 0

    def loss(self, step):
        self.calls += 1
        pick = torch.randint(0, 64, (16,))
        loss = (self.net(self.x[pick]) - self.y[pick]).pow(2).mean()
        if self.poison_at is not None and self.calls == self.poison_at:
            loss = loss * float("nan")
        if self.calls == self.signal_at:  # as if the user pressed Ctrl-C / the system sent SIGTERM
            os.kill(os.getpid(), self.signum)
        return loss, {"mse": float(loss.detach()), "psnr": 10.0}

    def render(self):
        with torch.no_grad():
            out = self.net(self.x).clamp(0, 1)
        return (out * 255).round().byte().numpy().reshape(8, 8, 1, 3).repeat(2, axis=2)


def quiet(**kw) -> Schedule:
    return Schedule(precision="fp32", **{"steps": 40, "lr": 1e-2, "warmup": 5, **kw})


def test_fit_lowers_the_loss_and_writes_the_run_folder(tmp_path):
    objective = Curve()
    before = float(objective.loss(0)[0].detach())
    result, report = fit(objective, quiet(steps=80), run_dir=tmp_path, progress=False, key="k")
    assert report.steps == 80 and report.stopped == "steps" and report.its_per_second > 0
    assert report.final_loss < before / 2
    assert result.shape == (8, 8, 2, 3) and result.dtype == np.uint8
    assert {CHECKPOINT, RESULT, PREVIEW} <= set(os.listdir(tmp_path))


def test_a_status_file_follows_the_fit_for_other_programs(tmp_path):
    class Watched(Curve):
        seen: list = []

        def loss(self, step):
            self.seen.append(read_status(tmp_path / "status.json"))
            return super().loss(step)

    report_to(tmp_path / "status.json")
    try:
        fit(Watched(), quiet(steps=30, budget=None), progress=False, label="curve")
    finally:
        report_to(None)
    during = [s["bars"][0] for s in Watched.seen if s.get("bars")]
    assert during and during[0]["label"] == "curve" and during[0]["total"] == 1000
    assert all(0 <= b["fraction"] < 1 for b in during)
    assert read_status(tmp_path / "status.json")["bars"] == []  # closed at the end
    assert read_status(tmp_path / "missing.json") == {}


def test_schedule_warms_up_then_decays():
    s = Schedule(steps=100, lr=1e-2, warmup=10, final_lr=0.1)
    rates = [s.lr_at(i, s.progress(i, 0.0)) for i in range(100)]
    assert rates[0] == pytest.approx(1e-3) and max(rates) == pytest.approx(rates[9], rel=1e-3)
    assert rates[-1] == pytest.approx(1e-3, rel=0.05) and all(a >= b for a, b in zip(rates[10:], rates[11:]))
    assert Schedule(steps=1000, budget=10).progress(10, 5.0) == 0.5


def test_budget_stops_the_fit():
    _, report = fit(Curve(), quiet(steps=10**9, budget=0.5), progress=False)
    assert report.stopped == "budget" and 0.5 <= report.seconds < 5


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_interrupt_checkpoints_and_resume_gives_the_uninterrupted_result(tmp_path, signum):
    straight, _ = fit(Curve(), quiet(steps=60), progress=False)
    with pytest.raises(Interrupted) as stopped:
        fit(Curve(signal_at=25, signum=signum), quiet(steps=60), run_dir=tmp_path, progress=False, key="k")
    assert stopped.value.run_dir == tmp_path and "interrupted at step 25" in str(stopped.value)
    assert torch.load(tmp_path / CHECKPOINT, weights_only=False)["step"] == 25
    assert not (tmp_path / RESULT).exists()
    resumed, report = fit(Curve(), quiet(steps=60), run_dir=tmp_path, resume=True, progress=False, key="k")
    assert report.steps == 60
    assert np.array_equal(straight, resumed)


def test_a_timed_sigterm_stops_a_long_fit(tmp_path):
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    with pytest.raises(Interrupted):
        fit(Curve(), quiet(steps=10**7), run_dir=tmp_path, progress=False, key="k")
    timer.join()
    assert 0 < torch.load(tmp_path / CHECKPOINT, weights_only=False)["step"] < 10**7


def test_resume_of_a_finished_run_returns_its_result_and_other_input_is_refused(tmp_path):
    first, done = fit(Curve(), quiet(), run_dir=tmp_path, progress=False, key="k")
    again, report = fit(Curve(), quiet(), run_dir=tmp_path, resume=True, progress=False, key="k")
    assert report.stopped == "cached" and np.array_equal(first, again)
    assert report.steps == done.steps and report.seconds == done.seconds  # what made the result, for reports
    (tmp_path / RESULT).unlink()
    with pytest.raises(VidpriorError, match="different input"):
        fit(Curve(), quiet(), run_dir=tmp_path, resume=True, progress=False, key="other")


def test_nan_guard_rolls_back_and_lowers_the_learning_rate(capsys):
    _, report = fit(Curve(poison_at=30), quiet(steps=50), progress=False)
    assert report.rollbacks == 1 and report.steps == 50 and np.isfinite(report.final_loss)
    assert "loss not finite" in capsys.readouterr().err


def test_a_loss_that_stays_nan_ends_with_a_clear_error():
    class Broken(Curve):
        def loss(self, step):
            loss, stats = super().loss(step)
            return loss * float("nan"), stats

    with pytest.raises(VidpriorError, match="diverged"):
        fit(Broken(), quiet(), progress=False)


def test_noise_floor_stops_early():
    _, report = fit(Curve(), quiet(steps=5000, stop_below=0.2), progress=False)
    assert report.stopped == "noise floor" and report.steps < 5000


def test_weight_averaging_smooths_the_result():
    plain, _ = fit(Curve(), quiet(steps=60), progress=False)
    averaged, _ = fit(Curve(), quiet(steps=60, ema=0.9), progress=False)
    assert not np.array_equal(plain, averaged)


@pytest.mark.parametrize("bad", [dict(steps=0), dict(lr=5.0), dict(budget=-1.0), dict(ema=1.5),
                                 dict(precision="fp8")])
def test_absurd_settings_are_refused(bad):
    with pytest.raises(VidpriorError):
        Schedule(**bad)


def test_gradient_clipping_bounds_each_step():
    def movement(**kw) -> float:
        objective = Curve()
        before = {n: p.detach().clone() for n, p in objective.named_parameters()}
        fit(objective, quiet(steps=5, warmup=0, **kw), progress=False)
        return max(float((p.detach() - before[n]).abs().max()) for n, p in objective.named_parameters())

    # Adam rescales gradients, but once the clipped norm is far below its epsilon the steps shrink
    assert movement(clip_grad=1e-10) < movement() / 5
    with pytest.raises(VidpriorError):
        Schedule(clip_grad=-1.0)


class ConvWithFlows(Objective):
    """A conv net beside a rank-5 buffer (a stack of flows), as the inpainting objective holds."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Conv2d(3, 3, 3, padding=1)
        self.register_buffer("x", torch.rand(2, 3, 8, 8))
        self.register_buffer("flows", torch.zeros(2, 2, 2, 8, 8))

    def loss(self, step):
        loss = (self.net(self.x) + self.flows.sum() - self.x).pow(2).mean()
        return loss, {"mse": float(loss.detach()), "psnr": 10.0}

    def render(self):
        return (self.net(self.x).detach().float().clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()


def test_the_fast_path_turns_only_images_and_conv_weights_channels_last():
    objective = ConvWithFlows()
    result, report = fit(objective, Schedule(steps=5, precision="bf16", warmup=1), progress=False)
    assert report.steps == 5 and result.shape == (2, 8, 8, 3)
    assert objective.net.weight.is_contiguous(memory_format=torch.channels_last)
    assert objective.flows.dim() == 5 and objective.flows.is_contiguous()
