"""Classical baselines with no learning: OpenCV inpainting, flow-guided filling, NL-means, BM3D,
frame blending and flow interpolation, bicubic/Lanczos upscaling, and the x264/x265 codecs.

All frames are uint8 RGB arrays (T, H, W, 3); holes are bool (T, H, W), True = unknown.
"""

from __future__ import annotations

import cv2
import numpy as np

from .. import inbetween
from ..denoiser.noise import estimate_sigma
from ..flowfill import flowfill, inpaint_frame
from ..mp4 import X264_VERYSLOW, X265_BASE, X265_SLOW, decode
from ..problems import Problem
from ..progress import Bar
from ..settings import Setting
from .base import Codec, Method, RunOptions

# ------------------------------------------------------------------------------ inpainting


def _opencv_inpaint(flag: int):
    def run(problem: Problem, options: RunOptions) -> np.ndarray:
        radius = options.param("radius")
        return np.stack([inpaint_frame(f, m, radius, flag) for f, m in zip(problem.observed, problem.hole)])

    return run


def flowfill_settings(options: RunOptions) -> dict:
    """The keyword arguments of `vidprior.flowfill.flowfill` from a method's ``FLOWFILL_SETTINGS``."""
    return {s.name: options.param(s.name) for s in FLOWFILL_SETTINGS}


def _flowfill(problem: Problem, options: RunOptions) -> np.ndarray:
    """Flow-guided inpainting (`vidprior.flowfill`); the share of the hole that no frame sees (Telea's)
    goes to ``options.stats['unseen']``."""
    filled = flowfill(problem.observed, problem.hole, progress=options.progress, **flowfill_settings(options))
    options.stats["unseen"] = float(filled.unseen.sum() / max(problem.hole.sum(), 1))
    return filled.frames


# ------------------------------------------------------------------------------ denoising


def _sigma(problem: Problem) -> float:
    return float(problem.sigma) if problem.sigma is not None else estimate_sigma(problem.observed)


def nlmeans_strength(sigma: float) -> float:
    """NL-means filter strength h for noise std ``sigma`` (0-255).

    OpenCV's colour NL-means works in Lab units: h = 0.45 sigma was best on the shared clips at
    sigma 25 and 50 (0.85 sigma, the first guess, lost 1-2 dB).
    """
    return 0.45 * sigma


