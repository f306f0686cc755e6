"""The ``vidprior`` command: one subcommand per task, plus ``methods``, ``bench`` and ``demo``.

Bad input ends with a one-line ``vidprior: error: ...`` on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from pathlib import Path

from .errors import VidpriorError
from .fit import Interrupted
from .methods import CODECS, DEFAULTS, METHODS, RunOptions
from .progress import report_to

TASK_HELP = {
    "inpaint": "remove objects: fill the masked region of every frame",
    "denoise": "remove noise",
    "interpolate": "make in-between frames (k times the frame rate)",
    "upscale": "super-resolve to s times the width and height",
}


def parse_duration(text: str, flag: str = "--budget") -> float:
    """'90', '90s', '3m', '1.5h' -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", str(text))
    if not match or float(match.group(1)) <= 0:
        raise VidpriorError(f"{flag} {text!r} is not a duration; write e.g. 90s, 3m or 1h")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def parse_params(items: list[str]) -> dict[str, object]:
    """['iters=300', 'lr=1e-3', 'mode=fast'] -> {'iters': 300, 'lr': 0.001, 'mode': 'fast'}."""
    params: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise VidpriorError(f"--param {item!r} must look like key=value")
        for convert in (int, float):
            try:
                params[key] = convert(value)
                break
            except ValueError:
                continue
        else:
            params[key] = value
    return params


def _task_parser(sub: argparse._SubParsersAction, task: str) -> argparse.ArgumentParser:
    p = sub.add_parser(task, help=TASK_HELP[task], description=TASK_HELP[task])
    p.add_argument("input", type=Path, help="video file (mp4/mkv/mov/avi/webm), frame folder or image")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="output: .mp4/.mov (H.264), .mkv (lossless FFV1) or a folder name (PNG frames)")
    serving = [m.name for m in METHODS.values() if task in m.tasks]
    p.add_argument("--method", default=DEFAULTS[task], help=f"one of {', '.join(serving)} (default {DEFAULTS[task]})")
    p.add_argument("--start", type=int, default=0, help="first frame to use (default 0)")
    p.add_argument("--frames", type=int, default=None, help="number of frames to use (default: all)")
    p.add_argument("--crf", type=int, default=18, help="H.264 quality for .mp4/.mov output, 0-51 (default 18)")
    p.add_argument("--compare", type=Path, default=None, help="also write a side-by-side before/after video here")
    p.add_argument("--reference", type=Path, default=None, help="clean video to score the result against")
    _fitting_arguments(p, "time budget per window for learned methods, e.g. 90s, 3m", "method-specific setting")
    return p


def _fitting_arguments(p: argparse.ArgumentParser, budget_help: str, param_help: str) -> None:
    """The options of every command that may fit a network: budget, device, run folder, resume, seed."""
    p.add_argument("--budget", default=None, help=budget_help)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--run-dir", type=Path, default=None,
                   help="folder for checkpoints and previews of learned methods (default: OUTPUT.run)")
    p.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR",
                   help="carry on an interrupted run from its run folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help=param_help)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _status_argument(p)


def _status_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--status", type=Path, default=None, metavar="FILE",
                   help="also write progress (fraction, ETA, loss) to this JSON file, for other programs")


def _vinet_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", type=Path, default=None, help="vinet: weights file (default: the shipped checkpoint)")
    p.add_argument("--adapt", default=None, metavar="DURATION",
                   help="vinet: fine-tune on this video before inpainting, e.g. 60s")


def run_options(args: argparse.Namespace) -> RunOptions:
    """RunOptions from a task-like command's arguments (run folder defaults to OUTPUT.run)."""
    if args.resume is not None and not args.resume.is_dir():
        raise VidpriorError(f"--resume {args.resume}: no such run folder")
    params = parse_params(args.param)
    if getattr(args, "weights", None) is not None or getattr(args, "adapt", None) is not None:
        if args.method != "vinet":
            raise VidpriorError("--weights and --adapt apply to --method vinet only")
        if args.weights is not None:
            params["weights"] = str(args.weights)
        if args.adapt is not None:
            params["adapt"] = parse_duration(args.adapt, "--adapt")
    run_dir = args.resume or args.run_dir or args.output.with_name(args.output.name + ".run")
    return RunOptions(seed=args.seed, device=args.device, progress=not args.quiet,
                      budget=parse_duration(args.budget) if getattr(args, "budget", None) else None,
                      params=params, run_dir=run_dir, resume=args.resume is not None)


