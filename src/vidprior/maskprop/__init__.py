"""Mask propagation: a small network trained once on the object masks of training clips (`network`, `data`,
`training`, weights files `weights`, the shipped ``data/maskprop.safetensors``) that corrects the mask carried
along the flow at every frame (`vidprior.carry`), and its fine-tuning on the painted keyframes of one video
(`adaptation`). This package does not import the methods.
"""

from .network import MaskProp, MaskPropConfig, build_maskprop
from .training import train_maskprop
from .weights import load_maskprop

__all__ = ["MaskProp", "MaskPropConfig", "build_maskprop", "load_maskprop", "train_maskprop"]
