"""`vidprior bench`: methods side by side on clean clips with synthetic degradations.

For every clip in ``--clips`` (``<name>/frames/`` and optionally ``<name>/masks/``) the task's
degraded inputs are made (`problems`), each method runs through the same `Problem` interface,
and every figure (quality, wall time, peak memory) goes to ``<out>/<task>.json``, a markdown
table ``<out>/<task>.md`` and a plot ``<out>/<task>.png``.

Cases per task:
- inpaint: moving object-shaped holes made from *another* clip's masks (ground truth known), about
  10% of each frame; ``psnr_unseen`` scores the part of the hole that no frame shows (what flowfill's
  propagation leaves to Telea), where learning must invent the background;
- denoise: Gaussian noise at each ``--sigma`` (level given to the method), Poisson noise (peak 30,
  level unknown to the method) and a phone's video (Poisson noise of peak 100, then x264 at CRF 30;
  level unknown);
- interpolate ×k: every k-th frame kept; scored on the frames in between;
- upscale ×s: antialiased bicubic downscaling (the protocol of the published video super-resolution
  tables, "BI"); scored on Y with an s-pixel border crop; the same with Gaussian noise (sigma 10,
  given to the method) added to the low-resolution frames; and an old video: the low-resolution
  frames through x264 at CRF 28 (level unknown);
- compress: each codec over its quality sweep; bits per pixel from the real byte count.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import metrics
from .errors import VidpriorError
from .flowfill import flowfill
from .methods import CODECS, METHODS, RunOptions, get_method
from .problems import Problem, add_gaussian_noise, add_poisson_noise, downscale_frames, drop_frames, moving_masks
from .requests import TASKS, parse_params
from .video import read_video

POISSON_PEAK = 30.0
PHONE = (100.0, 30)  # a phone's video: shot noise of this peak, then x264 at this CRF (level unknown)
NOISY_SR_SIGMA = 10.0  # the hard super-resolution case of VDP: noisy low-resolution input
OLD_VIDEO_CRF = 28  # an old video: downscaled, then x264 at this CRF
BENCH_TASKS = (*TASKS, "compress")
MAIN_METRIC = {"inpaint": "psnr", "denoise": "psnr", "interpolate": "psnr", "upscale": "psnr_y", "compress": "psnr"}


@dataclass
class Clip:
    name: str
    frames: np.ndarray  # (T, H, W, 3) uint8, clean
    masks: np.ndarray | None  # (T, H, W) bool object masks, when the clip has them
    fps: float


@dataclass
class Case:
    """One degraded input of one clip and how to score a method's answer to it."""

    name: str
    problem: Problem
    reference: np.ndarray  # (T, H, W, 3) clean target
    score_frames: np.ndarray | None = None  # indices of target frames to score (None: all)
    sr_scale: int | None = None

    @functools.cached_property
    def reference_flows(self) -> metrics.Flows:
        """Flows of the clean clip for the warping error, computed once for all methods."""
        return metrics.reference_flows(self.reference)

    @functools.cached_property
    def unseen(self) -> np.ndarray | None:
        """(T, H, W) bool: the hole pixels that no frame shows (flowfill's propagation with its defaults leaves
        them to Telea), computed once for all methods; None where the case has no hole."""
        if self.problem.hole is None:
            return None
        return flowfill(self.problem.observed, self.problem.hole).unseen


@dataclass
class Record:
    task: str
    case: str
    clip: str
    method: str
    seconds: float
    peak_mb: float
    metrics: dict[str, float] = field(default_factory=dict)


class PeakMemory:
    """Peak resident memory (MB) of this process while the block runs, sampled every 10 ms."""

    def __enter__(self) -> PeakMemory:
        self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    def _watch(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self._rss())

    @staticmethod
    def _rss() -> float:
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        except OSError:
            from .restore import peak_memory_mb

            return peak_memory_mb()


def load_clips(folder: Path, frames: int, only: list[str] | None = None) -> list[Clip]:
    """Clean clips of a benchmark folder, first ``frames`` frames of each."""
    folder = Path(folder)
    if not folder.is_dir():
        raise VidpriorError(f"{folder}: not a folder of clips (<name>/frames/, optional <name>/masks/)")
    clips = []
    for path in sorted(p for p in folder.iterdir() if (p / "frames").is_dir()):
        if only and path.name not in only:
            continue
        video = read_video(path / "frames", count=frames)
        masks = None
        if (path / "masks").is_dir():
            masks = read_video(path / "masks", count=frames).frames.max(axis=3) > 127
        clips.append(Clip(path.name, video.frames, masks, video.fps))
    if not clips:
        raise VidpriorError(f"{folder}: no clips found (expected <name>/frames/ folders)")
    return clips


