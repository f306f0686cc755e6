"""The HEVC post-filter of the hybrid codec: a small network trained once on clips coded by x265 (`network`,
`data`, `training`, weights files `weights`, the shipped ``data/postfilter.safetensors``), run over a decoded
video (`inference`) and fine-tuned to one clip at encoding time (`adaptation`), the update stored in the
compressed file. This package does not import the methods.
"""

from .network import PostFilter, PostFilterConfig, build_postfilter
from .training import train_postfilter
from .weights import load_postfilter, weights_id

__all__ = ["PostFilter", "PostFilterConfig", "build_postfilter", "load_postfilter", "train_postfilter", "weights_id"]
