"""The multi-frame upscaler: trained once on clips degraded as footage is (`network`: the recurrent one,
which carries features through the whole clip both ways, and the five-frame one with `alignment`;
`training`, weights files `weights`, the shipped ``data/upscaler-recurrent.safetensors`` and
``data/upscaler.safetensors``), run over a video (`inference`) and adapted to one video by downscaling it
once more (`adaptation`). This package does not import the methods.
"""

from .network import RecurrentUpscaler, RecurrentUpscalerConfig, Upscaler, UpscalerConfig, build_upscaler
from .training import train_upscaler
from .weights import load_upscaler, save_upscaler

__all__ = ["RecurrentUpscaler", "RecurrentUpscalerConfig", "Upscaler", "UpscalerConfig", "build_upscaler",
           "load_upscaler", "save_upscaler", "train_upscaler"]
