"""What every ``vidprior train NAME`` of a feed-forward network shares: the start (new weights or the ones
of ``--init``), the schedule, the run's key, the figures it reports and the weights file with the record
of how they were made (data, steps and seconds summed over every training that led to them)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from .errors import VidpriorError
from .fit import Objective, Schedule, fingerprint, mean_stat, train
from .nn.weights import save_network
from .training_clips import TrainingClip


@dataclass
class Start:
    """The network to train and what trained it before: ``init``'s steps and seconds (0 for new weights)."""

    net: nn.Module
    init: Path | None = None
    steps: int = 0
    seconds: int = 0


def start(init: Path | None, load: Callable[[Path], tuple[nn.Module, dict]], build: Callable[[], nn.Module]
          ) -> Start:
    """New weights from ``build()``, or the ones in ``init`` (their configuration wins), in train mode."""
    if not init:
        return Start(build().train())
    net, notes = load(init)
    return Start(net.train(), Path(init), int(notes.get("steps", 0)), int(float(notes.get("seconds", 0))))


def check_output(output: Path, what: str) -> None:
    if output.suffix != ".safetensors":
        raise VidpriorError(f"-o {output}: {what} weights are written as NAME.safetensors")


def train_network(objective: Objective, begun: Start, clips: list[TrainingClip], *, name: str, output: Path,
                  data: list[Path], recipe: str, budget: float, steps: int, lr: float, seed: int,
                  run_dir: Path | None, resume: bool, device: str, progress: bool, stats: tuple[str, ...],
                  describe: Callable[[dict[str, float]], str], began: float, headline: str = "psnr"
                  ) -> dict[str, float]:
    """Train ``objective`` (whose ``net`` is ``begun.net``, ``history`` its stats per step and ``validate()`` its
    validation figures) and write the network to ``output``. recipe: the settings that made it, for the record;
    stats: the step stats reported beside 'psnr'; describe: the validation figures as the record's 'psnr' note;
    began: when the command started (time.monotonic). Returns the figures for the report."""
    net = begun.net
    schedule = Schedule(steps=steps, budget=budget, lr=lr, warmup=200, final_lr=0.02, clip_grad=1.0,
                        checkpoint_every=60.0, preview_every=30.0)
    names = " ".join(f"{c.name}:{len(c.frames)}" for c in clips)
    key = fingerprint(extra=f"{name} {names} {net.config} {recipe} {lr} {budget} {seed}"
                      + (f" {begun.init}" if begun.init else ""))
    report = train(objective, schedule, name=name, about=f" on {len(clips)} clips", key=key, run_dir=run_dir,
                   resume=resume, device=device, progress=progress)
    net.cpu().eval()
    history, valid = objective.history, objective.validate()
    folders = ", ".join(str(Path(d)) for d in data)
    save_network(net, output,
                 trained=(f"vidprior train {name}: {len(clips)} clips from {folders} ({names}); {recipe}, lr {lr}, "
                          f"budget {budget:.0f}s"
                          + (f"; continued from {begun.init} ({begun.steps} steps)" if begun.init else "")),
                 data=folders, steps=str(begun.steps + report.steps), seconds=f"{begun.seconds + report.seconds:.0f}",
                 **{headline: describe(valid)})
    return {"steps": report.steps, "seconds": time.monotonic() - began,
            f"first {headline}": mean_stat(history[:100], headline),
            f"last {headline}": mean_stat(history[-100:], headline),
            **{f"last {k}": mean_stat(history[-100:], k) for k in stats},
            **{f"valid {k}": v for k, v in valid.items()}}
