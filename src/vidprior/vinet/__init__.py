"""VINet (Kim et al., CVPR 2019), feed-forward video inpainting, in one place: the network
(`network`), its weights files (`weights`), inpainting a clip (`inference`) and training it on
many clips or adapting it to one video (`training`). `vidprior.methods.vinet` serves it as the
method ``vinet``; this package does not import the methods back.
"""

from .inference import WARMUP, inpaint_frames
from .network import Vinet, VinetConfig
from .training import adaptation, train_vinet
from .weights import load_vinet, save_vinet, shipped_weights

__all__ = ["WARMUP", "Vinet", "VinetConfig", "adaptation", "inpaint_frames", "load_vinet", "save_vinet",
           "shipped_weights", "train_vinet"]
