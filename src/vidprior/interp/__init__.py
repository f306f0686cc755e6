"""The frame interpolation network: trained once on runs of frames of clips (`network`, `training`,
weights files `weights`, the shipped ``data/interp.safetensors``), run over a video (`inference`) and
adapted to one video on triplets of its own frames (`adaptation`). This package does not import the
methods.
"""

from .network import Interpolator, InterpolatorConfig
from .training import train_interpolator
from .weights import load_interpolator, save_interpolator

__all__ = ["Interpolator", "InterpolatorConfig", "load_interpolator", "save_interpolator", "train_interpolator"]
