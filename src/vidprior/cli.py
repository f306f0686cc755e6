"""The ``vidprior`` command: one subcommand per task (inpaint, denoise, interpolate, upscale, enhance), ``compress``,
``decompress``, ``extract``, ``retarget``, and ``methods``, ``train``, ``bench``, ``batch``, ``serve``, ``demo``.

The commands that restore, compress or retarget a video take their flags from the options that
`vidprior.requests` declares and run a checked `Request`. Bad input ends with a one-line
``vidprior: error: ...`` on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from .batch import JOB_FILE
from .errors import VidpriorError
from .fit import Interrupted
from .methods import CODECS, COMPRESSORS, DEFAULTS, METHODS, get_method
from .progress import report_to
from .requests import COMMANDS, DEVICES, OPTIONS, STATUS, Request, default_run_dir, parse_duration, parse_params

_COMMAND_HELP = {("compress", "budget"): "dnerv: fitting time, e.g. 90s, 5m (default 150s)",
                 ("compress", "param"): "setting of the method (hybrid: crf=28, update=false; dnerv: prune=0.2; "
                                        "`vidprior methods NAME` lists them)",
                 ("compress", "input"): "video file or frame folder"}


def _request_parser(sub: argparse._SubParsersAction, command: str) -> argparse.ArgumentParser:
    """The subcommand of ``command`` with a flag per declared option (values converted by `Request.build`)."""
    p = sub.add_parser(command, help=COMMANDS[command], description=COMMANDS[command])
    for option in OPTIONS[command]:
        text = _COMMAND_HELP.get((command, option.name)) or option.help
        if option.name == "method" and command in DEFAULTS:
            serving = ", ".join(m.name for m in METHODS.values() if command in m.tasks)
            text = f"one of {serving} (default {DEFAULTS[command]}; `vidprior methods NAME` gives its settings)"
        if option.name == "input":
            p.add_argument("input", help=text)
            continue
        flags = [option.short, option.flag] if option.short else [option.flag]
        if option.switch:
            p.add_argument(*flags, action="store_true", help=text)
        elif option.name == "param":
            p.add_argument(*flags, action="append", default=[], metavar=option.metavar, help=text)
        else:
            p.add_argument(*flags, required=option.required, metavar=option.metavar,
                           choices=option.choices or None, help=text)
    return p


class _OneLineParser(argparse.ArgumentParser):
    """Refuses a bad command line in one line, as every other bad input is (exit code 2)."""

    def error(self, message: str):
        self.exit(2, f"vidprior: error: {message} (`{self.prog} --help` lists the options)\n")


def build_parser() -> argparse.ArgumentParser:
    """The command's parser (its subcommands' parsers are of the same class)."""
    parser = _OneLineParser(prog="vidprior", description="Video restoration with learned priors.")
    sub = parser.add_subparsers(dest="command", required=True)

    for command in COMMANDS:
        _request_parser(sub, command)
    p = sub.add_parser("decompress", help="decode a .vpr file to a video")
    p.add_argument("input", type=Path, help="a file written by `vidprior compress`")
    p.add_argument("-o", "--output", type=Path, required=True, help=".mp4/.mov, .mkv (lossless) or a folder")
    p.add_argument("--crf", type=int, default=18, help="H.264 quality for .mp4/.mov output (default 18)")
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.add_argument("--base-only", action="store_true",
                   help="hybrid files: the HEVC base stream alone, without the post-filter")
    p.add_argument("--weights", type=Path, default=None,
                   help="hybrid files: the post-filter weights the file was made with (default: the shipped ones)")
    p = sub.add_parser("extract", help="write the HEVC base stream of a hybrid .vpr file as an .mp4 any player plays")
    p.add_argument("input", type=Path, help="a file written by `vidprior compress` (--method hybrid)")
    p.add_argument("-o", "--output", type=Path, required=True, help="NAME.mp4")
    p = sub.add_parser("methods", help="list the methods and the tasks each serves, or one method's settings")
    p.add_argument("name", nargs="?", help="a method: print its settings (--param KEY=VALUE)")

    p = sub.add_parser("train", help="train a network (fill, vinet, flowcomp, denoiser, interp, upscaler, "
                                     "postfilter, maskprop) or a learned start (vdp) on clips")
    p.add_argument("method", choices=["fill", "vinet", "flowcomp", "denoiser", "interp", "upscaler", "postfilter",
                                      "maskprop", "vdp"],
                   help="fill (the learned fill over flowfill in object removal, trained with synthetic holes), "
                        "vinet (video inpainting), flowcomp (flow completion inside holes, trained on flows), "
                        "denoiser (multi-frame denoising, trained with synthetic noise), interp (frame "
                        "interpolation, trained on runs of five frames), upscaler (multi-frame x2/x3/x4 upscaling, "
                        "trained on downscaled clips), postfilter (the hybrid codec's HEVC post-filter, trained on "
                        "clips coded by x265), maskprop (the editor's mask carrying, trained on clips with object "
                        "masks/) or vdp (a learned start "
                        "for VDP's denoising fits, by Reptile; use it with --param init=FILE)")
    p.add_argument("--data", type=Path, action="append", required=True,
                   help="clips: a video file, a folder with frames/ (+ masks/ lending hole shapes), or a folder of "
                        "those; repeat for more")
    p.add_argument("-o", "--output", type=Path, required=True, help="weights file to write, NAME.safetensors")
    p.add_argument("--budget", default="30m", help="training time, e.g. 30m, 2h (default 30m)")
    p.add_argument("--steps", type=int, default=None,
                   help="most training steps (default: as many as the budget allows)")
    p.add_argument("--width", type=int, default=None,
                   help="network width (fill: default 24; vinet: default 8, the paper 32; flowcomp: default 16; "
                        "denoiser and interp: 32; upscaler: 48; recurrent upscaler: 48; postfilter: 48; maskprop: 16)")
    p.add_argument("--crop", type=int, default=None,
                   help="training crop size in pixels (fill, vinet: default 128; flowcomp: default 96, at 1/4 size; "
                        "denoiser: 96, recurrent 64; interp: 128; upscaler: 48 at the low resolution, recurrent 32; "
                        "postfilter: 96; maskprop: 128)")
    p.add_argument("--batch", type=int, default=None,
                   help="crops per step (fill: default 4; vinet: default 2; flowcomp: default 4; denoiser, interp, "
                        "upscaler: 8; recurrent denoiser and upscaler: 4 sequences of 10 frames; postfilter: 16; "
                        "maskprop: 8)")
    p.add_argument("--split", type=float, default=None,
                   help="vinet only: share of the budget for the first (non-recurrent) stage (default 0.6)")
    p.add_argument("--lr", type=float, default=None,
                   help="peak learning rate (fill, vinet: default 5e-4; flowcomp, denoiser, interp, upscaler, "
                        "postfilter: 1e-3; vdp: 3e-3)")
    p.add_argument("--perceptual", type=float, default=None, metavar="WEIGHT",
                   help="interp only: weight of an LPIPS (AlexNet) term beside the squared error (default 0)")
    p.add_argument("--init", type=Path, default=None,
                   help="fill, vinet, denoiser, interp, upscaler, postfilter, maskprop: start from these weights "
                        "instead of from scratch "
                        "(train further)")
    p.add_argument("--arch", default=None, choices=("recurrent", "window"),
                   help="denoiser, upscaler: recurrent (features carried along the flow through the whole clip, "
                        "both ways; the default) or window (five frames in, one out)")
    p.add_argument("--hold-out", action="append", default=None, metavar="CLIP",
                   help="fill only: leave this clip of --data out of the training (repeat for more)")
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.add_argument("--run-dir", type=Path, default=None, help="checkpoints (default: OUTPUT.run)")
    p.add_argument("--resume", action="store_true", help="carry on from the checkpoints in the run folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--status", type=Path, default=None, metavar="FILE", help=STATUS.help)

    p = sub.add_parser("bench", help="benchmark methods on clean clips with synthetic degradations")
    p.add_argument("--clips", type=Path, required=True, help="folder of clips: <name>/frames/ (+ <name>/masks/)")
    p.add_argument("--task", required=True, help="inpaint, denoise, interpolate, upscale or compress")
    p.add_argument("--methods", default=None,
                   help="comma-separated methods (default: all for the task); settings of one entry after colons, "
                        "e.g. denoiser:adapt=30")
    p.add_argument("--keep", action="store_true",
                   help="keep the other methods' results of an earlier run of the same --name (same frames, "
                        "clips and settings) and run only these")
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
                       description=JOB_FILE, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    p.add_argument("--mask-adapt", type=int, default=40, metavar="STEPS",
                   help="steps a job fits the mask carrying to the painted frames first (default 40, about 8 s on "
                        "2 cores; 0 = not)")

    p = sub.add_parser("demo", help="remove an object from the built-in demo clip")
    p.add_argument("-o", "--output", type=Path, default=Path("vidprior-demo"), help="folder for the results")
    p.add_argument("--method", default=None, help=f"inpainting method (default {DEFAULTS['inpaint']})")
    p.add_argument("-q", "--quiet", action="store_true")
    return parser


def _run_request(args: argparse.Namespace) -> int:
    """A restoring, compressing or retargeting command: its `Request`, checked, then run."""
    names = {o.name for o in OPTIONS[args.command]}
    request = Request.build(args.command, {k: v for k, v in vars(args).items() if k in names})
    options = request.options()
    if request.command == "compress":
        from .compression import run_compress

        print(run_compress(request.input, request.output, options, method=request.method, bpp=request.bpp,
                           params=request.params, start=request.start, frames=request.frames))
    elif request.command == "enhance":
        from .enhance import enhance

        print(enhance(request.input, request.output, scale=request.k_or(request.scale, 2),
                      factor=request.k_or(request.factor, 2), sigma=request.sigma, start=request.start,
                      frames=request.frames, crf=request.crf, options=options, reference=request.reference).line())
    elif request.command == "retarget":
        from .retarget import retarget

        print(retarget(request.input, request.mask, request.output, request.width, method=request.chosen_method,
                       start=request.start, frames=request.frames, crf=request.crf, options=options).line())
    else:
        from .restore import restore

        print(restore(request.task, request.input, request.output, method=request.method, mask=request.mask,
                      mask_dilate=request.mask_dilate, mask_shadow=request.mask_shadow, factor=request.k,
                      sigma=request.sigma, start=request.start, frames=request.frames, crf=request.crf,
                      options=options, compare=request.compare, reference=request.reference).line())
    return 0


def _list_methods(args: argparse.Namespace) -> int:
    """All methods with their tasks, or (``vidprior methods NAME``) one method's settings."""
    if args.name:
        if args.name in METHODS:
            method = METHODS[args.name]
            print(f"{method.name} ({method.family}; {', '.join(method.tasks)}): {method.summary}")
            settings = method.settings
        elif args.name in CODECS:
            print(f"{args.name} (codec; compress): {CODECS[args.name].summary}")
            settings = CODECS[args.name].settings
        else:
            get_method(args.name, "inpaint")  # the one-line 'unknown method' error
        if not settings:
            print("no settings")
        for setting in settings:
            d = setting.describe()
            print(f"  --param {d['name']}={d['default'] if d['default'] is not None else ''}".ljust(34)
                  + f" {d['type']:<6} {d['range']:<22} {d['help']}")
        return 0
    print(f"{'method':<12} {'family':<13} {'tasks':<36} summary")
    for m in METHODS.values():
        tasks = ", ".join(t + ("*" if DEFAULTS.get(t) == m.name else "") for t in m.tasks)
        print(f"{m.name:<12} {m.family:<13} {tasks:<36} {m.summary}")
    for c in CODECS.values():
        print(f"{c.name:<12} {'codec':<13} {'compress' + ('*' if c.name == COMPRESSORS[0] else ''):<36} {c.summary}")
    print("* = default for that task; `vidprior methods NAME` lists a method's settings")
    return 0


