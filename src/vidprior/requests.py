"""What a user asks vidprior to do, checked once, whichever front end asked.

The command line, job files (`vidprior.jobs`), the web app (`vidprior.server`) and the benchmark
all describe a run as a `Request`: a command (a task, ``compress`` or ``retarget``) and its options
by name. Each command's options are declared here once (`OPTIONS`); the command line builds its
flags from them, and every front end gives `Request.build` the same names, as text or as typed
values, so a job file, a web form and a command line are converted and refused by the same code:

    >>> request = Request.build("inpaint", {"input": "clip.mp4", "mask": "masks/", "output": "out.mp4",
    ...                                      "budget": "3m", "param": ["rounds=3"]})
    >>> request.budget, request.param, request.options().params
    (180.0, {'rounds': '3'}, {'rounds': '3'})

`Request.check` refuses what the run would refuse (method, factor, sigma, method settings) before
any work starts; a request travels to a job's process as a command line (`Request.argv`) and is
kept in job records as plain data (`Request.to_dict`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from .errors import VidpriorError
from .masks import check_dilation
from .methods import CODECS, COMPRESSORS, METHODS, Method, RunOptions, get_method
from .problems import Problem
from .settings import number, parse_settings, whole

TASKS = {
    "inpaint": "remove objects: fill the masked region of every frame",
    "denoise": "remove noise",
    "interpolate": "make in-between frames (k times the frame rate)",
    "upscale": "super-resolve to s times the width and height",
}
COMMANDS = {
    **TASKS,
    "compress": "store a video as a small .vpr file (HEVC with a post-filter fitted to it, or DNeRV)",
    "retarget": "change the width of a video, keeping a masked object at its size",
    "enhance": "old footage: denoise, upscale and interpolate in one pass (each task's default method)",
}
DEVICES = ("auto", "cpu", "cuda", "mps")
MAX_DURATION = 7 * 24 * 3600.0  # seconds: a budget past a week is a typo


def parse_duration(text: object, flag: str = "--budget", zero: bool = False) -> float:
    """'90', '90s', '3m', '1.5h' (or a number of seconds) -> seconds, at most a week; 0 only where ``zero`` allows it.

    Each way of getting it wrong has its own message, the same from every front end:

    >>> parse_duration("-5s")
    Traceback (most recent call last):
    vidprior.errors.VidpriorError: --budget '-5s' is negative; write a positive duration, e.g. 90s, 3m or 1h
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        text = np.format_float_positional(text, trim="-")
    example = "e.g. 90s, 3m or 1h" + (" (0 for none)" if zero else "")
    match = re.fullmatch(r"\s*(-?)(\d+(?:\.\d+)?)\s*([smh]?)\s*", str(text))
    if not match:
        raise VidpriorError(f"{flag} {text!r} is not a duration; write {example}")
    seconds = float(match.group(2)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(3)]
    if match.group(1) and seconds > 0:
        raise VidpriorError(f"{flag} {text!r} is negative; write a positive duration, {example}")
    if seconds == 0 and not zero:
        raise VidpriorError(f"{flag} {text!r} is no time at all; write a positive duration, {example}")
    if seconds > MAX_DURATION:
        raise VidpriorError(f"{flag} {text!r} is more than a week; write at most 168h")
    return seconds


def parse_params(items: list[str] | dict) -> dict[str, object]:
    """['rounds=3', 'lr=1e-3'] (or a mapping) -> {'rounds': '3', 'lr': '1e-3'}; the method's settings type them."""
    if isinstance(items, dict):  # a job file's or the web app's mapping; null means 'not given'
        return {str(k): v for k, v in items.items() if v is not None}
    if isinstance(items, str) or not isinstance(items, list | tuple):
        raise VidpriorError("method settings must be a mapping, e.g. {rounds: 3}, or key=value words")
    params: dict[str, object] = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        if not sep or not key.strip():
            raise VidpriorError(f"--param {item!r} must look like key=value")
        params[key.strip()] = value.strip()
    return params


def check_request(task: str, method: str | None, factor: int = 1, sigma: float | None = None,
                  params: dict | None = None) -> Method:
    """The method for ``task``, after checking the numbers and the method's settings; before any work."""
    chosen = get_method(method, task)
    if sigma is not None and not 0 <= sigma <= 255:
        raise VidpriorError(f"--sigma {sigma:g} is out of range; give the noise level on the 0-255 scale (e.g. 25)")
    Problem(task, np.zeros((2, 8, 8, 3), np.uint8), np.zeros((2, 8, 8), bool) if task == "inpaint" else None, factor)
    settings = chosen.settings_from(params or {})
    if chosen.check:
        chosen.check(factor, settings)
    return chosen


