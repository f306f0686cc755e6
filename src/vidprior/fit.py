"""The one optimisation loop that every internal-learning method shares.

A method describes *what* to fit as an `Objective` (a module with a ``loss`` per step, a ``render``
of the result and a ``preview`` frame); `fit` decides *how*: Adam with warm-up and cosine decay,
an iteration count and/or a wall-clock budget, a progress bar with loss, PSNR, it/s and ETA, a
preview image every few seconds, atomic checkpoints, resume, Ctrl-C/SIGTERM that checkpoints
before leaving, a NaN guard, optional weight averaging and early stopping at the noise floor, and
the fast CPU path (channels-last + bfloat16 autocast) where the processor supports bf16.

A run folder holds ``checkpoint.pt`` (model, optimiser, RNG, step, time used), ``preview.png`` and,
once finished, ``result.npy``; `fit` on a folder with a finished result returns it at once.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from .errors import VidpriorError
from .files import atomic_write
from .progress import Bar
from .signals import on_stop_signals

CHECKPOINT = "checkpoint.pt"
RESULT = "result.npy"
PREVIEW = "preview.png"


class Interrupted(VidpriorError):
    """Ctrl-C or SIGTERM stopped a fit after its checkpoint was written."""

    def __init__(self, run_dir: Path | None, step: int) -> None:
        where = f"; checkpoint in {run_dir}" if run_dir else " (no run folder, nothing kept)"
        super().__init__(f"interrupted at step {step}{where}")
        self.run_dir = run_dir


@dataclass
class Schedule:
    """How long and how fast to fit.

    steps: most Adam steps; budget: most seconds of fitting (None: no limit). The learning rate
    rises linearly over ``warmup`` steps, then follows a cosine from ``lr`` to ``lr * final_lr``
    over the run's progress (the larger of steps done/steps and time used/budget).
    ema: weight-averaging factor (0: off), the cheap stand-in for Deep Image Prior's averaging of
    outputs. stop_below: stop once the running mean of the objective's ``mse`` statistic falls
    below it (the noise floor of a noisy observation: fitting further only fits noise).
    precision: 'auto' (bf16 where the CPU or GPU supports it), 'bf16' or 'fp32'.
    clip_grad: largest gradient norm per step (None: no clipping); caps the rare spikes.
    """

    steps: int = 2000
    budget: float | None = None
    lr: float = 1e-2
    warmup: int = 50
    final_lr: float = 0.1
    ema: float = 0.0
    stop_below: float | None = None
    precision: str = "auto"
    clip_grad: float | None = None
    checkpoint_every: float = 30.0
    preview_every: float = 5.0
    max_rollbacks: int = 6

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise VidpriorError(f"steps={self.steps}: give at least 1 step")
        if self.budget is not None and self.budget <= 0:
            raise VidpriorError(f"budget {self.budget}s: give a positive duration")
        if not 0 < self.lr < 1:
            raise VidpriorError(f"lr={self.lr} is out of range; typical values are 1e-4 to 1e-2")
        if not 0 <= self.ema < 1:
            raise VidpriorError(f"ema={self.ema} must be in [0, 1), e.g. 0.99")
        if self.clip_grad is not None and self.clip_grad <= 0:
            raise VidpriorError(f"clip_grad={self.clip_grad} must be positive (or unset)")
        if self.precision not in ("auto", "bf16", "fp32"):
            raise VidpriorError(f"precision '{self.precision}': choose auto, bf16 or fp32")

    def progress(self, step: int, seconds: float) -> float:
        """Fraction of the run done, 0..1."""
        done = step / self.steps
        return max(done, seconds / self.budget) if self.budget else done

    def lr_at(self, step: int, progress: float) -> float:
        warm = min(1.0, (step + 1) / self.warmup) if self.warmup else 1.0
        cosine = self.final_lr + (1 - self.final_lr) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
        return self.lr * warm * cosine


class Objective(nn.Module):
    """What a method fits. Subclasses hold the generator and the data (as buffers) and define:

    loss(step) -> (scalar loss, stats): stats may hold 'psnr' (of the trusted pixels) and 'mse'.
    render() -> the result, (T, H, W, 3) uint8. preview() -> one frame (H, W, 3) uint8.
    Random choices (batches, crops) must use torch's RNG, which checkpoints save and restore.
    """

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    def render(self) -> np.ndarray:
        raise NotImplementedError

    def preview(self) -> np.ndarray:
        return self.render()[0]


def error_stats(mse: float) -> dict[str, float]:
    """A step's stats from its mean squared error on the trusted pixels ([0, 1] units): 'mse', 'psnr'."""
    return {"mse": mse, "psnr": -10 * np.log10(max(mse, 1e-12))}


