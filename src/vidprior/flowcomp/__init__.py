"""Flow completion (issue 16, step 1): a small network that completes optical flow inside holes,
trained self-supervised on DIS flows of whole frames with synthetic holes. The network
(`network`), its working resolution (`scale`), training samples (`data`), training (`training`),
weights files (`weights`) and completing a clip's flows (`inference`). Not yet used by any method;
this package does not import the methods.
"""

from .inference import camera_flows, complete_flows, smooth_flows
from .network import FlowCompletion, FlowCompletionConfig
from .training import train_flowcomp
from .weights import load_flowcomp, save_flowcomp

__all__ = ["FlowCompletion", "FlowCompletionConfig", "camera_flows", "complete_flows", "load_flowcomp", "save_flowcomp",
           "smooth_flows", "train_flowcomp"]