AUTO = "auto"


def enhance_chain(scale: int, factor: int, sigma: float | str | None) -> list[tuple[str, int, float | None]]:
    """The tasks to chain, [(task, k, sigma)], for ``scale``, ``factor`` and ``sigma`` ('auto' or None: estimated;
    0: no denoising), checked.

    >>> enhance_chain(2, 1, "auto")
    [('denoise', 1, None), ('upscale', 2, None)]
    """
    if sigma == AUTO:
        sigma = None
    for name, value in (("scale", scale), ("factor", factor)):
        if not isinstance(value, int) or value < 1:
            raise VidpriorError(f"{name} {value!r}: give a whole number, 1 (leave the {name} as it is) or more")
    chain = []
    if sigma is None or sigma > 0:
        chain.append(("denoise", 1, sigma))
    if scale > 1:
        chain.append(("upscale", scale, None))
    if factor > 1:
        chain.append(("interpolate", factor, None))
    if not chain:
        raise VidpriorError("nothing to do: scale 1, factor 1 and sigma 0 leave the video as it is")
    for task, k, level in chain:
        check_request(task, None, k, level)
    return chain


# ------------------------------------------------------------------------------------ options


def _path(value: object) -> Path:
    return Path(str(value))


def _switch(value: object) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError(value)


@dataclass(frozen=True)
class Option:
    """One option of a command: its name (the `Request` field; flag ``--name-with-dashes``), a
    converter from text or a typed value, help, and how the command line takes it."""

    name: str
    convert: Callable[[object], object]
    help: str
    required: bool = False
    short: str | None = None
    metavar: str | None = None
    choices: tuple[str, ...] = ()
    what: str = "a whole number"  # said when the value does not convert

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def switch(self) -> bool:
        """An on/off flag (no value on the command line)."""
        return self.convert is _switch


INPUT = Option("input", _path, "video file (mp4/mkv/mov/avi/webm), frame folder or image", required=True)
OUTPUT = Option("output", _path, "output: .mp4/.mov (H.264), .mkv (lossless FFV1) or a folder name (PNG frames)",
                required=True, short="-o")
METHOD = Option("method", str, "the method (`vidprior methods` lists them; default: the task's best)")
START = Option("start", whole, "first frame to use (default 0)")
FRAMES = Option("frames", whole, "number of frames to use (default: all)")
CRF = Option("crf", whole, "H.264 quality for .mp4/.mov output, 0-51 (default 18)")
COMPARE = Option("compare", _path, "also write a side-by-side before/after video here")
REFERENCE = Option("reference", _path, "clean video to score the result against")
MASK = Option("mask", _path, "folder of mask images, a mask video, or one image for all frames (white = fill)",
              required=True)
STATUS = Option("status", _path, "also write progress (fraction, ETA, loss) to this JSON file, for other programs",
                metavar="FILE")