def _decompress(args: argparse.Namespace) -> int:
    from .compression import run_decompress

    print(run_decompress(args.input, args.output, crf=args.crf, device=args.device, base_only=args.base_only,
                         weights=args.weights))
    return 0


def _extract(args: argparse.Namespace) -> int:
    from .compression import run_extract

    print(run_extract(args.input, args.output))
    return 0


def _train(args: argparse.Namespace) -> int:
    given = {k: v for k in ("width", "crop", "batch", "split", "lr", "perceptual", "init", "steps")
             if (v := getattr(args, k)) is not None}
    if "perceptual" in given and args.method != "interp":
        raise VidpriorError(f"--perceptual: not a setting of {args.method} training (only of interp)")
    if args.hold_out is not None and args.method != "fill":
        raise VidpriorError(f"--hold-out: not a setting of {args.method} training")
    if args.hold_out:
        given["exclude"] = tuple(args.hold_out)
    if args.arch is not None:
        if args.method not in ("denoiser", "upscaler"):
            raise VidpriorError(f"--arch: not a setting of {args.method} training (only of denoiser and upscaler)")
        given["arch"] = args.arch
    common = {"run_dir": args.run_dir or default_run_dir(args.output), "resume": args.resume, "device": args.device,
              "seed": args.seed, "progress": not args.quiet}
    if args.method == "vdp":
        from .methods.vdp import train_vdp

        refused = [f"--{k}" for k in given if k not in ("lr", "steps")]
        if refused:
            raise VidpriorError(f"{' and '.join(refused)}: not a setting of the VDP start (it takes --lr, --steps)")
        figures = train_vdp(args.data, args.output, budget=parse_duration(args.budget), **given, **common)
    elif args.method in ("fill", "flowcomp", "denoiser", "interp", "upscaler", "postfilter", "maskprop"):
        import importlib

        module, function = {"fill": ("fill", "train_fill"), "flowcomp": ("flowcomp", "train_flowcomp"),
                            "denoiser": ("denoiser", "train_denoiser"),
                            "interp": ("interp", "train_interpolator"),
                            "upscaler": ("upscaler", "train_upscaler"),
                            "postfilter": ("postfilter", "train_postfilter"),
                            "maskprop": ("maskprop", "train_maskprop")}[args.method]
        refused = [f"--{k}" for k in ("split", "init") if k in given and (k == "split" or args.method == "flowcomp")]
        if refused:
            raise VidpriorError(f"{' and '.join(refused)}: not a setting of {args.method} training")
        train = getattr(importlib.import_module(f".{module}", "vidprior"), function)
        figures = train(args.data, args.output, budget=parse_duration(args.budget), **given, **common)
    else:
        from .vinet import train_vinet

        figures = train_vinet(args.data, args.output, budget=parse_duration(args.budget),
                              **{"width": 8, "crop": 128, "batch": 2, "split": 0.6, "lr": 5e-4, **given}, **common)
    print(f"{args.output}: " + "  ".join(f"{k}={v:.4g}" for k, v in figures.items()))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from .bench import Benchmark, run_bench

    run_bench(Benchmark(clips=args.clips, task=args.task, methods=args.methods.split(",") if args.methods else None,
                        frames=args.frames, only=args.only.split(",") if args.only else None,
                        sigmas=[float(s) for s in str(args.sigma).split(",")], factor=args.factor,
                        budget=parse_duration(args.budget) if args.budget else None, out=args.out, name=args.name,
                        params=parse_params(args.param), seed=args.seed, progress=not args.quiet, keep=args.keep))
    return 0