BATCH_HELP = """Run the jobs of a YAML job file: each is one vidprior command (its task, input, mask,
method, output and any of its options by name), with optional defaults for all of them:

    defaults: {task: inpaint, method: flowfill, mask_dilate: 2}
    jobs:
      - {input: clips/tennis.mp4, mask: clips/tennis-masks/}
      - {input: clips/bmx.mp4, mask: clips/bmx-masks/, method: ilvi, budget: 3m, param: {lr: 0.001}}
      - {input: noisy.mkv, task: denoise, sigma: 25, mask: null, output: out/clean.mkv}

Paths are relative to the job file; an output defaults to results/NAME.mp4 beside it (NAME: the
job's 'name' or its input's). Every job is checked before any runs. Finished jobs (output exists)
are skipped, interrupted ones (Ctrl-C) resume from their checkpoints; JOBS.batch/summary.md says
how each ended."""


def build_parser(parser_class: type[argparse.ArgumentParser] = argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The command's parser (``parser_class`` lets `vidprior.jobs` check job files without exiting)."""
    parser = parser_class(prog="vidprior", description="Video restoration with learned priors.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = _task_parser(sub, "inpaint")
    p.add_argument("--mask", type=Path, required=True,
                   help="folder of mask images, a mask video, or one image for all frames (white = fill)")
    p.add_argument("--mask-dilate", type=int, default=0, help="grow the mask by N pixels (default 0)")
    _vinet_options(p)
    p = _task_parser(sub, "denoise")
    p.add_argument("--sigma", type=float, default=None, help="noise std on the 0-255 scale (default: estimated)")
    p = _task_parser(sub, "interpolate")
    p.add_argument("--factor", type=int, required=True, help="frame-rate multiplier k (2 = one new frame per gap)")
    p = _task_parser(sub, "upscale")
    p.add_argument("--scale", type=int, required=True, help="upscaling factor s (2, 3, 4, ...)")
    p.add_argument("--sigma", type=float, default=None,
                   help="noise std of a noisy low-resolution input, 0-255 scale (vdp/dip stop at that noise floor)")

    p = sub.add_parser("compress", help="fit DNeRV to a video and store it as a small .vpr file")
    p.add_argument("input", type=Path, help="video file or frame folder")
    p.add_argument("-o", "--output", type=Path, required=True, help="the compressed file, NAME.vpr")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--bpp", type=float, default=None, help="target bits per pixel (e.g. 0.1)")
    rate.add_argument("--params", type=int, default=None, help="target decoder size in weights (e.g. 50000)")
    p.add_argument("--start", type=int, default=0, help="first frame to use (default 0)")
    p.add_argument("--frames", type=int, default=None, help="number of frames to use (default: all)")
    _fitting_arguments(p, "fitting time, e.g. 90s, 5m (default 150s)", "DNeRV setting (e.g. prune=0.2)")
    p = sub.add_parser("decompress", help="decode a .vpr file to a video")
    p.add_argument("input", type=Path, help="a file written by `vidprior compress`")
    p.add_argument("-o", "--output", type=Path, required=True, help=".mp4/.mov, .mkv (lossless) or a folder")
    p.add_argument("--crf", type=int, default=18, help="H.264 quality for .mp4/.mov output (default 18)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    sub.add_parser("methods", help="list the methods and the tasks each serves")

    p = sub.add_parser("retarget", help="change the width of a video, keeping a masked object at its size")
    p.add_argument("input", type=Path, help="video file or frame folder")
    p.add_argument("--mask", type=Path, required=True, help="the object to keep: mask folder, mask video or one image")
    p.add_argument("--width", type=int, required=True, help="new width in pixels (height unchanged)")
    p.add_argument("-o", "--output", type=Path, required=True, help=".mp4/.mov, .mkv (lossless) or a folder")
    p.add_argument("--method", default="vinet", help="inpainting method that removes the object (default vinet)")
    _vinet_options(p)
    p.add_argument("--start", type=int, default=0, help="first frame to use (default 0)")
    p.add_argument("--frames", type=int, default=None, help="number of frames to use (default: all)")
    p.add_argument("--crf", type=int, default=18, help="H.264 quality for .mp4/.mov output (default 18)")
    _fitting_arguments(p, "time budget per window for internal-learning methods", "method-specific setting")

    p = sub.add_parser("train", help="train a feed-forward method (vinet) on folders of clips")
    p.add_argument("method", choices=["vinet"], help="the method to train")
    p.add_argument("--data", type=Path, action="append", required=True,
                   help="clips: a video file, a folder with frames/ (+ masks/ lending hole shapes), or a folder of "
                        "those; repeat for more")
    p.add_argument("-o", "--output", type=Path, required=True, help="weights file to write, NAME.safetensors")
    p.add_argument("--budget", default="30m", help="training time, e.g. 30m, 2h (default 30m)")
    p.add_argument("--width", type=int, default=8, help="network width (the paper: 32; default 8 for CPUs)")
    p.add_argument("--crop", type=int, default=128, help="training crop size in pixels (default 128)")
    p.add_argument("--batch", type=int, default=2, help="clips per step (default 2)")
    p.add_argument("--split", type=float, default=0.6,
                   help="share of the budget for the first (non-recurrent) stage (default 0.6)")
    p.add_argument("--lr", type=float, default=5e-4, help="peak learning rate (default 5e-4)")
    p.add_argument("--init", type=Path, default=None, help="start from these weights instead of from scratch")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--run-dir", type=Path, default=None, help="checkpoints (default: OUTPUT.run)")
    p.add_argument("--resume", action="store_true", help="carry on from the checkpoints in the run folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _status_argument(p)

    p = sub.add_parser("bench", help="benchmark methods on clean clips with synthetic degradations")
    p.add_argument("--clips", type=Path, required=True, help="folder of clips: <name>/frames/ (+ <name>/masks/)")
    p.add_argument("--task", required=True, help="inpaint, denoise, interpolate, upscale or compress")
    p.add_argument("--methods", default=None, help="comma-separated methods (default: all for the task)")
    p.add_argument("--frames", type=int, default=30, help="frames per clip (default 30)")
    p.add_argument("--only", default=None, help="comma-separated clip names (default: all)")
    p.add_argument("--sigma", default="25,50", help="denoise: comma-separated noise levels (default 25,50)")
    p.add_argument("--factor", type=int, default=None, help="interpolate/upscale factor (default 2 / 4)")
    p.add_argument("--budget", default=None, help="time budget per clip for learned methods, e.g. 3m")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="folder for JSON, table and plot")
    p.add_argument("--name", default=None, help="base name of the JSON/table/plot files (default: the task)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="method setting passed to every method run (e.g. for ablations)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-q", "--quiet", action="store_true")

    p = sub.add_parser("batch", help="run the jobs of a YAML job file, locally or on a Ray cluster",
                       description=BATCH_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("jobs", type=Path, help="the job file, e.g. jobs.yaml")
    p.add_argument("--workers", type=int, default=None,
                   help="jobs at once on this machine (default: half the cores, at least 2)")
    p.add_argument("--ray", default=None, metavar="ADDRESS",
                   help="run the jobs as Ray tasks: a cluster address, 'auto', or 'local' for a Ray on this machine")
    p.add_argument("--work", type=Path, default=None,
                   help="folder for the jobs' checkpoints, logs and summary (default: JOBS.batch next to the file)")
    p.add_argument("-q", "--quiet", action="store_true")

    p = sub.add_parser("serve", help="the web app: upload, paint a mask, run, compare, download")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--home", type=Path, default=Path("vidprior-serve"),
                   help="folder for uploads, jobs and results, kept across restarts (default ./vidprior-serve)")
    p.add_argument("--max-upload", type=int, default=500, metavar="MB", help="largest upload in MB (default 500)")

    p = sub.add_parser("demo", help="remove an object from the built-in demo clip")
    p.add_argument("-o", "--output", type=Path, default=Path("vidprior-demo"), help="folder for the results")
    p.add_argument("--method", default=None, help=f"inpainting method (default {DEFAULTS['inpaint']})")
    p.add_argument("-q", "--quiet", action="store_true")
    return parser


def task_factor(args: argparse.Namespace) -> int:
    """The k of interpolate (--factor) or the s of upscale (--scale); 1 for the other tasks."""
    return next((v for v in (getattr(args, "factor", None), getattr(args, "scale", None)) if v is not None), 1)


def _run_task(args: argparse.Namespace) -> None:
    from .restore import restore

    options = run_options(args)
    factor = task_factor(args)
    report = restore(args.command, args.input, args.output, method=args.method,
                     mask=getattr(args, "mask", None), mask_dilate=getattr(args, "mask_dilate", 0),
                     factor=factor, sigma=getattr(args, "sigma", None), start=args.start, frames=args.frames,
                     crf=args.crf, options=options, compare=args.compare, reference=args.reference)
    print(report.line())


def _list_methods() -> None:
    print(f"{'method':<12} {'family':<13} {'tasks':<36} summary")
    for m in METHODS.values():
        tasks = ", ".join(t + ("*" if DEFAULTS.get(t) == m.name else "") for t in m.tasks)
        print(f"{m.name:<12} {m.family:<13} {tasks:<36} {m.summary}")
    for c in CODECS.values():
        print(f"{c.name:<12} {'codec':<13} {'compress':<36} {c.summary}")
    print("* = default for that task")


def _resume_command(args: argparse.Namespace, argv: list[str] | None) -> str:
    """The command line that carries on an interrupted run: the same words, plus --resume."""
    words = list(argv if argv is not None else sys.argv[1:])
    if args.command == "train":  # --resume is a switch there: the run folder is known from -o / --run-dir
        return shlex.join(["vidprior", *words, *([] if "--resume" in words else ["--resume"])])
    if "--resume" in words:
        del words[words.index("--resume"): words.index("--resume") + 2]
    run_dir = args.resume or args.run_dir or args.output.with_name(args.output.name + ".run")
    return shlex.join(["vidprior", *words, "--resume", str(run_dir)])


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    report_to(getattr(args, "status", None))
    try:
        if args.command in TASK_HELP:
            _run_task(args)
        elif args.command in ("compress", "decompress"):
            from .compression import run_compress, run_decompress

            if args.command == "compress":
                print(run_compress(args.input, args.output, run_options(args), bpp=args.bpp, params=args.params,
                                   start=args.start, frames=args.frames))
            else:
                print(run_decompress(args.input, args.output, crf=args.crf, device=args.device))
        elif args.command == "retarget":
            from .retarget import retarget

            print(retarget(args.input, args.mask, args.output, args.width, method=args.method, start=args.start,
                           frames=args.frames, crf=args.crf, options=run_options(args)).line())
        elif args.command == "train":
            from .training import train_vinet

            figures = train_vinet(args.data, args.output, budget=parse_duration(args.budget), width=args.width,
                                  crop=args.crop, batch=args.batch, split=args.split, lr=args.lr, init=args.init,
                                  run_dir=args.run_dir or args.output.with_name(args.output.name + ".run"),
                                  resume=args.resume, device=args.device, seed=args.seed, progress=not args.quiet)
            print(f"{args.output}: " + "  ".join(f"{k}={v:.4g}" for k, v in figures.items()))
        elif args.command == "methods":
            _list_methods()
        elif args.command == "bench":
            from .bench import run_bench

            run_bench(args)
        elif args.command == "batch":
            from .batch import run_batch, summary_line

            results = run_batch(args.jobs, workers=args.workers, ray_address=args.ray, folder=args.work,
                                progress=not args.quiet)
            folder = args.work or args.jobs.with_suffix(".batch")
            print((folder / "summary.md").read_text() + f"{args.jobs}: {summary_line(results)}")
            if any(r.state == "interrupted" for r in results):
                return 130
            return 1 if any(r.state == "failed" for r in results) else 0
        elif args.command == "serve":
            from .server import serve

            serve(args.home, host=args.host, port=args.port, max_upload_mb=args.max_upload)
        elif args.command == "demo":
            from .demo import run_demo

            run_demo(args.output, method=args.method, progress=not args.quiet)
    except Interrupted as exc:
        hint = f"; resume with: {_resume_command(args, argv)}" if exc.run_dir else ""
        print(f"vidprior: {exc}{hint}", file=sys.stderr)
        return 130
    except VidpriorError as exc:
        print(f"vidprior: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vidprior: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
