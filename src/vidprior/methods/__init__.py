"""The methods, by name: ``METHODS[name]`` restores, ``CODECS[name]`` compresses.

``DEFAULTS[task]`` is the best method we have for a task (measured in benchmarks/RESULTS.md).
"""

from __future__ import annotations

from ..errors import VidpriorError
from . import classical, denoiser, dnerv, fill, hybrid, ilvi, interp, upscaler, vdp, vinet
from .base import Codec, Method, RunOptions

METHODS: dict[str, Method] = {m.name: m for m in [*classical.METHODS, *ilvi.METHODS, *vdp.METHODS, *dnerv.METHODS,
                                                *vinet.METHODS, *fill.METHODS, *denoiser.METHODS, *interp.METHODS,
                                                *upscaler.METHODS]}
CODECS: dict[str, Codec] = {c.name: c for c in [*classical.CODECS, *hybrid.CODECS, *dnerv.CODECS]}
COMPRESSORS = ("hybrid", "dnerv")  # the codecs `vidprior compress` writes .vpr files with, the default first
DEFAULTS: dict[str, str] = {
    "inpaint": "fill",
    "denoise": "denoiser",
    "interpolate": "flowinterp",
    "upscale": "upscaler",
}


def get_method(name: str | None, task: str) -> Method:
    """The method called ``name`` (or the task's default), checked to serve ``task``."""
    name = name or DEFAULTS[task]
    if name not in METHODS:
        raise VidpriorError(f"unknown method '{name}'; `vidprior methods` lists them")
    method = METHODS[name]
    if task not in method.tasks:
        serving = ", ".join(m.name for m in METHODS.values() if task in m.tasks)
        raise VidpriorError(f"method '{name}' does not do {task}; methods that do: {serving}")
    return method


__all__ = ["CODECS", "COMPRESSORS", "DEFAULTS", "METHODS", "Codec", "Method", "RunOptions", "get_method"]
