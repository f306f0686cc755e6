"""The multi-frame denoiser: a small network trained once on clips with synthetic noise (`network`,
`noise`, `training`, weights files `weights`, the shipped ``data/denoiser.safetensors``), run over a
video (`inference`) and adapted to one noisy video without ever seeing it clean (`adaptation`).
This package does not import the methods.
"""

from .network import Denoiser, DenoiserConfig
from .training import train_denoiser
from .weights import load_denoiser, save_denoiser

__all__ = ["Denoiser", "DenoiserConfig", "load_denoiser", "save_denoiser", "train_denoiser"]
