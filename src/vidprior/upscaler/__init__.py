"""The multi-frame upscaler: trained once on downscaled clips (`network`, `alignment`, `training`,
weights files `weights`, the shipped ``data/upscaler.safetensors``), run over a video (`inference`) and
adapted to one video by downscaling it once more (`adaptation`). This package does not import the
methods.
"""

from .network import Upscaler, UpscalerConfig
from .training import train_upscaler
from .weights import load_upscaler, save_upscaler

__all__ = ["Upscaler", "UpscalerConfig", "load_upscaler", "save_upscaler", "train_upscaler"]
