"""The multi-frame denoiser: small networks trained once on clips with synthetic noise (`network`: the
recurrent one, which carries features through the whole clip both ways on top of the five-frame one;
`noise`, `training`, weights files `weights`, the shipped ``data/denoiser-recurrent.safetensors`` and
``data/denoiser.safetensors``), run over a video (`inference`) and adapted to one noisy video without ever
seeing it clean (`adaptation`). This package does not import the methods.
"""

from .network import Denoiser, DenoiserConfig, RecurrentDenoiser, RecurrentDenoiserConfig, build_denoiser
from .training import train_denoiser
from .weights import load_denoiser, save_denoiser

__all__ = ["Denoiser", "DenoiserConfig", "RecurrentDenoiser", "RecurrentDenoiserConfig", "build_denoiser",
           "load_denoiser", "save_denoiser", "train_denoiser"]