# ------------------------------------------------------------------------------------ devices


def pick_device(name: str = "auto", loud: bool = True) -> torch.device:
    """'auto' takes cuda, then mps, then cpu (and says which); an explicit name must be present."""
    if name == "auto":
        if torch.cuda.is_available():
            chosen = "cuda"
        elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            chosen = "mps"
        else:
            chosen = "cpu"
        if loud:
            print(f"vidprior: using device {chosen} (--device to choose)", file=sys.stderr)
        return torch.device(chosen)
    if name == "cuda" and not torch.cuda.is_available():
        raise VidpriorError("--device cuda: no CUDA GPU is visible to PyTorch; use --device cpu")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise VidpriorError("--device mps: Apple's Metal backend is not available here; use --device cpu")
    if name not in ("cpu", "cuda", "mps"):
        raise VidpriorError(f"--device {name}: choose auto, cpu, cuda or mps")
    return torch.device(name)


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AMX or AVX-512 BF16); emulated bf16 is slower."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def _channels_last(module: nn.Module) -> None:
    """Images and conv weights (the rank-4 tensors) to channels-last, in place; other ranks stay.

    (``Module.to(memory_format=...)`` refuses a module holding any tensor of another rank, such as
    a stack of flows (K, T, 2, H, W).)
    """
    module._apply(lambda t: t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t)


def use_bf16(device: torch.device, precision: str) -> bool:
    if precision != "auto":
        return precision == "bf16"
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and cpu_has_bf16()


