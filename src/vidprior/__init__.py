"""vidprior: video restoration with learned priors.

The Python API in one screen::

    import vidprior
    report = vidprior.restore("inpaint", "clip.mp4", "out.mp4", mask="masks/", mask_shadow=True)
    report = vidprior.enhance("old.mp4", "new.mp4", scale=2, factor=2)   # denoise + upscale + interpolate
    video = vidprior.read_video("clip.mp4")            # Video: frames (T, H, W, 3) uint8, fps
    problem = vidprior.Problem("denoise", video.frames)
    frames = vidprior.METHODS["nlmeans"].run(problem, vidprior.RunOptions())
    print(vidprior.metrics.evaluate(frames, video.frames))
    holes = vidprior.grow_into_shadow(video.frames, holes)   # masks (T, H, W) bool grown into the shadow
    print(vidprior.compress("clip.mp4", "clip.vpr", crf=30))  # x265 + the post-filter fitted to the clip
    print(vidprior.decompress("clip.vpr", "back.mp4"))       # base_only=True: the HEVC stream alone
    print(vidprior.extract("clip.vpr", "base.mp4"))          # the HEVC stream, for any player
    data = vidprior.CODECS["hybrid"].encode(video.frames, video.fps, 30)   # in memory: bytes, then frames
"""

from . import metrics
from .compression import run_compress as compress
from .compression import run_decompress as decompress
from .compression import run_extract as extract
from .enhance import enhance
from .errors import VidpriorError
from .masks import MaskSource
from .methods import CODECS, DEFAULTS, METHODS, RunOptions, get_method
from .problems import Problem
from .restore import Report, restore
from .shadow import grow_into_shadow
from .video import Video, VideoWriter, probe, read_video, write_video

__version__ = "0.1.0"

__all__ = [
    "CODECS", "DEFAULTS", "METHODS", "MaskSource", "Problem", "Report", "RunOptions", "Video", "VideoWriter",
    "VidpriorError", "compress", "decompress", "enhance", "extract", "get_method", "grow_into_shadow", "metrics",
    "probe", "read_video", "restore", "write_video",
]