def make_cases(task: str, clip: Clip, clips: list[Clip], sigmas: list[float], factor: int, seed: int) -> list[Case]:
    """The degraded inputs of ``clip`` for ``task``."""
    frames = clip.frames
    if task == "inpaint":
        # shapes come from another clip's masks where possible; moving_masks moves them along a new path
        donors = ([c for c in clips if c.masks is not None and c.name != clip.name]
                  or [c for c in clips if c.masks is not None])
        if not donors:
            raise VidpriorError("the inpaint benchmark needs a clip with object masks (<name>/masks/)")
        donor = donors[sum(map(ord, clip.name)) % len(donors)]
        hole = moving_masks(donor.masks, frames.shape[1:3], len(frames), seed=seed, coverage=0.10)
        return [Case("object holes", Problem("inpaint", frames, hole), frames)]
    if task == "denoise":
        cases = [Case(f"gaussian {s:g}", Problem("denoise", add_gaussian_noise(frames, s, seed), sigma=s), frames)
                 for s in sigmas]
        noisy = add_poisson_noise(frames, POISSON_PEAK, seed)
        x264 = CODECS["x264"]
        phone = x264.decode(x264.encode(add_poisson_noise(frames, PHONE[0], seed), clip.fps, PHONE[1]))
        return [*cases, Case(f"poisson peak {POISSON_PEAK:g}", Problem("denoise", noisy), frames),
                Case(f"phone: poisson {PHONE[0]:g} + x264 crf {PHONE[1]}", Problem("denoise", phone), frames)]
    if task == "interpolate":
        kept = drop_frames(frames, factor)
        reference = frames[: (len(kept) - 1) * factor + 1]
        between = np.array([i for i in range(len(reference)) if i % factor])
        return [Case(f"x{factor}", Problem("interpolate", kept, factor=factor), reference, between)]
    if task == "upscale":
        h, w = (frames.shape[1] // factor) * factor, (frames.shape[2] // factor) * factor
        reference = frames[:, :h, :w]
        low = downscale_frames(reference, factor)
        noisy = add_gaussian_noise(low, NOISY_SR_SIGMA, seed)
        x264 = CODECS["x264"]
        old = x264.decode(x264.encode(low, clip.fps, OLD_VIDEO_CRF))
        return [Case(f"x{factor}", Problem("upscale", low, factor=factor), reference, sr_scale=factor),
                Case(f"x{factor} noisy {NOISY_SR_SIGMA:g}",
                     Problem("upscale", noisy, factor=factor, sigma=NOISY_SR_SIGMA), reference, sr_scale=factor),
                Case(f"x{factor} old video: x264 crf {OLD_VIDEO_CRF}", Problem("upscale", old, factor=factor),
                     reference, sr_scale=factor)]
    raise VidpriorError(f"unknown benchmark task '{task}'; choose one of {', '.join(BENCH_TASKS)}")


def score(case: Case, result: np.ndarray) -> dict[str, float]:
    """Quality figures of a result for a case (on the scored frames; warping error on the whole clip)."""
    reference, hole = case.reference, case.problem.hole
    chosen = slice(None) if case.score_frames is None else case.score_frames
    figures = metrics.evaluate(result[chosen], reference[chosen], hole=None if hole is None else hole[chosen],
                               sr_scale=case.sr_scale, lpips=True)
    figures["warp_error"] = metrics.warping_error(result, reference, case.reference_flows)
    if case.unseen is not None and case.unseen[chosen].any():
        figures["psnr_unseen"] = metrics.psnr(result[chosen], reference[chosen], region=case.unseen[chosen])
    return figures


def run_method(task: str, case: Case, clip: str, name: str, options: RunOptions, label: str | None = None
               ) -> Record:
    """``name`` on ``case``, recorded under ``label`` (default: the name)."""
    method = get_method(name, task)
    torch.manual_seed(options.seed)
    options.stats.clear()
    with PeakMemory() as memory:
        began = time.monotonic()
        result = case.problem.finalize(method.run(case.problem, options))
        seconds = time.monotonic() - began
    return Record(task, case.name, clip, label or name, seconds, memory.peak, {**score(case, result), **options.stats})


def run_codec(case_clip: Clip, name: str) -> list[Record]:
    codec = CODECS[name]
    frames = case_clip.frames
    records = []
    for quality in codec.qualities:
        with PeakMemory() as memory:
            began = time.monotonic()
            data = codec.encode(frames, case_clip.fps, quality)
            encode_s = time.monotonic() - began
            decoded = codec.decode(data)
            decode_s = time.monotonic() - began - encode_s
        figures = metrics.evaluate(decoded, frames)
        figures.update(bpp=metrics.bits_per_pixel(len(data), *frames.shape[:3]), decode_fps=len(frames) / decode_s,
                       bytes=float(len(data)))
        records.append(Record("compress", f"{codec.quality_name} {quality:g}", case_clip.name, name, encode_s,
                              memory.peak, figures))
    return records


@dataclass
class Benchmark:
    """What `run_bench` runs: ``task`` on the clips of ``clips`` with ``methods`` (None: all for the task;
    see `method_entries` for settings per entry).

    params: method settings for the runs, each given to the methods that declare it (ablations).
    budget: seconds per clip for learned methods (None: their defaults).
    """

    clips: Path
    task: str
    methods: list[str] | None = None
    frames: int = 30
    only: list[str] | None = None
    sigmas: list[float] = field(default_factory=lambda: [25.0, 50.0])
    factor: int | None = None
    budget: float | None = None
    out: Path = Path("benchmarks/results")
    name: str | None = None
    keep: bool = False  # keep the other methods' records of an earlier run of the same name
    params: dict = field(default_factory=dict)
    seed: int = 0
    progress: bool = True


def method_entries(task: str, names: list[str] | None, params: dict) -> dict[str, tuple[str, dict]]:
    """label -> (method, its settings) for the entries of ``--methods`` (None: every method of the task).

    An entry is a method's name, optionally with settings of its own: ``denoiser:adapt=30:adapt_lr=1e-4``
    (its label: ``denoiser adapt=30 adapt_lr=1e-4``). ``params`` (``--param``) go to every method that
    declares them; an entry's own settings win.
    """
    pool = CODECS if task == "compress" else {k: m for k, m in METHODS.items() if task in m.tasks}
    entries: dict[str, tuple[str, dict]] = {}
    for entry in names or list(pool):
        name, *own = entry.split(":")
        if name not in pool:
            raise VidpriorError(f"'{name}' does not do {task}; choose from {', '.join(pool)}")
        if own and task == "compress":
            raise VidpriorError(f"'{entry}': codecs take no settings in the benchmark")
        own_params = parse_params(own)
        entries[" ".join([name, *own])] = (name, own_params)
    if task == "compress":
        return entries
    used = set()
    for label, (name, own) in entries.items():
        declared = {s.name for s in pool[name].settings}
        shared = {k: v for k, v in params.items() if k in declared}
        used |= set(shared)
        entries[label] = (name, {**shared, **own})
        METHODS[name].settings_from(entries[label][1])  # a bad value stops the benchmark before it starts
    unused = set(params) - used
    if unused:
        raise VidpriorError(f"--param {sorted(unused)[0]}: none of {', '.join(entries)} has this setting; "
                            "`vidprior methods NAME` lists a method's settings")
    return entries


def run_bench(bench: Benchmark) -> list[Record]:
    """Run ``bench``; writes JSON, markdown and PNG."""
    task = bench.task
    if task not in BENCH_TASKS:
        raise VidpriorError(f"--task {task} is not one of {', '.join(BENCH_TASKS)}")
    entries = method_entries(task, bench.methods, bench.params)
    kept = kept_records(bench, list(entries)) if bench.keep else []
    factor = bench.factor or {"interpolate": 2, "upscale": 4}.get(task, 1)
    clips = load_clips(bench.clips, bench.frames, bench.only)
    everything = load_clips(bench.clips, bench.frames) if bench.only else clips
    records: list[Record] = []
    for clip in clips:
        if task == "compress":
            for name in entries:
                records += run_codec(clip, name)
                _say(bench, records[-1])
            continue
        for case in make_cases(task, clip, everything, bench.sigmas, factor, bench.seed):
            for label, (name, settings) in entries.items():
                options = RunOptions(seed=bench.seed, progress=bench.progress, params=settings, budget=bench.budget)
                records.append(run_method(task, case, clip.name, name, options, label=label))
                _say(bench, records[-1])
    write_outputs(Path(bench.out), task, kept + records, bench)
    return kept + records


def kept_records(bench: Benchmark, labels: list[str]) -> list[Record]:
    """The records of an earlier run of the same name (``--keep``) for the methods not run again; refused when
    that run's frames, clips, seed, budget or settings differ."""
    path = Path(bench.out) / f"{bench.name or bench.task}.json"
    if not path.is_file():
        return []
    stored = json.loads(path.read_text())
    meta = stored["meta"]
    now = {"frames": bench.frames, "clips": str(bench.clips), "seed": bench.seed, "budget": bench.budget,
           "params": [f"{k}={v}" for k, v in bench.params.items()]}
    differ = [k for k, v in now.items() if meta.get(k) != v]
    if differ:
        raise VidpriorError(f"--keep: {path} was run with other {', '.join(differ)}; run all methods again "
                            "or choose another --name")
    return [Record(**r) for r in stored["records"] if r["method"] not in labels
            and (not bench.only or r["clip"] in bench.only)]


def _say(bench: Benchmark, record: Record) -> None:
    if bench.progress:
        main = record.metrics.get(MAIN_METRIC[record.task], float("nan"))
        print(f"{record.clip:>12} {record.case:>18} {record.method:>10}: {MAIN_METRIC[record.task]} {main:6.2f}"
              f"  {record.seconds:6.1f}s  {record.peak_mb:6.0f} MB", flush=True)


# ------------------------------------------------------------------------------------------ outputs


def _mean(values: list[float]) -> float:
    finite = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def summary_table(task: str, records: list[Record]) -> str:
    """Markdown: per case and method, the mean of every figure over clips, time and memory."""
    keys = [k for k in ("psnr", "psnr_y", "psnr_hole", "psnr_unseen", "ssim", "lpips", "warp_error", "bpp",
                        "decode_fps", "steps", "it/s", "unseen")
            if any(k in r.metrics for r in records)]
    lines = ["| case | method | " + " | ".join(keys) + " | s/clip | peak MB |",
             "|---|---|" + "---|" * (len(keys) + 2)]
    groups: dict[tuple[str, str], list[Record]] = {}
    for r in records:
        groups.setdefault((r.case, r.method), []).append(r)
    for (case, method), rs in groups.items():
        cells = [f"{_mean([r.metrics.get(k) for r in rs]):.4g}" for k in keys]
        lines.append(f"| {case} | {method} | " + " | ".join(cells)
                     + f" | {_mean([r.seconds for r in rs]):.1f} | {max(r.peak_mb for r in rs):.0f} |")
    return "\n".join(lines)


def per_clip_table(task: str, records: list[Record]) -> str:
    """Markdown: the main metric per clip (rows) and method (columns), one block per case."""
    metric = MAIN_METRIC[task]
    methods = list(dict.fromkeys(r.method for r in records))
    blocks = []
    for case in dict.fromkeys(r.case for r in records):
        rows = [r for r in records if r.case == case]
        clips = list(dict.fromkeys(r.clip for r in rows))
        head = [f"{metric} — {case}", "| clip | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
        for clip in clips:
            cells = [next((f"{r.metrics[metric]:.2f}" for r in rows if r.clip == clip and r.method == m), "–")
                     for m in methods]
            head.append(f"| {clip} | " + " | ".join(cells) + " |")
        blocks.append("\n".join(head))
    return "\n\n".join(blocks)


BD_CRFS = (23, 38)  # BD-rates are taken over this CRF range of the codecs swept by CRF


def in_bd_range(record: Record) -> bool:
    """Whether a compress record counts in BD-rates: codecs swept by CRF only inside `BD_CRFS`."""
    label, _, value = record.case.partition(" ")
    return label != "crf" or BD_CRFS[0] <= float(value) <= BD_CRFS[1]


def bd_rate_table(records: list[Record], reference: str = "x264") -> str:
    """Markdown: BD-rate (%) of every other codec against ``reference``, per clip and mean, over `BD_CRFS`."""
    records = [r for r in records if in_bd_range(r)]
    codecs = [m for m in dict.fromkeys(r.method for r in records) if m != reference]
    clips = list(dict.fromkeys(r.clip for r in records))
    if reference not in {r.method for r in records} or not codecs:
        return ""

    def curve(clip: str, codec: str) -> tuple[list[float], list[float]]:
        rs = [r for r in records if r.clip == clip and r.method == codec]
        return [r.metrics["bpp"] for r in rs], [r.metrics["psnr"] for r in rs]

    lines = [f"BD-rate against {reference} (%, negative = fewer bits at equal PSNR; CRF {BD_CRFS[0]}-{BD_CRFS[1]} "
             "for the codecs swept by CRF, over the common PSNR range)",
             "| clip | " + " | ".join(codecs) + " |", "|---|" + "---|" * len(codecs)]
    table = {c: [metrics.bd_rate(*curve(clip, reference), *curve(clip, c)) for clip in clips] for c in codecs}
    for i, clip in enumerate(clips):
        lines.append(f"| {clip} | " + " | ".join(f"{table[c][i]:.1f}" for c in codecs) + " |")
    lines.append("| mean | " + " | ".join(f"{_mean(table[c]):.1f}" for c in codecs) + " |")
    return "\n".join(lines)


def plot(task: str, records: list[Record], path: Path) -> None:
    """Bar chart of the main metric per case and method; for compress, rate-distortion curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    if task == "compress":
        for method in dict.fromkeys(r.method for r in records):
            points = {}
            for r in records:
                if r.method == method:
                    points.setdefault(r.case, []).append((r.metrics["bpp"], r.metrics["psnr"]))
            curve = sorted((_mean([p[0] for p in v]), _mean([p[1] for p in v])) for v in points.values())
            ax.plot(*zip(*curve, strict=True), marker="o", label=method)
        ax.set_xscale("log")
        ax.set_xlabel("bits per pixel (mean over clips)")
        ax.set_ylabel("PSNR (dB)")
    else:
        metric = MAIN_METRIC[task]
        cases = list(dict.fromkeys(r.case for r in records))
        methods = list(dict.fromkeys(r.method for r in records))
        width = 0.8 / len(methods)
        for i, method in enumerate(methods):
            values = [_mean([r.metrics.get(metric) for r in records if r.case == c and r.method == method])
                      for c in cases]
            ax.bar(np.arange(len(cases)) + i * width, values, width, label=method)
        ax.set_xticks(np.arange(len(cases)) + 0.4 - width / 2, cases)
        ax.set_ylabel(f"{metric} (dB, mean over clips)")
        low = min(_mean([r.metrics.get(metric) for r in records if r.case == c]) for c in cases)
        ax.set_ylim(bottom=max(0.0, low - 6))
    ax.set_title(f"vidprior bench: {task}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_outputs(out: Path, task: str, records: list[Record], bench: Benchmark) -> None:
    """<out>/<name>.json, .md and .png, where the name is ``bench.name`` or the task."""
    out.mkdir(parents=True, exist_ok=True)
    name = bench.name or task
    machine = (f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
               f"{torch.get_num_threads()} threads")
    params = [f"{k}={v}" for k, v in bench.params.items()]
    meta = {"task": task, "frames": bench.frames, "clips": str(bench.clips), "seed": bench.seed, "params": params,
            "budget": bench.budget, "machine": machine, "date": time.strftime("%Y-%m-%d")}
    (out / f"{name}.json").write_text(json.dumps({"meta": meta, "records": [asdict(r) for r in records]}, indent=1))
    budget = f"; budget {bench.budget:g}s per clip" if bench.budget else ""
    budget += "".join(f"; {p}" for p in params)
    text = (f"## {name}\n\n{bench.frames} frames per clip{budget}; {machine}; {meta['date']}.\n\n"
            f"{summary_table(task, records)}\n\n{per_clip_table(task, records)}\n\n"
            + "".join(f"{bd_rate_table(records, reference)}\n\n" for reference in ("x264", "x265")
                      if task == "compress") + f"![{name}]({name}.png)\n")
    (out / f"{name}.md").write_text(text)
    plot(task, records, out / f"{name}.png")
    print(f"wrote {out / f'{name}.json'}, {out / f'{name}.md'}, {out / f'{name}.png'}")