FITTING = (
    Option("budget", parse_duration, "time budget per window for learned methods, e.g. 90s, 3m",
           what="a duration"),
    Option("device", str, "where learned methods run (default auto: cuda, then mps, then cpu)", choices=DEVICES),
    Option("run_dir", _path, "folder for checkpoints and previews of learned methods (default: OUTPUT.run)"),
    Option("resume", _path, "carry on an interrupted run from its run folder", metavar="RUN_DIR"),
    Option("seed", whole, "random seed of learned methods (default 0)"),
    Option("param", parse_params, "method setting (`vidprior methods NAME` lists them)", metavar="KEY=VALUE",
           what="key=value"),
    Option("quiet", _switch, "no progress bar", short="-q", what="true or false"),
    STATUS,
)
TRAINED = (  # the options of the methods that run a trained network (their settings 'weights' and 'adapt')
    Option("weights", _path, "fill, vinet, denoiser, interp, upscaler: weights file (default: the shipped one)"),
    Option("adapt", lambda v: parse_duration(v, "--adapt", zero=True),
           "fill, vinet, denoiser, interp, upscaler: fine-tune the network on this video first, e.g. 60s (per window; "
           "0 = not, the default)", metavar="DURATION", what="a duration"),
)
RESTORE = (INPUT, OUTPUT, METHOD, START, FRAMES, CRF, COMPARE, REFERENCE, *FITTING)
SIGMA_HELP = "noise std on the 0-255 scale"
OPTIONS: dict[str, tuple[Option, ...]] = {
    "inpaint": (*RESTORE, MASK, Option("mask_dilate", lambda v: check_dilation(whole(v)),
                                       "grow the mask by N pixels (default 0)"),
                Option("mask_shadow", _switch, "grow the mask into the object's attached shadow and close the gaps "
                       "between its parts (wheels, legs)", what="true or false"), *TRAINED),
    "denoise": (*RESTORE, Option("sigma", number, f"{SIGMA_HELP} (default: estimated)", what="a number"), *TRAINED),
    "interpolate": (*RESTORE, Option("factor", whole, "frame-rate multiplier k (2 = one new frame per gap)",
                                     required=True), *TRAINED),
    "upscale": (*RESTORE, Option("scale", whole, "upscaling factor s (2, 3, 4, ...)", required=True),
                Option("sigma", number, f"{SIGMA_HELP} of a noisy low-resolution input (vdp/dip stop at that "
                                         "noise floor)", what="a number"), *TRAINED),
    "compress": (INPUT, Option("output", _path, "the compressed file, NAME.vpr", required=True, short="-o"),
                 Option("method", str, "hybrid (x265 with a post-filter fitted to the clip; the default) or dnerv "
                        "(a network fitted to the whole clip)", choices=COMPRESSORS),
                 Option("bpp", number, "target bits per pixel (default: what x264 needs at CRF 23)", what="a number"),
                 Option("params", whole, "target decoder size in weights (e.g. 50000), instead of --bpp"),
                 START, FRAMES, *FITTING),
    "retarget": (INPUT, OUTPUT, Option("mask", _path, "the object to keep: mask folder, mask video or one image",
                                       required=True),
                 Option("width", whole, "new width in pixels (height unchanged)", required=True),
                 Option("method", str, "inpainting method that removes the object (default vinet)"),
                 START, FRAMES, CRF, *FITTING, *TRAINED),
    "enhance": (INPUT, OUTPUT,
                Option("scale", whole, "upscaling factor s (default 2; 1 keeps the size)"),
                Option("factor", whole, "frame-rate multiplier k (default 2; 1 keeps the frame rate)"),
                Option("sigma", lambda v: None if str(v).strip() == "auto" else number(v),
                       f"{SIGMA_HELP}: auto (estimated, the default), a number, or 0 (no denoising)",
                       what="auto or a number"),
                START, FRAMES, CRF, REFERENCE, *FITTING),
}