def _batch(args: argparse.Namespace) -> int:
    from .batch import run_batch, summary_line

    results = run_batch(args.jobs, workers=args.workers, ray_address=args.ray, folder=args.work,
                        progress=not args.quiet)
    folder = args.work or args.jobs.with_suffix(".batch")
    print((folder / "summary.md").read_text() + f"{args.jobs}: {summary_line(results)}")
    if any(r.state == "interrupted" for r in results):
        return 130
    return 1 if any(r.state == "failed" for r in results) else 0


def _serve(args: argparse.Namespace) -> int:
    from .server import serve

    serve(args.home, host=args.host, port=args.port, max_upload_mb=args.max_upload,
          mask_adapt=args.mask_adapt)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(args.output, method=args.method, progress=not args.quiet)
    return 0


HANDLERS = {**dict.fromkeys(COMMANDS, _run_request), "decompress": _decompress, "extract": _extract,
            "methods": _list_methods, "train": _train, "bench": _bench, "batch": _batch, "serve": _serve, "demo": _demo}


def _resume_command(args: argparse.Namespace, argv: list[str] | None) -> str:
    """The command line that carries on an interrupted run: the same words, plus --resume."""
    words = list(argv if argv is not None else sys.argv[1:])
    if args.command == "train":  # --resume is a switch there: the run folder is known from -o / --run-dir
        return shlex.join(["vidprior", *words, *([] if "--resume" in words else ["--resume"])])
    if "--resume" in words:
        del words[words.index("--resume"): words.index("--resume") + 2]
    run_dir = args.resume or args.run_dir or default_run_dir(Path(args.output))
    return shlex.join(["vidprior", *words, "--resume", str(run_dir)])


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    report_to(getattr(args, "status", None))
    try:
        return HANDLERS[args.command](args)
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


if __name__ == "__main__":
    sys.exit(main())
