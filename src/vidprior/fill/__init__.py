"""The learned fill: a network trained once on clips with synthetic holes that corrects flowfill's answer
inside the hole, above all where no frame shows the background (`network`, training samples with
flowfill's cached answers `data`, `training`, weights files `weights`, the shipped
``data/fill.safetensors``), run over a video (`inference`) and adapted to one video on its own known
pixels (`adaptation`, ILVI's internal learning). This package does not import the methods.
"""

from .network import FillConfig, FillNet
from .training import train_fill
from .weights import load_fill, save_fill

__all__ = ["FillConfig", "FillNet", "load_fill", "save_fill", "train_fill"]
