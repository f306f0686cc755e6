"""Flow completion: filling optical flow inside holes, for flowfill (`vidprior.methods.classical`).

Three ways, in `inference`: the smooth fill from around the hole, the camera's motion (a homography
fitted on the flow) with the local differences fading inside, and a small network trained
self-supervised on DIS flows of whole frames with synthetic holes (`network`, its working resolution
`scale`, training samples `data`, `training`, weights files `weights`; the shipped
``data/flowcomp.safetensors``). This package does not import the methods.
"""

from .inference import camera_flows, complete_flows, smooth_flows
from .network import FlowCompletion, FlowCompletionConfig
from .training import train_flowcomp
from .weights import load_flowcomp, save_flowcomp

__all__ = ["FlowCompletion", "FlowCompletionConfig", "camera_flows", "complete_flows", "load_flowcomp", "save_flowcomp",
           "smooth_flows", "train_flowcomp"]