def arithmetic(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The context to compute in: bf16 autocast where `use_bf16` says so, else plain float32."""
    bf16 = use_bf16(device, precision)
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


# ------------------------------------------------------------------------------------ run folder


def fingerprint(*arrays: np.ndarray | None, extra: str = "") -> str:
    """A short hash of the data a run fits (so a run folder is never resumed on other input)."""
    digest = hashlib.sha1(extra.encode())
    for a in arrays:
        if a is not None:
            digest.update(str(a.shape).encode())
            digest.update(np.ascontiguousarray(a).tobytes())
    return digest.hexdigest()[:16]


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@contextlib.contextmanager
def _stop_requests():
    """Turns the first Ctrl-C / SIGTERM into a flag the loop checks; a second Ctrl-C stops at once."""
    flag = threading.Event()

    def request(signum: int) -> None:
        if flag.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag.set()

    with on_stop_signals(request):
        yield flag


def _write_preview(image: np.ndarray, path: Path) -> None:
    with atomic_write(path) as tmp:
        cv2.imwrite(str(tmp), image[..., ::-1])


# ------------------------------------------------------------------------------------ the loop


@dataclass
class FitReport:
    steps: int
    seconds: float
    its_per_second: float
    final_loss: float
    rollbacks: int
    stopped: str  # "steps", "budget", "noise floor" or "cached"


class _Averaged:
    """Exponential moving average of the trainable parameters, swapped in for rendering."""

    def __init__(self, module: nn.Module, decay: float) -> None:
        self.decay = decay
        self.shadow = {n: p.detach().clone() for n, p in module.named_parameters() if p.requires_grad}

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        for n, p in module.named_parameters():
            if n in self.shadow:
                self.shadow[n].lerp_(p.detach(), 1 - self.decay)

    @contextlib.contextmanager
    def applied(self, module: nn.Module):
        params = dict(module.named_parameters())
        saved = {n: params[n].detach().clone() for n in self.shadow}
        with torch.no_grad():
            for n, v in self.shadow.items():
                params[n].copy_(v)
        try:
            yield
        finally:
            with torch.no_grad():
                for n, v in saved.items():
                    params[n].copy_(v)


def fit(objective: Objective, schedule: Schedule, *, run_dir: Path | None = None, resume: bool = False,
        key: str = "", device: torch.device | None = None, progress: bool = True,
        label: str = "fit") -> tuple[np.ndarray, FitReport]:
    """Fit ``objective`` and return (its render, a report).

    run_dir: folder for checkpoints, previews and the result (None: keep nothing). resume: carry on
    from the checkpoint in ``run_dir`` (or return its finished result); ``key`` (see `fingerprint`)
    must match the one the run was started with.
    """
    device = device or torch.device("cpu")
    if run_dir is not None:
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        if resume and (run_dir / RESULT).is_file() and _stored_key(run_dir) == key:
            # the fitted weights too, for callers that use the objective afterwards (a codec stores them)
            state = torch.load(run_dir / CHECKPOINT, map_location="cpu", weights_only=False)
            objective.load_state_dict(state["objective"])
            return np.load(run_dir / RESULT), FitReport(state["step"], state["seconds"], 0.0, float("nan"),
                                                        state["rollbacks"], "cached")
    objective.to(device)
    bf16 = use_bf16(device, schedule.precision)
    if bf16 or device.type == "cuda":
        _channels_last(objective)
    params = [p for p in objective.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=schedule.lr)
    averaged = _Averaged(objective, schedule.ema) if schedule.ema else None
    step, used, lr_scale, rollbacks, smoothed = 0, 0.0, 1.0, 0, None

    checkpoint_path = run_dir / CHECKPOINT if run_dir else None
    if resume and checkpoint_path is not None and checkpoint_path.is_file():
        state = torch.load(checkpoint_path, map_location=device, weights_only=False)
        if state["key"] != key:
            raise VidpriorError(f"{run_dir} holds a run of different input or settings; "
                                "choose another run folder or delete this one")
        objective.load_state_dict(state["objective"])
        optimizer.load_state_dict(state["optimizer"])
        if averaged and state.get("averaged"):
            averaged.shadow = state["averaged"]
        step, used, lr_scale, rollbacks = state["step"], state["seconds"], state["lr_scale"], state["rollbacks"]
        _set_rng_state(state["rng"])
    elif resume and run_dir is not None:
        print(f"vidprior: {run_dir} has no checkpoint yet; starting from the beginning", file=sys.stderr)

    def save() -> None:
        if checkpoint_path is None:
            return
        with atomic_write(checkpoint_path) as tmp:
            torch.save({"key": key, "objective": objective.state_dict(), "optimizer": optimizer.state_dict(),
                        "averaged": averaged.shadow if averaged else None, "step": step, "seconds": used,
                        "lr_scale": lr_scale, "rollbacks": rollbacks, "rng": _rng_state()}, tmp)

    def snapshot() -> dict:
        return {"objective": copy.deepcopy(objective.state_dict()),
                "optimizer": copy.deepcopy(optimizer.state_dict()), "step": step}

    good = snapshot()
    def autocast() -> contextlib.AbstractContextManager:
        return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()

    stopped = "steps"
    last_loss = float("nan")
    bar = Bar(1000, label, show=progress,
              bar_format="{desc}: {percentage:3.0f}%|{bar:20}| {elapsed}<{remaining} {postfix}")
    bar.set_done(min(1000, int(1000 * schedule.progress(step, used))))
    last_checkpoint = last_preview = time.monotonic()
    began_session, steps_session = time.monotonic(), 0
    with _stop_requests() as stop_requested:
        while True:
            fraction = schedule.progress(step, used)
            if fraction >= 1:
                stopped = "budget" if schedule.budget and used >= schedule.budget else "steps"
                break
            tick = time.monotonic()
            lr = schedule.lr_at(step, fraction) * lr_scale
            for group in optimizer.param_groups:
                group["lr"] = lr
            with autocast():
                loss, stats = objective.loss(step)
            optimizer.zero_grad(set_to_none=True)
            finite = bool(torch.isfinite(loss))
            if finite:
                loss.backward()
                finite = all(p.grad is None or bool(torch.isfinite(p.grad).all()) for p in params)
            if not finite:  # roll back to the last good state, at half the learning rate
                rollbacks += 1
                if rollbacks > schedule.max_rollbacks:
                    bar.close()
                    raise VidpriorError(f"the fit diverged {rollbacks} times (loss not finite); "
                                        "lower the learning rate, e.g. --param lr=1e-3")
                objective.load_state_dict(good["objective"])
                optimizer.load_state_dict(good["optimizer"])
                step, lr_scale = good["step"], lr_scale * 0.5
                print(f"vidprior: loss not finite; back to step {step} at learning rate x{lr_scale:g}",
                      file=sys.stderr)
                continue
            if schedule.clip_grad:
                torch.nn.utils.clip_grad_norm_(params, schedule.clip_grad)
            optimizer.step()
            if averaged:
                averaged.update(objective)
            step += 1
            steps_session += 1
            used += time.monotonic() - tick
            last_loss = float(loss.detach())
            if step % 25 == 0:
                good = snapshot()
            if "mse" in stats:
                smoothed = stats["mse"] if smoothed is None else 0.95 * smoothed + 0.05 * stats["mse"]
            now = time.monotonic()
            rate = steps_session / max(now - began_session, 1e-9)
            bar.set_detail(f"step {step} loss {last_loss:.4g}"
                           + (f" psnr {stats['psnr']:.2f}" if "psnr" in stats else "") + f" {rate:.2f} it/s")
            bar.set_done(min(1000, int(1000 * schedule.progress(step, used))))
            if run_dir is not None and now - last_preview > schedule.preview_every:
                with torch.no_grad(), autocast():
                    _write_preview(objective.preview(), run_dir / PREVIEW)
                last_preview = time.monotonic()
            if run_dir is not None and now - last_checkpoint > schedule.checkpoint_every:
                save()
                last_checkpoint = time.monotonic()
            if stop_requested.is_set():
                save()
                bar.close()
                raise Interrupted(run_dir, step)
            if schedule.stop_below is not None and smoothed is not None and step > schedule.warmup \
                    and smoothed < schedule.stop_below:
                stopped = "noise floor"
                break
    bar.close()
    save()
    with torch.no_grad(), (averaged.applied(objective) if averaged else contextlib.nullcontext()), autocast():
        result = objective.render()
    if run_dir is not None:
        with atomic_write(run_dir / RESULT) as tmp:
            np.save(tmp, result)
        _write_preview(result[len(result) // 2], run_dir / PREVIEW)
    seconds = time.monotonic() - began_session
    return result, FitReport(step, used, steps_session / max(seconds, 1e-9), last_loss, rollbacks, stopped)


def _stored_key(run_dir: Path) -> str | None:
    path = run_dir / CHECKPOINT
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=False).get("key")


def train(objective: Objective, schedule: Schedule, *, name: str, about: str = "", key: str = "",
          run_dir: Path | None = None, resume: bool = False, device: str = "auto", progress: bool = True
          ) -> FitReport:
    """`fit` for a ``vidprior train NAME`` command: the device picked (and said), a line on what trains for how
    long (``about``: e.g. ' on 60 clips'), the bar labelled 'train NAME'; returns the fit's report."""
    chosen = pick_device(device, loud=progress)
    print(f"vidprior: training {name} for {schedule.budget or 0:.0f}s{about}", file=sys.stderr)
    return fit(objective, schedule, run_dir=run_dir, resume=resume, key=key, device=chosen, progress=progress,
               label=f"train {name}")[1]


def mean_stat(history: list[dict[str, float]], key: str) -> float:
    """The mean of one stat over some steps' stats (nan for none)."""
    return float(np.mean([h[key] for h in history])) if history else float("nan")