@dataclass
class Request:
    """One run of a command on one input; fields are the options of `OPTIONS` (None: not given)."""

    command: str
    input: Path
    output: Path
    method: str | None = None
    mask: Path | None = None
    mask_dilate: int = 0
    mask_shadow: bool = False
    factor: int | None = None
    scale: int | None = None
    sigma: float | None = None
    width: int | None = None
    bpp: float | None = None
    params: int | None = None  # compress: decoder size; the method settings are `param`
    start: int = 0
    frames: int | None = None
    crf: int = 18
    compare: Path | None = None
    reference: Path | None = None
    budget: float | None = None
    device: str = "auto"
    run_dir: Path | None = None
    resume: Path | None = None
    seed: int = 0
    param: dict = field(default_factory=dict)
    weights: Path | None = None
    adapt: float | None = None
    quiet: bool = False
    status: Path | None = None

    @classmethod
    def build(cls, command: str, values: dict[str, object], base: Path | None = None) -> Request:
        """A request from option values by name (text or typed; None or '' = not given), checked.

        base: folder that relative paths are taken from (a job file's folder); None keeps them as given.
        """
        if command not in OPTIONS:
            raise VidpriorError(f"'{command}' is not one of {', '.join(OPTIONS)}")
        declared = {o.name: o for o in OPTIONS[command]}
        unknown = [k for k, v in values.items() if k not in declared and v is not None]  # null: 'not given'
        if unknown:
            raise VidpriorError(f"{command} has no option '{unknown[0]}'; its options: {', '.join(declared)}")
        given = {}
        for name, option in declared.items():
            value = values.get(name)
            if value is None or value == "" or value is False:
                if option.required:
                    raise VidpriorError(f"{command} needs {option.flag if option.name != 'input' else 'an input'}")
                continue
            try:
                value = option.convert(value)
            except VidpriorError:
                raise
            except (TypeError, ValueError):
                raise VidpriorError(f"{option.flag} {value!r} is not {option.what}") from None
            if option.choices and value not in option.choices:
                raise VidpriorError(f"{option.flag} {value!r}: choose one of {', '.join(option.choices)}")
            if isinstance(value, Path) and base is not None:
                value = (Path(base) / value).resolve()
            given[name] = value
        request = cls(command, **given)
        request.check()
        return request

    @property
    def task(self) -> str:
        """The restoration task: the command itself, inpaint for retarget, fit for compress (enhance: the chain)."""
        return {"retarget": "inpaint", "compress": "fit"}.get(self.command, self.command)

    @property
    def k(self) -> int:
        """The interpolation factor or the upscaling scale; 1 for the other commands."""
        return next((k for k in (self.factor, self.scale) if k is not None), 1)

    @staticmethod
    def k_or(value: int | None, default: int) -> int:
        """A factor given, or its default."""
        return default if value is None else value

    def method_settings(self) -> dict:
        """``param`` with --weights/--adapt, as the method's settings take them."""
        extra = {"weights": str(self.weights) if self.weights else None, "adapt": self.adapt}
        return {**self.param, **{k: v for k, v in extra.items() if v is not None}}

    @property
    def chosen_method(self) -> str | None:
        """The method asked for; retarget removes the object with vinet unless told (None: the task's default)."""
        return self.method or ("vinet" if self.command == "retarget" else None)

    def check(self) -> None:
        """Refuse what the run would refuse, before any work."""
        if self.resume is not None and not self.resume.is_dir():
            raise VidpriorError(f"--resume {self.resume}: no such run folder")
        if self.weights is not None or self.adapt is not None:
            method = get_method(self.chosen_method, self.task)
            if not {"weights", "adapt"} <= {s.name for s in method.settings}:
                trained = ", ".join(m.name for m in METHODS.values()
                                    if {"weights", "adapt"} <= {s.name for s in m.settings})
                raise VidpriorError(f"--weights and --adapt apply to the methods that run a trained network "
                                    f"({trained}), not to {method.name}")
        if self.command == "enhance":
            enhance_chain(self.k_or(self.scale, 2), self.k_or(self.factor, 2), self.sigma)
            if self.method is not None or self.param:
                raise VidpriorError("enhance runs each task's default method; it takes no --method or --param")
            return
        if self.command == "compress":
            rate = {k: v for k, v in (("bpp", self.bpp), ("params", self.params)) if v is not None}
            if (self.method or COMPRESSORS[0]) == "hybrid":
                if self.params is not None:
                    raise VidpriorError("--params sets the size of DNeRV's network; the hybrid codec takes --bpp or "
                                        "--param crf=N")
                settings = parse_settings(CODECS["hybrid"].settings, {**self.param, **rate}, "hybrid")
                if settings["bpp"] is not None and settings["crf"] is not None:
                    raise VidpriorError("give --bpp or --param crf=N, not both")
                return
            if self.bpp is not None and self.params is not None:
                raise VidpriorError("give --bpp or --params, not both")
            METHODS["dnerv"].settings_from({**self.param, **rate})
        else:
            check_request(self.task, self.chosen_method, self.k, self.sigma, self.method_settings())

    def options(self) -> RunOptions:
        """The methods' `RunOptions` (the run folder defaults to OUTPUT.run)."""
        return RunOptions(seed=self.seed, device=self.device, progress=not self.quiet, budget=self.budget,
                          params=self.method_settings(), run_dir=self.resume or self.run_dir or default_run_dir(
                              self.output), resume=self.resume is not None)

    def argv(self) -> list[str]:
        """The command line after ``vidprior`` that makes this request."""
        words = [self.command, str(self.input)]
        for option in OPTIONS[self.command]:
            value = getattr(self, option.name)
            if option.name == "input" or value is None or value is False or value == {} \
                    or value == getattr(Request, option.name, None):
                continue
            if value is True:
                words.append(option.flag)
            elif option.name == "param":
                words += [w for k, v in value.items() for w in ("--param", f"{k}={_text(v)}")]
            else:
                words += [option.flag, _text(value)]
        return words

    def to_dict(self) -> dict:
        """Plain data (paths as text) for job records; `from_dict` reads it back."""
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> Request:
        paths = {o.name for options in OPTIONS.values() for o in options if o.convert is _path}
        return cls(**{k: Path(v) if k in paths and v is not None else v for k, v in data.items()})

    def but(self, **changes) -> Request:
        """A copy with some fields changed (e.g. a job's run folder and status file)."""
        return replace(self, **changes)


def default_run_dir(output: Path) -> Path:
    """Where a run's checkpoints go unless told: beside the output, OUTPUT.run."""
    return Path(output).with_name(Path(output).name + ".run")


def _text(value: object) -> str:
    """A value as the command line takes it back (floats without exponents: durations refuse them)."""
    if isinstance(value, float):
        return np.format_float_positional(value, trim="-")
    if isinstance(value, tuple | list):
        return ",".join(map(str, value))
    return str(value)