def _nlmeans(problem: Problem, options: RunOptions) -> np.ndarray:
    """Video NL-means (OpenCV, colour, multi-frame) over a temporal window of odd size."""
    frames = problem.observed
    sigma = _sigma(problem)
    if sigma <= 0:
        return frames.copy()
    h = options.param("h") or nlmeans_strength(sigma)
    size = options.param("temporal")
    size = max(1, min(size, len(frames)))
    size -= 1 - size % 2
    bgr = [cv2.cvtColor(f, cv2.COLOR_RGB2BGR) for f in frames]
    out = np.empty_like(frames)
    count = len(frames)
    with Bar(count, "nlmeans", unit="frame", show=options.progress) as bar:
        for t in range(count):
            half = min(size // 2, t, count - 1 - t)  # OpenCV needs the frame at the window's centre
            result = cv2.fastNlMeansDenoisingColoredMulti(bgr[t - half: t + half + 1], half, 2 * half + 1,
                                                          None, h, h, 7, 21)
            out[t] = cv2.cvtColor(result, cv2.COLOR_BGR2RGB)
            bar.update()
    return out


def _bm3d(problem: Problem, options: RunOptions) -> np.ndarray:
    """BM3D on each frame (colour version, known or estimated sigma)."""
    import bm3d

    frames = problem.observed
    sigma = _sigma(problem)
    if sigma <= 0:
        return frames.copy()
    out = [bm3d.bm3d_rgb(f.astype(np.float32) / 255.0, sigma_psd=sigma / 255.0) for f in frames]
    return np.stack([np.clip(np.round(o * 255.0), 0, 255).astype(np.uint8) for o in out])


# an orthonormal luminance-chrominance transform (rows: luminance, two opponent colours): white noise stays white
OPPONENT = (np.array([[1, 1, 1], [1, 0, -1], [1, -2, 1]], np.float32)
            / np.sqrt(np.array([[3], [2], [6]], np.float32)))


def _bm4d(problem: Problem, options: RunOptions) -> np.ndarray:
    """BM4D on the window as one space-time volume per colour channel, blocks matched on the luminance.

    The `bm4d` package groups similar 3-D cubes of the (h, w, t) volume (as V-BM4D groups motion-compensated
    tubes, without following the motion), in an opponent colour space as colour BM3D does.
    """
    import bm4d

    sigma = _sigma(problem)
    if sigma <= 0:
        return problem.observed.copy()
    opponent = (problem.observed.astype(np.float32) / 255.0) @ OPPONENT.T
    out = bm4d.bm4d_multichannel(np.ascontiguousarray(opponent.transpose(3, 1, 2, 0)), sigma / 255.0)
    rgb = np.asarray(out, np.float32).transpose(3, 1, 2, 0) @ OPPONENT
    return np.clip(np.round(rgb * 255.0), 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------------ interpolation


def _interpolate(problem: Problem, make_gap) -> np.ndarray:
    """Fill (t-1)·k+1 frames: observed frames at 0, k, 2k, ...; ``make_gap(a, b, taus)`` the rest."""
    frames, k = problem.observed, problem.factor
    out = np.empty((*problem.target_shape, 3), np.uint8)
    out[::k] = frames
    taus = [j / k for j in range(1, k)]
    for i in range(len(frames) - 1):
        out[i * k + 1: (i + 1) * k] = make_gap(frames[i], frames[i + 1], taus)
    return out


def _blend_gap(a: np.ndarray, b: np.ndarray, taus: list[float]) -> list[np.ndarray]:
    a, b = a.astype(np.float32), b.astype(np.float32)
    return [np.clip(np.round((1 - tau) * a + tau * b), 0, 255).astype(np.uint8) for tau in taus]


def _flowinterp(problem: Problem, options: RunOptions) -> np.ndarray:
    """In-between frames by DIS flow (`vidprior.inbetween`): both neighbours splatted forward along their flows
    (quadratic paths through the frames around them, or straight ones) or warped back by flow reversal."""
    splat = options.param("warp") == "splat"
    return inbetween.between_frames(problem.observed, problem.factor,
                                    inbetween.classical if splat else inbetween.reversal_blend,
                                    quadratic=splat and options.param("paths") == "quadratic", label="flowinterp",
                                    progress=options.progress)


PATHS = Setting("paths", "quadratic", "quadratic: paths through the frames before and after the pair (motion that "
                "speeds up or turns); straight: from the pair alone", choices=("quadratic", "straight"))
INTERPOLATION_SETTINGS = (
    Setting("warp", "splat", "splat: push each frame forward along its own flow, the surface in front winning where "
            "two land on one pixel; reversal: warp back along flows reversed to the in-between time",
            choices=("splat", "reversal")),
    PATHS)


# ------------------------------------------------------------------------------ upscaling


def _opencv_upscale(interpolation: int):
    """The upscaling method that resizes each frame with OpenCV's ``interpolation``."""
    def run(problem: Problem, options: RunOptions) -> np.ndarray:
        _, height, width = problem.target_shape
        return np.stack([cv2.resize(f, (width, height), interpolation=interpolation) for f in problem.observed])

    return run


def _denoise_then_upscale(problem: Problem, options: RunOptions) -> np.ndarray:
    """The classical cascade for noisy low-resolution input: BM3D, then Lanczos."""
    clean = _bm3d(Problem("denoise", problem.observed, sigma=problem.sigma), options)
    return _opencv_upscale(cv2.INTER_LANCZOS4)(Problem("upscale", clean, factor=problem.factor), options)


# ------------------------------------------------------------------------------ codecs

CRF_SWEEP = (18.0, 23.0, 28.0, 33.0, 38.0, 43.0, 48.0)

RADIUS = Setting("radius", 5.0, "neighbourhood radius in pixels of OpenCV's inpainting", low=1, high=100)
FLOWFILL_SETTINGS = (
    Setting("rounds", 2, "flow estimations; each further one uses the previous round's completed frames",
            low=1, high=10),
    Setting("neighbours", 40, "frames on each side that a pixel may be followed to", low=1, high=1000),
    Setting("flows", "smooth", "how the flow inside the holes is completed", choices=("smooth", "learned")),
    Setting("grow", 4, "pixels (of the flow's size, at least) around the hole where the flow is completed",
            low=0, high=64),
    Setting("anchor", 0.3, "pull of the fused pixels towards the copied colours (0: pure gradient-domain "
            "fusion; large: plain copies)", low=0, high=1000, kind=float),
    Setting("camera", True, "where no chain arrives, follow the camera's motion (a homography fitted on the "
            "flow) deep inside the hole instead of the smooth fill"),
    Setting("far", 1, "stride of the far frames (registered by a homography) tried where no chain arrives; "
            "0: none", low=0, high=100),
    Setting("flow_scale", 0, "estimate flow at 1/this of the frame size (0: by size, 2 at 854x480)",
            low=0, high=16),
    RADIUS)
FLOWFILL = Method(
    "flowfill", "classical", ("inpaint",),
    "Follows each hole pixel along the DIS flow of adjacent frames to the frames that see it, fuses the copies "
    "in the gradient domain (no seams); Telea for what no frame sees.",
    _flowfill, window=30, context=10, settings=FLOWFILL_SETTINGS)

METHODS: list[Method] = [
    Method("telea", "classical", ("inpaint",), "OpenCV Telea fast-marching inpainting of each frame.",
           _opencv_inpaint(cv2.INPAINT_TELEA), window=1, context=0, settings=(RADIUS,)),
    Method("ns", "classical", ("inpaint",), "OpenCV Navier-Stokes inpainting of each frame.",
           _opencv_inpaint(cv2.INPAINT_NS), window=1, context=0, settings=(RADIUS,)),
    FLOWFILL,
    Method("nlmeans", "classical", ("denoise",),
           "OpenCV multi-frame colour non-local means over 5 frames, strength set from sigma (fast).",
           _nlmeans, window=30, context=2, settings=(
               Setting("h", None, "filter strength in Lab units (default 0.45 sigma)", low=0.1, high=255, kind=float),
               Setting("temporal", 5, "frames averaged over, odd (an even number is taken one lower)",
                       low=1, high=15))),
    Method("bm3d", "classical", ("denoise",), "BM3D colour denoising of each frame (~5 s per 256x144 frame).",
           _bm3d, window=1, context=0),
    Method("bm4d", "classical", ("denoise",),
           "BM4D of 16-frame windows as space-time volumes, colour (the video peer of BM3D; slow)",
           _bm4d, window=16, context=2),
    Method("blend", "classical", ("interpolate",), "Linear cross-fade of the two neighbouring frames.",
           lambda p, o: _interpolate(p, _blend_gap), window=30, context=0),
    Method("flowinterp", "classical", ("interpolate",),
           "Splats both neighbours forward along bidirectional DIS flow to the in-between time (the surface in front "
           "wins), on quadratic paths through the frames around them.",
           _flowinterp, window=30, context=2, settings=INTERPOLATION_SETTINGS),
    Method("bicubic", "classical", ("upscale",), "Bicubic resizing of each frame (OpenCV).",
           _opencv_upscale(cv2.INTER_CUBIC), window=1, context=0),
    Method("lanczos", "classical", ("upscale",), "Lanczos-4 resizing of each frame (OpenCV).",
           _opencv_upscale(cv2.INTER_LANCZOS4), window=1, context=0),
    Method("bm3d-lanczos", "classical", ("upscale",),
           "Denoise-then-upscale cascade for noisy low-res input: BM3D (known or estimated sigma), then Lanczos.",
           _denoise_then_upscale, window=1, context=0),
]

CODECS: list[Codec] = [
    Codec("x264", "H.264 (libx264, preset veryslow, yuv420p) at a CRF.",
          X264_VERYSLOW, decode, CRF_SWEEP),
    Codec("x265", "HEVC (libx265, preset slow, yuv420p) at a CRF.",
          X265_SLOW, decode, CRF_SWEEP),
    Codec("x265-psnr", "HEVC as the hybrid codec's base: libx265 preset veryslow, tune psnr (no psycho-visual "
          "tuning), at a CRF.", X265_BASE, decode, CRF_SWEEP),
]
